"""Query parameters as pydantic models: each parameter's parser is one function whose message names it, and one
`parse_query` turns a request's query into a model (an unknown, repeated or empty parameter is a 400 there)."""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from multidict import MultiMapping
from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler, model_validator
from pydantic_core import CoreSchema, core_schema

from .errors import ApiError, Invalid, invalid_parameter

MAX_LIMIT = 1000
MAX_ID = 2**31 - 1  # an id beyond INTEGER is no id this API gave out
MAX_CURSOR = 2000


@dataclass(frozen=True, slots=True)
class Param:
    """A field's parser and its JSON schema, as one Annotated marker: the parser is the whole validation (it
    raises Invalid with the API's message), the schema is what the spec says of it."""

    parse: Callable[[Any], Any]
    schema: Mapping[str, Any]

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(self.parse)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return dict(self.schema)


def text(max_length: int = 200) -> Param:
    def parse(value: str) -> str:
        if len(value) > max_length:
            raise Invalid(f"{{name}} is longer than {max_length} characters")
        return value

    # no maxLength: a client sent past it would build URLs longer than aiohttp reads (8190 bytes), which fail
    # before the API can answer in its own shape
    return Param(parse, {"type": "string", "minLength": 1})


def one_of(allowed: Collection[str]) -> Param:
    def parse(value: str) -> str:
        if value not in allowed:
            raise Invalid(f"{{name}} must be one of: {', '.join(allowed)}")
        return value

    return Param(parse, {"type": "string", "enum": list(allowed)})


