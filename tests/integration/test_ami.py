"""The AMI collector against a fake AMI that replays what a real Asterisk 22 sent, byte for byte."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.ami.collector import AmiCollector
from ivr_survey.ami.tracker import CallTracker
from ivr_survey.config import Settings
from ivr_survey.db.models import Call, CallOperator, Operator, SurveyResponse
from ivr_survey.db.ratings import RatingFilter
from ivr_survey.db.summary import ratings_summary, with_period
from ivr_survey.service.naming import OperatorNames
from tests.support.fake_ami import FakeAmi, event_bounds
from tests.support.seed import Rated, seed
from tests.support.transfers import T0, attended_transfer_call

TRACE = "ami-answered-then-missed.txt"
ANSWERED, MISSED = "1795715876.40", "1795715880.44"


def at(hms: str) -> datetime:
    return datetime.fromisoformat(f"2026-11-26T{hms}+00:00")


# The two calls of the trace, as the call history must hold them.
EXPECTED = {
    ANSWERED: {
        "direction": "inbound",
        "disposition": "answered",
        "caller_number": "79991234567",
        "client_number": "79991234567",
        "queue": None,
        "operator": "7001",
        "started_at": at("17:57:56"),
        "answered_at": at("17:57:56"),
        "ended_at": at("17:57:59"),
        "ring_seconds": 0.0,
        "talk_seconds": 3.0,
        "hangup_side": "operator",
        "recording": None,
        "history_source": "ami",
        "incomplete": False,
        "operators": [("7001", "answered"), ("7001", "rung")],
    },
    MISSED: {
        "direction": "inbound",
        "disposition": "missed",
        "caller_number": "79990000000",
        "client_number": "79990000000",
        "queue": None,
        "operator": None,
        "started_at": at("17:58:00"),
        "answered_at": None,
        "ended_at": at("17:58:04"),
        "ring_seconds": 3.0,
        "talk_seconds": None,
        "hangup_side": None,
        "recording": None,
        "history_source": "ami",
        "incomplete": False,
        "operators": [("7999", "rung")],
    },
}


async def rows(sessions: async_sessionmaker[AsyncSession]) -> dict[str, dict[str, Any]]:
    async with sessions() as s:
        calls = (await s.execute(select(Call).order_by(Call.linkedid))).scalars().all()
        codes = dict((await s.execute(select(Operator.id, Operator.code))).all())
        links = (await s.execute(select(CallOperator.call_id, CallOperator.operator_id, CallOperator.role))).all()
    out = {}
    for c in calls:
        out[c.linkedid] = {
            "direction": c.direction,
            "disposition": c.disposition,
            "caller_number": c.caller_number,
            "client_number": c.client_number,
            "queue": c.queue,
            "operator": codes.get(c.operator_id),
            "started_at": c.started_at,
            "answered_at": c.answered_at,
            "ended_at": c.ended_at,
            "ring_seconds": c.ring_seconds,
            "talk_seconds": c.talk_seconds,
            "hangup_side": c.hangup_side,
            "recording": c.recording,
            "history_source": c.history_source,
            "incomplete": c.incomplete,
            "operators": sorted((codes[o], role) for call_id, o, role in links if call_id == c.id),
        }
    return out


async def test_the_traced_calls_come_out_field_by_field(run, sessions) -> None:
    fake = FakeAmi.from_trace(TRACE)
    collector = await run(fake)
    assert await rows(sessions) == EXPECTED
    assert collector.written == 2
    # it logged in once with the configured user and asked nothing else of the PBX
    assert [(a["Action"], a.get("Username")) for a in fake.actions] == [("Login", "survey")]


async def test_two_collectors_on_one_database_store_each_call_once(run, sessions) -> None:
    """Issue 15: the collector runs on every instance, the standbys' too: they hear the same calls at once, and
    the history is upserted by linkedid, so each call is one row with one set of operator links."""
    first, second = await asyncio.gather(run(FakeAmi.from_trace(TRACE)), run(FakeAmi.from_trace(TRACE)))
    assert (first.written, second.written) == (2, 2)
    assert await rows(sessions) == EXPECTED


@pytest.mark.parametrize("survey_first", [True, False])
async def test_the_rating_and_the_history_make_one_call_whichever_writes_first(
    run, sessions, survey_first: bool
) -> None:
    rated = Rated(ANSWERED, "7001", at("17:57:59"), 5.0)
    if survey_first:
        await seed(sessions, [rated])
    await run(FakeAmi.from_trace(TRACE))
    if not survey_first:
        await seed(sessions, [rated])
    history = await rows(sessions)
    assert history[ANSWERED] == EXPECTED[ANSWERED]
    async with sessions() as s:
        response = (await s.execute(select(SurveyResponse))).scalar_one()
        call = await s.get(Call, response.call_id)
        operator = await s.get(Operator, response.operator_id)
    assert (call.linkedid, response.score, operator.code) == (ANSWERED, 5.0, "7001")


@pytest.mark.parametrize("seed_value", range(6))
async def test_a_dropped_connection_loses_nothing_and_duplicates_nothing(run, sessions, seed_value: int) -> None:
    """The stream is cut at random byte offsets; the event that was half sent is sent again in full after the
    reconnect (panoramisk drops a half-received event), so the rows are exactly those of an unbroken stream."""
    stream_len = len(FakeAmi.from_trace(TRACE).stream)
    rng = random.Random(seed_value)
    cuts = sorted(rng.sample(range(1, stream_len), 2))
    bounds = event_bounds(FakeAmi.from_trace(TRACE).stream)
    fake = FakeAmi.from_trace(TRACE, cuts=cuts, resume=lambda cut: max(b for b in bounds if b <= cut))
    await run(fake)
    assert fake.connections == 3
    assert await rows(sessions) == EXPECTED


async def test_a_call_that_ends_during_an_outage_is_finished_from_its_cdr(run, sessions) -> None:
    """The connection drops during the missed call and comes back after it ended: its Cdr events were seen
    before the drop, its Hangups were not. CoreShowChannels after the new login tells it is gone."""
    fake = FakeAmi.from_trace(TRACE)
    last_cdr = fake.stream.rindex(b"Event: Cdr")
    after_cdr = fake.stream.index(b"\r\n\r\n", last_cdr) + 4
    fake = FakeAmi.from_trace(TRACE, cuts=[after_cdr], resume=lambda cut: len(fake.stream))
    await run(fake)
    assert [a["Action"] for a in fake.actions] == ["Login", "Login", "CoreShowChannels"]
    assert await rows(sessions) == EXPECTED


async def test_a_call_whose_end_and_cdr_were_lost_is_marked_incomplete(run, sessions) -> None:
    fake = FakeAmi.from_trace(TRACE)
    missed_dial_end = fake.stream.index(b"DialStatus: NOANSWER")
    fake = FakeAmi.from_trace(TRACE, cuts=[missed_dial_end], resume=lambda cut: len(fake.stream))
    await run(fake)
    history = await rows(sessions)
    assert history[ANSWERED] == EXPECTED[ANSWERED]
    missed = history[MISSED]
    assert (missed["disposition"], missed["incomplete"], missed["operators"]) == ("missed", True, [("7999", "rung")])


async def test_garbage_on_the_socket_is_logged_and_skipped(run, sessions, caplog: pytest.LogCaptureFixture) -> None:
    junk = b"\x00\xff\xfegarbage without a colon\r\nEvent: \r\n\r\n\x89PNG\r\n\r\nHangup\r\n\r\n"
    raw = FakeAmi.from_trace(TRACE).stream
    bounds = event_bounds(raw)
    # junk between events too: a trace with junk spliced in at three event boundaries
    spliced = bytearray(raw)
    for b in sorted(random.Random(1).sample(bounds[1:-1], 3), reverse=True):
        spliced[b:b] = junk
    fake = FakeAmi.from_trace(TRACE, junk=junk)
    fake.stream = bytes(spliced)
    with caplog.at_level(logging.WARNING):
        await run(fake)
    assert await rows(sessions) == EXPECTED
    # once after the login and at three event boundaries: each of the junk's three blocks is one line
    logged = [(r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("ivr_survey")]
    assert (
        logged
        == [
            ("WARNING", "AMI: an unreadable block of 32 bytes skipped"),
            ("WARNING", "AMI: an unreadable block of 3 bytes skipped"),
            ("WARNING", "AMI: an unreadable block of 6 bytes skipped"),
        ]
        * 4
    )


async def test_finished_calls_wait_in_order_while_the_database_is_away(sessions, caplog) -> None:
    """The first writes fail (the database is down): the calls are stored once it is back, each once, in the
    order they finished, with one warning for the outage."""
    failures = 3
    opened: list[str] = []

    def flaky() -> Any:
        nonlocal failures
        if failures:
            failures -= 1
            raise OSError("connection refused")
        opened.append("ok")
        return sessions()

    fake = FakeAmi.from_trace(TRACE)
    await fake.start()
    tracker = CallTracker(OperatorNames.from_settings(Settings(_env_file=None)))
    collector = AmiCollector(
        flaky, tracker, host="127.0.0.1", port=fake.port, user="survey", secret="secret", reconnect_timeout=0
    )
    try:
        with caplog.at_level(logging.WARNING):
            await collector.start()
            async with asyncio.timeout(15):
                await fake.done.wait()
                while collector.written < 2:
                    await asyncio.sleep(0.01)
    finally:
        await collector.stop()
        await fake.close()
    assert await rows(sessions) == EXPECTED
    assert (failures, len(opened)) == (0, 2)
    warnings = [r.getMessage() for r in caplog.records if r.name == "ivr_survey.ami.collector"]
    assert warnings == [f"call {ANSWERED} not stored yet (OSError); retrying"]


@pytest.mark.parametrize("survey_first", [True, False])
async def test_after_an_attended_transfer_the_call_and_its_rating_are_the_last_operators(
    run, sessions, survey_first: bool
) -> None:
    """The dialplan's operator= names 7001 (MEMBERINTERFACE is the member the queue connected); the history saw
    7001 hand the caller to 7002, so the call, its rating and the summaries by operator are 7002's, and 7001 is
    listed on the call, first."""
    t0 = datetime.fromtimestamp(T0, UTC)
    rated = Rated("300", "7001", t0 + timedelta(seconds=101), 4.0, queue="sales")
    if survey_first:
        await seed(sessions, [rated])
    await run(FakeAmi.from_events(attended_transfer_call("300")), calls=2)
    if not survey_first:
        await seed(sessions, [rated])
    history = await rows(sessions)
    assert (history["300"]["operator"], history["300"]["operators"]) == (
        "7002",
        [("7001", "answered"), ("7001", "rung"), ("7002", "answered"), ("7002", "rung")],
    )
    async with sessions() as s:
        call = (await s.execute(select(Call).where(Call.linkedid == "300"))).scalar_one()
        response = (await s.execute(select(SurveyResponse))).scalar_one()
        operator = await s.get(Operator, response.operator_id)
        midnight = t0.replace(hour=0)  # whole days: read from the tallies per day, which the history corrected
        period = with_period(RatingFilter(date_from=midnight, date_to=midnight + timedelta(days=2)))
        groups = await ratings_summary(s, group_by="operator", filters=period, tz=ZoneInfo("UTC"))
    assert (call.transferred_from, operator.code, response.score) == (["7001"], "7002", 4.0)
    assert [(g.key, g.offered, g.responses) for g in groups] == [("7002", 1, 1)]
