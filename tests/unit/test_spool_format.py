"""The spool's line format: every write survives encode -> decode exactly; lines of 0.1.0 (no version) read
as version 1; anything else is refused with a reason and the call id, or is unreadable."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ivr_survey.db.writes import (
    FinishResponse,
    OptOut,
    RefusedLine,
    SaveAnswer,
    StartResponse,
    UnreadableLine,
    decode,
    encode,
)

T0 = datetime(2026, 11, 26, 18, 0, 0, tzinfo=UTC)
WRITES = [
    StartResponse(
        linkedid="1.1",
        survey="default",
        survey_version=3,
        channel="ari",
        language="ru",
        args={"operator": "7001", "nested": {"a": [1, 2]}},
        started_at=T0,
        channel_uniqueid="1.2",
        caller_number="79991112233",
        operator="7001",
        queue="продажи",
    ),
    StartResponse(
        linkedid="agi-1",
        survey="csat3",
        survey_version=1,
        channel="agi",
        language="en",
        args={},
        started_at=T0.astimezone(timezone(timedelta(hours=5, minutes=30))),
    ),
    SaveAnswer(
        linkedid="1.1",
        position=2,
        question="nps",
        digits="10",
        score=10.0,
        attempts=1,
        answered_at=T0 + timedelta(microseconds=1),
    ),
    SaveAnswer(linkedid="1.1", position=0, question="rating", digits=None, score=None, attempts=3, answered_at=T0),
    FinishResponse(linkedid="1.1", status="completed", ended_at=T0),
    # a campaign call: its attempt, and the customer's opt-out key
    StartResponse(
        linkedid="ivr-survey-dial-5-2",
        survey="csat3",
        survey_version=1,
        channel="ari",
        language="ru",
        args={"campaign": "1", "contact": "5", "attempt": "2", "optout": "*"},
        started_at=T0,
        campaign_id=1,
        contact_id=5,
        attempt=2,
    ),
    OptOut(linkedid="ivr-survey-dial-5-2", at=T0),
]


@pytest.mark.parametrize("write", WRITES, ids=lambda w: f"{w.op}-{w.linkedid}")
def test_round_trip(write) -> None:
    line = encode(write)
    assert json.loads(line)["v"] == 1
    assert decode(line) == write


def test_a_line_of_0_1_0_reads_as_version_1() -> None:
    line = (
        '{"op": "finish", "data": {"linkedid": "1795720118.198", "status": "completed", '
        '"ended_at": "2026-11-26T21:00:09+03:00"}}'
    )
    assert decode(line) == FinishResponse(
        linkedid="1795720118.198", status="completed", ended_at=T0 + timedelta(seconds=9)
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"v": 2, "op": "finish", "data": {"linkedid": "X"}}', "spool format version 2 is not one this release reads"),
        (
            '{"v": true, "op": "finish", "data": {"linkedid": "X"}}',
            "spool format version True is not one this release reads",
        ),
        ('{"v": 1, "op": "delete", "data": {"linkedid": "X"}}', "unknown operation 'delete'"),
        (
            '{"v": 1, "op": "finish", "data": {"linkedid": "X", "status": "completed"}}',
            "fields do not fit: ended_at: Field required",
        ),
        (
            '{"v": 1, "op": "finish", "data": {"linkedid": "X", "status": "completed", "ended_at": "soon"}}',
            "fields do not fit: ended_at: Input should be a valid datetime or date, input is too short",
        ),
        (
            '{"op": "answer", "data": {"linkedid": "X", "position": 0, "question": "q", "digits": "1", "score": 1,'
            ' "attempts": 1, "answered_at": "2026-11-26T18:00:00Z", "weight": 2}}',
            "fields do not fit: weight: Unexpected keyword argument",
        ),
    ],
)
def test_refused_lines_name_why_and_the_call(line: str, reason: str) -> None:
    with pytest.raises(RefusedLine) as caught:
        decode(line)
    assert (str(caught.value), caught.value.call_id) == (reason, "X")


@pytest.mark.parametrize("line", ['{"op": "fin', "[]", '{"op": "start"}', '{"op": "start", "data": 3}', "null"])
def test_unreadable_lines(line: str) -> None:
    with pytest.raises(UnreadableLine):
        decode(line)
