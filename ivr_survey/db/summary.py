"""Aggregates of survey results by operator, queue, survey or time bucket: counted by the database.

They read survey_responses alone (operator, queue, survey and first score are copied into it), through
a covering index per grouping. Time buckets are made in two steps: the database first adds responses up
per 15-minute UTC slot, in index order, then adds the slots up into the caller's hours, days, weeks or
months in their time zone."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import SLOT_SECONDS, Call, CqrEvaluation, Operator, Survey, SurveyResponse
from .ratings import RatingFilter
from .timebuckets import UNITS, bucket_expression, bucket_label, epoch_of, utc_bounds

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


def with_period(filters: RatingFilter) -> RatingFilter:
    """Summaries cover a period: the one asked for, else the last 30 days."""
    start, end = utc_bounds(filters.date_from, filters.date_to)
    return replace(filters, date_from=start, date_to=end)


def empty_group(key: Any) -> dict[str, Any]:
    return _group(key, [])


def _filtered(session: AsyncSession, stmt: Select[Any], filters: RatingFilter) -> Select[Any]:
    r = SurveyResponse
    started = _unindexed(session, r.started_at)
    conditions = [started >= filters.date_from, started < filters.date_to]
    if filters.operator is not None:
        operator = select(Operator.id).where(Operator.code == filters.operator).scalar_subquery()
        conditions.append(r.operator_id == operator)
    if filters.queue is not None:
        conditions.append(r.queue == filters.queue)
    if filters.survey is not None:
        conditions.append(r.survey_id == select(Survey.id).where(Survey.name == filters.survey).scalar_subquery())
    if filters.status is not None:
        conditions.append(r.status == filters.status)
    if filters.score_min is not None:
        conditions.append(r.score >= filters.score_min)
    if filters.score_max is not None:
        conditions.append(r.score <= filters.score_max)
    return stmt.where(*conditions)


def _unindexed(session: AsyncSession, column: Any) -> Any:
    """On SQLite, a column the planner will not use an index for. Without statistics SQLite would take the
    started_at index for a year-long period and visit every row; kept off it, it reads the grouping's covering
    index in order instead, or starts a join from the small evaluations table. PostgreSQL plans well alone."""
    return func.coalesce(column, column) if session.bind.dialect.name == "sqlite" else column


async def _counts(session: AsyncSession, group_by: str, filters: RatingFilter, tz: ZoneInfo) -> list[Any]:
    """(key, score, how many) rows: the database counts; the few hundred rows are folded into groups here."""
    r = SurveyResponse
    n = func.count().label("n")
    if group_by in UNITS:
        per_slot = _filtered(
            session, select(r.started_slot.label("slot"), r.score, n).group_by(r.started_slot, r.score), filters
        ).subquery()
        key = bucket_expression(
            session.bind.dialect.name, per_slot.c.slot * SLOT_SECONDS, group_by, tz, filters.date_from,
            filters.date_to,
        ).label("key")
        stmt = select(key, per_slot.c.score, func.sum(per_slot.c.n).label("n")).group_by(key, per_slot.c.score)
        return list((await session.execute(stmt)).all())
    column = {"operator": r.operator_id, "queue": r.queue, "survey": r.survey_id}[group_by]
    stmt = _filtered(session, select(column.label("key"), r.score, n).group_by(column, r.score), filters)
    rows = list((await session.execute(stmt)).all())
    if group_by == "queue":
        return rows
    # operator and survey ids become their codes and names
    model, name = (Operator, Operator.code) if group_by == "operator" else (Survey, Survey.name)
    names = dict((await session.execute(select(model.id, name))).all())
    return [(names.get(key), score, count) for key, score, count in rows]


def _group(key: Any, counts: list[tuple[float | None, int]]) -> dict[str, Any]:
    offered = sum(n for _, n in counts)
    answered = [(score, n) for score, n in counts if score is not None]
    responses = sum(n for _, n in answered)
    distribution = {str(s): sum(n for score, n in answered if score == s) for s in SCORES}
    satisfied = distribution["4"] + distribution["5"]
    return {
        "key": key,
        "offered": offered,
        "responses": responses,
        "response_rate": round(responses / offered, 4) if offered else None,
        "average": round(sum(score * n for score, n in answered) / responses, 4) if responses else None,
        "csat": round(satisfied / responses, 4) if responses else None,
        "csat_ci95": wilson_interval(satisfied, responses),
        "distribution": distribution,
    }


async def ratings_summary(
    session: AsyncSession, *, group_by: str, filters: RatingFilter, tz: ZoneInfo
) -> list[dict[str, Any]]:
    """One group per key (None: unknown operator / no queue), keys in order, unknown last."""
    counts: dict[Any, list[tuple[float | None, int]]] = defaultdict(list)
    for key, score, n in await _counts(session, group_by, filters, tz):
        counts[key].append((score, int(n)))
    groups = {key: _group(key, pairs) for key, pairs in counts.items()}
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
    if group_by == "operator":
        key = Operator.code.label("key")
    else:
        key = bucket_expression(
            dialect, epoch_of(dialect, Call.started_at), group_by, tz,
            filters.date_from, filters.date_to,
        ).label("key")
    stmt = (
        select(key, func.avg(CqrEvaluation.cqr).label("average"), func.count(CqrEvaluation.id).label("n"))
        .select_from(CqrEvaluation)
        .join(Call, Call.id == CqrEvaluation.call_id)
        .outerjoin(Operator, Operator.id == Call.operator_id)
        .where(_unindexed(session, Call.started_at) >= filters.date_from,
               _unindexed(session, Call.started_at) < filters.date_to)
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
