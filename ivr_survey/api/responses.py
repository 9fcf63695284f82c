"""JSON bodies for every API answer, serialised by orjson: a year of hourly summary groups is 8,760 objects,
and the standard library takes most of the time budget to write them."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")
