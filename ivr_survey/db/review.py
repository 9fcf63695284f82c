"""The day's review queue: about `share` of each operator's calls for a supervisor to listen to.

Every call rated 1-2 goes first; the rest is a reproducible random sample (ordered by a hash of the day
and the call id, so the same day always gives the same list, and a bigger share only adds calls)."""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Call, CqrEvaluation, Operator, SurveyResponse
from .ratings import FirstAnswer

LOW_SCORE = 2.0


@dataclass(frozen=True, slots=True)
class OperatorLoad:
    operator: str
    operator_name: str | None
    calls: int  # on the day
    selected: int


@dataclass(frozen=True, slots=True)
class ReviewItem:
    call_id: str
    operator: str
    operator_name: str | None
    queue: str | None
    started_at: datetime
    score: float | None
    reason: str  # low_score or sample
    evaluated: bool


@dataclass(frozen=True, slots=True)
class ReviewQueue:
    operators: list[OperatorLoad]
    items: list[ReviewItem]


def _sample_order(day: date, linkedid: str) -> str:
    return hashlib.sha256(f"{day.isoformat()}:{linkedid}".encode()).hexdigest()


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tz)
    return start, datetime.combine(day + timedelta(days=1), time(0), tz)


async def review_queue(
    session: AsyncSession, *, day: date, tz: ZoneInfo, share: float, team: str | None = None
) -> ReviewQueue:
    """The day's queue, of every operator's calls or the team's (team given)."""
    start, end = day_bounds(day, tz)
    evaluated = exists().where(CqrEvaluation.call_id == Call.id)
    stmt = (
        select(
            Call.linkedid,
            Operator.code,
            Operator.name,
            Call.queue,
            Call.started_at,
            FirstAnswer.score,
            evaluated.label("done"),
        )
        .join(Operator, Operator.id == Call.operator_id)
        .outerjoin(SurveyResponse, SurveyResponse.call_id == Call.id)
        .outerjoin(FirstAnswer, and_(FirstAnswer.response_id == SurveyResponse.id, FirstAnswer.position == 0))
        .where(Call.started_at >= start, Call.started_at < end)
    )
    if team is not None:
        stmt = stmt.where(Operator.team == team)
    per_operator: dict[str, list[Any]] = defaultdict(list)
    for row in (await session.execute(stmt)).all():
        per_operator[row.code].append(row)
    operators: list[OperatorLoad] = []
    items: list[ReviewItem] = []
    for code in sorted(per_operator):
        calls = per_operator[code]
        wanted = math.ceil(share * len(calls) - 1e-9)
        low = sorted((c for c in calls if c.score is not None and c.score <= LOW_SCORE), key=lambda c: c.started_at)
        rest = sorted((c for c in calls if c not in low), key=lambda c: _sample_order(day, c.linkedid))
        chosen = [(c, "low_score") for c in low] + [(c, "sample") for c in rest[: max(0, wanted - len(low))]]
        name = calls[0].name
        operators.append(OperatorLoad(code, name, len(calls), len(chosen)))
        items.extend(
            ReviewItem(c.linkedid, code, name, c.queue, c.started_at, c.score, reason, bool(c.done))
            for c, reason in chosen
        )
    return ReviewQueue(operators, items)
