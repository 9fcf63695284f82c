"""Time buckets (hour/day/week/month) in a caller-chosen time zone, computed by the database from UTC epoch
seconds.

PostgreSQL converts with timezone(). SQLite has no time zones, so the UTC->local offset is written into the
query as a CASE over the zone's offset changes (DST) within the period: exact, and still one SQL expression;
buckets are then integer arithmetic on local seconds (months: one strftime).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Integer, case, cast, func
from sqlalchemy.sql import ColumnElement

UNITS = ("hour", "day", "week", "month")
QUARTER_HOUR, HOUR, DAY = 900, 3600, 86400
MAX_PERIOD = timedelta(days=366 * 20)


def _offset(tz: ZoneInfo, at: datetime) -> timedelta:
    return at.astimezone(tz).utcoffset() or timedelta(0)


def offset_segments(tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime | None, timedelta]]:
    """[(until, offset), ...]: UTC `offset` applies before `until` (None: to the end)."""
    segments: list[tuple[datetime | None, timedelta]] = []
    current = _offset(tz, start)
    day = start
    while day < end:
        nxt = min(day + timedelta(days=1), end)
        if _offset(tz, nxt) != current:
            lo, hi = day, nxt  # the change is in (lo, hi]; find it to the minute
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if _offset(tz, mid) == current else (lo, mid)
            change = hi.replace(second=0, microsecond=0)
            segments.append((change, current))
            current = _offset(tz, change)
        day = nxt
    segments.append((None, current))
    return segments


def epoch_of(dialect: str, column: Any) -> ColumnElement[Any]:
    """UTC epoch seconds of a timestamp column."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", column)), BigInteger)
    return cast(func.strftime("%s", column), Integer)


def slot_seconds(tz: ZoneInfo, start: datetime, end: datetime) -> int:
    """The coarsest UTC slot (an hour, else a quarter hour) that local buckets in `tz` never split."""
    segments = offset_segments(tz, start, end)
    whole_hours = all(
        offset.total_seconds() % HOUR == 0 and (until is None or until.timestamp() % HOUR == 0)
        for until, offset in segments
    )
    return HOUR if whole_hours else QUARTER_HOUR


def _sqlite_local(epoch: Any, tz: ZoneInfo, start: datetime, end: datetime) -> ColumnElement[Any]:
    """Local wall-clock seconds since the epoch, as an integer."""
    segments = offset_segments(tz, start, end)
    whens = [(epoch < int(until.timestamp()), int(off.total_seconds())) for until, off in segments if until]
    last = int(segments[-1][1].total_seconds())
    local: ColumnElement[Any] = epoch + (case(*whens, else_=last) if whens else last)
    return local


def bucket_start(
    dialect: str, epoch: Any, unit: str, tz: ZoneInfo, start: datetime, end: datetime
) -> ColumnElement[Any]:
    """The local start of the bucket holding `epoch` (UTC seconds), as local wall-clock epoch seconds (an
    integer: grouping by it is cheap; bucket_label makes it readable)."""
    if dialect == "postgresql":
        wall_clock = func.timezone(tz.key, func.to_timestamp(epoch))
        return cast(func.extract("epoch", func.date_trunc(unit, wall_clock)), BigInteger)
    local = _sqlite_local(epoch, tz, start, end)
    if unit == "hour":
        return local // HOUR * HOUR
    if unit == "day":
        return local // DAY * DAY
    if unit == "week":  # ISO weeks start on Monday; day 0 (1970-01-01) was a Thursday
        days = local // DAY
        return (days - (days + 3) % 7) * DAY
    return cast(func.strftime("%s", local, "unixepoch", "start of month"), Integer)


def local_hour(dialect: str, epoch: Any, tz: ZoneInfo, start: datetime, end: datetime) -> ColumnElement[Any]:
    """The local hour of the day (0-23) of `epoch` (UTC seconds) in `tz`, by the offset in force at that
    instant: over a DST change each time keeps the hour its clock showed. `start`/`end`: the period the
    epochs are in (SQLite writes that period's offset changes into the query)."""
    if dialect == "postgresql":
        wall_clock = func.timezone(tz.key, func.to_timestamp(epoch))
        return cast(func.extract("hour", wall_clock), Integer)
    return _sqlite_local(epoch, tz, start, end) // HOUR % 24


_EPOCH = datetime(1970, 1, 1)


def bucket_label(value: int, tz: ZoneInfo) -> str:
    """Local wall-clock epoch seconds -> '2026-11-26T00:00:00+03:00' (an ambiguous or skipped wall-clock time
    takes the offset before the change, as datetime's fold=0). A year of hours is thousands of labels: the
    offset is looked up on the naive time and its text made once per offset."""
    naive = _EPOCH + timedelta(seconds=value)
    return naive.isoformat() + _offset_text(tz.utcoffset(naive))


def key_order(key: Any) -> tuple[bool, Any]:
    """A group's place: by its key, the unknown key (None) last."""
    return key is None, key if key is not None else ""


class Keyed(Protocol):
    key: Any


K = TypeVar("K", bound=Keyed)


def in_key_order(groups: Iterable[K], time_zone: ZoneInfo | None) -> list[K]:
    """Summary groups in the order of their keys, the unknown key (None) last. Given the time zone of time
    buckets, their keys (local wall-clock epoch seconds) become labels."""
    ordered = sorted(groups, key=lambda g: key_order(g.key))
    if time_zone is not None:
        for group in ordered:
            group.key = bucket_label(int(group.key), time_zone)
    return ordered


@functools.lru_cache(maxsize=64)
def _offset_text(offset: timedelta | None) -> str:
    return datetime(2000, 1, 1, tzinfo=timezone(offset or timedelta(0))).isoformat()[19:]


class PeriodTooLong(ValueError):
    """A period longer than MAX_PERIOD: its time-zone changes alone would make a query of thousands of cases."""


def utc_bounds(start: datetime | None, end: datetime | None, default_days: int = 30) -> tuple[datetime, datetime]:
    """The period to bucket over: given bounds, else the last `default_days` up to now."""
    end = end or datetime.now(UTC)
    start = start or end - timedelta(days=default_days)
    if end - start > MAX_PERIOD:
        raise PeriodTooLong(f"a period of at most {MAX_PERIOD.days // 366} years")
    return start.astimezone(UTC), end.astimezone(UTC)
