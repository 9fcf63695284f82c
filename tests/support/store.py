"""A survey store's test kit: a database that can be unplugged, and the fields of typical writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import Connection, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.db.models import SurveyAnswer, SurveyResponse
from ivr_survey.db.writer import writer_for

T = TypeVar("T")

T0 = datetime(2026, 11, 26, 18, 0, 0, tzinfo=UTC)


class SwitchableWriter:
    """The store's writer for a database that can be 'unplugged' (connection refused) and plugged back."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.real = writer_for(sessions)
        self.down = False

    async def run(self, work: Callable[[Connection], T]) -> T:
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        return await self.real.run(work)

    async def close(self) -> None:
        await self.real.close()


def start_fields(linkedid: str) -> dict:
    return dict(
        linkedid=linkedid,
        survey="default",
        survey_version=1,
        channel="ari",
        language="en",
        args={"operator": "7001"},
        started_at=T0,
        channel_uniqueid=linkedid + "1",
        caller_number="79991234567",
        operator="7001",
        queue=None,
    )


def answer_fields(linkedid: str, digits: str) -> dict:
    return dict(
        linkedid=linkedid,
        position=0,
        question="rating",
        digits=digits,
        score=float(digits),
        attempts=1,
        answered_at=T0 + timedelta(seconds=2),
    )


async def response_rows(sessions: async_sessionmaker[AsyncSession]) -> list[tuple]:
    """(status, first answer's digits) of every response, in the order they were started."""
    async with sessions() as s:
        rows = await s.execute(
            select(SurveyResponse.status, SurveyAnswer.digits)
            .outerjoin(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id)
            .order_by(SurveyResponse.id)
        )
        return [tuple(r) for r in rows]
