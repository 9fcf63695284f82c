"""The Campaigns pages: the list with the New campaign form, one campaign (its settings, steering, contacts
upload, progress, answers and results) and its progress alone for the page's script to refresh. Every write is
the service call the campaigns API makes, and its refusals are said in the viewer's words."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDict

from ..api import params
from ..api.auth import PRINCIPAL, Principal
from ..api.campaigns import MAX_UPLOAD, ResultsQuery
from ..db.campaigns import TRANSITIONS
from ..keys import DIALER, SESSIONS, SETTINGS
from ..service import campaigns as service
from ..service.refusals import Refused
from . import campaign_form
from . import campaigns as views
from .campaign_form import CampaignForm
from .i18n import Translator
from .pages import PageRefusal, page
from .render import render, translator

log = logging.getLogger(__name__)
MB = 2**20
UPLOAD_FORM = 64 * 1024  # the upload form's fields beside its file


def _now() -> datetime:
    return datetime.now(UTC)


def _may_steer(request: web.Request) -> bool:
    principal: Principal | None = request.get(PRINCIPAL)
    return principal is not None and principal.may("supervisor")


def _campaign_id(request: web.Request) -> int:
    return params.path_id(request.match_info, "id", lambda raw: PageRefusal(404, "error.no_campaign", id=raw))


def _no_campaign(exc: Refused, campaign_id: int) -> Exception:
    """A campaign not found as the page says it; any other refusal as it is."""
    return PageRefusal(404, "error.no_campaign", id=campaign_id) if exc.code == "not_found" else exc


# --- the list and the New campaign form ---


async def _list(request: web.Request, tr: Translator, form: CampaignForm, status: int = 200) -> web.Response:
    async with request.app[SESSIONS]() as session:
        lines = await views.campaign_lines(session, tr)
        surveys = await views.survey_names(session)
    return render(
        request,
        "campaigns.html",
        status=status,
        tr=tr,
        section="campaigns",
        lines=lines,
        form=form,
        may_create=_may_steer(request),
        **campaign_form.choices(surveys, form),
    )


@page()
async def campaigns_page(request: web.Request) -> web.Response:
    return await _list(request, translator(request), campaign_form.defaults())


@page(role="supervisor")
async def campaign_create(request: web.Request) -> web.StreamResponse:
    tr = translator(request)
    form = campaign_form.posted(await request.post())
    body = campaign_form.request_of(form, tr)
    if body is None:
        return await _list(request, tr, form, status=400)
    try:
        async with request.app[SESSIONS]() as session, session.begin():
            row = await service.create_campaign(
                session, body.new_campaign(), created_by=request[PRINCIPAL].name, at=_now()
            )
    except Refused as exc:
        if exc.code != "invalid_parameter":
            raise
        campaign_form.refused(form, exc, tr)
        return await _list(request, tr, form, status=400)
    raise web.HTTPSeeOther(f"/ui/campaigns/{row.id}?done=create")


# --- one campaign ---


async def _campaign(
    request: web.Request, tr: Translator, campaign_id: int, *, status: int = 200, **shown: Any
) -> web.Response:
    """The campaign's page; `shown`: what a form just did or why it was refused (notice, upload, upload_error)."""
    cursor = request.query.getall("cursor", [])
    query = params.parse_query(
        MultiDict([("limit", str(views.RESULTS_PAGE)), *(("cursor", c) for c in cursor)]), ResultsQuery
    )
    after = params.cursor(query.cursor, (params.cursor_id,))
    may_steer = _may_steer(request)
    try:
        async with request.app[SESSIONS]() as session:
            view = await views.campaign_page(
                session, campaign_id, tr, after=after[0] if after else None, full_phones=may_steer, now=_now()
            )
    except Refused as exc:
        raise _no_campaign(exc, campaign_id) from None
    next_url = None
    if view.next_after is not None:
        keep = {"tz": request.query["tz"]} if "tz" in request.query else {}
        next_url = f"/ui/campaigns/{campaign_id}?" + urlencode(
            {**keep, "cursor": params.encode_cursor(view.next_after)}
        )
    done = request.query.get("done")
    return render(
        request,
        "campaign.html",
        status=status,
        tr=tr,
        section="campaigns",
        # a form's answer is this page too: switching the language there comes back to the page, not the form
        here=request.path_qs if request.method == "GET" else f"/ui/campaigns/{campaign_id}",
        c=view,
        may_steer=may_steer,
        next_url=next_url,
        done=done if done in (*TRANSITIONS, "create") else None,
        max_mb=MAX_UPLOAD // MB,
        rejected_shown=views.REJECTED_SHOWN,
        **{"notice": None, "upload": None, "upload_error": None, **shown},
    )


