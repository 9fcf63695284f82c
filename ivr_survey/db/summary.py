"""Aggregates of survey results by operator, queue, survey or time bucket: counted by the database."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Call, Operator, Survey, SurveyResponse
from .ratings import FirstAnswer, RatingFilter, responses_query
from .timebuckets import UNITS, bucket_expression, bucket_label, utc_bounds

GROUPINGS = ("operator", "queue", "survey", *UNITS)
SCORES = (1, 2, 3, 4, 5)
Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion; None without observations."""
    if n == 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return round(max(0.0, center - half), 4), round(min(1.0, center + half), 4)


def group_key(group_by: str, dialect: str, column: Any, tz: ZoneInfo, filters: RatingFilter) -> Any:
    if group_by == "operator":
        return Operator.code
    if group_by == "queue":
        return Call.queue
    if group_by == "survey":
        return Survey.name
    assert filters.date_from is not None and filters.date_to is not None
    return bucket_expression(dialect, column, group_by, tz, filters.date_from, filters.date_to)


def with_period(filters: RatingFilter) -> RatingFilter:
    """Summaries cover a period: the one asked for, else the last 30 days."""
    start, end = utc_bounds(filters.date_from, filters.date_to)
    return replace(filters, date_from=start, date_to=end)


async def ratings_summary(
    session: AsyncSession, *, group_by: str, filters: RatingFilter, tz: ZoneInfo
) -> list[dict[str, Any]]:
    dialect = session.bind.dialect.name
    key = group_key(group_by, dialect, SurveyResponse.started_at, tz, filters).label("key")
    score = FirstAnswer.score
    stmt = responses_query(
        key,
        func.count(SurveyResponse.id).label("offered"),
        func.count(score).label("responses"),
        func.avg(score).label("average"),
        *(func.sum(case((score == s, 1), else_=0)).label(f"d{s}") for s in SCORES),
        filters=filters,
    ).group_by(key).order_by(key.asc().nulls_last())
    groups = []
    for row in (await session.execute(stmt)).all():
        satisfied = (row.d4 or 0) + (row.d5 or 0)
        groups.append(
            {
                "key": bucket_label(row.key, tz) if group_by in UNITS else row.key,
                "offered": row.offered,
                "responses": row.responses,
                "response_rate": round(row.responses / row.offered, 4) if row.offered else None,
                "average": round(float(row.average), 4) if row.average is not None else None,
                "csat": round(satisfied / row.responses, 4) if row.responses else None,
                "csat_ci95": wilson_interval(satisfied, row.responses),
                "distribution": {str(s): int(getattr(row, f"d{s}") or 0) for s in SCORES},
            }
        )
    return groups
