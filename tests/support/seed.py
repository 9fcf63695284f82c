"""Seeding surveyed calls for API tests, through the same repository functions the service uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.db import repository as repo


@dataclass(frozen=True)
class Rated:
    linkedid: str
    operator: str | None
    started_at: datetime
    score: float | None  # None: the first question went unanswered
    status: str = "completed"
    queue: str | None = None
    survey: str = "default"
    caller: str = "79991234567"


async def seed(sessions: async_sessionmaker[AsyncSession], rows: list[Rated]) -> None:
    async with sessions() as s, s.begin():
        for r in rows:
            await repo.start_response(
                s, linkedid=r.linkedid, survey=r.survey, survey_version=1, channel="ari", language="en",
                args={}, started_at=r.started_at, channel_uniqueid=r.linkedid + ".2", caller_number=r.caller,
                operator=r.operator, queue=r.queue,
            )
            digits = str(int(r.score)) if r.score is not None else None
            await repo.save_answer(
                s, linkedid=r.linkedid, position=0, question="rating", digits=digits, score=r.score,
                attempts=1 if digits else 3, answered_at=r.started_at + timedelta(seconds=3),
            )
            await repo.finish_response(s, linkedid=r.linkedid, status=r.status,
                                       ended_at=r.started_at + timedelta(seconds=5))
