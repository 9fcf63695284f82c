"""GET /review-queue: the calls a supervisor should listen to on a day."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from ..db.review import review_queue
from ..keys import SESSIONS, SETTINGS
from . import params
from .errors import invalid_parameter
from .responses import json_response


async def get_review_queue(request: web.Request) -> web.Response:
    params.known_only(request.query, ("date", "share", "tz"))
    tz = params.time_zone(request.query)
    day = params.day(request.query, "date") or datetime.now(tz).date()
    share = params.number(request.query, "share")
    if share is None:
        share = request.app[SETTINGS].review_share
    if not 0 < share <= 1:
        raise invalid_parameter("share", "share must be more than 0 and at most 1")
    async with request.app[SESSIONS]() as session:
        queue = await review_queue(session, day=day, tz=tz, share=share)
    return json_response({"date": day.isoformat(), "tz": tz.key, "share": share, **queue})
