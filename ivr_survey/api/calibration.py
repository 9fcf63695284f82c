"""Blind calibration sessions: an admin asks supervisors to score calls; none of them sees another's scores of a
call before all have scored it; the session's calibration is shown once revealed (all scored, or closed)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field, field_validator

from ..cqr.calibration import calibrate
from ..db import calibration_sessions as repo
from ..db.calibration_sessions import SessionRow
from ..keys import SESSIONS
from . import params
from .auth import PRINCIPAL
from .cqr import Calibration
from .errors import ApiError, invalid_parameter
from .params import Body
from .responses import Model, Time, json_response

MAX_CALLS, MAX_SUPERVISORS = 50, 20


def _now() -> datetime:
    return datetime.now(UTC)


def _distinct(values: list[str]) -> list[str]:
    cleaned = [v.strip() for v in values]
    if any(not v for v in cleaned) or len(set(cleaned)) != len(cleaned):
        raise ValueError("must be distinct, non-empty names")
    return cleaned


class SessionRequest(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    calls: Annotated[list[Annotated[str, Field(max_length=64)]], Field(min_length=1, max_length=MAX_CALLS)] = Field(
        description="the calls' linkedids"
    )
    supervisors: Annotated[
        list[Annotated[str, Field(max_length=100)]], Field(min_length=2, max_length=MAX_SUPERVISORS)
    ] = Field(description="the supervisors' token names: each scores every call, blind")

    @field_validator("calls", "supervisors")
    @classmethod
    def _distinct_names(cls, values: list[str]) -> list[str]:
        return _distinct(values)


class SessionCall(Model):
    call_id: str
    scored_by: list[str] = Field(description="the listed supervisors who scored it so far")


class Session(Model):
    id: int
    name: str
    supervisors: list[str]
    calls: list[SessionCall]
    created_by: str
    created_at: Time
    closed_at: Time | None
    complete: bool = Field(description="every listed supervisor scored every call")
    revealed: bool = Field(description="complete or closed: the scores may be seen, and the calibration is here")
    calibration: Calibration | None = Field(description="the session's calibration, once revealed")


class SessionList(Model):
    items: list[Session]


def _session_json(row: SessionRow, calibration: Any = None) -> dict[str, Any]:
    return {
        **{k: v for k, v in asdict(row).items() if k not in ("calls", "scored")},
        "calls": [{"call_id": c, "scored_by": row.scored[c]} for c in row.calls],
        "complete": row.complete,
        "revealed": row.revealed,
        "calibration": calibration,
    }


def _session_id(request: web.Request) -> int:
    return params.path_id(
        request.match_info, "id", lambda raw: ApiError("not_found", f"no calibration session {raw!r}", {"id": raw})
    )


async def post_session(request: web.Request) -> web.Response:
    body = await params.parse_body(request, SessionRequest)
    async with request.app[SESSIONS]() as session, session.begin():
        unknown = await repo.unknown_calls(session, body.calls)
        if unknown:
            raise invalid_parameter("calls", f"no call {', '.join(unknown)} is stored")
        row = await repo.create_session(
            session,
            name=body.name,
            calls=body.calls,
            supervisors=body.supervisors,
            created_by=request[PRINCIPAL].name,
            at=_now(),
        )
    return json_response(Session.model_validate(_session_json(row)), status=201)


async def get_sessions(request: web.Request) -> web.Response:
    params.parse_query(request.query, params.NoQuery)
    async with request.app[SESSIONS]() as session:
        rows = await repo.list_sessions(session)
    return json_response(SessionList.model_validate({"items": [_session_json(r) for r in rows]}))


async def get_session(request: web.Request) -> web.Response:
    params.parse_query(request.query, params.NoQuery)
    session_id = _session_id(request)
    async with request.app[SESSIONS]() as session:
        row = await repo.get_session(session, session_id=session_id)
        if row is None:
            raise ApiError("not_found", f"no calibration session {session_id}", {"id": session_id})
        scores = await repo.session_scores(session, row) if row.revealed else None
    calibration = None
    if scores is not None:
        calibration = {"from": row.created_at, "to": row.closed_at, **asdict(calibrate(scores))}
    return json_response(Session.model_validate(_session_json(row, calibration)))


async def post_close(request: web.Request) -> web.Response:
    params.parse_query(request.query, params.NoQuery)
    session_id = _session_id(request)
    async with request.app[SESSIONS]() as session, session.begin():
        if await repo.get_session(session, session_id=session_id) is None:
            raise ApiError("not_found", f"no calibration session {session_id}", {"id": session_id})
        await repo.close_session(session, session_id=session_id, at=_now())
    return await get_session(request)
