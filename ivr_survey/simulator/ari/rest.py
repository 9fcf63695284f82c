"""What every REST handler of the fake shares: ARI's JSON and error answers, and the
:class:`RecordedRequest` kept for each request (``FakeAsterisk.requests``, ``GET /_requests``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Final

from aiohttp import web

__all__ = ["RECORD_KEY", "RecordedRequest", "error", "json_response", "no_content", "request_body"]


@dataclass
class RecordedRequest:
    """One REST request the fake answered (``api_key`` passwords are masked)."""

    method: str
    path: str
    params: dict[str, str | list[str]]
    json: Any
    status: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Where the auth/recording middleware leaves a request's :class:`RecordedRequest`.
RECORD_KEY: Final = web.RequestKey("fake_asterisk_record", RecordedRequest)


def json_response(status: int, body: Any) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def error(status: int, message: str) -> web.Response:
    # Every ARI error body is {"message": "..."} (ast_ari_response_error).
    return json_response(status, {"message": message})


def no_content() -> web.Response:
    return web.Response(status=204)


def request_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON body when it is an object (parsed once, by the middleware), else {}."""
    record = request[RECORD_KEY]
    return record.json if isinstance(record.json, dict) else {}
