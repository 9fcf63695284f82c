"""GET /ratings (JSON pages or a streamed CSV of the same query) and GET /ratings/summary."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from aiohttp import web

from ..db.models import RESPONSE_STATUSES
from ..db.ratings import RatingFilter, iter_ratings, list_ratings
from ..db.summary import GROUPINGS, UnknownQuestion, ratings_summary, summary_scope, with_period
from ..keys import SESSIONS
from . import params
from .csv_export import stream_csv, wants_csv
from .errors import invalid_parameter
from .responses import json_response

FILTERS = ("operator", "queue", "survey", "status", "from", "to", "score_min", "score_max")
CSV_COLUMNS = (
    "call_id", "operator", "queue", "survey", "survey_version", "status", "score", "answers", "caller",
    "channel", "language", "started_at", "ended_at", "channel_uniqueid",
)


def rating_filter(request: web.Request) -> RatingFilter:
    q = request.query
    filters = RatingFilter(
        operator=params.text(q, "operator"),
        queue=params.text(q, "queue"),
        survey=params.text(q, "survey"),
        status=params.choice(q, "status", RESPONSE_STATUSES),
        date_from=params.timestamp(q, "from"),
        date_to=params.timestamp(q, "to"),
        score_min=params.number(q, "score_min"),
        score_max=params.number(q, "score_max"),
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise invalid_parameter("to", "to is before from")
    return filters


async def get_ratings(request: web.Request) -> web.StreamResponse:
    params.known_only(request.query, (*FILTERS, "limit", "cursor", "format"))
    filters = rating_filter(request)
    limit = params.limit(request.query)
    after = params.cursor(request.query, params.TIME_AND_ID)
    if wants_csv(request):  # the export is the whole query: no pages
        return await _stream_csv(request, filters)
    async with request.app[SESSIONS]() as session:
        page = await list_ratings(session, filters=filters, limit=limit, after=after)
    next_cursor = params.encode_cursor(*page.next_after) if page.next_after else None
    return json_response({"items": page.items, "next_cursor": next_cursor})


async def _stream_csv(request: web.Request, filters: RatingFilter) -> web.StreamResponse:
    async def rows() -> AsyncIterator[list[object]]:
        async with request.app[SESSIONS]() as session:
            async for item in iter_ratings(session, filters=filters):
                row = {**item, "answers": json.dumps(item["answers"], ensure_ascii=False, separators=(",", ":"))}
                yield [row[c] for c in CSV_COLUMNS]

    return await stream_csv(request, "ratings.csv", CSV_COLUMNS, rows())


async def get_summary(request: web.Request) -> web.Response:
    params.known_only(request.query, (*FILTERS, "group_by", "tz", "question"))
    group_by = params.choice(request.query, "group_by", GROUPINGS, default="operator")
    assert group_by is not None
    tz = params.time_zone(request.query)
    question = params.text(request.query, "question", max_length=64)  # a key: answers are stored under it
    filters = with_period(rating_filter(request))
    async with request.app[SESSIONS]() as session:
        try:
            scope = await summary_scope(session, filters, question)
        except UnknownQuestion as exc:
            raise invalid_parameter("question", str(exc)) from None
        groups = await ratings_summary(session, group_by=group_by, filters=filters, tz=tz, scope=scope)
    assert filters.date_from is not None and filters.date_to is not None
    return json_response(
        {
            "group_by": group_by,
            "from": filters.date_from.isoformat(),
            "to": filters.date_to.isoformat(),
            "tz": tz.key,
            "question": scope.question,
            "kind": scope.kind,
            "groups": groups,
        }
    )
