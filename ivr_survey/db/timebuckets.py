"""Time buckets (hour/day/week/month) in a caller-chosen time zone, computed by the database.

PostgreSQL converts with AT TIME ZONE. SQLite has no time zones, so the UTC->local offset is written
into the query as a CASE over the zone's offset changes (DST) within the period: exact, and still one
SQL expression the database groups by.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, case, cast, func
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


def _sqlite_local(column: Any, tz: ZoneInfo, start: datetime, end: datetime) -> ColumnElement[Any]:
    def shifted(offset: timedelta) -> ColumnElement[Any]:
        minutes = int(offset.total_seconds() // 60)
        return func.datetime(column, f"{minutes:+d} minutes") if minutes else func.datetime(column)

    segments = offset_segments(tz, start, end)
    if len(segments) == 1:
        return shifted(segments[0][1])
    whens = [(column < until, shifted(off)) for until, off in segments[:-1] if until is not None]
    return case(*whens, else_=shifted(segments[-1][1]))


def bucket_expression(
    dialect: str, column: Any, unit: str, tz: ZoneInfo, start: datetime, end: datetime
) -> ColumnElement[Any]:
    """The local start of `column`'s bucket, as text 'YYYY-MM-DD HH:MM:SS' (naive local time)."""
    if dialect == "postgresql":
        local = func.timezone(tz.key, column)
        return cast(func.to_char(func.date_trunc(unit, local), "YYYY-MM-DD HH24:MI:SS"), String)
    local = _sqlite_local(column, tz, start, end)
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

