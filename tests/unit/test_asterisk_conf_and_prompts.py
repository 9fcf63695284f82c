"""Static checks of the shipped Asterisk configuration (asterisk_conf/) and voice prompts (prompts/).

No Asterisk is needed: the .conf files are parsed by a small helper that understands the subset
of Asterisk's config syntax the files use ([section], [section](template), key = value,
key => value, ; comments with \\; as an escaped semicolon)."""

from __future__ import annotations

import json
import re
import wave
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "asterisk_conf"
PROMPTS = ROOT / "prompts"
LANGUAGES = ("en", "ru")
APP = "ivr-survey"

Section = tuple[str, list[tuple[str, str]]]


# --------------------------------------------------------------------------- helpers


def _strip_comment(line: str) -> str:
    """Drop everything from the first unescaped ';'."""
    out = []
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line) and line[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if ch == ";":
            break
        out.append(ch)
        i += 1
    return "".join(out).strip()


def parse_conf(path: Path) -> list[Section]:
    """Sections in file order as (name, [(key, value), ...]). Names may repeat (pjsip.conf
    uses one name for an endpoint and its aor), so this is a list, not a dict."""
    sections: list[Section] = []
    header = re.compile(r"^\[([^\]]+)\](?:\([^)]*\))?$")
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = _strip_comment(raw)
        if not line:
            continue
        m = header.match(line)
        if m:
            sections.append((m.group(1).strip(), []))
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}:{lineno}: neither a section nor key = value: {raw!r}"
        assert sections, f"{path.name}:{lineno}: setting outside any section"
        value = value[1:] if value.startswith(">") else value  # key => value
        sections[-1][1].append((key.strip().lower(), value.strip()))
    return sections


def sections_named(sections: list[Section], name: str) -> list[dict[str, str]]:
    return [dict(entries) for sname, entries in sections if sname == name]


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"yes", "true", "y", "t", "1", "on"}


def split_args(args: str) -> list[str]:
    """Split application arguments at top-level commas (not inside (), ${}, $[])."""
    parts, depth, cur = [], 0, []
    for ch in args:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


_CALL = re.compile(r"(?<![\w$])(Stasis|Dial|Queue|GotoIf)\(", re.IGNORECASE)


