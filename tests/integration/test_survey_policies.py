"""Survey policies end to end: an admin sets a queue's policy over the API, callers come in over the fake
Asterisk, and what is stored (surveyed, or not_offered with its reason) and asked of Asterisk is exact."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from ivr_survey.app import create_app
from ivr_survey.db.models import CallConsent
from ivr_survey.keys import AMI, SESSIONS, STASIS
from ivr_survey.service.policy import share_draw
from ivr_survey.simulator.ari import FakeAsterisk
from tests.integration.test_metrics import parse
from tests.integration.test_stasis import SPEED, prompt, settings_for
from tests.support.fake_ami import FakeAmi, ami_event
from tests.support.transfers import queue_call
from tests.support.waiting import wait_until

AUTH = {"Authorization": "Bearer admin-token"}
IN_A, IN_B, OUT = "L-in", "L-a", "L-c"  # drawn 0.015, 0.032 and 0.873


def test_the_linkedids_draw_as_the_tests_need() -> None:
    assert share_draw(IN_A) < 0.5 and share_draw(IN_B) < 0.5 <= share_draw(OUT)


class Rig:
    def __init__(self, fake: FakeAsterisk, client: TestClient) -> None:
        self.fake = fake
        self.client = client

    async def call(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        resp = await self.client.request(method, path, headers=AUTH, **kwargs)
        body = await resp.json()
        assert resp.status == status, body
        return body

    async def gone(self, channel: str) -> None:
        await self.fake.wait_channel_gone(channel, timeout=10)
        app = self.client.server.app
        await wait_until(lambda: channel not in app[STASIS].calls, "the call to leave the app", 10)

    def continued(self, channel: str) -> bool:
        return any(r.path == f"/ari/channels/{channel}/continue" for r in self.fake.requests)

    async def rated(self, channel: str, key: str) -> None:
        events = self.fake.subscribe(channel)
        await prompt(events, "survey-rate")
        await self.fake.press(channel, key)
        await self.gone(channel)


@pytest.fixture
async def rig(database_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    async with FakeAsterisk(user="ivr-survey", password="secret", speed=SPEED) as fake:
        settings = settings_for(database_url, fake, tmp_path, api_token="admin-token")
        async with TestClient(TestServer(create_app(settings))) as client:
            await fake.wait_for_app()
            yield Rig(fake, client)


def _brief(items: list[dict]) -> list[tuple]:
    return [(i["call_id"], i["queue"], i["status"], i["reason"], i["score"]) for i in items]


async def test_cooldown_and_share_on_a_queue(rig: Rig) -> None:
    """The issue's case: cooldown 7 days and share 0.5 on sales; a caller who calls twice in a day is surveyed
    once, the second call not_offered/cooldown; a call the draw leaves out is not_offered/sampled_out."""
    policy = await rig.call("PUT", "/survey-policies/sales", 201, json={"cooldown_days": 7, "share": 0.5})
    assert (policy["queue"], policy["version"], policy["share"], policy["cooldown_days"]) == ("sales", 1, 0.5, 7)
    assert (await rig.call("PUT", "/survey-policies/sales", 200, json={"cooldown_days": 7, "share": 0.5}))[
        "version"
    ] == 1  # unchanged: no new version

    first = await rig.fake.place_call(args=["operator=7001", "queue=sales"], linkedid=IN_A, caller_number="111")
    await rig.rated(first, "5")
    again = await rig.fake.place_call(args=["operator=7002", "queue=sales"], linkedid=IN_B, caller_number="111")
    await rig.gone(again)
    other = await rig.fake.place_call(args=["operator=7001", "queue=sales"], linkedid=OUT, caller_number="222")
    await rig.gone(other)
    assert (rig.continued(first), rig.continued(again), rig.continued(other)) == (False, True, True)

    not_offered = await rig.call("GET", "/ratings?status=not_offered", 200)
    assert sorted(_brief(not_offered["items"])) == [
        (IN_B, "sales", "not_offered", "cooldown", None),
        (OUT, "sales", "not_offered", "sampled_out", None),
    ]
    cooled = await rig.call("GET", "/ratings?reason=cooldown", 200)
    assert _brief(cooled["items"]) == [(IN_B, "sales", "not_offered", "cooldown", None)]
    everything = await rig.call("GET", "/ratings", 200)
    assert sorted(_brief(everything["items"])) == [
        (IN_B, "sales", "not_offered", "cooldown", None),
        (OUT, "sales", "not_offered", "sampled_out", None),
        (IN_A, "sales", "completed", None, 5.0),
    ]
    # the summaries count the surveys offered only
    summary = await rig.call("GET", "/ratings/summary?group_by=queue", 200)
    [group] = summary["groups"]
    assert (group["key"], group["offered"], group["responses"]) == ("sales", 1, 1)
    summary = await rig.call("GET", "/ratings/summary?group_by=operator&queue=sales", 200)
    assert sorted((g["key"], g["offered"]) for g in summary["groups"]) == [("7001", 1)]
    # the funnel counts them all, and adds up: answered = offered + not offered
    funnel = await rig.call("GET", "/ratings/summary?group_by=operator&funnel=true", 200)
    assert {g["key"]: (g["offered"], g["funnel"]) for g in funnel["groups"]} == {
        "7001": (1, _funnel(offered=1, sampled_out=1, started=1, completed=1)),
        "7002": (0, _funnel(offered=0, cooldown=1, started=0, completed=0)),
    }
    [total] = (await rig.call("GET", "/ratings/summary?group_by=all&funnel=1", 200))["groups"]
    assert total["funnel"] == _funnel(offered=1, cooldown=1, sampled_out=1, started=1, completed=1)
    assert (total["funnel"]["response_rate_of_offered"], total["funnel"]["response_rate_of_answered"]) == (1.0, 0.3333)
    assert "funnel" not in (await rig.call("GET", "/ratings/summary?group_by=all", 200))["groups"][0]
    refused = await rig.call("GET", "/ratings/summary?group_by=day&funnel=true", 400)
    assert refused["error"]["details"] == {"parameter": "funnel"}
    scraped = await rig.client.get("/metrics", headers=AUTH)
    counted = parse(await scraped.text())
    assert counted["ivr_survey_not_offered_total"] == {
        (("reason", "cooldown"),): 1.0,
        (("reason", "sampled_out"),): 1.0,
    }
    assert counted["ivr_survey_surveys_started_total"] == {(("survey", "default"),): 1.0}


def _funnel(*, offered: int, started: int, completed: int, **not_offered: int) -> dict[str, Any]:
    reasons = dict.fromkeys(["no_operator", "no_consent", "cooldown", "sampled_out", "caller_hung_up_first"], 0)
    reasons.update(not_offered)
    answered = offered + sum(reasons.values())
    return {
        "answered": answered,
        "offered": offered,
        "not_offered": reasons,
        "started": started,
        "completed": completed,
        "response_rate_of_offered": round(started / offered, 4) if offered else None,
        "response_rate_of_answered": round(started / answered, 4) if answered else None,
    }


async def test_a_queue_without_a_policy_takes_the_default_and_its_survey_and_hangup(rig: Rig) -> None:
    await rig.call("PUT", "/survey-policies/_default", 201, json={"share": 0.0, "not_offered": "hangup"})
    listed = await rig.call("GET", "/survey-policies", 200)
    assert [(p["queue"], p["share"], p["not_offered"]) for p in listed["items"]] == [("_default", 0.0, "hangup")]
    channel = await rig.fake.place_call(args=["operator=7001", "queue=support"], linkedid="L-default")
    await rig.gone(channel)
    assert not rig.continued(channel)
    assert any(r.method == "DELETE" and r.path == f"/ari/channels/{channel}" for r in rig.fake.requests)
    items = (await rig.call("GET", "/ratings", 200))["items"]
    assert _brief(items) == [("L-default", "support", "not_offered", "sampled_out", None)]


async def test_a_queue_no_one_answered_is_not_offered_no_operator(rig: Rig) -> None:
    channel = await rig.fake.place_call(args=["operator=", "queue=sales"], linkedid="L-nobody")
    await rig.gone(channel)
    items = (await rig.call("GET", "/ratings", 200))["items"]
    assert _brief(items) == [("L-nobody", "sales", "not_offered", "no_operator", None)]


@pytest.mark.parametrize(
    ("key", "default", "agreed", "surveyed"),
    [("1", "no", True, True), ("2", "yes", False, False), (None, "yes", True, True), (None, "no", False, False)],
)
async def test_consent_before_the_queue(rig: Rig, key: str | None, default: str, agreed: bool, surveyed: bool) -> None:
    await rig.call("PUT", "/survey-policies/support", 201, json={"consent": "ask", "consent_default": default})
    asked = await rig.fake.place_call(args=["consent", "queue=support"], linkedid="L-consent")
    events = rig.fake.subscribe(asked)
    await prompt(events, "survey-consent")
    if key is not None:
        await rig.fake.press(asked, key)
    await wait_until(lambda: rig.continued(asked), "the caller to go on to the queue", 10)
    # after the conversation, the same call enters the survey
    after = await rig.fake.place_call(args=["operator=7001", "queue=support"], linkedid="L-consent")
    if surveyed:
        await rig.rated(after, "4")
    else:
        await rig.gone(after)
    items = (await rig.call("GET", "/ratings", 200))["items"]
    expected = (
        ("L-consent", "support", "completed", None, 4.0)
        if surveyed
        else ("L-consent", "support", "not_offered", "no_consent", None)
    )
    assert _brief(items) == [expected]
    assert agreed == surveyed


async def test_a_caller_who_hangs_up_during_the_consent_prompt_has_given_no_answer(rig: Rig) -> None:
    await rig.call("PUT", "/survey-policies/support", 201, json={"consent": "ask", "consent_default": "yes"})
    asked = await rig.fake.place_call(args=["consent", "queue=support"], linkedid="L-gone")
    await prompt(rig.fake.subscribe(asked), "survey-consent")
    await rig.fake.caller_hangup(asked)
    await rig.gone(asked)
    assert not rig.continued(asked)
    async with rig.client.server.app[SESSIONS]() as session:
        assert (await session.execute(select(CallConsent))).all() == []
    assert (await rig.call("GET", "/ratings", 200))["items"] == []


async def test_cooldown_counts_a_survey_offered_on_another_queue(rig: Rig) -> None:
    await rig.call("PUT", "/survey-policies/support", 201, json={"cooldown_days": 1})
    sales = await rig.fake.place_call(args=["operator=7001", "queue=sales"], linkedid=IN_A, caller_number="333")
    await rig.rated(sales, "3")
    support = await rig.fake.place_call(args=["operator=7002", "queue=support"], linkedid=IN_B, caller_number="333")
    await rig.gone(support)
    items = (await rig.call("GET", "/ratings", 200))["items"]
    assert sorted(_brief(items)) == [
        (IN_B, "support", "not_offered", "cooldown", None),
        (IN_A, "sales", "completed", None, 3.0),
    ]


async def test_a_caller_never_asked_for_consent_is_not_offered_where_the_policy_asks(rig: Rig) -> None:
    await rig.call("PUT", "/survey-policies/support", 201, json={"consent": "ask", "consent_default": "yes"})
    channel = await rig.fake.place_call(args=["operator=7001", "queue=support"], linkedid="L-unasked")
    await rig.gone(channel)
    items = (await rig.call("GET", "/ratings", 200))["items"]
    assert _brief(items) == [("L-unasked", "support", "not_offered", "no_consent", None)]


@pytest.mark.parametrize(
    ("path", "body", "parameter"),
    [
        ("/survey-policies/sales", {"share": 2}, "share"),
        ("/survey-policies/sales", {"consent": "maybe"}, "consent"),
        ("/survey-policies/sales", {"colour": "red"}, "colour"),
        ("/survey-policies/sa,les", {}, "queue"),
    ],
)
async def test_a_policy_that_does_not_fit_is_a_clear_400(rig: Rig, path: str, body: dict, parameter: str) -> None:
    error = await rig.call("PUT", path, 400, json=body)
    assert error["error"]["code"] == "invalid_parameter"
    assert error["error"]["details"]["parameter"] == parameter
    assert (await rig.call("GET", "/survey-policies", 200))["items"] == []


def _answered_call(linkedid: str, t0: float, *, caller_first: bool) -> list[dict[str, str]]:
    """An inbound call to operator 7001 in queue sales, ended by the caller or by the operator 30 s after t0."""
    caller, agent, start = queue_call(linkedid, t0)
    ends = [ami_event("Hangup", t0 + 30, **caller, Cause="16"), ami_event("Hangup", t0 + 30.1, **agent, Cause="16")]
    return [*start, *(ends if caller_first else ends[::-1])]


async def test_a_caller_who_hangs_up_on_the_operator_is_counted_from_the_call_history(
    database_url: str, tmp_path: Path
) -> None:
    """The AMI history sees the caller end the talk (they never reach the survey): the call is stored as
    not_offered/caller_hung_up_first under the queue's policy, and the funnel counts it; the operator ending the
    talk adds nothing (the caller goes on to the survey)."""
    t0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC).timestamp()
    ami = FakeAmi.from_events(
        _answered_call("9.1", t0, caller_first=True) + _answered_call("9.2", t0 + 60, caller_first=False)
    )
    await ami.start()
    async with FakeAsterisk(user="ivr-survey", password="secret", speed=SPEED) as fake:
        settings = settings_for(
            database_url, fake, tmp_path, api_token="admin-token", ami_host="127.0.0.1", ami_port=ami.port
        )
        async with TestClient(TestServer(create_app(settings))) as client:
            rig = Rig(fake, client)
            await rig.call("PUT", "/survey-policies/sales", 201, json={"survey": "default", "languages": ["ru"]})
            collector = client.server.app[AMI]
            await wait_until(lambda: collector.written == 2, "the two calls to be stored", 10)
            await collector.drain()
            day = "from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z"
            items = (await rig.call("GET", f"/ratings?{day}", 200))["items"]
            assert [
                (i["call_id"], i["operator"], i["queue"], i["status"], i["reason"], i["channel"], i["language"])
                for i in items
            ] == [("9.1", "7001", "sales", "not_offered", "caller_hung_up_first", "ami", "ru")]
            assert items[0]["started_at"] == "2026-12-01T10:00:30.100000+00:00"
            [group] = (await rig.call("GET", f"/ratings/summary?group_by=queue&funnel=true&{day}", 200))["groups"]
            assert (group["key"], group["funnel"]) == (
                "sales",
                _funnel(offered=0, started=0, completed=0, caller_hung_up_first=1),
            )
    await ami.close()
