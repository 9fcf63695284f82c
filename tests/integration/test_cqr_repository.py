"""CQR storage: seeded scorecards, versions, evaluations and their keyset pages, straight on the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, update

from ivr_survey.cqr import DEFAULT_SCORECARDS, CqrError
from ivr_survey.db import cqr
from ivr_survey.db.models import Call, CqrEvaluation, CqrScorecard
from ivr_survey.db.repository import upsert_call

T = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SPAM_ALL_DONE = dict.fromkeys(DEFAULT_SCORECARDS["spam"], 1)


async def test_version_1_of_every_default_scorecard_is_seeded(sessions) -> None:
    async with sessions() as s:
        rows = (await s.execute(select(CqrScorecard).order_by(CqrScorecard.id))).scalars().all()
    assert [(r.call_type, r.version, r.created_by) for r in rows] == [
        ("qualification", 1, None),
        ("objection", 1, None),
        ("spam", 1, None),
        ("transactional", 1, None),
        ("reanimation", 1, None),
    ]
    assert {r.call_type: r.weights for r in rows} == DEFAULT_SCORECARDS
    assert all(r.created_at.tzinfo is UTC for r in rows)


async def test_scorecard_versions(sessions) -> None:
    async with sessions() as s, s.begin():
        v1 = await cqr.current_scorecard(s, call_type="spam")
        assert v1 is not None and v1.version == 1
        same = await cqr.add_scorecard_version(
            s, call_type="spam", weights=DEFAULT_SCORECARDS["spam"], created_by="ada"
        )
        assert (same.id, same.version, same.created_by) == (v1.id, 1, None)
        v2 = await cqr.add_scorecard_version(
            s,
            call_type="spam",
            weights={"greeting": 1, "tone": 3},
            remove=["identifying_problem", "related_offer", "script"],
            created_by="ada",
        )
        assert (v2.version, v2.weights, v2.created_by) == (2, {"greeting": 1.0, "tone": 3.0}, "ada")
        v3 = await cqr.add_scorecard_version(s, call_type="spam", weights={"tone": 3, "greeting": 2}, created_by="bob")
        assert v3.version == 3
    async with sessions() as s:
        assert (await cqr.current_scorecard(s, call_type="spam")).version == 3
        assert (await cqr.scorecard_by_id(s, scorecard_id=v1.id)).weights == DEFAULT_SCORECARDS["spam"]
        assert (await cqr.scorecard_version(s, call_type="spam", version=2)).weights == {"greeting": 1, "tone": 3}
        assert await cqr.current_scorecard(s, call_type="sales") is None
        assert {t: c.version for t, c in (await cqr.current_scorecards(s)).items()} == {
            "qualification": 1,
            "objection": 1,
            "spam": 3,
            "transactional": 1,
            "reanimation": 1,
        }


async def test_bad_scorecards_store_nothing(sessions) -> None:
    async with sessions() as s, s.begin():
        with pytest.raises(cqr.UnknownCallType):
            await cqr.add_scorecard_version(s, call_type="sales", weights={"greeting": 1}, created_by="ada")
        with pytest.raises(CqrError) as caught:
            await cqr.add_scorecard_version(s, call_type="spam", weights={"greeting": 0}, created_by="ada")
        assert caught.value.field == "weights.greeting"
    async with sessions() as s:
        assert (await s.execute(select(func.count()).select_from(CqrScorecard))).scalar_one() == 5


async def test_evaluation_errors(sessions) -> None:
    async with sessions() as s, s.begin():
        await upsert_call(s, linkedid="L1", operator="7001", started_at=T)
        with pytest.raises(cqr.UnknownCall) as unknown:
            await cqr.create_evaluation(
                s,
                linkedid="nope",
                call_type="spam",
                scores=SPAM_ALL_DONE,
                comment=None,
                supervisor="sue",
                replace=False,
            )
        assert isinstance(unknown.value, LookupError)
        with pytest.raises(CqrError) as bad:
            await cqr.create_evaluation(
                s,
                linkedid="L1",
                call_type="spam",
                scores={"greeting": 1},
                comment=None,
                supervisor="sue",
                replace=False,
            )
        assert bad.value.field == "scores.identifying_problem"
        with pytest.raises(cqr.UnknownCallType):
            await cqr.create_evaluation(
                s, linkedid="L1", call_type="sales", scores={}, comment=None, supervisor="sue", replace=False
            )
        first = await cqr.create_evaluation(
            s, linkedid="L1", call_type="spam", scores=SPAM_ALL_DONE, comment="ok", supervisor="sue", replace=False
        )
        assert first.created and first.item.cqr == 100.0
        with pytest.raises(cqr.DuplicateEvaluation) as dup:
            await cqr.create_evaluation(
                s, linkedid="L1", call_type="spam", scores=SPAM_ALL_DONE, comment=None, supervisor="sue", replace=False
            )
        assert dup.value.evaluation_id == first.item.id
        # spam: Σw = 7; only greeting (1) and tone (2) done -> 100 · 3 / 7 = 42.857… -> 42.86
        scores = {**dict.fromkeys(SPAM_ALL_DONE, 0), "greeting": 1, "tone": 1}
        again = await cqr.create_evaluation(
            s, linkedid="L1", call_type="spam", scores=scores, comment=None, supervisor="sue", replace=True
        )
        assert not again.created
        assert (again.item.id, again.item.cqr, again.item.comment) == (first.item.id, 42.86, None)
    async with sessions() as s:
        row = (await s.execute(select(CqrEvaluation))).scalar_one()
        assert (row.cqr, row.comment, row.updated_at is not None) == (42.86, None, True)


async def test_deleting_a_call_deletes_its_evaluations(sessions) -> None:
    async with sessions() as s, s.begin():
        await upsert_call(s, linkedid="L1", operator="7001", started_at=T)
        await cqr.create_evaluation(
            s, linkedid="L1", call_type="spam", scores=SPAM_ALL_DONE, comment=None, supervisor="sue", replace=False
        )
    async with sessions() as s, s.begin():
        await s.execute(delete(Call).where(Call.linkedid == "L1"))
    async with sessions() as s:
        assert (await s.execute(select(func.count()).select_from(CqrEvaluation))).scalar_one() == 0


async def test_keyset_pages_with_equal_times(sessions) -> None:
    """Five evaluations, three at the same instant: pages of two walk them all once, in (time, id) order."""
    async with sessions() as s, s.begin():
        ids = []
        for n in range(5):
            await upsert_call(s, linkedid=f"L{n}", operator="7001", started_at=T)
            saved = await cqr.create_evaluation(
                s,
                linkedid=f"L{n}",
                call_type="spam",
                scores=SPAM_ALL_DONE,
                comment=None,
                supervisor="sue",
                replace=False,
            )
            ids.append(saved.item.id)
        times = [T, T + timedelta(minutes=1), T + timedelta(minutes=1), T + timedelta(minutes=1), T]
        for ident, when in zip(ids, times, strict=True):
            await s.execute(update(CqrEvaluation).where(CqrEvaluation.id == ident).values(created_at=when))
    seen, cursor = [], None
    async with sessions() as s:
        while True:
            page = await cqr.list_evaluations(s, limit=2, cursor=cursor)
            seen.append([item.call_id for item in page.items])
            if page.next_after is None:
                break
            cursor = page.next_after
        assert seen == [["L3", "L2"], ["L1", "L4"], ["L0"]]
        window = await cqr.list_evaluations(s, date_from=T, date_to=T + timedelta(minutes=1), limit=10, cursor=None)
        assert [i.call_id for i in window.items] == ["L4", "L0"]
        assert window.next_after is None
