"""Aggregates of survey results by operator, queue, survey or time bucket: counted by the database.

They read survey_responses alone (operator, queue, survey and first score are copied into it), through
a covering index per grouping, counting (key, score) pairs in index order and then folding them into one
row per key. Time buckets are made in two steps: responses are first counted per UTC slot, then the slots
are added up into the caller's hours, days, weeks or months in their time zone. With no filter but the
period, the counts per quarter hour are already there (response_slot_tallies, kept by triggers); only the
two slots the period's bounds may cut are counted from the responses. With filters, the database counts
responses per UTC hour (per quarter hour in half-hour time zones). Operator, queue and survey summaries of
a period holding under a tenth of all responses read that period's range of the hour index instead of all
of their own index."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Row, Select, and_, case, cast, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Call, CqrEvaluation, Operator, ResponseSlotTally, Survey, SurveyResponse
from .ratings import RatingColumns, RatingFilter, rating_conditions
from .timebuckets import (
    HOUR,
    QUARTER_HOUR,
    UNITS,
    bucket_start,
    epoch_of,
    in_key_order,
    slot_seconds,
    utc_bounds,
)

GROUPINGS = ("operator", "queue", "survey", *UNITS)
# CQR is about the operator's work in a period, so it stands next to these groupings only.
CQR_GROUPINGS = ("operator", *UNITS)
SCORES = (1, 2, 3, 4, 5)
Z95 = 1.959963984540054


@functools.lru_cache(maxsize=1 << 16)  # a year of hourly groups repeats the same few thousand (k, n) pairs
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
    return _group(key)


def _period_slots(filters: RatingFilter, size: int) -> tuple[int, int, int]:
    """The period's slots of `size` seconds: the one holding its start, the first it holds whole, and the one
    holding its end (the period holds whole every slot from the second number up to, not including, the
    third)."""
    start, end = filters.date_from.timestamp(), filters.date_to.timestamp()
    return math.floor(start / size), math.ceil(start / size), math.floor(end / size)


def _filtered(
    session: AsyncSession, stmt: Select[Any], filters: RatingFilter, slot: tuple[Any, int] | None = None
) -> Select[Any]:
    """`stmt` narrowed to the filters. Given (slot column, slot seconds), whole slots inside the period are
    taken by slot number; only a slot the period's bounds cut compares the timestamp itself.

    On SQLite only the operator filter may lead to an index (a seek to that operator's few entries in its
    covering index); every other condition is kept from the planner, which then reads the covering index in
    the grouping's order. Without statistics it would take any index a condition matches and look up every
    row found there: over a million responses, survey=default took 1.7 s that way, against 0.1 s."""
    r = SurveyResponse
    hidden = functools.partial(_unindexed, session)
    started = hidden(r.started_at)
    in_period = and_(started >= filters.date_from, started < filters.date_to)
    conditions: list[Any] = [in_period]
    if slot is not None:
        column, size = slot
        first, first_whole, end_whole = _period_slots(filters, size)
        conditions = [
            # the period's slots: a range of the time index, so that only the period's entries are read
            column >= first,
            column <= end_whole,
            or_(and_(hidden(column) >= first_whole, hidden(column) < end_whole), in_period),
        ]
    copies = RatingColumns(operator_id=r.operator_id, queue=hidden(r.queue), survey_id=hidden(r.survey_id),
                           status=hidden(r.status), score=hidden(r.score))
    return stmt.where(*conditions, *rating_conditions(filters, copies))


def _unindexed(session: AsyncSession, column: Any) -> Any:
    """On SQLite, a column the planner will not use an index for (see _filtered; cqr_summary keeps a year's
    calls, or a queue's, off the calls' indexes so that its join starts from the small evaluations table).
    PostgreSQL, with statistics, plans well alone."""
    return func.coalesce(column, column) if session.bind.dialect.name == "sqlite" else column


def _tallies(pairs: Any, key: Any) -> Select[Any]:
    """One row per key from (key, score, n) pairs: offered, responses, the score total and the 1-5 counts."""
    def count_of(condition: Any) -> Any:  # a plain integer on both databases (PostgreSQL sums to numeric)
        return cast(func.coalesce(func.sum(case((condition, pairs.c.n), else_=0)), 0), BigInteger)

    return select(
        key.label("key"),
        cast(func.sum(pairs.c.n), BigInteger).label("offered"),
        count_of(pairs.c.score.is_not(None)).label("responses"),
        func.sum(pairs.c.score * pairs.c.n).label("total"),
        *(count_of(pairs.c.score == s).label(f"d{s}") for s in SCORES),
    ).group_by(key)


async def _rows(session: AsyncSession, stmt: Select[Any]) -> Sequence[Row[Any]]:
    """The rows of a Core select, run on the session's connection: the ORM's handling of result rows is
    a tenth of a year-by-hour summary's time, and these rows are no entities."""
    return (await (await session.connection()).execute(stmt)).all()