@page()
async def campaign_page(request: web.Request) -> web.Response:
    return await _campaign(request, translator(request), _campaign_id(request))


@page()
async def campaign_progress(request: web.Request) -> web.Response:
    """The progress section alone, which the page's script swaps in while the campaign runs."""
    tr = translator(request)
    campaign_id = _campaign_id(request)
    try:
        async with request.app[SESSIONS]() as session:
            progress = await views.campaign_progress(session, campaign_id, tr)
    except Refused as exc:
        raise _no_campaign(exc, campaign_id) from None
    return render(request, "campaign_progress.html", tr=tr, progress=progress, campaign_id=campaign_id)


def _state_words(exc: Refused, command: str, tr: Translator) -> str:
    """A 409 of the service in the viewer's words."""
    if exc.code == "no_contacts":
        return tr.t("refused.no_contacts")
    state = tr.t(f"state.{exc.details['state']}")
    if command == "contacts":
        return tr.t("refused.ended", state=state)
    allowed = " / ".join(f"«{tr.t(f'state.{s}')}»" for s in TRANSITIONS[command][0])
    return tr.t("refused.state", state=state, command=tr.t(f"command.{command}"), allowed=allowed)


@page(role="supervisor")
async def campaign_command(request: web.Request) -> web.StreamResponse:
    tr = translator(request)
    campaign_id = _campaign_id(request)
    command = request.match_info["command"]
    form = await request.post()
    if command == "cancel" and form.get("confirm") != "yes":
        return await _campaign(request, tr, campaign_id, status=400, notice=tr.t("refused.confirm"))
    try:
        async with request.app[SESSIONS]() as session, session.begin():
            await service.steer(session, campaign_id, command, at=_now())
    except Refused as exc:
        if exc.code not in ("campaign_state", "no_contacts"):
            raise _no_campaign(exc, campaign_id) from None
        return await _campaign(request, tr, campaign_id, status=409, notice=_state_words(exc, command, tr))
    if (dialer := request.app.get(DIALER)) is not None:  # committed: its next round sees the change
        dialer.campaigns_changed()
    log.info("campaign %d: %s by %s in the workstation", campaign_id, command, request[PRINCIPAL].name)
    raise web.HTTPSeeOther(f"/ui/campaigns/{campaign_id}?done={command}")


@page(role="supervisor", max_body=MAX_UPLOAD + UPLOAD_FORM)
async def campaign_contacts(request: web.Request) -> web.Response:
    tr = translator(request)
    campaign_id = _campaign_id(request)
    file = (await request.post()).get("contacts")
    if not isinstance(file, web.FileField):
        return await _campaign(request, tr, campaign_id, status=400, upload_error=tr.t("upload.no_file"))
    data = await asyncio.to_thread(file.file.read, MAX_UPLOAD + 1)  # spooled to disk when large
    if len(data) > MAX_UPLOAD:
        return await _campaign(
            request, tr, campaign_id, status=413, upload_error=tr.t("upload.too_large", mb=MAX_UPLOAD // MB)
        )
    try:
        async with request.app[SESSIONS]() as session, session.begin():
            upload = await service.upload_contacts(
                session, campaign_id, data, default_country=request.app[SETTINGS].default_country, at=_now()
            )
    except Refused as exc:
        if exc.code == "invalid_parameter":  # not a contacts list at all
            error = tr.t("upload.refused", detail=exc.message)
            return await _campaign(request, tr, campaign_id, status=400, upload_error=error)
        if exc.code != "campaign_state":
            raise _no_campaign(exc, campaign_id) from None
        return await _campaign(request, tr, campaign_id, status=409, upload_error=_state_words(exc, "contacts", tr))
    return await _campaign(request, tr, campaign_id, upload=upload)