def _limit(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise Invalid(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def number_value(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise Invalid("{name} must be a number")
    return value


def _boolean(raw: str) -> bool:
    if raw.lower() not in ("true", "false", "1", "0"):
        raise Invalid("{name} must be true or false")
    return raw.lower() in ("true", "1")


# An unescaped + in a URL's query arrives as a space: "...T13:00:00 03:00". A space before an offset after a
# time can mean nothing else (a negative offset keeps its -), so it is read as the + it was.
_SPACED_OFFSET = re.compile(r"(.+[T ][0-9:.,]+) ([0-9]{2}(?::?[0-9]{2})?)")
_TIME_EXAMPLES = "e.g. 2026-11-26T00:00:00Z or 2026-11-26T00:00:00%2B03:00"  # %2B: a + that survives a URL


def _timestamp(raw: str) -> datetime:
    """ISO 8601 with a time zone: a naive time would mean a different instant on every server."""
    spaced = _SPACED_OFFSET.fullmatch(raw)
    try:
        value = datetime.fromisoformat(f"{spaced[1]}+{spaced[2]}" if spaced else raw)
    except ValueError:
        raise Invalid(f"{{name}} must be an ISO 8601 time, {_TIME_EXAMPLES}") from None
    if value.tzinfo is None:
        raise Invalid(f"{{name}} needs a time zone, {_TIME_EXAMPLES}")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00
        raise Invalid("{name} is out of range") from None


def _day(raw: str) -> date:
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise Invalid("{name} must be a date, e.g. 2026-11-26") from None
    # a day is turned into instants in some time zone: days at the ends of the calendar have none
    if not date(2, 1, 1) <= value <= date(9998, 12, 31):
        raise Invalid("{name} is out of range")
    return value


def _time_zone(raw: str) -> ZoneInfo:
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid("{name} must be an IANA time zone, e.g. Europe/Moscow") from None


def _campaign(raw: str) -> int | str:
    if raw == "none":
        return raw
    if not re.fullmatch(r"[0-9]{1,10}", raw) or not 1 <= int(raw) <= MAX_ID:
        raise Invalid("{name} must be a campaign's id or none")
    return int(raw)


# a campaign's id, or "none" for what no campaign asked (db.ratings.CampaignScope)
CAMPAIGN = Param(_campaign, {"type": "string", "pattern": "^(none|[1-9][0-9]{0,9})$", "example": "3"})
Limit = Annotated[int, Param(_limit, {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT})]
Number = Annotated[float | None, Param(number_value, {"type": "number"})]
Boolean = Annotated[bool | None, Param(_boolean, {"type": "boolean"})]
Timestamp = Annotated[datetime | None, Param(_timestamp, {"type": "string", "format": "date-time", "minLength": 1})]
Day = Annotated[date | None, Param(_day, {"type": "string", "format": "date", "minLength": 1})]
TimeZone = Annotated[ZoneInfo, Param(_time_zone, {"type": "string", "minLength": 1, "example": "Europe/Moscow"})]
Text = Annotated[str | None, text()]


class Query(BaseModel):
    """A query string's parameters; a field's description is the parameter's in the spec."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoQuery(Query):
    """An operation that takes no parameters: any given is unknown."""


class Period(Query):
    date_from: Timestamp = Field(
        None, alias="from", description="start of the period, ISO 8601 with a time zone (inclusive)"
    )
    date_to: Timestamp = Field(None, alias="to", description="end of the period, ISO 8601 with a time zone (exclusive)")

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise Invalid("to is before from", parameter="to")
        return self


class Zoned(Query):
    tz: TimeZone = Field(
        default_factory=lambda: ZoneInfo("UTC"), description="IANA time zone for time buckets (default UTC)"
    )


class Paged(Query):
    limit: Limit = Field(100, description=f"items per page, 1-{MAX_LIMIT} (default 100)")
    cursor: Annotated[str | None, text(MAX_CURSOR)] = Field(None, description="next_cursor of the previous page")


def _one(query: MultiMapping[str], name: str) -> str:
    """The parameter's single, non-empty value."""
    values = query.getall(name)
    if len(values) > 1:
        raise invalid_parameter(name, f"{name} is given more than once")
    if values[0] == "":
        raise invalid_parameter(name, f"{name} is empty; leave it out instead")
    if "\x00" in values[0]:  # PostgreSQL cannot even compare text holding NUL
        raise invalid_parameter(name, f"{name} must not contain NUL characters")
    return values[0]


def names(model: type[BaseModel]) -> list[str]:
    """The parameters (or body fields) a model takes, as clients spell them."""
    return [field.alias or name for name, field in model.model_fields.items()]


Q = TypeVar("Q", bound=BaseModel)


def parse_query(query: MultiMapping[str], model: type[Q]) -> Q:
    """The query as `model`; pydantic's ValidationError is turned into a 400 by the error middleware."""
    allowed = names(model)
    for name in query:  # a misspelt parameter (opertor=7001) must not silently widen a query
        if name not in allowed:
            raise invalid_parameter(name, f"unknown parameter {name!r}; expected one of: {', '.join(allowed)}")
    return model.model_validate({name: _one(query, name) for name in dict.fromkeys(query)})


B = TypeVar("B", bound="Body")
ABSENT = object()  # a body field not sent, told from one sent as null


class Body(BaseModel):
    """A JSON request body. A required field left out reaches its parser as ABSENT, so that the message is the
    parser's own; a field that is no field is refused before any is parsed, naming it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _absent(cls, data: Any) -> Any:
        required = {name: ABSENT for name, field in cls.model_fields.items() if field.is_required()}
        return {**required, **data}


async def parse_body(request: web.Request, model: type[B]) -> B:
    """The body as `model`; 400 invalid_json unless it is a JSON object, whatever the Content-Type says."""
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # ValueError covers bad JSON, bad UTF-8 and absurdly long numbers
        raise ApiError("invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError("invalid_json", "the body must be a JSON object")
    allowed = names(model)
    for name in body:
        if name not in allowed:
            raise invalid_parameter(name, f"unknown field {name!r}; the fields are: {', '.join(allowed)}")
    return model.model_validate(body)


def path_key(match_info: Mapping[str, str], name: str, not_found: Callable[[str], Exception]) -> str:
    """A key from the path (a call id, an operator). No stored key holds a NUL, and PostgreSQL cannot even
    compare text that does: such a key is simply not found."""
    value = match_info[name]
    if "\x00" in value:
        raise not_found(value)
    return value


def path_id(match_info: Mapping[str, str], name: str, not_found: Callable[[str], Exception]) -> int:
    """A row's id from the path (a campaign, an outbox delivery): ASCII digits, 1 to MAX_ID, else not found."""
    raw = match_info[name]
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise not_found(raw)
    return int(raw)


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


def cursor(raw: str | None, fields: Sequence[CursorField]) -> tuple[Any, ...] | None:
    """The values a keyset page continues after, one per field, each checked by its field; None without a
    cursor, a 400 naming `cursor` for anything this API did not give out."""
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