def _slot_tallies(session: AsyncSession, filters: RatingFilter) -> Any:
    """(slot, offered, responses, score total, count of 1s .. 5s) per quarter hour of the period: the stored
    tallies of the slots wholly inside it, and the responses of the (at most two) slots its bounds cut."""
    t, r = ResponseSlotTally, SurveyResponse
    first, first_whole, end_whole = _period_slots(filters, QUARTER_HOUR)
    cut = {s for s in (first, end_whole) if not first_whole <= s < end_whole}
    whole = select(t.slot, t.offered, t.responses, t.score_total, t.score_1, t.score_2, t.score_3, t.score_4,
                   t.score_5).where(t.slot >= first_whole, t.slot < end_whole, t.offered != 0)
    started = _unindexed(session, r.started_at)
    edges = (
        select(r.started_slot, func.count(), func.count(r.score), func.coalesce(func.sum(r.score), 0.0),
               *(func.count(case((r.score == s, 1))) for s in SCORES))
        .where(r.started_slot.in_(sorted(cut)), started >= filters.date_from, started < filters.date_to)
        .group_by(r.started_slot)
    )
    return union_all(whole, edges).subquery()


# Below this share of all responses, a period is read from the time index (its entries only, grouped in a
# temporary b-tree) rather than from the grouping's index in order (every entry, grouped as read): grouping
# aside costs five to six times as much per entry (SQLite, a million responses).
SMALL_SHARE = 0.1


async def _holds_a_small_share(session: AsyncSession, filters: RatingFilter) -> bool:
    """Whether the period holds under SMALL_SHARE of the responses, by the per-quarter-hour tallies (a year of
    them is 35,040 rows: a few milliseconds)."""
    t = ResponseSlotTally
    first, _, last = _period_slots(filters, QUARTER_HOUR)
    in_period = func.sum(case((and_(t.slot >= first, t.slot <= last), t.offered), else_=0))
    inside, everything = (await _rows(session, select(in_period, func.sum(t.offered))))[0]
    return bool(everything) and inside < SMALL_SHARE * everything


