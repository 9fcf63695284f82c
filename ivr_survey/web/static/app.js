// ivr-survey workstation: the few things a page does in the browser. Everything works without it but the
// live CQR, the time zone, a running campaign's progress and the live calls between reloads.
(function () {
  "use strict";
  // The viewer's time zone: remembered in a cookie the server reads, and put in the filter forms.
  var tz = "";
  try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { tz = ""; }
  if (tz) {
    var had = document.cookie.split("; ").some(function (c) { return c === "ivr_tz=" + encodeURIComponent(tz); });
    document.cookie = "ivr_tz=" + encodeURIComponent(tz) + "; path=/; max-age=31536000; samesite=lax";
    var shown = document.body.getAttribute("data-tz");
    var stuck = document.cookie.indexOf("ivr_tz=") >= 0;  // cookies blocked: never reload in a loop
    var once = false;
    try { once = sessionStorage.getItem("ivr_tz_reloaded") === "1"; sessionStorage.setItem("ivr_tz_reloaded", "1"); } catch (e) { once = true; }
    if (!had && stuck && !once && shown !== tz && !/[?&]tz=/.test(location.search)) {
      location.reload();  // the first visit: draw the page again in the viewer's own time zone
      return;
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-tz-input]").forEach(function (input) {
      if (!/[?&]tz=/.test(location.search) && tz) { input.value = tz; }
    });
    // The custom dates show only for a custom period.
    document.querySelectorAll("[data-custom-toggle]").forEach(function (select) {
      var form = select.form;
      var sync = function () { form.setAttribute("data-preset", select.value); };
      select.addEventListener("change", sync);
      sync();
    });
    document.querySelectorAll("[data-submit-on-change]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
    // CQR = 100 x sum(score x weight) / sum(weight), shown as the supervisor scores; the server computes the one stored.
    document.querySelectorAll("[data-cqr-form]").forEach(function (form) {
      var out = form.querySelector("[data-cqr-live]");
      var lang = out.getAttribute("data-lang");
      var update = function () {
        var total = 0, weights = 0, complete = true;
        form.querySelectorAll("tr[data-weight]").forEach(function (row) {
          var w = parseFloat(row.getAttribute("data-weight"));
          var chosen = row.querySelector("input[type=radio]:checked");
          weights += w;
          if (chosen) { total += parseFloat(chosen.value) * w; } else { complete = false; }
        });
        var cqr = complete && weights > 0 ? Math.floor(10000 * total / weights + 0.5) / 100 : null;
        out.textContent = cqr !== null
          ? cqr.toLocaleString(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 })
          : out.getAttribute("data-empty");
        // the scorecard's band the CQR falls in (highest first), by its colour and label
        var band = form.querySelector("[data-cqr-band]");
        if (band) {
          var found = null;
          band.querySelectorAll("[data-from]").forEach(function (b) {
            if (found === null && cqr !== null && cqr >= parseFloat(b.getAttribute("data-from"))) { found = b; }
          });
          band.querySelector("rect").setAttribute("fill", found ? found.getAttribute("data-colour") : "none");
          band.querySelector("[data-band-label]").textContent = found ? found.textContent : "";
        }
      };
      form.addEventListener("change", update);
      update();
    });
    // A section of the page asked for again every few seconds (at its data-refresh URL) and swapped in, with no
    // reload: what is being typed or chosen elsewhere on the page stays. `swapped(fresh, stop, url)` follows each.
    var refresh = function (section, seconds, swapped) {
      var first = document.querySelector(section + "[data-refresh]");
      if (!first) { return; }
      var url = first.getAttribute("data-refresh");
      var timer = setInterval(function () {
        if (document.hidden) { return; }
        fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) {
            if (html === null) { return; }  // the database away for a moment: the next tick asks again
            var fresh = new DOMParser().parseFromString(html, "text/html").querySelector(section);
            var shown = document.querySelector(section);
            if (!fresh || !shown) { clearInterval(timer); return; }  // signed out meanwhile: the sign-in came back
            shown.replaceWith(document.importNode(fresh, true));
            swapped(fresh, function () { clearInterval(timer); }, url);
          })
          .catch(function () {});  // a network blip: likewise
      }, seconds * 1000);
    };
    // A running campaign's progress; once the campaign runs no more, its page is drawn again (new buttons).
    refresh("[data-campaign-progress]", 5, function (fresh, stop, url) {
      if (!fresh.hasAttribute("data-refresh")) {
        stop();
        location.assign(url.replace(/\/progress$/, ""));
      }
    });
    // The Live page: each call's time in its state, counted every second; the table asked for again every 3 s.
    if (document.querySelector("[data-live-calls][data-refresh]")) {
      var two = function (n) { return (n < 10 ? "0" : "") + n; };
      var tick = function () {
        document.querySelectorAll("[data-live-calls] [data-since]").forEach(function (cell) {
          var s = Math.max(0, Math.floor((Date.now() - Date.parse(cell.getAttribute("data-since"))) / 1000));
          var h = Math.floor(s / 3600);
          cell.textContent = (h ? h + ":" + two(Math.floor(s / 60) % 60) : Math.floor(s / 60)) + ":" + two(s % 60);
        });
      };
      tick();
      setInterval(tick, 1000);
      refresh("[data-live-calls]", 3, tick);
    }
    // A field the viewer fills in the same way every time (their phone): remembered in this browser.
    document.querySelectorAll("[data-remember]").forEach(function (input) {
      var key = "ivr_" + input.getAttribute("data-remember");
      try {
        var kept = localStorage.getItem(key);
        if (kept && (input.tagName === "SELECT" || !input.value)) { input.value = kept; }
        input.form.addEventListener("submit", function () { localStorage.setItem(key, input.value); });
      } catch (e) {}  // storage blocked: the field is filled in each time
    });
  });
})();
