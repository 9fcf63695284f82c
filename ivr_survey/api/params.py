"""Parsing query parameters into values, with one clear 400 per bad parameter."""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from multidict import MultiMapping

from .errors import invalid_parameter

MAX_LIMIT = 1000


def _one(query: MultiMapping[str], name: str) -> str | None:
    """The parameter's single, non-empty value, or None when absent."""
    values = query.getall(name, [])
    if not values:
        return None
    if len(values) > 1:
        raise invalid_parameter(name, f"{name} is given more than once")
    if values[0] == "":
        raise invalid_parameter(name, f"{name} is empty; leave it out instead")
    if "\x00" in values[0]:  # PostgreSQL cannot even compare text holding NUL
        raise invalid_parameter(name, f"{name} must not contain NUL characters")
    return values[0]


def path_key(match_info: Mapping[str, str], name: str, not_found: Callable[[str], Exception]) -> str:
    """A key from the path (a call id, an operator). No stored key holds a NUL, and PostgreSQL cannot even
    compare text that does: such a key is simply not found."""
    value = match_info[name]
    if "\x00" in value:
        raise not_found(value)
    return value


def known_only(query: MultiMapping[str], allowed: Collection[str]) -> None:
    """A misspelt parameter (opertor=7001) must not silently widen a query: unknown ones are refused."""
    for name in query:
        if name not in allowed:
            raise invalid_parameter(name, f"unknown parameter {name!r}; expected one of: {', '.join(allowed)}")


def text(query: MultiMapping[str], name: str, *, max_length: int = 200) -> str | None:
    value = _one(query, name)
    if value is None:
        return None
    if len(value) > max_length:
        raise invalid_parameter(name, f"{name} is longer than {max_length} characters")
    return value


def choice(query: MultiMapping[str], name: str, allowed: Collection[str], *, default: str | None = None) -> str | None:
    value = _one(query, name) or default
    if value is not None and value not in allowed:
        raise invalid_parameter(name, f"{name} must be one of: {', '.join(allowed)}")
    return value


def limit(query: MultiMapping[str], *, default: int = 100) -> int:
    raw = _one(query, "limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise invalid_parameter("limit", f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def number(query: MultiMapping[str], name: str) -> float | None:
    raw = _one(query, name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise invalid_parameter(name, f"{name} must be a number")
    return value


def boolean(query: MultiMapping[str], name: str) -> bool | None:
    raw = _one(query, name)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false", "1", "0"):
        raise invalid_parameter(name, f"{name} must be true or false")
    return raw.lower() in ("true", "1")


# An unescaped + in a URL's query arrives as a space: "...T13:00:00 03:00". A space before an offset after a
# time can mean nothing else (a negative offset keeps its -), so it is read as the + it was.
_SPACED_OFFSET = re.compile(r"(.+[T ][0-9:.,]+) ([0-9]{2}(?::?[0-9]{2})?)")
_TIME_EXAMPLES = "e.g. 2026-11-26T00:00:00Z or 2026-11-26T00:00:00%2B03:00"  # %2B: a + that survives a URL


def timestamp(query: MultiMapping[str], name: str) -> datetime | None:
    """ISO 8601 with a time zone: a naive time would mean a different instant on every server."""
    raw = _one(query, name)
    if raw is None:
        return None
    spaced = _SPACED_OFFSET.fullmatch(raw)
    try:
        value = datetime.fromisoformat(f"{spaced[1]}+{spaced[2]}" if spaced else raw)
    except ValueError:
        raise invalid_parameter(name, f"{name} must be an ISO 8601 time, {_TIME_EXAMPLES}") from None
    if value.tzinfo is None:
        raise invalid_parameter(name, f"{name} needs a time zone, {_TIME_EXAMPLES}")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00
        raise invalid_parameter(name, f"{name} is out of range") from None


def day(query: MultiMapping[str], name: str) -> date | None:
    raw = _one(query, name)
    if raw is None:
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise invalid_parameter(name, f"{name} must be a date, e.g. 2026-11-26") from None
    # a day is turned into instants in some time zone: days at the ends of the calendar have none
    if not date(2, 1, 1) <= value <= date(9998, 12, 31):
        raise invalid_parameter(name, f"{name} is out of range")
    return value


def time_zone(query: MultiMapping[str], name: str = "tz") -> ZoneInfo:
    raw = _one(query, name) or "UTC"
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid_parameter(name, f"{name} must be an IANA time zone, e.g. Europe/Moscow") from None


MAX_ID = 2**31 - 1  # an id beyond INTEGER is no id this API gave out
MAX_CURSOR = 2000

# --- cursors ---
# A cursor is the base64url JSON list of the values a keyset page continues after (the sort value, the id,
# and for /calls the sort and order too). It comes back from the client, so every value is checked against
# the column it will be compared with, here and only here: what the database cannot bind (an int past 64
# bits, a lone surrogate, a NUL) would be a 500, anything else of the wrong type a wrong page.

CursorField = Callable[[Any], Any]  # a decoded JSON value -> the value to continue after; ValueError if unfit


class _OtherOrder(ValueError):
    """A cursor of another sort or order: a real cursor, for another query."""


def cursor_time(value: Any) -> datetime:
    """A time exactly as the API writes it: fromisoformat alone lets odd text through (a NUL for the 'T')."""
    if not isinstance(value, str):
        raise ValueError
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None or parsed.isoformat() != value:
        raise ValueError
    return parsed.astimezone(UTC)  # OverflowError at the ends of the calendar


def cursor_id(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_ID:
        raise ValueError
    return value


def cursor_number(value: Any) -> float:
    """A float column's value: the API writes floats, so an int (10**30 would not even bind) is not one."""
    if not isinstance(value, float) or not math.isfinite(value):
        raise ValueError
    return value


def cursor_text(value: Any) -> str:
    if not isinstance(value, str) or "\x00" in value:  # PostgreSQL cannot compare text holding NUL
        raise ValueError
    value.encode()  # UnicodeEncodeError for a lone surrogate, which neither database can bind
    return value


# by a column's Python type: what a cursor continuing after one of its values may hold
CURSOR_FIELDS: dict[type, CursorField] = {datetime: cursor_time, float: cursor_number, str: cursor_text}


def nullable(field: CursorField) -> CursorField:
    """The field, or null: rows with an empty sort value come last, and a page may end among them."""
    return lambda value: None if value is None else field(value)


def same(expected: str | bool) -> CursorField:
    """A value that must be this one (the sort and order the cursor was made for)."""

    def check(value: Any) -> Any:
        if type(value) is not type(expected) or value != expected:
            raise _OtherOrder
        return value

    return check


TIME_AND_ID: tuple[CursorField, ...] = (cursor_time, cursor_id)  # a page newest first, by time then id


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor(query: MultiMapping[str], fields: Sequence[CursorField]) -> tuple[Any, ...] | None:
    """The values a keyset page continues after, one per field, each checked by its field; None without a
    cursor, a 400 naming `cursor` for anything this API did not give out."""
    raw = text(query, "cursor", max_length=MAX_CURSOR)
    if raw is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if not isinstance(values, list) or len(values) != len(fields):
            raise ValueError
        return tuple(field(value) for field, value in zip(fields, values, strict=True))
    except _OtherOrder:
        raise invalid_parameter("cursor", "the cursor belongs to another sort order; ask again without it") from None
    except (ValueError, OverflowError, RecursionError):  # ValueError: bad base64 or JSON, or a field refused
        raise invalid_parameter("cursor", "cursor is not one this API gave out") from None
