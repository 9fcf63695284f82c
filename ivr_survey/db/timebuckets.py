"""Time buckets (hour/day/week/month) in a caller-chosen time zone, computed by the database from UTC epoch
seconds.

PostgreSQL converts with timezone(). SQLite has no time zones, so the UTC->local offset is written into the
query as a CASE over the zone's offset changes (DST) within the period: exact, and still one SQL expression.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, String, case, cast, func
from sqlalchemy.sql import ColumnElement

UNITS = ("hour", "day", "week", "month")


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
        return cast(func.floor(func.extract("epoch", column)), Integer)
    return cast(func.strftime("%s", column), Integer)


def _sqlite_local(epoch: Any, tz: ZoneInfo, start: datetime, end: datetime) -> ColumnElement[Any]:
    def shifted(offset: timedelta) -> ColumnElement[Any]:
        return func.datetime(epoch + int(offset.total_seconds()), "unixepoch")

    segments = offset_segments(tz, start, end)
    whens = [(epoch < int(until.timestamp()), shifted(off)) for until, off in segments[:-1] if until is not None]
    return case(*whens, else_=shifted(segments[-1][1])) if whens else shifted(segments[-1][1])


def bucket_expression(
    dialect: str, epoch: Any, unit: str, tz: ZoneInfo, start: datetime, end: datetime
) -> ColumnElement[Any]:
    """The local start of the bucket holding `epoch` (UTC seconds), as text 'YYYY-MM-DD HH:MM:SS'."""
    if dialect == "postgresql":
        local = func.timezone(tz.key, func.to_timestamp(epoch))
        return cast(func.to_char(func.date_trunc(unit, local), "YYYY-MM-DD HH24:MI:SS"), String)
    local = _sqlite_local(epoch, tz, start, end)
    if unit == "hour":
        return func.strftime("%Y-%m-%d %H:00:00", local)
    if unit == "day":
        return func.strftime("%Y-%m-%d 00:00:00", local)
    if unit == "week":  # ISO weeks start on Monday
        return func.strftime("%Y-%m-%d 00:00:00", local, "-6 days", "weekday 1")
    return func.strftime("%Y-%m-01 00:00:00", local)


def bucket_label(value: str, tz: ZoneInfo) -> str:
    """'2026-11-26 00:00:00' (local) -> '2026-11-26T00:00:00+03:00'."""
    return datetime.fromisoformat(value).replace(tzinfo=tz).isoformat()


def utc_bounds(start: datetime | None, end: datetime | None, default_days: int = 30) -> tuple[datetime, datetime]:
    """The period to bucket over: given bounds, else the last `default_days` up to now."""
    end = end or datetime.now(UTC)
    start = start or end - timedelta(days=default_days)
    return start.astimezone(UTC), end.astimezone(UTC)