async def _tally_rows(
    session: AsyncSession, group_by: str, filters: RatingFilter, tz: ZoneInfo
) -> list[tuple[Any, Any]]:
    """(key, tally row) pairs: the database counts (key, score) pairs from a covering index, then folds them
    into one row per key."""
    r = SurveyResponse
    n = func.count().label("n")
    dialect = session.bind.dialect.name
    if group_by in UNITS and replace(filters, date_from=None, date_to=None) == RatingFilter():
        slots = _slot_tallies(session, filters)
        epoch = cast(slots.c.slot, BigInteger) * QUARTER_HOUR
        key = bucket_start(dialect, epoch, group_by, tz, filters.date_from, filters.date_to)
        offered, responses, total, *counts = (func.sum(column) for column in list(slots.c)[1:])
        # plain integers on both databases (PostgreSQL sums bigints to numeric)
        stmt = select(key, *(cast(c, BigInteger) for c in (offered, responses)), total,
                      *(cast(c, BigInteger) for c in counts)).group_by(key)
        return [(row[0], row[1:]) for row in await _rows(session, stmt)]
    if group_by in UNITS:
        size = slot_seconds(tz, filters.date_from, filters.date_to)
        slot = r.started_hour if size == HOUR else r.started_slot
        stmt = select(slot.label("slot"), r.score, n).group_by(slot, r.score)
        pairs = _filtered(session, stmt, filters, (slot, size)).subquery()
        epoch = cast(pairs.c.slot, BigInteger) * size
        key = bucket_start(dialect, epoch, group_by, tz, filters.date_from, filters.date_to)
        return [(row[0], row[1:]) for row in await _rows(session, _tallies(pairs, key))]
    column = {"operator": r.operator_id, "queue": r.queue, "survey": r.survey_id}[group_by]
    stmt = select(column.label("key"), r.score, n).group_by(column, r.score)
    if filters.operator is None and await _holds_a_small_share(session, filters):
        # the period's entries of the hour index, grouped aside, rather than every entry of the grouping's
        pairs = _filtered(session, stmt, filters, (r.started_hour, HOUR)).subquery()
    else:
        pairs = _filtered(session, stmt, filters).subquery()
    rows = await _rows(session, _tallies(pairs, pairs.c.key))
    if group_by == "queue":
        return [(row[0], row[1:]) for row in rows]
    # operator and survey ids become their codes and names
    model, name = (Operator, Operator.code) if group_by == "operator" else (Survey, Survey.name)
    names = dict((await session.execute(select(model.id, name))).all())
    return [(names.get(row[0]), row[1:]) for row in rows]


def _group(key: Any, row: Any = (0, 0, None, 0, 0, 0, 0, 0)) -> dict[str, Any]:
    """A summary group from a tally row (offered, responses, score total, count of 1s .. 5s). Written out
    flat: a year by hour makes 8,760 of them per request."""
    offered, responses, total, c1, c2, c3, c4, c5 = row
    satisfied = c4 + c5
    return {
        "key": key,
        "offered": offered,
        "responses": responses,
        "response_rate": round(responses / offered, 4) if offered else None,
        "average": round(float(total) / responses, 4) if responses else None,
        "csat": round(satisfied / responses, 4) if responses else None,
        "csat_ci95": wilson_interval(satisfied, responses),
        "distribution": {"1": c1, "2": c2, "3": c3, "4": c4, "5": c5},
    }


async def ratings_summary(
    session: AsyncSession, *, group_by: str, filters: RatingFilter, tz: ZoneInfo
) -> list[dict[str, Any]]:
    """One group per key (None: unknown operator / no queue), keys in order, unknown last."""
    groups = {key: _group(key, row) for key, row in await _tally_rows(session, group_by, filters, tz)}
    if group_by in CQR_GROUPINGS:
        cqr = await cqr_summary(session, group_by=group_by, filters=filters, tz=tz)
        for k in cqr.keys() - groups.keys():
            groups[k] = empty_group(k)
        for k, group in groups.items():
            average, count = cqr.get(k, (None, 0))
            group["cqr_average"], group["cqr_evaluations"] = average, count
    return in_key_order(groups.values(), tz if group_by in UNITS else None)


async def cqr_summary(
    session: AsyncSession, *, group_by: str, filters: RatingFilter, tz: ZoneInfo
) -> dict[Any, tuple[float | None, int]]:
    """key -> (average CQR, evaluations) of the calls in the period (by the call's start), per operator or
    time bucket; honours the operator and queue filters."""
    dialect = session.bind.dialect.name
    if group_by == "operator":
        key = Operator.code.label("key")
    else:
        key = bucket_start(
            dialect, epoch_of(dialect, Call.started_at), group_by, tz, filters.date_from, filters.date_to
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
        stmt = stmt.where(_unindexed(session, Call.queue) == filters.queue)
    return {
        row.key: (round(float(row.average), 2) if row.average is not None else None, row.n)
        for row in (await session.execute(stmt)).all()
    }
