"""The database goes away mid-survey: answers wait on disk and arrive when it returns."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.db.models import SurveyAnswer, SurveyResponse
from ivr_survey.db.store import SurveyStore

T0 = datetime(2026, 11, 26, 18, 0, 0, tzinfo=UTC)


class SwitchableSessions:
    """A session factory whose database can be 'unplugged' (connection refused) and plugged back."""

    def __init__(self, real: async_sessionmaker[AsyncSession]) -> None:
        self.real = real
        self.down = False

    def __call__(self) -> AsyncSession:
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        return self.real()


def _start(linkedid: str) -> dict:
    return dict(
        linkedid=linkedid, survey="default", survey_version=1, channel="ari", language="en",
        args={"operator": "7001"}, started_at=T0, channel_uniqueid=linkedid + "1", caller_number="79991234567",
        operator="7001", queue=None,
    )


def _answer(linkedid: str, digits: str) -> dict:
    return dict(linkedid=linkedid, position=0, question="rating", digits=digits, score=float(digits), attempts=1,
                answered_at=T0 + timedelta(seconds=2))


async def _rows(sessions) -> list[tuple]:
    async with sessions() as s:
        rows = await s.execute(
            select(SurveyResponse.status, SurveyAnswer.digits)
            .outerjoin(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id)
            .order_by(SurveyResponse.id)
        )
        return [tuple(r) for r in rows]


async def test_outage_spools_then_replays_in_order(sessions, tmp_path: Path) -> None:
    switch = SwitchableSessions(sessions)
    store = SurveyStore(switch, tmp_path, retry_initial=0.01, retry_cap=0.02)
    await store.start()
    await store.record_start(**_start("A"))
    switch.down = True
    await store.record_answer(**_answer("A", "4"))
    await store.record_start(**_start("B"))
    await store.record_answer(**_answer("B", "2"))
    await store.record_finish(linkedid="A", status="completed", ended_at=T0 + timedelta(seconds=4))
    assert store.pending == 4
    spooled = [json.loads(line) for line in (tmp_path / "pending.jsonl").read_text().splitlines()]
    assert [r["op"] for r in spooled] == ["answer", "start", "answer", "finish"]
    assert await _rows(sessions) == [("in_progress", None)]

    switch.down = False
    assert await store.flush() is True
    assert store.pending == 0
    assert (tmp_path / "pending.jsonl").read_text() == ""
    assert await _rows(sessions) == [("completed", "4"), ("in_progress", "2")]
    await store.close()


async def test_spool_left_by_a_crashed_run_is_replayed_at_start(sessions, tmp_path: Path) -> None:
    switch = SwitchableSessions(sessions)
    switch.down = True
    first = SurveyStore(switch, tmp_path)
    await first.record_start(**_start("C"))
    await first.record_answer(**_answer("C", "5"))
    assert first.pending == 2  # the process dies here without close()

    second = SurveyStore(sessions, tmp_path, retry_initial=0.01)
    await second.start()
    assert await second.flush() is True
    assert await _rows(sessions) == [("in_progress", "5")]
    # Replaying the same spool again stores nothing twice.
    (tmp_path / "pending.jsonl").write_text(
        "".join(line + "\n" for line in [json.dumps({"op": "answer", "data": {**_answer("C", "5"),
                                                   "answered_at": (T0 + timedelta(seconds=2)).isoformat()}})])
    )
    third = SurveyStore(sessions, tmp_path)
    await third.start()
    assert await third.flush() is True
    assert await _rows(sessions) == [("in_progress", "5")]
    await second.close()
    await third.close()


async def test_record_the_database_refuses_is_set_aside_not_lost(sessions, tmp_path: Path) -> None:
    store = SurveyStore(sessions, tmp_path, retry_initial=0.01)
    await store.start()
    await store.record_answer(**_answer("never-started", "3"))
    await store.record_start(**_start("D"))
    assert await store.flush() is True
    rejected = [json.loads(line) for line in (tmp_path / "rejected.jsonl").read_text().splitlines()]
    assert [(r["op"], r["data"]["linkedid"], r["data"]["digits"]) for r in rejected] == [
        ("answer", "never-started", "3")
    ]
    assert await _rows(sessions) == [("in_progress", None)]
    await store.close()
