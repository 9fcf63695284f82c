"""Live calls and supervisors' listens: GET /calls/live, POST /calls/{call_id}/listen, GET and DELETE
/listens/{id}, and the admins' audit, GET /audit/listens."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import Field

from ..db import listens as repo
from ..db.listens import ListenRow
from ..db.models import LISTEN_ENDS, LISTEN_MODES, LISTEN_STATES
from ..keys import LISTENING, LIVE, SESSIONS, SETTINGS
from ..service import live
from . import params
from .auth import PRINCIPAL
from .errors import ApiError
from .params import Body, Period, Text
from .responses import Model, Time, enum, json_response

ENDPOINT = r"^[A-Za-z0-9_]+/[^\s,()|&]+$"  # TECH/resource, as Dial() takes it, e.g. PJSIP/7100


class LiveCall(Model):
    call_id: str = Field(description="Asterisk's linkedid")
    direction: str
    caller: str | None = Field(description="the caller's number; masked for analysts")
    queue: str | None
    operator: str | None
    operator_name: str | None
    state: Annotated[str, enum(live.LIVE_STATES)] = Field(
        description="ringing; talking (to operator); in_survey (the caller rates the call); ending (after the talk)"
    )
    since: Time = Field(description="when the call entered its state")
    started_at: Time


class LiveCalls(Model):
    items: list[LiveCall]
    listening: bool = Field(description="whether supervisors may listen in here (IVR_SURVEY_LIVE_LISTEN=on)")


class ListenRequest(Body):
    endpoint: Annotated[str, Field(pattern=ENDPOINT, max_length=128)] = Field(
        description="where the service calls the supervisor, as Dial() names it: PJSIP/7100, Local/7100@operators"
    )
    mode: Literal["listen", "whisper", "barge"] = Field(
        "listen",
        description="listen: nobody hears the supervisor; whisper: the operator does; barge: both parties do",
    )


class Listen(Model):
    id: int
    call_id: str
    operator: str | None
    supervisor: str = Field(description="the name of the token that asked for it")
    endpoint: str
    mode: Annotated[str, enum(LISTEN_MODES)]
    state: Annotated[str, enum(LISTEN_STATES)] = Field(description="ringing (the supervisor's phone), listening, ended")
    started_at: Time
    answered_at: Time | None
    ended_at: Time | None
    end_reason: Annotated[str, enum(LISTEN_ENDS)] | None = Field(
        description="stopped (DELETE), call_ended, supervisor_hung_up, not_answered, refused (the endpoint), "
        "shutdown, failed"
    )
    detail: str | None = Field(description="Asterisk's words on a refused endpoint")


class ListenList(Model):
    items: list[Listen]


class AuditQuery(Period):
    call_id: Text = Field(None, description="one call's listens (its linkedid)")
    supervisor: Text = Field(None, description="one supervisor's (the token's name)")


def _now() -> datetime:
    return datetime.now(UTC)


def _live_source(request: web.Request) -> live.LiveSource:
    if LIVE not in request.app:
        raise ApiError("live_unavailable", "live calls come from the AMI call history: set IVR_SURVEY_AMI_HOST")
    return request.app[LIVE]


async def get_live_calls(request: web.Request) -> web.Response:
    params.parse_query(request.query, params.NoQuery)
    shown = await live.shown_calls(
        request.app[SESSIONS],
        _live_source(request)(),
        full_numbers=request[PRINCIPAL].may("supervisor"),
        country=request.app[SETTINGS].default_country,
    )
    items = [{**asdict(c.call), "caller": c.caller, "operator_name": c.operator_name} for c in shown]
    return json_response(LiveCalls.model_validate({"items": items, "listening": _listening_on(request)}))


def _listening_on(request: web.Request) -> bool:
    return request.app[SETTINGS].live_listen and LISTENING in request.app and LIVE in request.app


async def post_listen(request: web.Request) -> web.Response:
    body = await params.parse_body(request, ListenRequest)
    call_id = request.match_info["call_id"]
    if not request.app[SETTINGS].live_listen:
        raise ApiError("listening_off", "listening to live calls is off here (IVR_SURVEY_LIVE_LISTEN=on allows it)")
    if LISTENING not in request.app:
        raise ApiError("listen_unavailable", "listening needs ARI (IVR_SURVEY_ARI_PASSWORD)")
    row = await live.begin_listen(
        request.app[SESSIONS],
        _live_source(request),
        request.app[LISTENING],
        call_id=call_id,
        endpoint=body.endpoint,
        mode=body.mode,
        supervisor=request[PRINCIPAL].name,
        now=_now(),
    )
    return json_response(Listen.model_validate(asdict(row)), status=201)


def _listen_id(request: web.Request) -> int:
    return params.path_id(
        request.match_info, "id", lambda raw: ApiError("not_found", f"no listen {raw!r}", {"id": raw})
    )


async def _found(request: web.Request, listen_id: int) -> ListenRow:
    async with request.app[SESSIONS]() as session:
        row = await repo.get_listen(session, listen_id=listen_id)
    if row is None:
        raise ApiError("not_found", f"no listen {listen_id}", {"id": listen_id})
    return row


async def get_listen(request: web.Request) -> web.Response:
    params.parse_query(request.query, params.NoQuery)
    return json_response(Listen.model_validate(asdict(await _found(request, _listen_id(request)))))


async def delete_listen(request: web.Request) -> web.Response:
    """End a listen; one ended already is answered as it is."""
    params.parse_query(request.query, params.NoQuery)
    listen_id = _listen_id(request)
    row = await live.stop_listen(request.app[SESSIONS], request.app.get(LISTENING), listen_id=listen_id, now=_now())
    if row is None:
        raise ApiError("not_found", f"no listen {listen_id}", {"id": listen_id})
    return json_response(Listen.model_validate(asdict(row)))


async def get_audit(request: web.Request) -> web.Response:
    query = params.parse_query(request.query, AuditQuery)
    async with request.app[SESSIONS]() as session:
        rows = await repo.list_listens(
            session,
            date_from=query.date_from,
            date_to=query.date_to,
            linkedid=query.call_id,
            supervisor=query.supervisor,
        )
    return json_response(ListenList.model_validate({"items": [asdict(r) for r in rows]}))
