"""Fair scoring over HTTP: an operator's token sees its own results and nothing else (every route walked), an
operator disputes an evaluation, a supervisor other than the evaluator upholds or revises it (a new version, the
old one readable, CQR figures on the newest), and the report counts it all per evaluator."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from ivr_survey.api.routes import ROUTES
from ivr_survey.app import create_app
from ivr_survey.config import Settings
from ivr_survey.db.models import CqrEvaluation
from ivr_survey.db.tokens import create_token
from tests.integration.test_campaign_pages import plain, text
from tests.integration.test_cqr_api import Api
from tests.support.scorecards import OBJECTION_82_5, QUALIFICATION_62_5
from tests.support.seed import Rated, seed

T = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
ADMIN = "admin-token"
# qualification (Σw = 12) with closing 1 instead of 0.5: 8.5 -> 70.83
QUALIFICATION_70_83 = {**QUALIFICATION_62_5, "closing": 1}


@pytest.fixture
async def api(database_url: str, sessions, tmp_path) -> AsyncIterator[Api]:
    await seed(
        sessions,
        [
            Rated("A1", "7001", T, 5.0, queue="sales", caller="+79161234567"),
            Rated("A2", "7001", T + timedelta(minutes=1), 2.0, queue="sales"),
            Rated("A3", "7001", T + timedelta(minutes=2), 4.0, queue="support"),
            Rated("B1", "7002", T + timedelta(minutes=3), 1.0, queue="sales"),
        ],
    )
    async with sessions() as s, s.begin():
        tokens = {
            "admin": ADMIN,
            "sue": await create_token(s, name="sue", role="supervisor"),
            "sam": await create_token(s, name="sam", role="supervisor"),
            "op": await create_token(s, name="olga", role="operator", operator="7001"),
        }
    settings = Settings(
        _env_file=None, database_url=database_url, spool_dir=tmp_path / "spool", api_token=ADMIN, default_country="RU"
    )
    async with TestClient(TestServer(create_app(settings))) as client:
        yield Api(client, tokens)


async def _evaluations(api: Api) -> dict[str, int]:
    """sue evaluates A1, A2, A3 (7001's) and B1 (7002's): call -> evaluation id."""
    ids = {}
    for call, card, scores in (
        ("A1", "qualification", QUALIFICATION_62_5),
        ("A2", "objection", OBJECTION_82_5),
        ("A3", "objection", OBJECTION_82_5),
        ("B1", "qualification", QUALIFICATION_62_5),
    ):
        ids[call] = (await api.evaluate("sue", call, card, scores))["id"]
    return ids


def _filled(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


OWN_ROUTES = {
    ("GET", "/ratings"),
    ("GET", "/ratings/summary"),
    ("GET", "/cqr/evaluations"),
    ("GET", "/operators/{operator}"),
    ("GET", "/calls/{call_id}/recording"),
    ("GET", "/cqr/call-types"),
    ("GET", "/cqr/scorecards/{call_type}"),
    ("POST", "/cqr/evaluations/{id}/disputes"),
    ("POST", "/cqr/evaluations/{id}/accept"),
    ("GET", "/cqr/evaluations/{id}/versions"),
    ("GET", "/cqr/disputes"),
}


async def test_an_operator_token_is_refused_every_route_but_its_own(api: Api) -> None:
    allowed = {(r.method, r.path) for r in ROUTES if r.operators}
    assert allowed == OWN_ROUTES
    for route in ROUTES:
        if route.public or (route.method, route.path) in OWN_ROUTES:
            continue
        resp = await api.client.request(
            route.method, _filled(route.path), headers={"Authorization": f"Bearer {api.tokens['op']}"}, json={}
        )
        assert resp.status == 403, (route.method, route.path, await resp.text())
        assert (await resp.json())["error"]["code"] == "forbidden"


async def test_an_operator_token_reads_only_its_own_results(api: Api) -> None:
    ids = await _evaluations(api)
    ratings = await api.call("GET", "/ratings", "op")
    assert sorted((i["call_id"], i["operator"], i["caller"]) for i in ratings["items"]) == [
        ("A1", "7001", "+7 916 ***-**-67"),
        ("A2", "7001", "+7 999 ***-**-67"),
        ("A3", "7001", "+7 999 ***-**-67"),
    ]
    assert (await api.call("GET", "/ratings?operator=7002", "op", 403))["error"]["details"] == {"operator": "7002"}
    assert (await api.call("GET", "/ratings?team=Sales", "op"))["items"] != []  # a team filter cannot widen it
    csv_body = await (
        await api.client.get("/ratings?format=csv", headers={"Authorization": f"Bearer {api.tokens['op']}"})
    ).text()
    assert "79161234567" not in csv_body and "+7 916 ***-**-67" in csv_body
    summary = await api.call("GET", f"/ratings/summary?group_by=queue&from={T.date()}T00:00:00Z", "op")
    assert [(g["key"], g["offered"]) for g in summary["groups"]] == [("sales", 2), ("support", 1)]
    evaluations = await api.call("GET", "/cqr/evaluations", "op")
    assert sorted(e["call_id"] for e in evaluations["items"]) == ["A1", "A2", "A3"]
    assert (await api.call("GET", "/operators/7001", "op"))["operator"] == "7001"
    await api.call("GET", "/operators/7002", "op", 403)
    await api.call("GET", "/calls/B1/recording", "op", 403)
    await api.call("GET", f"/cqr/evaluations/{ids['B1']}/versions", "op", 403)
    await api.call("POST", f"/cqr/evaluations/{ids['B1']}/disputes", "op", 403, json={"comment": "not mine"})
    # a supervisor may neither accept nor dispute: that is the operator's word
    await api.call("POST", f"/cqr/evaluations/{ids['A1']}/accept", "sam", 403)


async def test_a_dispute_is_revised_by_another_supervisor_and_both_versions_stay(api: Api) -> None:
    ids = await _evaluations(api)
    a1 = ids["A1"]
    opened = await api.call("POST", f"/cqr/evaluations/{a1}/disputes", "op", 201, json={"comment": "I closed the deal"})
    assert {k: opened[k] for k in ("evaluation_id", "call_id", "operator", "evaluator", "version", "state")} == {
        "evaluation_id": a1,
        "call_id": "A1",
        "operator": "7001",
        "evaluator": "sue",
        "version": 1,
        "state": "open",
    }
    again = await api.call("POST", f"/cqr/evaluations/{a1}/disputes", "op", 409, json={"comment": "again"})
    assert again["error"]["details"] == {"dispute_id": opened["id"]}
    path = f"/cqr/evaluations/{a1}/disputes/{opened['id']}/resolve"
    own = await api.call("POST", path, "sue", 403, json={"decision": "uphold"})
    assert own["error"]["code"] == "own_evaluation"
    bad = await api.call("POST", path, "sam", 400, json={"decision": "revise", "scores": {"greeting": 1}})
    assert bad["error"]["details"]["parameter"].startswith("scores")
    revised = await api.call(
        "POST", path, "sam", 200, json={"decision": "revise", "scores": QUALIFICATION_70_83, "comment": "closing done"}
    )
    assert (revised["state"], revised["resolved_by"], revised["revised_version"], revised["resolution"]) == (
        "revised",
        "sam",
        2,
        "closing done",
    )
    await api.call("POST", path, "admin", 409, json={"decision": "uphold"})
    versions = await api.call("GET", f"/cqr/evaluations/{a1}/versions", "op")
    assert [(v["version"], v["cqr"], v["supervisor"], v["current"]) for v in versions["items"]] == [
        (1, 62.5, "sue", False),
        (2, 70.83, "sam", True),
    ]
    assert versions["items"][0]["scores"] == {k: float(v) for k, v in QUALIFICATION_62_5.items()}
    [now] = (await api.call("GET", "/cqr/evaluations?call_id=A1", "op"))["items"]
    assert (now["cqr"], now["version"]) == (70.83, 2)
    # the figures count the newest version: (70.83 + 82.5 + 82.5) / 3 for 7001
    [group] = (await api.call("GET", f"/ratings/summary?group_by=operator&operator=7001&from={T.date()}T00:00:00Z"))[
        "groups"
    ]
    assert (group["cqr_average"], group["cqr_evaluations"]) == (78.61, 3)


async def test_uphold_accept_the_window_and_the_report(api: Api, sessions) -> None:
    ids = await _evaluations(api)
    d2 = await api.call("POST", f"/cqr/evaluations/{ids['A2']}/disputes", "op", 201, json={"comment": "too strict"})
    upheld = await api.call(
        "POST", f"/cqr/evaluations/{ids['A2']}/disputes/{d2['id']}/resolve", "sam", json={"decision": "uphold"}
    )
    assert (upheld["state"], upheld["revised_version"]) == ("upheld", None)
    assert [v["version"] for v in (await api.call("GET", f"/cqr/evaluations/{ids['A2']}/versions", "op"))["items"]] == [
        1
    ]
    accepted = await api.call("POST", f"/cqr/evaluations/{ids['A3']}/accept", "op")
    assert accepted["evaluation_id"] == ids["A3"]
    late = await api.call("POST", f"/cqr/evaluations/{ids['A3']}/disputes", "op", 409, json={"comment": "changed mind"})
    assert late["error"]["message"] == f"evaluation {ids['A3']} was accepted"
    async with sessions() as s, s.begin():  # A1's evaluation made 8 days ago: past the 7 days to dispute it
        await s.execute(
            update(CqrEvaluation)
            .where(CqrEvaluation.id == ids["A1"])
            .values(created_at=datetime.now(UTC) - timedelta(days=8))
        )
    closed = await api.call("POST", f"/cqr/evaluations/{ids['A1']}/disputes", "op", 409, json={"comment": "late"})
    assert (closed["error"]["code"], closed["error"]["details"]) == (
        "dispute_closed",
        {"evaluation_id": ids["A1"], "days": 7},
    )
    mine = await api.call("GET", "/cqr/disputes", "op")
    assert [(d["id"], d["state"]) for d in mine["items"]] == [(d2["id"], "upheld")]
    report = await api.call("GET", "/cqr/disputes/report", "sam")
    assert report["items"] == [{"evaluator": "sue", "opened": 1, "open": 0, "upheld": 1, "revised": 0}]
    await api.call("GET", "/cqr/disputes/report", "op", 403)
    empty = await api.call("POST", f"/cqr/evaluations/{ids['A3']}/disputes", "op", 400, json={"comment": ""})
    assert empty["error"]["details"]["parameter"] == "comment"


async def test_the_calibration_of_two_supervisors_on_a_shared_call(api: Api) -> None:
    await _evaluations(api)  # sue on A1, A2, A3, B1
    await api.evaluate("sam", "A1", "qualification", QUALIFICATION_70_83)
    body = await api.call("GET", "/cqr/calibration", "sam")
    assert body["calls"] == 1
    assert [
        (s["supervisor"], s["calls"], s["mean_deviation"], s["criteria"], s["against_majority"])
        for s in body["supervisors"]
    ] == [
        ("sam", 1, 8.33, 7, 1),
        ("sue", 1, -8.33, 7, 1),
    ]
    assert {c["criterion"]: (c["calls"], c["mean_range"], c["differed"]) for c in body["criteria"]}["closing"] == (
        1,
        0.5,
        1,
    )
    assert (await api.call("GET", "/cqr/calibration?operator=7002", "sam"))["calls"] == 0
    await api.call("GET", "/cqr/calibration", "op", 403)


async def _signed_in(api: Api, who: str) -> str:
    """The client signed in with that token; the CSRF value of its forms."""
    client = api.client
    client.session.cookie_jar.clear()
    resp = await client.post("/ui/sign-in", data={"token": api.tokens[who], "next": "/"}, allow_redirects=False)
    assert resp.status == 303
    page = await (await client.get("/ui/me" if who == "op" else "/ui/disputes")).text()
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


async def test_the_operator_answers_on_their_page_and_a_supervisor_decides_on_the_disputes_page(api: Api) -> None:
    ids = await _evaluations(api)
    csrf = await _signed_in(api, "op")
    client = api.client
    home = await client.get("/", allow_redirects=False)  # every other page leads an operator to their own
    assert (home.status, home.headers["Location"]) == (303, "/ui/me")
    page = await text(client, "/ui/me")
    assert [int(i) for i in re.findall(r'data-evaluation="(\d+)"', page)] == sorted(
        [ids["A1"], ids["A2"], ids["A3"]], reverse=True
    )
    assert "B1" not in page and 'href="/ui/calls"' not in page
    accepted = await client.post(f"/ui/me/evaluations/{ids['A3']}/accept", data={"csrf": csrf}, allow_redirects=False)
    assert (accepted.status, accepted.headers["Location"]) == (303, "/ui/me?done=accepted")
    disputed = await client.post(
        f"/ui/me/evaluations/{ids['A1']}/dispute", data={"csrf": csrf, "comment": "I did close"}, allow_redirects=False
    )
    assert disputed.status == 303
    shown = await text(client, "/ui/me?done=disputed")
    assert "Your dispute is sent" in shown
    state = shown.split(f'data-testid="state-{ids["A3"]}"')[1].split("</p>")[0]
    assert plain(state[1:]).startswith("You accepted it on")
    refused = await client.post(f"/ui/me/evaluations/{ids['B1']}/accept", data={"csrf": csrf})
    assert refused.status == 409 and "is not of a call of operator 7001" in plain(await refused.text())

    csrf = await _signed_in(api, "sue")  # the evaluator may not decide
    page = await text(client, "/ui/disputes")
    assert "Your own evaluation" in page and "I did close" in page
    csrf = await _signed_in(api, "sam")
    [dispute] = (await api.call("GET", "/cqr/disputes?state=open", "sam"))["items"]
    form = {f"score.{k}": str(v) for k, v in QUALIFICATION_70_83.items()}
    revised = await client.post(
        f"/ui/disputes/{ids['A1']}/{dispute['id']}/resolve",
        data={"csrf": csrf, "decision": "revise", "comment": "closing was done", **form},
        allow_redirects=False,
    )
    assert (revised.status, revised.headers["Location"]) == (303, "/ui/disputes?done=revised")
    [now] = (await api.call("GET", "/cqr/evaluations?call_id=A1", "sam"))["items"]
    assert (now["cqr"], now["version"]) == (70.83, 2)
    decided = await text(client, "/ui/disputes?done=revised")
    assert 'data-testid="no-disputes"' in decided and "revised (v2)" in plain(decided)
    assert plain(decided.split('data-evaluator="sue">')[1].split("</tr>")[0]) == "sue 1 0 0 1"


async def test_the_calibration_page_shows_the_two_supervisors(api: Api) -> None:
    await _evaluations(api)
    await api.evaluate("sam", "A1", "qualification", QUALIFICATION_70_83)
    await _signed_in(api, "sam")
    page = await text(api.client, "/ui/calibration")
    rows = {who: plain(page.split(f'data-supervisor="{who}">')[1].split("</tr>")[0]) for who in ("sam", "sue")}
    assert rows == {"sam": "sam 1 +8.33 8.33 14.3% 1/7", "sue": "sue 1 -8.33 8.33 14.3% 1/7"}
    closing = plain(page.split('data-criterion="closing">')[1].split("</tr>")[0])
    assert closing == "Closing 1 0.50 1"
    await _signed_in(api, "op")
    away = await api.client.get("/ui/calibration", allow_redirects=False)
    assert (away.status, away.headers["Location"]) == (303, "/ui/me")


async def test_a_blind_calibration_session_hides_the_others_scores_until_all_have_scored(api: Api, sessions) -> None:
    async with sessions() as s, s.begin():
        api.tokens["max"] = await create_token(s, name="max", role="supervisor")
    session = await api.call(
        "POST",
        "/cqr/calibration/sessions",
        "admin",
        201,
        json={"name": "December", "calls": ["A1", "A2"], "supervisors": ["sue", "sam"]},
    )
    assert (session["complete"], session["revealed"], session["calibration"]) == (False, False, None)
    await api.evaluate("sue", "A1", "qualification", QUALIFICATION_62_5)
    # sam has not scored A1: he does not see sue's evaluation, on the list or on the call; max (not asked) does
    assert (await api.call("GET", "/cqr/evaluations?call_id=A1", "sam"))["items"] == []
    assert (await api.call("GET", "/calls/A1", "sam"))["cqr_evaluations"] == []
    as_sam = {"Authorization": f"Bearer {api.tokens['sam']}"}
    assert "sue:" not in plain(await text(api.client, "/ui/review?call=A1", headers=as_sam))  # nor on the review page
    as_sue = {"Authorization": f"Bearer {api.tokens['sue']}"}
    review = await text(api.client, "/ui/review?call=A1", headers=as_sue)  # her own scores, live, in their band
    assert plain(review.split('data-testid="live-band">')[1].split("</span></span>")[0]).endswith("to work on")
    calibration = await text(api.client, "/ui/calibration", headers=as_sue)
    assert plain(calibration.split('data-session="')[1].split("</tr>")[0]).endswith("1/4 blind: scores hidden")
    as_max = {"Authorization": f"Bearer {api.tokens['max']}"}
    assert "sue: Qualification · CQR 62.50 to work on" in plain(
        await text(api.client, "/ui/review?call=A1", headers=as_max)
    )
    assert [e["supervisor"] for e in (await api.call("GET", "/cqr/evaluations?call_id=A1", "max"))["items"]] == ["sue"]
    assert [e["supervisor"] for e in (await api.call("GET", "/cqr/evaluations?call_id=A1", "sue"))["items"]] == ["sue"]
    assert (await api.call("GET", "/cqr/evaluations?call_id=A1", "op"))["items"] == []  # not revealed yet
    await api.evaluate("sam", "A1", "qualification", QUALIFICATION_70_83)
    # A1 is scored by both: revealed to them; the session goes on with A2
    assert sorted(e["supervisor"] for e in (await api.call("GET", "/cqr/evaluations?call_id=A1", "sam"))["items"]) == [
        "sam",
        "sue",
    ]
    progress = await api.call("GET", f"/cqr/calibration/sessions/{session['id']}", "sam")
    assert [(c["call_id"], c["scored_by"]) for c in progress["calls"]] == [("A1", ["sue", "sam"]), ("A2", [])]
    assert (progress["complete"], progress["calibration"]) == (False, None)
    await api.evaluate("sam", "A2", "objection", OBJECTION_82_5)
    assert (await api.call("GET", "/cqr/evaluations?call_id=A2", "sue"))["items"] == []
    assert (await api.call("GET", "/cqr/calibration", "sam"))["calls"] == 1  # A1 only: A2 is not revealed
    closed = await api.call("POST", f"/cqr/calibration/sessions/{session['id']}/close", "admin")
    assert (closed["revealed"], closed["complete"]) == (True, False)
    assert [(s["supervisor"], s["mean_deviation"]) for s in closed["calibration"]["supervisors"]] == [
        ("sam", 8.33),
        ("sue", -8.33),
    ]
    assert [e["supervisor"] for e in (await api.call("GET", "/cqr/evaluations?call_id=A2", "sue"))["items"]] == ["sam"]
    listed = await api.call("GET", "/cqr/calibration/sessions", "sue")
    assert [(s["name"], s["revealed"]) for s in listed["items"]] == [("December", True)]
    bad = await api.call(
        "POST",
        "/cqr/calibration/sessions",
        "admin",
        400,
        json={"name": "x", "calls": ["nope"], "supervisors": ["a", "b"]},
    )
    assert bad["error"]["details"]["parameter"] == "calls"
    await api.call(
        "POST", "/cqr/calibration/sessions", "sam", 403, json={"name": "x", "calls": ["A1"], "supervisors": ["a", "b"]}
    )
