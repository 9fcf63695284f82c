"""GET /metrics and the middleware that counts and times every HTTP request by its route."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from ..keys import METRICS
from .registry import Metrics

UNMATCHED = "unmatched"  # any path no route has: one label value, however many paths are tried
OTHER_METHOD = "other"
_METHODS = frozenset(hdrs.METH_ALL)


def route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


def metrics_middleware(metrics: Metrics) -> Middleware:
    """Outermost, so that it sees the status every other middleware settles on (a 401, an error's 500)."""

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        began = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            method = request.method if request.method in _METHODS else OTHER_METHOD
            route = route_label(request)
            metrics.http_requests.labels(method=method, route=route, status=str(status)).inc()
            metrics.http_seconds.labels(method=method, route=route).observe(time.perf_counter() - began)

    return middleware


async def get_metrics(request: web.Request) -> web.Response:
    body, content_type = await request.app[METRICS].render(request.headers.get(hdrs.ACCEPT))
    response = web.Response(body=body)
    response.headers[hdrs.CONTENT_TYPE] = content_type
    return response
