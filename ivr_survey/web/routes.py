"""The pages' routes and their wiring into the app (the API's are in api/routes.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from ..api.auth import Tokens
from ..keys import SETTINGS
from . import campaign_pages, fairness_pages, live_pages, pages
from .render import TOKENS_KEY, WEB, WebSetup, serve_asset, web_session
from .session import session_secret

PAGE_PREFIXES = ("/ui/", "/static/")


def is_page(path: str) -> bool:
    return path == "/" or path == "/ui" or path.startswith(PAGE_PREFIXES)


def session_token(request: web.Request) -> str | None:
    """The token hash of the request's browser session (for the auth middleware)."""
    session = web_session(request)
    return session.token_hash if session is not None else None


async def web_ctx(app: web.Application) -> AsyncIterator[None]:
    app[WEB] = WebSetup.create(session_secret(app[SETTINGS]))
    yield


def add_pages(app: web.Application, tokens: Tokens) -> None:
    app[TOKENS_KEY] = tokens
    app.cleanup_ctx.append(web_ctx)
    app.router.add_get("/", pages.overview)
    app.router.add_get("/ui", pages.redirect_home)
    app.router.add_get("/ui/", pages.redirect_home)
    app.router.add_get("/ui/sign-in", pages.sign_in_form)
    app.router.add_post("/ui/sign-in", pages.sign_in)
    app.router.add_post("/ui/sign-out", pages.sign_out)
    app.router.add_get("/ui/language/{lang}", pages.switch_language)
    app.router.add_get("/ui/operators/{operator}", pages.operator_page)
    app.router.add_post("/ui/operators/{operator}", pages.operator_edit)
    app.router.add_get("/ui/review", pages.review_page)
    app.router.add_post("/ui/review/evaluate", pages.review_evaluate)
    app.router.add_get("/ui/calls", pages.calls_page)
    app.router.add_get("/ui/campaigns", campaign_pages.campaigns_page)
    app.router.add_post("/ui/campaigns", campaign_pages.campaign_create)
    app.router.add_get("/ui/campaigns/{id}", campaign_pages.campaign_page)
    app.router.add_get("/ui/campaigns/{id}/progress", campaign_pages.campaign_progress)
    app.router.add_post("/ui/campaigns/{id}/contacts", campaign_pages.campaign_contacts)
    app.router.add_post("/ui/campaigns/{id}/{command:start|pause|resume|cancel}", campaign_pages.campaign_command)
    app.router.add_get("/ui/me", fairness_pages.me_page)
    app.router.add_post("/ui/me/evaluations/{id}/{action:accept|dispute}", fairness_pages.me_answer)
    app.router.add_get("/ui/disputes", fairness_pages.disputes_page)
    app.router.add_get("/ui/calibration", fairness_pages.calibration_page)
    app.router.add_post("/ui/disputes/{id}/{dispute_id}/resolve", fairness_pages.dispute_resolve)
    app.router.add_get("/ui/live", live_pages.live_page)
    app.router.add_get("/ui/live/rows", live_pages.live_rows)
    app.router.add_post("/ui/live/listen", live_pages.live_listen)
    app.router.add_post("/ui/listens/{id}/stop", live_pages.listen_stop)
    app.router.add_get("/static/{name}", serve_asset)
