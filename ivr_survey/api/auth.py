"""Bearer-token check for everything but the health probe."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from .errors import ApiError, Handler

PUBLIC_PATHS = frozenset({"/healthz"})


def bearer_middleware(token: str | None) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Without a token the API is only ever bound to loopback (the CLI refuses anything else).
        if token is None or request.path in PUBLIC_PATHS:
            return await handler(request)
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise ApiError(401, "unauthorized", "missing or invalid bearer token")
        return await handler(request)

    return middleware
