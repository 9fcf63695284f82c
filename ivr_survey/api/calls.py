"""GET /calls (pages sorted by any column, or a streamed CSV), /calls/stats, /calls/{id} and the call's
recording (with Range; nothing outside IVR_SURVEY_RECORDINGS_DIR is ever served)."""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field
from sqlalchemy import TypeDecorator
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.calls import (
    SORTS,
    STATS_GROUPINGS,
    CallFilter,
    CallRow,
    call_stats,
    get_call,
    iter_calls,
    list_calls,
    recording_of,
)
from ..db.calls import CallsPage as DbCallsPage
from ..db.cqr import list_evaluations
from ..db.listens import list_listens
from ..db.models import DIRECTIONS, DISPOSITIONS, HANGUP_SIDES
from ..db.ratings import RatingFilter, list_ratings
from ..keys import SESSIONS, SETTINGS
from . import params
from .auth import keep_to_own, own_operator
from .cqr import Evaluation, blind_for
from .csv_export import Format, stream_csv, wants_csv
from .errors import ApiError, Invalid
from .live import Listen
from .params import Paged, Param, Period, Text, Zoned, one_of
from .ratings import Rating
from .responses import Model, Time, enum, json_response

# --- models ---


def _caller(raw: str) -> str:
    """The client's number as its digits: that is how calls store it."""
    digits = "".join(c for c in params.text().parse(raw) if c.isdigit())
    if not digits:
        raise Invalid("caller must contain digits")
    return digits


class CallQuery(Period):
    operator: Text = Field(None, description="operator id: calls they answered, or that rang them and nobody answered")
    team: Text = Field(None, description="the same, for the operators in this team")
    queue: Text = Field(None, description="queue name")
    direction: Annotated[str | None, one_of(DIRECTIONS)] = None
    disposition: Annotated[str | None, one_of(DISPOSITIONS)] = None
    caller: Annotated[str | None, Param(_caller, {"type": "string", "minLength": 1})] = Field(
        None, description="the client's number (digits compared)"
    )

    def call_filter(self) -> CallFilter:
        return CallFilter(
            operator=self.operator,
            team=self.team,
            queue=self.queue,
            direction=self.direction,
            disposition=self.disposition,
            caller=self.caller,
            date_from=self.date_from,
            date_to=self.date_to,
        )


class CallsQuery(Format, Paged, CallQuery):  # the filters are checked first
    sort: Annotated[str, one_of(tuple(SORTS))] = Field(
        "started_at", description="column to sort by (default started_at)"
    )
    order: Annotated[str, one_of(("asc", "desc"))] = Field(
        "desc", description="desc (default) or asc; empty values come last"
    )


class StatsQuery(CallQuery, Zoned):
    group_by: Annotated[str, one_of(STATS_GROUPINGS)] = Field(
        "operator", description="grouping (default operator); hour_of_day: by the local hour in tz; all: one group"
    )


class Callback(Model):
    call_id: str
    operator: str | None
    at: Time
    after_seconds: float


class Call(Model):
    call_id: str
    direction: Annotated[str, enum(DIRECTIONS)] | None
    disposition: Annotated[str, enum(DISPOSITIONS)] | None
    caller: str | None
    client_number: str | None
    queue: str | None
    operator: str | None
    operator_name: str | None
    rung_operators: list[str]
    started_at: Time | None
    answered_at: Time | None
    ended_at: Time | None
    ring_seconds: float | None
    talk_seconds: float | None
    hangup_side: Annotated[str, enum(HANGUP_SIDES)] | None
    recording: str | None = Field(description="the URL of the recording")
    incomplete: bool
    source: Literal["ami", "cdr_import"] | None
    surveyed: bool
    callback: Callback | None = Field(
        description="for a missed inbound call: the first answered outbound call to the same number"
    )
    transferred_from: list[str] = Field(
        description="the operators who talked to the caller before a transfer, first first; the call and its "
        "rating belong to operator, the last"
    )


class CallsPage(Model):
    items: list[Call]
    next_cursor: str | None


class CallDetail(Call):
    survey: Rating | None
    cqr_evaluations: list[Evaluation]
    listens: list[Listen] = Field(description="supervisors who listened to the call live, first first")


class StatsGroup(Model):
    key: str | int | None = Field(
        description="operator, queue, the bucket's local start (hour, day), the local hour 0-23 (hour_of_day: only "
        "hours with calls, in order), or null (no queue; all: the one group, there even without calls)"
    )
    total: int
    answered: int
    missed: int = Field(description="missed or abandoned in a queue")
    missed_share: float | None
    called_back: int
    callback_median_seconds: float | None
    ring_average_seconds: float | None
    talk_average_seconds: float | None
    talk_total_seconds: float | None
    surveyed: int
    response_rate: float | None = Field(description="rated calls / answered calls")


class CallStats(Model):
    group_by: Annotated[str, enum(STATS_GROUPINGS)]
    tz: str
    groups: list[StatsGroup]


# --- handlers ---

CSV_COLUMNS = (
    "call_id",
    "direction",
    "disposition",
    "caller",
    "client_number",
    "queue",
    "operator",
    "operator_name",
    "rung_operators",
    "started_at",
    "answered_at",
    "ended_at",
    "ring_seconds",
    "talk_seconds",
    "hangup_side",
    "recording",
    "incomplete",
    "source",
    "surveyed",
    "callback_call_id",
    "callback_at",
    "callback_after_seconds",
    "transferred_from",
)


