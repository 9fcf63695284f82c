"""GET /calls (pages sorted by any column, or a streamed CSV), /calls/stats, /calls/{id} and the call's
recording (with Range; nothing outside IVR_SURVEY_RECORDINGS_DIR is ever served)."""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from ..db.calls import (
    SORTS,
    STATS_GROUPINGS,
    TIME_SORTS,
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


def _encode(sort: str, descending: bool, after: tuple[Any, int]) -> str:
    value, ident = after
    raw = json.dumps([sort, descending, value.isoformat() if isinstance(value, datetime) else value, ident])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(raw: str | None, sort: str, descending: bool) -> tuple[Any, int] | None:
    if raw is None:
        return None
    try:
        got_sort, got_desc, value, ident = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if got_sort != sort or got_desc is not descending:
            raise invalid_parameter("cursor", "the cursor belongs to another sort order; ask again without it")
        if not isinstance(ident, int) or isinstance(ident, bool) or not 0 < ident <= params.MAX_ID:
            raise ValueError
        if value is not None and sort in TIME_SORTS:
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                raise ValueError
            value = value.astimezone(UTC)
        elif (value is not None and not isinstance(value, str | int | float)) or isinstance(value, bool):
            raise ValueError
    except (ValueError, TypeError, OverflowError, RecursionError, binascii.Error):
        raise invalid_parameter("cursor", "cursor is not one this API gave out") from None
    return value, ident


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
    after = _decode(params.text(request.query, "cursor", max_length=2000), sort, descending)
    if wants_csv(request):  # the export is the whole query: no pages
        async def rows() -> AsyncIterator[list[Any]]:
            async with request.app[SESSIONS]() as session:
                async for item in iter_calls(session, filters=filters, sort=sort, descending=descending):
                    yield _csv_row(item)

        return await stream_csv(request, "calls.csv", CSV_COLUMNS, rows())
    async with request.app[SESSIONS]() as session:
        page = await list_calls(session, filters=filters, sort=sort, descending=descending, limit=limit, after=after)
    next_cursor = _encode(sort, descending, page.next_after) if page.next_after else None
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
    return ApiError(404, "not_found", f"no call {linkedid!r}", {"call_id": linkedid})


async def get_one_call(request: web.Request) -> web.Response:
    params.known_only(request.query, ())
    linkedid = request.match_info["call_id"]
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
    elsewhere, a symlink out) is refused, whatever it says."""
    base = root.resolve()
    candidate = Path(stored)
    resolved = (candidate if candidate.is_absolute() else base / candidate).resolve()
    if not resolved.is_relative_to(base) or not resolved.is_file():
        return None
    return resolved


@requires("supervisor")
async def get_recording(request: web.Request) -> web.StreamResponse:
    params.known_only(request.query, ())
    linkedid = request.match_info["call_id"]
    async with request.app[SESSIONS]() as session:
        exists, recording = await recording_of(session, linkedid=linkedid)
    if not exists:
        raise _no_call(linkedid)
    root = request.app[SETTINGS].recordings_dir
    if root is None:
        raise ApiError(404, "not_found", "recordings are not served (IVR_SURVEY_RECORDINGS_DIR is not set)")
    path = recording_path(root, recording) if recording else None
    if path is None:
        raise ApiError(404, "not_found", f"no recording for call {linkedid!r}", {"call_id": linkedid})
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return web.FileResponse(path, headers={"Content-Type": content_type})


def add_calls_routes(app: web.Application) -> None:
    app.router.add_get("/calls", get_calls)
    app.router.add_get("/calls/stats", get_call_stats)
    app.router.add_get("/calls/{call_id}", get_one_call)
    app.router.add_get("/calls/{call_id}/recording", get_recording)
