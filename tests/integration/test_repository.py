"""Every write is idempotent: replaying an event stores nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ivr_survey.db import repository as repo
from ivr_survey.db import writes
from ivr_survey.db.models import Call, Operator, SurveyAnswer, SurveyResponse
from tests.support.writing import write

T0 = datetime(2026, 11, 26, 17, 56, 57, tzinfo=UTC)

START = dict(
    linkedid="1795715814.16",
    survey="default",
    survey_version=1,
    channel="ari",
    language="en",
    args={"operator": "7001", "campaign": "x"},
    started_at=T0,
    channel_uniqueid="1795715814.17",
    caller_number="79991234567",
    operator="7001",
    queue="sales",
)


async def test_start_answer_finish_twice_stores_once(sessions) -> None:
    for _ in range(2):
        async with sessions() as s, s.begin():
            await write(s, writes.StartResponse(**START))
    async with sessions() as s, s.begin():
        first = await write(
            s,
            writes.SaveAnswer(
                linkedid=START["linkedid"],
                position=0,
                question="rating",
                digits="4",
                score=4.0,
                attempts=1,
                answered_at=T0 + timedelta(seconds=1),
            ),
        )
    async with sessions() as s, s.begin():
        again = await write(
            s,
            writes.SaveAnswer(
                linkedid=START["linkedid"],
                position=0,
                question="rating",
                digits="5",
                score=5.0,
                attempts=1,
                answered_at=T0 + timedelta(seconds=2),
            ),
        )
    for seconds in (3, 9):
        async with sessions() as s, s.begin():
            await write(
                s,
                writes.FinishResponse(
                    linkedid=START["linkedid"], status="completed", ended_at=T0 + timedelta(seconds=seconds)
                ),
            )
    assert (first, again) == (True, False)

    async with sessions() as s:
        calls = (await s.execute(select(Call))).scalars().all()
        responses = (await s.execute(select(SurveyResponse))).scalars().all()
        answers = (await s.execute(select(SurveyAnswer))).scalars().all()
        operators = (await s.execute(select(Operator.code))).scalars().all()
    assert [(c.linkedid, c.channel_uniqueid, c.caller_number, c.queue) for c in calls] == [
        ("1795715814.16", "1795715814.17", "79991234567", "sales")
    ]
    assert operators == ["7001"]
    assert [(r.status, r.started_at, r.ended_at, r.args) for r in responses] == [
        ("completed", T0, T0 + timedelta(seconds=3), {"operator": "7001", "campaign": "x"})
    ]
    assert [(a.position, a.question, a.digits, a.score, a.attempts) for a in answers] == [(0, "rating", "4", 4.0, 1)]


async def test_call_written_first_by_another_side_is_completed_not_replaced(sessions) -> None:
    async with sessions() as s, s.begin():
        await repo.upsert_call(s, linkedid="L1", caller_number="79990000001", started_at=T0)
    async with sessions() as s, s.begin():
        await write(s, writes.StartResponse(**{**START, "linkedid": "L1", "caller_number": "70000000000"}))
    async with sessions() as s:
        call = (await s.execute(select(Call))).scalar_one()
    # The first writer's values stay; the gaps are filled.
    assert (call.caller_number, call.channel_uniqueid, call.queue) == ("79990000001", "1795715814.17", "sales")


async def test_unknown_operator_is_stored_as_null(sessions) -> None:
    async with sessions() as s, s.begin():
        await write(s, writes.StartResponse(**{**START, "operator": None}))
    async with sessions() as s:
        call = (await s.execute(select(Call))).scalar_one()
        assert call.operator_id is None
        assert (await s.execute(select(Operator))).first() is None


async def test_unknown_survey_version_is_refused(sessions) -> None:
    with pytest.raises(LookupError, match="survey 'nope' version 1 is not stored"):
        async with sessions() as s, s.begin():
            await write(s, writes.StartResponse(**{**START, "survey": "nope"}))


async def test_answer_without_response_is_refused(sessions) -> None:
    with pytest.raises(LookupError, match="no survey response for call missing"):
        async with sessions() as s, s.begin():
            await write(
                s,
                writes.SaveAnswer(
                    linkedid="missing",
                    position=0,
                    question="rating",
                    digits="1",
                    score=1.0,
                    attempts=1,
                    answered_at=T0,
                ),
            )


async def test_an_operator_inserted_in_a_transaction_rolled_back_is_not_remembered(sessions) -> None:
    async with sessions() as s:
        first = await repo.operator_id(s, code="9001")
        again = await repo.operator_id(s, code="9001")  # seen again before the transaction ends
        await s.rollback()
    async with sessions() as s, s.begin():
        other = await repo.operator_id(s, code="9002")  # may take the id the rolled-back row had
    async with sessions() as s, s.begin():
        kept = await repo.operator_id(s, code="9001")
        stored = (await s.execute(select(Operator.id).where(Operator.code == "9001"))).scalar_one()
    assert again == first
    assert kept == stored
    assert kept != other