def app_calls(text: str) -> list[tuple[str, list[str]]]:
    """Every Stasis/Dial/Queue/GotoIf call in a dialplan line, with its arguments."""
    calls = []
    for m in _CALL.finditer(text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        assert depth == 0, f"unbalanced parentheses in {text!r}"
        calls.append((m.group(1).lower(), split_args(text[m.end() : i - 1])))
    return calls


def dialplan_steps() -> list[tuple[str, str, str]]:
    """(context, extension, application text) for every exten/same line of extensions.conf."""
    steps = []
    for context, entries in parse_conf(CONF / "extensions.conf"):
        exten = None
        for key, value in entries:
            if key == "exten":
                exten, _priority, app = (p.strip() for p in value.split(",", 2))
            elif key == "same":
                assert exten is not None, f"[{context}]: 'same' before any 'exten'"
                app = value.split(",", 1)[1].strip()
            else:
                continue
            steps.append((context, exten, app))
    return steps


def calls_named(app_name: str, context_prefix: str = "") -> list[tuple[str, list[str]]]:
    """(context, arguments) of every call of one application, optionally only in some contexts."""
    return [
        (context, args)
        for context, _exten, app in dialplan_steps()
        if context.startswith(context_prefix)
        for name, args in app_calls(app)
        if name == app_name
    ]


def _options(arg: str) -> str:
    """Option letters of a Dial/Queue options argument, without option parameters like U(...)."""
    return re.sub(r"\([^)]*\)", "", arg)


# --------------------------------------------------------------------------- prompts


MANIFEST: dict[str, dict[str, str]] = json.loads((PROMPTS / "manifest.json").read_text(encoding="utf-8"))


def test_manifest_has_every_language_for_every_sound():
    assert MANIFEST, "manifest.json lists no prompts"
    for required in ("survey-rate", "survey-invalid", "survey-accepted", "survey-thanks"):
        assert required in MANIFEST
    for sound, texts in MANIFEST.items():
        assert re.fullmatch(r"[a-z0-9][a-z0-9_-]*", sound), sound
        for lang in LANGUAGES:
            assert texts.get(lang, "").strip(), f"{sound}: no {lang} text"


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("sound", sorted(MANIFEST))
def test_prompt_wav_is_asterisk_ready(sound: str, lang: str):
    path = PROMPTS / lang / f"{sound}.wav"
    assert path.is_file(), f"{path.relative_to(ROOT)} missing: run prompts/generate.sh"
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == 8000
        assert w.getnchannels() == 1
        assert w.getsampwidth() == 2
        assert w.getcomptype() == "NONE"
        duration = w.getnframes() / w.getframerate()
    assert 0.3 <= duration <= 15, f"{path.name}: {duration:.2f} s"


def test_no_wav_without_manifest_entry():
    orphans = [
        str(wav.relative_to(ROOT))
        for wav in PROMPTS.rglob("*.wav")
        if wav.parent.parent != PROMPTS or wav.parent.name not in MANIFEST.get(wav.stem, {})
    ]
    assert not orphans, f"WAV files without a manifest.json entry: {orphans}"


def test_generate_script_reads_the_manifest():
    script = (PROMPTS / "generate.sh").read_text(encoding="utf-8")
    assert script.startswith("#!/usr/bin/env bash")
    assert "manifest.json" in script
    for tool in ("espeak-ng", "sox"):
        assert tool in script


# --------------------------------------------------------------------------- extensions.conf


def test_every_stasis_call_is_ivr_survey_with_operator():
    stasis = calls_named("stasis")
    assert stasis, "extensions.conf never enters the survey"
    for context, args in stasis:
        assert args[0] == APP, f"[{context}] Stasis app {args[0]!r}, expected {APP!r}"
        if "consent" in args[1:]:  # asked before the queue: no operator yet
            continue
        operators = [a for a in args[1:] if a.startswith("operator=")]
        assert len(operators) == 1, f"[{context}] Stasis({','.join(args)}) must pass operator= once"
        assert operators[0] != "operator=", f"[{context}] empty operator="


def test_incoming_dials_continue_after_operator_hangs_up():
    dials = calls_named("dial", context_prefix="incoming")
    assert dials, "no Dial in the incoming contexts"
    for context, args in dials:
        assert len(args) >= 3 and "g" in _options(args[2]), f"[{context}] Dial({','.join(args)}) lacks option g"


def test_every_queue_continues_after_agent_hangs_up():
    queues = calls_named("queue")
    assert queues, "no Queue example in extensions.conf"
    for context, args in queues:
        assert len(args) >= 2 and "c" in _options(args[1]), f"[{context}] Queue({','.join(args)}) lacks option c"


def test_survey_only_after_an_answered_call():
    """The step before each Stasis skips the survey unless the call was answered:
    DIALSTATUS = ANSWER after Dial, QUEUESTATUS = CONTINUE after Queue."""
    steps = dialplan_steps()
    for i, (context, exten, app) in enumerate(steps):
        if not any(name == "stasis" and "consent" not in args for name, args in app_calls(app)):
            continue
        assert exten != "h", f"[{context}] the h extension must not start the survey"
        prev_ctx, prev_exten, prev_app = steps[i - 1]
        assert (prev_ctx, prev_exten) == (context, exten)
        guard = [args for name, args in app_calls(prev_app) if name == "gotoif"]
        assert guard, f"[{context}] no GotoIf right before {app}"
        condition = guard[0][0]
        assert ("DIALSTATUS" in condition and "ANSWER" in condition) or (
            "QUEUESTATUS" in condition and "CONTINUE" in condition
        ), f"[{context}] unexpected guard {condition!r}"


def test_consent_is_asked_before_the_queue_its_answer_is_for():
    """Stasis(ivr-survey,consent,queue=Q) goes on to a step that reaches Queue(Q), whose post-call survey
    names the same queue."""
    steps = dialplan_steps()
    asked = [(i, s) for i, s in enumerate(steps) if any(n == "stasis" and "consent" in a for n, a in app_calls(s[2]))]
    assert asked, "no consent example in extensions.conf"
    for i, (context, exten, app) in asked:
        [args] = [a for n, a in app_calls(app) if n == "stasis"]
        queue = next(a.removeprefix("queue=") for a in args if a.startswith("queue="))
        next_ctx, next_exten, next_app = steps[i + 1]
        assert (next_ctx, next_exten) == (context, exten)
        assert next_app == f"Goto({queue},1)", f"[{context}] {next_app} after the consent"
        queued = [a for c, e, a in steps if c == context and e == queue]
        assert any(n == "queue" and a[0] == queue for step in queued for n, a in app_calls(step))
        assert any(n == "stasis" and f"queue={queue}" in a for step in queued for n, a in app_calls(step))


def test_queues_used_in_dialplan_exist_with_interface_var():
    queues = parse_conf(CONF / "queues.conf")
    used = {args[0] for _context, args in calls_named("queue")}
    assert "sales" in used
    for queue in used:
        found = sections_named(queues, queue)
        assert len(found) == 1, f"queue {queue!r} not defined once in queues.conf"
        assert truthy(found[0].get("setinterfacevar")), f"queue {queue!r} needs setinterfacevar = yes"
        section = next(entries for name, entries in queues if name == queue)
        assert any(key == "member" for key, _ in section), f"queue {queue!r} has no member"


def test_customers_context_stands_in_for_a_campaigns_customers():
    """Local/{number}@customers: each far end as the real-Asterisk campaign tests expect it (and the trace's)."""
    steps = [(exten, app) for context, exten, app in dialplan_steps() if context == "customers"]
    assert steps == [
        ("answer", "Answer()"),
        ("answer", "Wait(3)"),
        ("answer", "Hangup()"),
        ("busy", "Busy(5)"),
        ("noanswer", "Ringing()"),
        ("noanswer", "Wait(60)"),
        ("congestion", "Congestion(5)"),
    ]
    # the trunk its comment names for real campaigns (PJSIP/{number}@client-trunk)
    endpoints = {name for name, entries in parse_conf(CONF / "pjsip.conf") if dict(entries).get("type") == "endpoint"}
    assert "client-trunk" in endpoints


# --------------------------------------------------------------------------- ari.conf / http.conf


def test_ari_enabled_with_ivr_survey_user():
    ari = parse_conf(CONF / "ari.conf")
    (general,) = sections_named(ari, "general")
    assert truthy(general.get("enabled"))
    (user,) = sections_named(ari, APP)
    assert user.get("type") == "user"
    assert not truthy(user.get("read_only"))
    assert user.get("password")
    assert user.get("password_format") in {"plain", "crypt"}


def test_http_server_enabled_on_8088():
    (general,) = sections_named(parse_conf(CONF / "http.conf"), "general")
    assert truthy(general.get("enabled"))
    assert general.get("bindport") == "8088"
    assert general.get("bindaddr")


# --------------------------------------------------------------------------- pjsip.conf


def test_every_pjsip_endpoint_uses_rfc4733_dtmf():
    sections = parse_conf(CONF / "pjsip.conf")
    endpoints = [(name, ep) for name, ep in ((n, dict(e)) for n, e in sections) if ep.get("type") == "endpoint"]
    names = {name for name, _ in endpoints}
    assert {"7001", "7002"} <= names
    assert len(endpoints) >= 3, "expected the operators and a client trunk/endpoint"
    for name, ep in endpoints:
        assert ep.get("dtmf_mode") == "rfc4733", f"endpoint {name}: dtmf_mode must be rfc4733"


def test_pjsip_references_resolve():
    sections = parse_conf(CONF / "pjsip.conf")
    by_type: dict[str, set[str]] = {}
    for name, entries in sections:
        by_type.setdefault(dict(entries).get("type", ""), set()).add(name)
    assert by_type.get("transport")
    for name, entries in sections:
        ep = dict(entries)
        if ep.get("type") != "endpoint":
            continue
        assert ep.get("transport", next(iter(by_type["transport"]))) in by_type["transport"], name
        for key, kind in (("aors", "aor"), ("auth", "auth"), ("outbound_auth", "auth")):
            for ref in filter(None, (r.strip() for r in ep.get(key, "").split(","))):
                assert ref in by_type.get(kind, set()), f"endpoint {name}: {key} {ref!r} undefined"
