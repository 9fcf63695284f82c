"""Fair scoring's pages: an operator's own (their CSAT and CQR over time, the evaluations of their calls, each to
accept or dispute) and the supervisors' Disputes list (uphold, or revise the scores). Every write is the service
call the API makes, and its refusals are said in the viewer's words."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..api.auth import PRINCIPAL, Principal
from ..api.disputes import MAX_COMMENT
from ..api.params import path_id
from ..cqr import SCORE_VALUES
from ..cqr.calibration import calibrate
from ..db import disputes as repo
from ..db.calibration_sessions import hidden_calls, list_sessions
from ..db.cqr import list_evaluations, scored_calls
from ..keys import SESSIONS, SETTINGS
from ..service import disputes as service
from ..service.refusals import Refused
from . import views
from .pages import PageRefusal, page, scope_form
from .period import PRESETS
from .render import render, translator

SHOWN = 50  # evaluations and disputes listed


def _now() -> datetime:
    return datetime.now(UTC)


def _id(request: web.Request, name: str) -> int:
    return path_id(request.match_info, name, lambda raw: PageRefusal(404, "error.no_evaluation", id=raw))


def _comment(form: Any, *, required: bool) -> str | None:
    text = str(form.get("comment", "")).strip()
    if len(text) > MAX_COMMENT:
        raise PageRefusal(400, "error.too_long", name="comment")
    if required and not text:
        return None
    return text or None


# --- the operator's own page ---


async def _me(request: web.Request, *, status: int = 200, problem: str | None = None) -> web.Response:
    tr = translator(request)
    principal: Principal = request[PRINCIPAL]
    code = principal.operator
    assert code is not None
    scope, form = scope_form(request, tr, default_preset="30d")
    async with request.app[SESSIONS]() as session:
        view = await views.operator_view(session, code, scope, tr)
        evaluations = (await list_evaluations(session, operator=code, limit=SHOWN)).items
        disputes = await repo.list_disputes(session, operator=code, limit=SHOWN)
    latest: dict[int, Any] = {}
    for d in disputes:  # newest first: the first seen is the evaluation's latest dispute
        latest.setdefault(d.evaluation_id, d)
    done = request.query.get("done")
    return render(
        request,
        "me.html",
        status=status,
        tr=tr,
        section="me",
        op=view,
        code=code,
        evaluations=evaluations,
        disputes=latest,
        form=form,
        presets=PRESETS,
        done=done if done in ("accepted", "disputed") else None,
        problem=problem,
        max_comment=MAX_COMMENT,
    )


@page(role="operator")
async def me_page(request: web.Request) -> web.StreamResponse:
    if not request[PRINCIPAL].own_only:
        raise web.HTTPSeeOther("/")  # the others' figures are on the overview
    return await _me(request)


@page(role="operator")
async def me_answer(request: web.Request) -> web.StreamResponse:
    """Accept or dispute one of the operator's evaluations."""
    principal: Principal = request[PRINCIPAL]
    if not principal.own_only or principal.operator is None:
        raise PageRefusal(403, "error.forbidden", role=translator(request).t("role.operator"))
    tr = translator(request)
    evaluation_id = _id(request, "id")
    action = request.match_info["action"]
    form = await request.post()
    try:
        async with request.app[SESSIONS]() as session, session.begin():
            if action == "accept":
                await service.accept(session, evaluation_id=evaluation_id, operator=principal.operator, at=_now())
            else:
                comment = _comment(form, required=True)
                if comment is None:
                    return await _me(request, status=400, problem=tr.t("dispute.comment_needed"))
                await service.dispute(
                    session,
                    evaluation_id=evaluation_id,
                    operator=principal.operator,
                    comment=comment,
                    window_days=request.app[SETTINGS].dispute_days,
                    at=_now(),
                )
    except Refused as exc:
        if exc.code == "not_found":
            raise PageRefusal(404, "error.no_evaluation", id=evaluation_id) from None
        return await _me(request, status=409, problem=tr.t("error.refused", detail=exc.message))
    raise web.HTTPSeeOther("/ui/me?done=" + ("accepted" if action == "accept" else "disputed"))


# --- the supervisors' disputes ---


async def _disputes(request: web.Request, *, status: int = 200, problem: str | None = None) -> web.Response:
    async with request.app[SESSIONS]() as session:
        rows = await repo.list_disputes(session, limit=SHOWN)
        open_ones = [d for d in rows if d.state == "open"]
        evaluated = {d.evaluation_id: await repo.evaluated(session, evaluation_id=d.evaluation_id) for d in open_ones}
        counts = await repo.dispute_counts(session, date_from=None, date_to=None)
    done = request.query.get("done")
    return render(
        request,
        "disputes.html",
        status=status,
        section="disputes",
        open_ones=open_ones,
        decided=[d for d in rows if d.state != "open"],
        evaluated=evaluated,
        report=sorted(counts.items()),
        score_values=SCORE_VALUES,
        me=request[PRINCIPAL].name,
        done=done if done in ("upheld", "revised") else None,
        problem=problem,
        max_comment=MAX_COMMENT,
    )


@page(role="supervisor")
async def disputes_page(request: web.Request) -> web.Response:
    return await _disputes(request)


@page(role="supervisor")
async def dispute_resolve(request: web.Request) -> web.StreamResponse:
    tr = translator(request)
    evaluation_id, dispute_id = _id(request, "id"), _id(request, "dispute_id")
    form = await request.post()
    decision = str(form.get("decision", ""))
    scores: dict[str, float] | None = None
    if decision == "revise":
        scores = {}
        for key in form:
            if key.startswith("score."):
                try:
                    scores[key.removeprefix("score.")] = float(str(form[key]))
                except ValueError:
                    return await _disputes(request, status=400, problem=tr.t("dispute.bad_score"))
    try:
        async with request.app[SESSIONS]() as session, session.begin():
            row = await service.resolve(
                session,
                evaluation_id=evaluation_id,
                dispute_id=dispute_id,
                supervisor=request[PRINCIPAL].name,
                decision=decision,
                scores=scores,
                comment=_comment(form, required=False),
                at=_now(),
            )
    except Refused as exc:
        status = {"not_found": 404, "own_evaluation": 403, "invalid_parameter": 400}.get(exc.code, 409)
        return await _disputes(request, status=status, problem=tr.t("error.refused", detail=exc.message))
    raise web.HTTPSeeOther(f"/ui/disputes?done={row.state}")


# --- calibration ---


@page(role="supervisor")
async def calibration_page(request: web.Request) -> web.Response:
    """How supervisors who scored the same calls agree, over a period (default the last 30 days)."""
    tr = translator(request)
    scope, form = scope_form(request, tr, default_preset="30d")
    async with request.app[SESSIONS]() as session:
        unrevealed = await hidden_calls(session)  # as the API's report: a blind session's calls once revealed
        scored = await scored_calls(
            session, date_from=scope.period.start, date_to=scope.period.end, leave_out=unrevealed
        )
        sessions = await list_sessions(session)
    return render(
        request,
        "calibration.html",
        tr=tr,
        section="calibration",
        result=calibrate(scored),
        sessions=sessions,
        period=scope.period,
        form=form,
        presets=PRESETS,
    )
