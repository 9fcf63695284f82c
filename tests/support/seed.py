"""Seeding surveyed calls for API tests, through the same repository functions the service uses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.db import repository as repo
from ivr_survey.db import writes
from ivr_survey.survey.definition import SurveyDefinition
from tests.support.writing import write


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
    first: str = "rating"  # the first question's key
    later: tuple[tuple[str, float | None], ...] = ()  # (key, score) of the questions after the first


async def seed(sessions: async_sessionmaker[AsyncSession], rows: list[Rated]) -> None:
    async with sessions() as s, s.begin():
        for r in rows:
            await write(
                s,
                writes.StartResponse(
                    linkedid=r.linkedid,
                    survey=r.survey,
                    survey_version=1,
                    channel="ari",
                    language="en",
                    args={},
                    started_at=r.started_at,
                    channel_uniqueid=r.linkedid + ".2",
                    caller_number=r.caller,
                    operator=r.operator,
                    queue=r.queue,
                ),
            )
            for position, (question, score) in enumerate(((r.first, r.score), *r.later)):
                digits = str(int(score)) if score is not None else None
                await write(
                    s,
                    writes.SaveAnswer(
                        linkedid=r.linkedid,
                        position=position,
                        question=question,
                        digits=digits,
                        score=score,
                        attempts=1 if digits else 3,
                        answered_at=r.started_at + timedelta(seconds=3 + position),
                    ),
                )
            await write(
                s,
                writes.FinishResponse(
                    linkedid=r.linkedid, status=r.status, ended_at=r.started_at + timedelta(seconds=5)
                ),
            )


def question(key: str, scores: Sequence[float], **fields: Any) -> dict[str, Any]:
    """A question's definition with these scores (answered with the keys 0, 1, 2 ...), and any other fields."""
    return {
        "key": key,
        "prompts": {"en": f"survey-{key}"},
        "scores": {str(i): s for i, s in enumerate(scores)},
        "max_digits": 2,
        **fields,
    }


async def add_survey(sessions: async_sessionmaker[AsyncSession], name: str, *questions: dict[str, Any]) -> None:
    """Store version 1 of a survey of these questions."""
    definition = SurveyDefinition.from_dict({"name": name, "version": 1, "questions": list(questions)}).to_dict()
    async with sessions() as s, s.begin():
        await repo.add_survey_version(s, name=name, definition=definition)
