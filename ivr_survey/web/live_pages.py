"""The Live page: the calls in progress, refreshed every few seconds with a timer on each, and for supervisors
where listening is on, a button per call that rings their phone to listen, whisper or barge in (the service
call the API makes), and their listens in progress with a button to end each."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..api.auth import PRINCIPAL, Principal
from ..api.live import ENDPOINT
from ..api.params import path_id
from ..db.listens import list_listens
from ..db.models import LISTEN_MODES
from ..keys import LISTENING, LIVE, SESSIONS, SETTINGS
from ..service import live
from ..service.refusals import Refused
from .pages import PageRefusal, page
from .render import render, translator

_ENDPOINT = re.compile(ENDPOINT)


def _now() -> datetime:
    return datetime.now(UTC)


def _may_listen(request: web.Request) -> bool:
    principal: Principal | None = request.get(PRINCIPAL)
    settings = request.app[SETTINGS]
    return bool(principal and principal.may("supervisor") and settings.live_listen and LISTENING in request.app)


async def _rows(request: web.Request) -> list[live.ShownCall] | None:
    """The live calls as the page shows them; None when there is no AMI history to tell them."""
    if LIVE not in request.app:
        return None
    principal: Principal | None = request.get(PRINCIPAL)
    return await live.shown_calls(
        request.app[SESSIONS],
        request.app[LIVE](),
        full_numbers=principal is not None and principal.may("supervisor"),
        country=request.app[SETTINGS].default_country,
    )


async def _page(request: web.Request, *, status: int = 200, **shown: Any) -> web.Response:
    may_listen = _may_listen(request)
    mine = []
    if may_listen:
        async with request.app[SESSIONS]() as session:
            recent = await list_listens(session, supervisor=request[PRINCIPAL].name, limit=20)
        mine = [row for row in recent if row.state != "ended"]
    return render(
        request,
        "live.html",
        status=status,
        section="live",
        rows=await _rows(request),
        may_listen=may_listen,
        listening_on=request.app[SETTINGS].live_listen,
        modes=LISTEN_MODES,
        mine=mine,
        **{"notice": None, "problem": None, "endpoint": "", "mode": "listen", **shown},
    )


@page()
async def live_page(request: web.Request) -> web.Response:
    shown: dict[str, Any] = {}
    if request.query.get("listen", "").isdigit():
        shown["notice"] = ("live.ringing", {"id": request.query["listen"]})
    elif request.query.get("stopped", "").isdigit():
        shown["notice"] = ("live.stopped", {"id": request.query["stopped"]})
    return await _page(request, **shown)


@page()
async def live_rows(request: web.Request) -> web.Response:
    """The table alone, which the page's script swaps in every few seconds."""
    return render(request, "live_rows.html", rows=await _rows(request), may_listen=_may_listen(request))


@page(role="supervisor")
async def live_listen(request: web.Request) -> web.StreamResponse:
    tr = translator(request)
    form = await request.post()
    call_id, endpoint, mode = (str(form.get(k, "")).strip() for k in ("call_id", "endpoint", "mode"))
    keep = {"endpoint": endpoint, "mode": mode if mode in LISTEN_MODES else "listen"}
    if not _may_listen(request):
        return await _page(request, status=403, problem=tr.t("live.off"), **keep)
    if not _ENDPOINT.fullmatch(endpoint) or len(endpoint) > 128:
        return await _page(request, status=400, problem=tr.t("live.bad_endpoint"), **keep)
    if mode not in LISTEN_MODES:
        return await _page(request, status=400, problem=tr.t("live.bad_mode"), **keep)
    try:
        row = await live.begin_listen(
            request.app[SESSIONS],
            request.app[LIVE],
            request.app[LISTENING],
            call_id=call_id,
            endpoint=endpoint,
            mode=mode,
            supervisor=request[PRINCIPAL].name,
            now=_now(),
        )
    except Refused as exc:
        words = tr.t(f"live.refused.{exc.code}", call=call_id, endpoint=endpoint, detail=exc.message)
        status = {"not_found": 404, "no_operator_channel": 409, "endpoint_refused": 422}.get(exc.code, 503)
        return await _page(request, status=status, problem=words, **keep)
    raise web.HTTPSeeOther(f"/ui/live?listen={row.id}")


@page(role="supervisor")
async def listen_stop(request: web.Request) -> web.StreamResponse:
    listen_id = path_id(request.match_info, "id", lambda raw: PageRefusal(404, "error.no_listen", id=raw))
    row = await live.stop_listen(request.app[SESSIONS], request.app.get(LISTENING), listen_id=listen_id, now=_now())
    if row is None:
        raise PageRefusal(404, "error.no_listen", id=listen_id)
    raise web.HTTPSeeOther(f"/ui/live?stopped={row.id}")
