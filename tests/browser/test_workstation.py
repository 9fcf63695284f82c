"""The workstation in Chromium, on a seeded day of known numbers: sign-in, the overview's figures against the
API's, the review queue's player and CQR form, roles, the Russian page and the phone's width."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.support.browser import LAPTOP, assert_no_horizontal_scroll, foreign_requests, name_page, shot
from tests.support.live_server import LiveServer
from tests.support.workstation import ANNA, API_PERIOD, JOHN, PARTIAL, PERIOD, Tokens, linkedid, seed_day

BOOTSTRAP = "bootstrap-admin-token-for-tests"


def start(live_server: Callable[..., LiveServer], tmp_path: Path, **settings: Any) -> tuple[LiveServer, Tokens]:
    recordings = tmp_path / "recordings"
    live = live_server(api_token=BOOTSTRAP, recordings_dir=recordings, **settings)
    return live, live.run(seed_day(live.sessions, recordings))


def api(page: Page, live: LiveServer, path: str) -> Any:
    response = page.request.get(f"{live.url}{path}", headers={"Authorization": f"Bearer {BOOTSTRAP}"})
    assert response.status == 200, response.text()
    return response.json()


def sign_in(page: Page, live: LiveServer, token: str, target: str) -> None:
    page.goto(f"{live.url}{target}")
    expect(page).to_have_url(re.compile(r"/ui/sign-in\?next="))
    page.get_by_test_id("token").fill(token)
    page.get_by_test_id("sign-in").click()
    expect(page.get_by_test_id("user")).to_be_visible()


def media_state(player: Locator, condition: str, within: float = 20.0) -> None:
    """Wait for the audio element's condition (a function of `a`): by polling from Python, as the page's CSP
    rightly forbids the string evaluation wait_for_function does."""
    deadline = time.monotonic() + within
    while not player.evaluate(f"a => {condition}"):
        assert time.monotonic() < deadline, f"the player never reached {condition}"
        time.sleep(0.05)


def tile(page: Page, name: str) -> str:
    return page.get_by_test_id(f"tile-{name}").locator(".value").inner_text()


def test_overview_after_sign_in_shows_the_apis_figures(
    live_server: Callable[..., LiveServer], page: Page, tmp_path: Path, requests_made: list[str]
) -> None:
    live, tokens = start(live_server, tmp_path)
    sign_in(page, live, tokens.analyst, f"/?{PERIOD}")
    expect(page.get_by_test_id("user")).to_have_text("ann-analyst · analyst")
    session = next(c for c in page.context.cookies() if c["name"] == "ivr_session")
    assert (session["httpOnly"], session["sameSite"]) == (True, "Strict")
    assert tokens.analyst not in page.content() and tokens.analyst not in page.url

    total = api(page, live, f"/ratings/summary?group_by=all&{API_PERIOD}")["groups"][0]
    assert (total["offered"], total["responses"], total["average"], total["csat"]) == (45, 45, 3.0444, 0.4222)
    assert (total["cqr_average"], total["cqr_evaluations"], total["cqr_good"]) == (75.0, 2, 1)
    assert tile(page, "answered") == "45"
    assert tile(page, "missed") == "3"
    assert tile(page, "offered") == "45"
    assert tile(page, "responses") == "45"
    assert tile(page, "average") == "3.04"
    assert tile(page, "csat") == "42.2%"
    assert tile(page, "cqr") == "75.0"
    assert tile(page, "good") == "50.0%"
    stats = api(page, live, f"/calls/stats?group_by=all&{API_PERIOD}")["groups"][0]
    assert (stats["answered"], stats["missed"]) == (45, 3)

    # the operator table: worst CSAT first, names shown, the thin sample marked
    operators = {o["operator"]: o for o in api(page, live, f"/operators?{API_PERIOD}")["items"]}
    assert operators[ANNA]["csat"]["csat"] == 0.4 and operators[JOHN]["csat"]["csat"] == 0.6
    rows = page.get_by_test_id("operator-table").locator("tbody tr")
    expect(rows).to_have_count(2)
    first, second = rows.nth(0), rows.nth(1)
    assert first.get_attribute("data-operator") == ANNA
    assert "Анна Смирнова" in first.inner_text()
    assert first.locator("[data-col=csat]").inner_text() == "40.0%"
    assert first.locator("[data-col=cqr]").inner_text() == "75.0"
    assert first.locator("[data-col=responses] [data-thin]").count() == 0
    assert second.get_attribute("data-operator") == JOHN
    assert second.locator("[data-col=csat]").inner_text() == "60.0%*"
    assert second.locator("[data-col=missed]").inner_text() == "3"
    assert second.locator("[data-col=responses] [data-thin]").count() == 1
    for chart in ("trend", "distribution", "load", "scatter"):
        expect(page.get_by_test_id(f"chart-{chart}").locator("svg")).to_be_visible()
    shot(page, "overview")
    assert_no_horizontal_scroll(page)
    assert foreign_requests(requests_made, live.url) == []


@pytest.mark.parametrize("viewport", [LAPTOP], ids=["laptop"])
def test_a_supervisor_hears_the_call_and_scores_it(
    live_server: Callable[..., LiveServer], page: Page, tmp_path: Path
) -> None:
    live, tokens = start(live_server, tmp_path)
    ranges: list[str] = []
    page.on("request", lambda r: ranges.append(r.headers.get("range", "")) if "/recording" in r.url else None)
    sign_in(page, live, tokens.supervisor, "/ui/review?date=2026-11-20&tz=UTC")
    queue = api(page, live, "/review-queue?date=2026-11-20&tz=UTC")["items"]
    items = page.get_by_test_id("review-queue").locator("li[data-call]")
    expect(items).to_have_count(len(queue))
    assert [items.nth(i).get_attribute("data-call") for i in range(len(queue))] == [q["call_id"] for q in queue]
    assert items.first.get_attribute("data-reason") == "low_score"

    call = linkedid(ANNA, 0)  # scored 1
    page.get_by_test_id("review-queue").locator(f"li[data-call='{call}'] a").click()
    expect(page.get_by_test_id("call-id")).to_have_text(call)
    player = page.get_by_test_id("player")
    media_state(player, "a.readyState >= 2")
    assert player.evaluate("a => a.duration") == 4.0
    ranges.clear()
    player.evaluate("a => { a.currentTime = 3; }")
    media_state(player, "!a.seeking && a.readyState >= 2 && a.currentTime >= 3")
    shot(page, "player")

    form = page.get_by_test_id("cqr-form")
    expect(page.get_by_test_id("live-cqr")).to_have_text("—")
    for criterion, score in PARTIAL.items():
        form.locator(f"tr[data-criterion={criterion}] input[value='{score}']").check()
    expect(page.get_by_test_id("live-cqr")).to_have_text("70.83")
    form.locator("textarea[name=comment]").fill("No closing: no next step agreed.")
    shot(page, "scored")
    form.get_by_test_id("submit").click()
    expect(page.get_by_test_id("saved")).to_have_text("Evaluation saved: CQR 70.83. to work on")  # and its band
    stored = api(page, live, f"/cqr/evaluations?call_id={call}")["items"]
    assert [(e["supervisor"], e["call_type"], e["cqr"], e["comment"]) for e in stored] == [
        ("sam-supervisor", "qualification", 70.83, "No closing: no next step agreed.")
    ]
    assert any(r.startswith("bytes=") for r in ranges), ranges  # seeking asked the server for a range

    # the same call again: this supervisor's evaluation is shown and saving replaces it
    page.goto(f"{live.url}/ui/review?date=2026-11-20&tz=UTC&call={call}")
    expect(page.get_by_test_id("live-cqr")).to_have_text("70.83")
    page.get_by_test_id("cqr-form").locator("tr[data-criterion=closing] input[value='1.0']").check()
    expect(page.get_by_test_id("live-cqr")).to_have_text("87.50")
    page.get_by_test_id("submit").click()
    stored = api(page, live, f"/cqr/evaluations?call_id={call}")["items"]
    assert [(e["supervisor"], e["cqr"]) for e in stored] == [("sam-supervisor", 87.5)]


@pytest.mark.parametrize("viewport", [LAPTOP], ids=["laptop"])
def test_an_analyst_sees_no_form_and_a_forged_post_is_refused(
    live_server: Callable[..., LiveServer], page: Page, tmp_path: Path
) -> None:
    live, tokens = start(live_server, tmp_path)
    call = linkedid(ANNA, 0)
    sign_in(page, live, tokens.analyst, f"/ui/review?date=2026-11-20&tz=UTC&call={call}")
    expect(page.get_by_test_id("no-scoring")).to_be_visible()
    assert page.get_by_test_id("cqr-form").count() == 0 and page.get_by_test_id("player").count() == 0
    form = {"call_id": call, "call_type": "qualification", **{f"score.{k}": str(v) for k, v in PARTIAL.items()}}
    as_analyst = page.request.post(f"{live.url}/ui/review/evaluate", form=form)
    assert as_analyst.status == 403
    # a supervisor's session, but the form posted from elsewhere: no CSRF value, or another site's Origin
    page.context.clear_cookies()
    sign_in(page, live, tokens.supervisor, "/ui/review?date=2026-11-20&tz=UTC")
    csrf = page.get_by_test_id("cqr-form").locator("input[name=csrf]").input_value()
    assert page.request.post(f"{live.url}/ui/review/evaluate", form=form).status == 403
    evil = page.request.post(
        f"{live.url}/ui/review/evaluate", form={**form, "csrf": csrf}, headers={"Origin": "http://evil.example"}
    )
    assert evil.status == 403
    # the session cookie never authorises the API's writes
    api_post = page.request.post(
        f"{live.url}/cqr/evaluations", data={"call_id": call, "call_type": "qualification", "scores": PARTIAL}
    )
    assert api_post.status == 401
    assert api(page, live, f"/cqr/evaluations?call_id={call}")["items"] == []


def test_the_russian_page_and_the_remembered_switch(
    live_server: Callable[..., LiveServer], browser: Browser, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    live, tokens = start(live_server, tmp_path)
    context = browser.new_context(viewport={"width": LAPTOP.width, "height": LAPTOP.height}, locale="ru-RU")
    page = context.new_page()
    name_page(page, request.node.nodeid)
    sign_in(page, live, tokens.admin, f"/?{PERIOD}")
    assert page.locator("html").get_attribute("lang") == "ru"
    expect(page.locator("h1")).to_have_text("Обзор")
    assert page.get_by_test_id("tile-answered").locator(".label").inner_text() == "Принято звонков"
    assert tile(page, "average") == "3,04"
    assert tile(page, "csat") == "42,2\u00a0%"
    assert tile(page, "cqr") == "75,0"
    shot(page, "russian")
    page.goto(f"{live.url}/ui/review?date=2026-11-20&tz=UTC&call={linkedid(ANNA, 0)}")
    assert (
        page.get_by_test_id("cqr-form").locator("tr[data-criterion=greeting] th").inner_text().startswith("Приветствие")
    )
    page.get_by_test_id("language-switch").get_by_role("link", name="EN").click()
    expect(page.locator("h1")).to_have_text("Review queue")
    page.goto(f"{live.url}/?{PERIOD}")  # remembered, over the browser's Russian
    expect(page.locator("h1")).to_have_text("Overview")
    assert tile(page, "csat") == "42.2%"
    shot(page, "switched")
    context.close()


def test_pages_fit_a_phone_and_refuse_bad_filters_in_words(
    live_server: Callable[..., LiveServer], page: Page, tmp_path: Path
) -> None:
    live, tokens = start(live_server, tmp_path)
    sign_in(page, live, tokens.supervisor, f"/?{PERIOD}")
    for path in (
        f"/?{PERIOD}",
        f"/ui/operators/{ANNA}?{PERIOD}",
        f"/ui/review?date=2026-11-20&tz=UTC&call={linkedid(ANNA, 0)}",
        f"/ui/calls?{PERIOD}",
    ):
        response = page.goto(f"{live.url}{path}")
        assert response is not None and response.status == 200, path
        assert_no_horizontal_scroll(page)
        shot(page, path.split("?")[0].strip("/").replace("/", "-") or "overview")
    bad = page.goto(f"{live.url}/?period=custom&from=2026-11-30&to=2026-11-01")
    assert bad is not None and bad.status == 400
    expect(page.get_by_test_id("error")).to_contain_text("The end date is before the start date.")
