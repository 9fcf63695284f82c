"""Parsing query parameters into values, with one clear 400 per bad parameter."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Collection
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


def timestamp(query: MultiMapping[str], name: str) -> datetime | None:
    """ISO 8601 with a time zone: a naive time would mean a different instant on every server."""
    raw = _one(query, name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise invalid_parameter(name, f"{name} must be an ISO 8601 time, e.g. 2026-11-26T00:00:00+03:00") from None
    if value.tzinfo is None:
        raise invalid_parameter(name, f"{name} needs a time zone, e.g. 2026-11-26T00:00:00Z or +03:00")
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


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor(query: MultiMapping[str]) -> tuple[datetime, int] | None:
    """The (time, id) a keyset page continues after."""
    raw = _one(query, "cursor")
    if raw is None:
        return None
    try:
        when, ident = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if not isinstance(when, str) or not isinstance(ident, int) or isinstance(ident, bool):
            raise ValueError
        value = datetime.fromisoformat(when)
        if value.tzinfo is None or not 0 < ident <= MAX_ID:
            raise ValueError
        value = value.astimezone(UTC)
    except (ValueError, TypeError, OverflowError, RecursionError, binascii.Error):
        raise invalid_parameter("cursor", "cursor is not one this API gave out") from None
    return value, ident
