"""Bearer tokens and roles. Everything but the health probe needs a token, except that an API bound to
loopback with no IVR_SURVEY_API_TOKEN configured lets anonymous callers read (role analyst)."""

from __future__ import annotations

import functools
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware

from ..db.models import ROLES
from ..db.tokens import find_token, hash_token
from ..keys import SESSIONS
from .errors import ApiError, Handler

PUBLIC_PATHS = frozenset({"/healthz", "/openapi.json"})
_CACHE_SECONDS = 10.0  # a revoked token stops working within this time


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: str

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


PRINCIPAL = web.RequestKey("principal", Principal)
ANONYMOUS = Principal("anonymous", "analyst")


def auth_middleware(*, bootstrap_token: str | None, allow_anonymous: bool) -> Middleware:
    cache: dict[str, tuple[float, Principal | None]] = {}

    async def lookup(request: web.Request, token: str) -> Principal | None:
        if bootstrap_token is not None and hmac.compare_digest(token.encode(), bootstrap_token.encode()):
            return Principal("bootstrap", "admin")
        key = hash_token(token)
        hit = cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        async with request.app[SESSIONS]() as session:
            row = await find_token(session, token=token)
        principal = Principal(row.name, row.role) if row is not None else None
        if len(cache) > 10_000:  # bound the memory a stream of bad tokens can take
            cache.clear()
        cache[key] = (time.monotonic() + _CACHE_SECONDS, principal)
        return principal

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS:
            return await handler(request)
        header = request.headers.get("Authorization")
        if header is None and allow_anonymous:
            request[PRINCIPAL] = ANONYMOUS
            return await handler(request)
        scheme, _, token = (header or "").partition(" ")
        principal = await lookup(request, token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if principal is None:
            raise ApiError("unauthorized", "missing or invalid bearer token")
        request[PRINCIPAL] = principal
        return await handler(request)

    return middleware


def requires(role: str) -> Callable[[Handler], Handler]:
    """Route decorator: 403 unless the caller's role is at least `role`."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapped(request: web.Request) -> web.StreamResponse:
            principal = request[PRINCIPAL]
            if not principal.may(role):
                raise ApiError(
                    "forbidden",
                    f"this needs the {role} role; the token's role is {principal.role}",
                    {"required_role": role},
                )
            return await handler(request)

        return wrapped

    return decorate