def _sort_field(column: Any) -> params.CursorField:
    """What a cursor may hold for a sort column: a value of the column's Python type, or null (empty values
    sort last). An unknown type fails here, at import, rather than letting any value through."""
    kind = column.type.impl if isinstance(column.type, TypeDecorator) else column.type  # UTCDateTime: a DateTime
    python_type = kind.python_type
    assert isinstance(python_type, type)  # a column type's python_type is a class (a property, to mypy)
    return params.nullable(params.CURSOR_FIELDS[python_type])


_SORT_FIELDS = {name: _sort_field(column) for name, column in SORTS.items()}


def _after(raw: str | None, sort: str, descending: bool) -> tuple[Any, int] | None:
    fields = (params.same(sort), params.same(descending), _SORT_FIELDS[sort], params.cursor_id)
    found = params.cursor(raw, fields)
    return (found[2], found[3]) if found is not None else None


def _csv_row(item: CallRow) -> list[Any]:
    row = asdict(item)
    callback = row.pop("callback") or {}
    row |= {
        "rung_operators": " ".join(item.rung_operators),
        "transferred_from": " ".join(item.transferred_from),
        "callback_call_id": callback.get("call_id"),
        "callback_at": callback.get("at"),
        "callback_after_seconds": callback.get("after_seconds"),
    }
    return [row[c] for c in CSV_COLUMNS]


async def get_calls(request: web.Request) -> web.StreamResponse:
    query = params.parse_query(request.query, CallsQuery)
    filters, sort, descending = query.call_filter(), query.sort, query.order == "desc"
    if wants_csv(request, query):  # the export is the whole query: no pages

        async def rows() -> AsyncIterator[list[Any]]:
            async with request.app[SESSIONS]() as session:
                async for item in iter_calls(session, filters=filters, sort=sort, descending=descending):
                    yield _csv_row(item)

        return await stream_csv(request, "calls.csv", CSV_COLUMNS, rows())
    async with request.app[SESSIONS]() as session:
        page, next_cursor = await calls_page(session, query)
    return json_response(CallsPage.model_validate({"items": page.items, "next_cursor": next_cursor}))


async def calls_page(session: AsyncSession, query: CallsQuery) -> tuple[DbCallsPage, str | None]:
    """One page of the call log for a parsed query, and the cursor of the next (the API's and the pages')."""
    sort, descending = query.sort, query.order == "desc"
    after = _after(query.cursor, sort, descending)
    page = await list_calls(
        session, filters=query.call_filter(), sort=sort, descending=descending, limit=query.limit, after=after
    )
    return page, params.encode_cursor(sort, descending, *page.next_after) if page.next_after else None


async def get_call_stats(request: web.Request) -> web.Response:
    query = params.parse_query(request.query, StatsQuery)
    async with request.app[SESSIONS]() as session:
        groups = await call_stats(session, group_by=query.group_by, filters=query.call_filter(), tz=query.tz)
    return json_response(CallStats.model_validate({"group_by": query.group_by, "tz": query.tz.key, "groups": groups}))


def _no_call(linkedid: str) -> ApiError:
    return ApiError("not_found", f"no call {linkedid!r}", {"call_id": linkedid})


def _linkedid(request: web.Request) -> str:
    return params.path_key(request.match_info, "call_id", _no_call)


async def get_one_call(request: web.Request) -> web.Response:
    params.parse_query(request.query, params.NoQuery)
    linkedid = _linkedid(request)
    async with request.app[SESSIONS]() as session:
        item = await get_call(session, linkedid=linkedid)
        if item is None:
            raise _no_call(linkedid)
        ratings = await list_ratings(session, filters=RatingFilter(call_id=linkedid), limit=1)
        blind, viewer = await blind_for(request)
        evaluations = await list_evaluations(session, call_id=linkedid, limit=1000, blind=blind, viewer=viewer)
        heard = await list_listens(session, linkedid=linkedid)
    survey = ratings.items[0] if ratings.items else None
    body = {**asdict(item), "survey": survey, "cqr_evaluations": evaluations.items, "listens": heard[::-1]}
    return json_response(CallDetail.model_validate(body))


def recording_path(root: Path, stored: str) -> Path | None:
    """The stored file name inside `root`, or None: a name that leads anywhere else (.., an absolute path
    elsewhere, a symlink out) is refused, whatever it says, and so is one that resolves to no file at all."""
    base = root.resolve()
    candidate = Path(stored)
    try:
        resolved = (candidate if candidate.is_absolute() else base / candidate).resolve()
        if not resolved.is_relative_to(base) or not resolved.is_file():
            return None
    # ValueError: a NUL in the name; OSError: a name too long, a folder that may not be read; RuntimeError:
    # a symlink loop
    except (ValueError, OSError, RuntimeError):
        return None
    return resolved


async def get_recording(request: web.Request) -> web.StreamResponse:
    params.parse_query(request.query, params.NoQuery)
    linkedid = _linkedid(request)
    async with request.app[SESSIONS]() as session:
        exists, recording = await recording_of(session, linkedid=linkedid)
        call = await get_call(session, linkedid=linkedid) if own_operator(request) is not None else None
    if not exists:
        raise _no_call(linkedid)
    if call is not None:
        keep_to_own(request, call.operator or "")  # an operator hears their own calls only
    root = request.app[SETTINGS].recordings_dir
    if root is None:
        raise ApiError("not_found", "recordings are not served (IVR_SURVEY_RECORDINGS_DIR is not set)")
    path = recording_path(root, recording) if recording else None
    if path is None:
        raise ApiError("not_found", f"no recording for call {linkedid!r}", {"call_id": linkedid})
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return web.FileResponse(path, headers={"Content-Type": content_type})
