"""Parsing query parameters into values, with one clear 400 per bad parameter."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import invalid_parameter

MAX_LIMIT = 1000


def text(query: Mapping[str, str], name: str, *, max_length: int = 200) -> str | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    if len(value) > max_length:
        raise invalid_parameter(name, f"{name} is longer than {max_length} characters")
    return value


def choice(query: Mapping[str, str], name: str, allowed: Collection[str], *, default: str | None = None) -> str | None:
    value = query.get(name) or default
    if value is not None and value not in allowed:
        raise invalid_parameter(name, f"{name} must be one of: {', '.join(allowed)}")
    return value


def limit(query: Mapping[str, str], *, default: int = 100) -> int:
    raw = query.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise invalid_parameter("limit", f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def number(query: Mapping[str, str], name: str) -> float | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise invalid_parameter(name, f"{name} must be a number")
    return value


def boolean(query: Mapping[str, str], name: str) -> bool | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() not in ("true", "false", "1", "0"):
        raise invalid_parameter(name, f"{name} must be true or false")
    return raw.lower() in ("true", "1")


def timestamp(query: Mapping[str, str], name: str) -> datetime | None:
    """ISO 8601 with a time zone: a naive time would mean a different instant on every server."""
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise invalid_parameter(name, f"{name} must be an ISO 8601 time, e.g. 2026-11-26T00:00:00+03:00") from None
    if value.tzinfo is None:
        raise invalid_parameter(name, f"{name} needs a time zone, e.g. 2026-11-26T00:00:00Z or +03:00")
    return value


def day(query: Mapping[str, str], name: str) -> date | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise invalid_parameter(name, f"{name} must be a date, e.g. 2026-11-26") from None


def time_zone(query: Mapping[str, str], name: str = "tz") -> ZoneInfo:
    raw = query.get(name) or "UTC"
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid_parameter(name, f"{name} must be an IANA time zone, e.g. Europe/Moscow") from None


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor(query: Mapping[str, str]) -> tuple[datetime, int] | None:
    """The (time, id) a keyset page continues after."""
    raw = query.get("cursor")
    if raw is None or raw == "":
        return None
    try:
        when, ident = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        value = datetime.fromisoformat(when)
        if value.tzinfo is None or not isinstance(ident, int) or isinstance(ident, bool):
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise invalid_parameter("cursor", "cursor is not one this API gave out") from None
    return value, ident
