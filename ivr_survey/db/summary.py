"""Aggregates of survey results by operator, queue, survey or time bucket: counted by the database."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Call, CqrEvaluation, Operator, Survey, SurveyResponse
from .ratings import FirstAnswer, RatingFilter, responses_query
from .timebuckets import UNITS, bucket_expression, bucket_label, utc_bounds

GROUPINGS = ("operator", "queue", "survey", *UNITS)
# CQR is about the operator's work in a period, so it stands next to these groupings only.
CQR_GROUPINGS = ("operator", *UNITS)
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


def empty_group(key: Any) -> dict[str, Any]:
    return {
        "key": key, "offered": 0, "responses": 0, "response_rate": None, "average": None, "csat": None,
        "csat_ci95": None, "distribution": {str(s): 0 for s in SCORES},
    }


async def ratings_summary(
    session: AsyncSession, *, group_by: str, filters: RatingFilter, tz: ZoneInfo
) -> list[dict[str, Any]]:
    """One group per key (None: unknown operator / no queue), keys in order, unknown last."""
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
    ).group_by(key)
    groups: dict[Any, dict[str, Any]] = {}
    for row in (await session.execute(stmt)).all():
        satisfied = (row.d4 or 0) + (row.d5 or 0)
        groups[row.key] = {
            "key": row.key,
            "offered": row.offered,
            "responses": row.responses,
            "response_rate": round(row.responses / row.offered, 4) if row.offered else None,
            "average": round(float(row.average), 4) if row.average is not None else None,
            "csat": round(satisfied / row.responses, 4) if row.responses else None,
            "csat_ci95": wilson_interval(satisfied, row.responses),
            "distribution": {str(s): int(getattr(row, f"d{s}") or 0) for s in SCORES},
        }
    if group_by in CQR_GROUPINGS:
        cqr = await cqr_summary(session, group_by=group_by, filters=filters, tz=tz)
        for k in cqr.keys() - groups.keys():
            groups[k] = empty_group(k)
        for k, group in groups.items():
            average, count = cqr.get(k, (None, 0))
            group["cqr_average"], group["cqr_evaluations"] = average, count
    ordered = sorted(groups.values(), key=lambda g: (g["key"] is None, g["key"] or ""))
    if group_by in UNITS:
        for group in ordered:
            group["key"] = bucket_label(group["key"], tz)
    return ordered


async def cqr_summary(
    session: AsyncSession, *, group_by: str, filters: RatingFilter, tz: ZoneInfo
) -> dict[Any, tuple[float | None, int]]:
    """key -> (average CQR, evaluations) of the calls in the period (by the call's start), per operator or
    time bucket; honours the operator and queue filters."""
    dialect = session.bind.dialect.name
    key = group_key(group_by, dialect, Call.started_at, tz, filters).label("key")
    stmt = (
        select(key, func.avg(CqrEvaluation.cqr).label("average"), func.count(CqrEvaluation.id).label("n"))
        .select_from(CqrEvaluation)
        .join(Call, Call.id == CqrEvaluation.call_id)
        .outerjoin(Operator, Operator.id == Call.operator_id)
        .where(Call.started_at >= filters.date_from, Call.started_at < filters.date_to)
        .group_by(key)
    )
    if filters.operator is not None:
        stmt = stmt.where(Operator.code == filters.operator)
    if filters.queue is not None:
        stmt = stmt.where(Call.queue == filters.queue)
    return {
        row.key: (round(float(row.average), 2) if row.average is not None else None, row.n)
        for row in (await session.execute(stmt)).all()
    }
