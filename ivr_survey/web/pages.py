"""The pages' handlers: each reads its query, asks the storage functions (through views.py) and renders a template.
Every handler is wrapped by `page`, which sends a visitor with no principal to the sign-in, refuses a role too low,
and turns a refusal into a page in the viewer's language (never the API's JSON, never a traceback)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDict, MultiMapping
from pydantic import ValidationError
from yarl import URL

from ..api import calls as calls_api
from ..api.auth import ANONYMOUS, PRINCIPAL, Principal
from ..api.errors import STATUSES, ApiError, invalid_input
from ..api.params import parse_query
from ..cqr import CqrError
from ..db import cqr as cqr_repo
from ..db.models import DIRECTIONS, DISPOSITIONS
from ..db.operators import MAX_NAME, MAX_TEAM, label_problem, set_operator
from ..db.outage import first_line, is_outage
from ..db.tokens import hash_token
from ..keys import SESSIONS, SETTINGS
from ..service.refusals import Refused
from . import review as review_view
from . import views
from .i18n import LANGUAGE_COOKIE, LANGUAGES, Translator
from .period import PRESETS, PeriodError, resolve_period
from .render import TOKENS_KEY, WEB, render, translator, web_session
from .session import COOKIE, MAX_AGE, csrf_ok

log = logging.getLogger(__name__)
PageHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class PageRefusal(Exception):
    """A request a page refuses: the status and the catalogue key of the message shown."""

    def __init__(self, status: int, key: str, **values: object) -> None:
        super().__init__(key)
        self.status, self.key, self.values = status, key, values


def safe_next(raw: str | None) -> str:
    """Where to go after signing in or switching language: a path of this site only."""
    if not raw or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in raw) or "\\" in raw:
        return "/"  # browsers and URL parsers drop tabs and line breaks: "/\t/evil" would become "//evil"
    try:
        url = URL(raw)
    except ValueError:
        return "/"
    if url.scheme or url.host or not raw.startswith("/") or raw.startswith("//"):
        return "/"
    return raw


def page(role: str | None = "analyst", *, max_body: int | None = None) -> Callable[[PageHandler], PageHandler]:
    """The page's handler behind the sign-in, the role, a form's Origin and CSRF value, and the refusals as pages;
    max_body: the bytes a form may send, when more than the app's 1 MB (a file)."""

    def decorate(handler: PageHandler) -> PageHandler:
        @functools.wraps(handler)
        async def wrapped(request: web.Request) -> web.StreamResponse:
            if max_body is not None:
                request = request.clone(client_max_size=max_body)
            principal: Principal | None = request.get(PRINCIPAL)
            form: MultiMapping[Any] = MultiDict()
            if role is not None and principal is None:
                raise web.HTTPSeeOther("/ui/sign-in?" + urlencode({"next": request.path_qs}))
            if principal is not None and principal.own_only and role not in (None, "operator"):
                raise web.HTTPSeeOther("/ui/me")  # an operator's token sees its own page, nothing else
            try:
                if role is not None and principal is not None and not principal.may(role):
                    raise PageRefusal(403, "error.forbidden", role=translator(request).t(f"role.{role}"))
                if request.method == "POST":
                    _check_origin(request)
                    form = await request.post()
                    _check_csrf(request, form)
                return await handler(request)
            except PageRefusal as refusal:
                return _refused(request, refusal.status, refusal.key, refusal.values)
            except PeriodError as exc:
                return _refused(request, 400, exc.key, {})
            except (ApiError, ValidationError) as exc:  # an API query model's refusal of a filter
                refused = invalid_input(exc) if isinstance(exc, ValidationError) else exc
                details = {"detail": refused.message, "name": refused.details.get("parameter", "")}
                return _refused(request, 400, "error.invalid", details)
            except Refused as exc:  # a service's refusal no page turned into its own words
                return _refused(request, STATUSES[exc.code], "error.refused", {"detail": exc.message})
            except web.HTTPRequestEntityTooLarge:
                return _refused(request, 413, "error.too_large", {"mb": request.client_max_size // 2**20})
            except Exception as exc:
                if not is_outage(exc):
                    raise
                log.warning("page %s: database unavailable: %s", request.path, first_line(exc))
                return _refused(request, 503, "error.database", {})
            finally:
                for value in form.values():  # an uploaded file waits in a temporary file until closed
                    if isinstance(value, web.FileField):
                        value.file.close()

        return wrapped

    return decorate


def _refused(request: web.Request, status: int, key: str, values: dict[str, object]) -> web.Response:
    tr = translator(request)
    return render(request, "error.html", status=status, tr=tr, message=tr.t(key, **values), status_code=status)


def _authority(origin: str) -> str | None:
    try:
        url = URL(origin)
    except ValueError:
        return None
    return url.raw_authority.lower() if url.host else None


def _check_origin(request: web.Request) -> None:
    """A form that changes data must come from one of our pages: no other site's Origin (SameSite=Strict already
    keeps the cookie off cross-site requests; this holds without it too), checked before the body is read."""
    origin = request.headers.get("Origin")
    # the host only: behind a proxy that ends TLS the page's https:// origin reaches us over http
    if origin is not None and _authority(origin) != request.host.lower():
        raise PageRefusal(403, "error.csrf")


def _check_csrf(request: web.Request, form: MultiMapping[Any]) -> None:
    """A form that changes data carries the session's CSRF value (but the sign-in's, made before any session)."""
    presented = form.get("csrf")
    if request.path == "/ui/sign-in":  # no session yet: the Origin check is what protects it
        return
    if not csrf_ok(web_session(request), presented if isinstance(presented, str) else None):
        raise PageRefusal(403, "error.csrf")


# --- sign-in, sign-out, language ---


@page(role=None)
async def sign_in_form(request: web.Request) -> web.Response:
    return render(request, "sign_in.html", next=safe_next(request.query.get("next")), error=None)


@page(role=None)
async def sign_in(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    token = str(form.get("token", "")).strip()
    target = safe_next(str(form.get("next", "")))
    key = hash_token(token) if token else ""
    principal = await request.app[TOKENS_KEY].principal(request, key) if token else None
    if principal is None:
        tr = translator(request)
        return render(request, "sign_in.html", status=401, tr=tr, next=target, error=tr.t("auth.bad_token"))
    log.info("web sign-in: %s (%s)", principal.name, principal.role)
    response = web.HTTPSeeOther(target)
    cookie = request.app[WEB].codec.dump(request.app[WEB].codec.new(key))
    response.set_cookie(
        COOKIE, cookie, max_age=MAX_AGE, path="/", httponly=True, samesite="Strict", secure=request.secure
    )
    raise response


@page(role=None)
async def sign_out(request: web.Request) -> web.StreamResponse:
    response = web.HTTPSeeOther("/ui/sign-in")
    response.del_cookie(COOKIE, path="/")
    raise response


@page(role=None)
async def switch_language(request: web.Request) -> web.StreamResponse:
    lang = request.match_info["lang"]
    if lang not in LANGUAGES:
        raise PageRefusal(404, "error.not_found")
    response = web.HTTPSeeOther(safe_next(request.query.get("next")))
    response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 86400, path="/", samesite="Lax", secure=request.secure)
    raise response


# --- overview ---


def scope_form(request: web.Request, tr: Translator, default_preset: str = "7d") -> tuple[views.Scope, dict[str, Any]]:
    q = request.query
    period = resolve_period(q.get("period") or None, q.get("from"), q.get("to"), tr.tz, datetime.now(UTC))
    if not q.get("period") and not q.get("from") and not q.get("to") and default_preset != period.preset:
        period = resolve_period(default_preset, None, None, tr.tz, datetime.now(UTC))
    for name in ("queue", "team"):
        if len(q.get(name, "")) > 200:
            raise PageRefusal(400, "error.too_long", name=name)
    scope = views.Scope(period, queue=q.get("queue") or None, team=q.get("team") or None)
    form = {
        "period": period.preset,
        "from_day": period.first_day.isoformat(),
        "to_day": period.last_day.isoformat(),
        "queue": scope.queue,
        "team": scope.team,
    }
    return scope, form


def keep_query(form: dict[str, Any], tz: str, **more: str) -> str:
    values = {"period": form["period"], "queue": form["queue"], "team": form["team"], "tz": tz, **more}
    if form["period"] == "custom":
        values.update({"from": form["from_day"], "to": form["to_day"]})
    return urlencode({k: v for k, v in values.items() if v})


@page()
async def overview(request: web.Request) -> web.Response:
    tr = translator(request)
    scope, form = scope_form(request, tr)
    unit = request.query.get("unit") or scope.period.default_unit
    if unit not in ("day", "week"):
        raise PageRefusal(400, "error.bad_unit")
    form["unit"] = unit
    async with request.app[SESSIONS]() as session:
        view = await views.overview(session, scope, unit, tr)
        queues, teams = await views.filter_choices(session)
    view.unit_links = {u: "/?" + keep_query(form, tr.tz.key, unit=u) for u in ("day", "week")}
    return render(
        request,
        "overview.html",
        tr=tr,
        section="overview",
        ov=view,
        form=form,
        presets=PRESETS,
        queues=queues,
        teams=teams,
        query_keep=keep_query(form, tr.tz.key),
    )


async def redirect_home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/")


# --- operator ---


@page()
async def operator_page(request: web.Request) -> web.Response:
    tr = translator(request)
    code = request.match_info["operator"]
    scope, form = scope_form(request, tr, default_preset="30d")
    async with request.app[SESSIONS]() as session:
        view = await views.operator_view(session, code, scope, tr)
        queues, teams = await views.filter_choices(session)
    if view is None:
        raise PageRefusal(404, "error.no_operator", code=code)
    return render(
        request,
        "operator.html",
        tr=tr,
        section="overview",
        op=view,
        form=form,
        presets=PRESETS,
        query_keep=keep_query(form, tr.tz.key),
        saved=request.query.get("saved") == "1",
        queues=queues,
        teams=teams,
        max_name=MAX_NAME,
        max_team=MAX_TEAM,
    )


@page(role="admin")
async def operator_edit(request: web.Request) -> web.StreamResponse:
    code = request.match_info["operator"]
    tr = translator(request)
    form = await request.post()
    values = {}
    for name, limit in (("name", MAX_NAME), ("team", MAX_TEAM)):
        value = str(form.get(name, "")).strip()
        if label_problem(value, limit) is not None:  # the import's and the API's own check
            raise PageRefusal(400, "error.bad_label", name=tr.t(f"col.{name}"), limit=limit)
        values[name] = value or None
    async with request.app[SESSIONS]() as session, session.begin():
        await set_operator(session, code=code, name=values["name"], team=values["team"])
    raise web.HTTPSeeOther(f"/ui/operators/{code}?saved=1")


# --- review queue ---


async def _review(
    request: web.Request,
    query: MultiMapping[str],
    tr: Translator,
    *,
    draft: review_view.Submitted | None = None,
    problem: str | None = None,
) -> web.Response:
    """The review page for `query`; with a refused form, that form again (its draft kept) and the problem."""
    settings = request.app[SETTINGS]
    async with request.app[SESSIONS]() as session:
        view = await review_view.review(
            session,
            query,
            tr=tr,
            principal=request.get(PRINCIPAL, ANONYMOUS),
            share=settings.review_share,
            recordings=settings.recordings_dir is not None,
            draft=draft,
        )
        teams = (await views.filter_choices(session))[1]
    status = 200 if problem is None else 400
    return render(
        request, "review.html", status=status, tr=tr, section="review", rv=view, teams=teams, form_error=problem
    )


@page()
async def review_page(request: web.Request) -> web.Response:
    return await _review(request, request.query, translator(request))


@page(role="supervisor")
async def review_evaluate(request: web.Request) -> web.StreamResponse:
    tr = translator(request)
    principal: Principal = request[PRINCIPAL]
    form = await request.post()
    submitted = review_view.submitted(form)
    try:
        async with request.app[SESSIONS]() as session, session.begin():
            saved = await cqr_repo.create_evaluation(
                session,
                linkedid=submitted.call_id,
                call_type=submitted.call_type,
                scores=submitted.scores,
                comment=submitted.comment,
                supervisor=principal.name,
                replace=True,  # the form shows this supervisor's evaluation when there is one: saving replaces it
            )
    except (CqrError, cqr_repo.UnknownCallType) as exc:
        query = MultiDict({**submitted.back, "call": submitted.call_id, "call_type": submitted.call_type})
        return await _review(request, query, tr, draft=submitted, problem=review_view.form_problem(exc, submitted, tr))
    except cqr_repo.UnknownCall:
        raise PageRefusal(404, "error.no_call", call=submitted.call_id) from None
    log.info("call %s: evaluated by %s in the workstation, CQR %s", submitted.call_id, principal.name, saved.item.cqr)
    back = {**submitted.back, "saved": str(saved.item.id)}
    if submitted.next_call:
        back["call"] = submitted.next_call
    else:
        back["call"] = submitted.call_id
    raise web.HTTPSeeOther("/ui/review?" + urlencode(back))


# --- calls ---


@page()
async def calls_page(request: web.Request) -> web.Response:
    tr = translator(request)
    scope, form = scope_form(request, tr)
    q = request.query
    api_query: dict[str, str] = {
        "from": scope.period.start.isoformat(),
        "to": scope.period.end.isoformat(),
    }
    for name in ("queue", "team", "operator", "direction", "disposition", "caller", "sort", "order", "cursor"):
        if q.get(name):
            api_query[name] = q[name]
    api_query["limit"] = "50"
    query = parse_query(MultiDict(api_query), calls_api.CallsQuery)
    async with request.app[SESSIONS]() as session:
        page_rows, next_cursor = await calls_api.calls_page(session, query)
        queues, teams = await views.filter_choices(session)
    export = {k: v for k, v in api_query.items() if k not in ("cursor", "limit")}
    form.update({name: q.get(name, "") for name in ("operator", "direction", "disposition", "caller")})
    form["sort"], form["order"] = query.sort, query.order
    keep = {k: v for k, v in q.items() if k != "cursor"}
    return render(
        request,
        "calls.html",
        tr=tr,
        section="calls",
        rows=page_rows.items,
        form=form,
        presets=PRESETS,
        queues=queues,
        teams=teams,
        csv_url="/calls?" + urlencode({**export, "format": "csv"}),
        next_url=("/ui/calls?" + urlencode({**keep, "cursor": next_cursor})) if next_cursor else None,
        sort_url=lambda column: (
            "/ui/calls?"
            + urlencode(
                {**keep, "sort": column, "order": "asc" if query.sort == column and query.order == "desc" else "desc"}
            )
        ),
        directions=DIRECTIONS,
        dispositions=DISPOSITIONS,
    )
