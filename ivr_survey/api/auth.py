"""Bearer tokens and roles. Everything but the health probe needs a token, except that an API bound to
loopback with no IVR_SURVEY_API_TOKEN configured lets anonymous callers read (role analyst). GET /metrics also
takes IVR_SURVEY_METRICS_TOKEN, which opens nothing else."""

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
METRICS_PATH = "/metrics"
_CACHE_SECONDS = 10.0  # a revoked token stops working within this time


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: str
    operator: str | None = None  # an operator token's operator: the only one whose results it reads

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def own_only(self) -> bool:
        """An operator's token: it reads its operator's results and nothing else."""
        return self.role == "operator"


PRINCIPAL = web.RequestKey("principal", Principal)
ANONYMOUS = Principal("anonymous", "analyst")
SCRAPER = Principal("metrics", "analyst")  # the metrics token's: on METRICS_PATH only


SAFE_METHODS = frozenset({"GET", "HEAD"})
# The token hash of the browser session a request carries, if any (the pages' sign-in makes it).
SessionReader = Callable[[web.Request], str | None]


class Tokens:
    """Who a token is, by its hash: the bootstrap admin, or a live stored token (cached for _CACHE_SECONDS)."""

    def __init__(self, bootstrap_token: str | None) -> None:
        self._bootstrap_hash = hash_token(bootstrap_token) if bootstrap_token is not None else None
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def principal(self, request: web.Request, key: str) -> Principal | None:
        if self._bootstrap_hash is not None and hmac.compare_digest(key.encode(), self._bootstrap_hash.encode()):
            return Principal("bootstrap", "admin")
        hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        async with request.app[SESSIONS]() as session:
            row = await find_token(session, token_hash=key)
        principal = Principal(row.name, row.role, row.operator) if row is not None else None
        if len(self._cache) > 10_000:  # bound the memory a stream of bad tokens can take
            self._cache.clear()
        self._cache[key] = (time.monotonic() + _CACHE_SECONDS, principal)
        return principal


def auth_middleware(
    *,
    tokens: Tokens,
    allow_anonymous: bool,
    is_page: Callable[[str], bool] = lambda path: False,
    session_token: SessionReader = lambda request: None,
    metrics_token: str | None = None,
) -> Middleware:
    """A bearer token, else a signed-in browser session (on the pages, and for reading the API: a recording, a
    CSV), else anonymous where allowed. A page without a principal decides itself (it offers the sign-in); the
    API answers 401. The session never authorises an API request that changes data: those need the header.
    The metrics token is checked before any stored token, so a scrape needs no database."""
    lookup = tokens.principal
    scraper_key = metrics_token.encode() if metrics_token else None

    def scraper(request: web.Request, token: str) -> bool:
        return (
            scraper_key is not None
            and request.path == METRICS_PATH
            and hmac.compare_digest(token.encode(), scraper_key)
        )

    async def from_session(request: web.Request, page: bool) -> Principal | None:
        if not page and request.method not in SAFE_METHODS:
            return None
        key = session_token(request)
        return await lookup(request, key) if key else None

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS:
            return await handler(request)
        page = is_page(request.path)
        header = request.headers.get("Authorization")
        if header is None:
            principal = await from_session(request, page)
            if principal is None and allow_anonymous:
                principal = ANONYMOUS
            if principal is None and not page:
                raise ApiError("unauthorized", "missing or invalid bearer token")
            if principal is not None:
                request[PRINCIPAL] = principal
            return await handler(request)
        scheme, _, token = header.partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        if token and scraper(request, token):
            request[PRINCIPAL] = SCRAPER
            return await handler(request)
        principal = await lookup(request, hash_token(token)) if token else None
        if principal is None:
            raise ApiError("unauthorized", "missing or invalid bearer token")
        request[PRINCIPAL] = principal
        return await handler(request)

    return middleware


def requires(role: str | None, *, operators: bool = False) -> Callable[[Handler], Handler]:
    """Route decorator: 403 unless the caller's role is at least `role` (None: any); an operator's token only
    where `operators` says the handler keeps to that operator's own results."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapped(request: web.Request) -> web.StreamResponse:
            principal = request[PRINCIPAL]
            if principal.own_only:
                if not operators:
                    raise ApiError(
                        "forbidden",
                        "an operator's token reads its own results only: ratings, summaries, evaluations, disputes, "
                        "recordings of its calls, its operator page",
                        {"required_role": role or "analyst"},
                    )
            elif role is not None and not principal.may(role):
                raise ApiError(
                    "forbidden",
                    f"this needs the {role} role; the token's role is {principal.role}",
                    {"required_role": role},
                )
            return await handler(request)

        return wrapped

    return decorate


def own_operator(request: web.Request) -> str | None:
    """The operator whose results alone the request may read (an operator's token), else None: anyone's."""
    principal = request[PRINCIPAL]
    return principal.operator if principal.own_only else None


def keep_to_own(request: web.Request, asked: str | None) -> str | None:
    """The operator filter a handler applies: what was asked, or for an operator's token its own operator (403
    when it asks for another's)."""
    own = own_operator(request)
    if own is None:
        return asked
    if asked is not None and asked != own:
        raise ApiError("forbidden", f"an operator's token reads operator {own}'s results only", {"operator": asked})
    return own
