"""GET /calls (pages sorted by any column, or a streamed CSV), /calls/stats, /calls/{id} and the call's
recording (with Range; nothing outside IVR_SURVEY_RECORDINGS_DIR is ever served)."""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import TypeDecorator

from ..db.calls import (
    SORTS,
    STATS_GROUPINGS,
    CallFilter,
    call_stats,
    get_call,
    iter_calls,
    list_calls,
    recording_of,
)
from ..db.cqr import list_evaluations
from ..db.models import DIRECTIONS, DISPOSITIONS
from ..db.ratings import RatingFilter, list_ratings
from ..keys import SESSIONS, SETTINGS
from . import params
from .auth import requires
from .csv_export import stream_csv, wants_csv
from .errors import ApiError, invalid_parameter
from .responses import json_response

FILTERS = ("operator", "queue", "direction", "disposition", "caller", "from", "to")
CSV_COLUMNS = (
    "call_id", "direction", "disposition", "caller", "client_number", "queue", "operator", "rung_operators",
    "started_at", "answered_at", "ended_at", "ring_seconds", "talk_seconds", "hangup_side", "recording",
    "incomplete", "source", "surveyed", "callback_call_id", "callback_at", "callback_after_seconds",
)


def call_filter(request: web.Request) -> CallFilter:
    q = request.query
    caller = params.text(q, "caller")
    digits = "".join(c for c in caller or "" if c.isdigit())
    if caller is not None and not digits:
        raise invalid_parameter("caller", "caller must contain digits")
    filters = CallFilter(
        operator=params.text(q, "operator"),
        queue=params.text(q, "queue"),
        direction=params.choice(q, "direction", DIRECTIONS),
        disposition=params.choice(q, "disposition", DISPOSITIONS),
        caller=digits or None,
        date_from=params.timestamp(q, "from"),
        date_to=params.timestamp(q, "to"),
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise invalid_parameter("to", "to is before from")
    return filters


def _sort_field(column: Any) -> params.CursorField:
    """What a cursor may hold for a sort column: a value of the column's Python type, or null (empty values
    sort last). An unknown type fails here, at import, rather than letting any value through."""
    kind = column.type.impl if isinstance(column.type, TypeDecorator) else column.type  # UTCDateTime: a DateTime
    return params.nullable(params.CURSOR_FIELDS[kind.python_type])


_SORT_FIELDS = {name: _sort_field(column) for name, column in SORTS.items()}


def _after(request: web.Request, sort: str, descending: bool) -> tuple[Any, int] | None:
    fields = (params.same(sort), params.same(descending), _SORT_FIELDS[sort], params.cursor_id)
    found = params.cursor(request.query, fields)
    return (found[2], found[3]) if found is not None else None


def _csv_row(item: dict[str, Any]) -> list[Any]:
    callback = item["callback"] or {}
    row = {**item, "rung_operators": " ".join(item["rung_operators"]), "callback_call_id": callback.get("call_id"),
           "callback_at": callback.get("at"), "callback_after_seconds": callback.get("after_seconds")}
    return [row[c] for c in CSV_COLUMNS]


async def get_calls(request: web.Request) -> web.StreamResponse:
    params.known_only(request.query, (*FILTERS, "sort", "order", "limit", "cursor", "format"))
    filters = call_filter(request)
    sort = params.choice(request.query, "sort", tuple(SORTS), default="started_at")
    descending = params.choice(request.query, "order", ("asc", "desc"), default="desc") == "desc"
    assert sort is not None
    limit = params.limit(request.query)
    after = _after(request, sort, descending)
    if wants_csv(request):  # the export is the whole query: no pages
        async def rows() -> AsyncIterator[list[Any]]:
            async with request.app[SESSIONS]() as session:
                async for item in iter_calls(session, filters=filters, sort=sort, descending=descending):
                    yield _csv_row(item)

        return await stream_csv(request, "calls.csv", CSV_COLUMNS, rows())
    async with request.app[SESSIONS]() as session:
        page = await list_calls(session, filters=filters, sort=sort, descending=descending, limit=limit, after=after)
    next_cursor = params.encode_cursor(sort, descending, *page.next_after) if page.next_after else None
    return json_response({"items": page.items, "next_cursor": next_cursor})


async def get_call_stats(request: web.Request) -> web.Response:
    params.known_only(request.query, (*FILTERS, "group_by", "tz"))
    group_by = params.choice(request.query, "group_by", STATS_GROUPINGS, default="operator")
    assert group_by is not None
    tz = params.time_zone(request.query)
    filters = call_filter(request)
    async with request.app[SESSIONS]() as session:
        groups = await call_stats(session, group_by=group_by, filters=filters, tz=tz)
    return json_response({"group_by": group_by, "tz": tz.key, "groups": groups})


def _no_call(linkedid: str) -> ApiError:
    return ApiError("not_found", f"no call {linkedid!r}", {"call_id": linkedid})


def _linkedid(request: web.Request) -> str:
    return params.path_key(request.match_info, "call_id", _no_call)


async def get_one_call(request: web.Request) -> web.Response:
    params.known_only(request.query, ())
    linkedid = _linkedid(request)
    async with request.app[SESSIONS]() as session:
        item = await get_call(session, linkedid=linkedid)
        if item is None:
            raise _no_call(linkedid)
        ratings = await list_ratings(session, filters=RatingFilter(call_id=linkedid), limit=1)
        evaluations = await list_evaluations(session, call_id=linkedid, limit=1000)
    return json_response({**item, "survey": ratings.items[0] if ratings.items else None,
                          "cqr_evaluations": evaluations.items})


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


@requires("supervisor")
async def get_recording(request: web.Request) -> web.StreamResponse:
    params.known_only(request.query, ())
    linkedid = _linkedid(request)
    async with request.app[SESSIONS]() as session:
        exists, recording = await recording_of(session, linkedid=linkedid)
    if not exists:
        raise _no_call(linkedid)
    root = request.app[SETTINGS].recordings_dir
    if root is None:
        raise ApiError("not_found", "recordings are not served (IVR_SURVEY_RECORDINGS_DIR is not set)")
    path = recording_path(root, recording) if recording else None
    if path is None:
        raise ApiError("not_found", f"no recording for call {linkedid!r}", {"call_id": linkedid})
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return web.FileResponse(path, headers={"Content-Type": content_type})


def add_calls_routes(app: web.Application) -> None:
    app.router.add_get("/calls", get_calls)
    app.router.add_get("/calls/stats", get_call_stats)
    app.router.add_get("/calls/{call_id}", get_one_call)
    app.router.add_get("/calls/{call_id}/recording", get_recording)
