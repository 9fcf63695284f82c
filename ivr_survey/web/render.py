"""Rendering a page: the Jinja2 environment (autoescaped), static files under content-hashed names, and what
every page knows of its viewer: language, time zone, principal, CSRF value."""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from aiohttp import web

from ..api.auth import ANONYMOUS, PRINCIPAL, Principal, Tokens
from ..cqr.bands import band_of
from ..keys import SETTINGS
from .i18n import LANGUAGE_COOKIE, LANGUAGES, Translator, choose_language
from .session import COOKIE, SessionCodec, WebSession
from .views import THIN_SAMPLE

HERE = Path(__file__).parent
STATIC = HERE / "static"
TZ_COOKIE = "ivr_tz"  # the browser's time zone, written by app.js


@dataclass(frozen=True, slots=True)
class Asset:
    path: Path
    url: str
    content_type: str
    body: bytes


def load_assets() -> dict[str, Asset]:
    """Every static file, named by its content's hash: a changed file is a new URL, so caches can keep each
    one for a year."""
    assets = {}
    for path in sorted(STATIC.iterdir()):
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:10]
        url = f"/static/{path.stem}.{digest}{path.suffix}"
        assets[path.name] = Asset(path, url, mimetypes.guess_type(path.name)[0] or "application/octet-stream", body)
    return assets


@dataclass(frozen=True, slots=True)
class WebSetup:
    """What the pages share, made once by the app factory."""

    env: jinja2.Environment
    assets: dict[str, Asset]
    codec: SessionCodec

    @classmethod
    def create(cls, secret: str) -> WebSetup:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        assets = load_assets()
        env.globals["asset"] = lambda name: assets[name].url
        env.globals["languages"] = LANGUAGES
        # an average CQR mixes scorecards: it is shown in the default bands' colours
        env.globals["band_of"] = band_of
        return cls(env, assets, SessionCodec(secret))


WEB = web.AppKey("web", WebSetup)
TOKENS_KEY = web.AppKey("tokens", Tokens)


def viewer_tz(request: web.Request) -> ZoneInfo:
    """The viewer's time zone: ?tz=, else the browser's (cookie), else the PBX's."""
    for raw in (request.query.get("tz"), unquote(request.cookies.get(TZ_COOKIE, ""))):  # app.js encodes the "/"
        if raw:
            try:
                return ZoneInfo(raw)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo(request.app[SETTINGS].pbx_timezone)


def translator(request: web.Request) -> Translator:
    lang = choose_language(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("Accept-Language"))
    return Translator(lang, viewer_tz(request))


def web_session(request: web.Request) -> WebSession | None:
    return request.app[WEB].codec.load(request.cookies.get(COOKIE))


def principal_of(request: web.Request) -> Principal | None:
    return request.get(PRINCIPAL)


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    setup = request.app[WEB]
    tr = context.pop("tr", None) or translator(request)
    session = web_session(request)
    principal = principal_of(request)
    here = context.pop("here", None) or request.path_qs  # where switching the language comes back to
    body = setup.env.get_template(template).render(
        t=tr.t,
        fmt=tr,
        lang=tr.lang,
        tz=tr.tz.key,
        principal=principal,
        signed_in=session is not None and principal is not None and principal is not ANONYMOUS,
        csrf=session.csrf if session else "",
        here=here,
        thin=THIN_SAMPLE,
        section=context.pop("section", ""),
        **context,
    )
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    response.headers.update(PAGE_HEADERS)
    return response


# No framing by other sites, no sniffing, and nothing loaded from any host but this one.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self'; frame-ancestors 'none';"
    " form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def query_string(**values: str | None) -> str:
    return urlencode({k: v for k, v in values.items() if v})


async def serve_asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    for asset in request.app[WEB].assets.values():
        if asset.url == f"/static/{name}":
            return web.Response(
                body=asset.body,
                content_type=asset.content_type,
                headers={"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"},
            )
    raise web.HTTPNotFound()
