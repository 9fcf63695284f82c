"""GET /ratings: one item per surveyed call, newest first."""

from __future__ import annotations

from aiohttp import web

from ..db.ratings import list_ratings
from ..keys import SESSIONS
from .errors import invalid_parameter

MAX_LIMIT = 1000


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise invalid_parameter("limit", f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


async def get_ratings(request: web.Request) -> web.Response:
    limit = _limit(request)
    async with request.app[SESSIONS]() as session:
        items = await list_ratings(session, limit=limit)
    return web.json_response({"items": items})
