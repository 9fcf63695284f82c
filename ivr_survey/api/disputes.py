"""Fair scoring: an operator accepts or disputes an evaluation of their call, a supervisor other than its evaluator
decides the dispute; the evaluation's versions, the disputes and their counts per evaluator."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import Field

from ..db import disputes as repo
from ..db.models import DISPUTE_STATES
from ..keys import SESSIONS, SETTINGS
from ..service import disputes as service
from . import params
from .auth import PRINCIPAL, keep_to_own, own_operator
from .errors import ApiError
from .params import Body, Period, Text
from .responses import Model, Time, enum, json_response

MAX_COMMENT = 4000


def _now() -> datetime:
    return datetime.now(UTC)


class DisputeRequest(Body):
    comment: Annotated[str, Field(min_length=1, max_length=MAX_COMMENT)] = Field(
        description="what the operator finds wrong in the evaluation"
    )


class ResolveRequest(Body):
    decision: Literal["uphold", "revise"]
    scores: dict[str, float] | None = Field(
        None, description="revise: the whole new scores, criterion -> 0, 0.5 or 1 (the evaluation's scorecard)"
    )
    comment: Annotated[str, Field(max_length=MAX_COMMENT)] | None = Field(None, description="the decision's reasons")


class Dispute(Model):
    id: int
    evaluation_id: int
    call_id: str
    operator: str
    evaluator: str = Field(description="the supervisor who made the evaluation")
    version: int = Field(description="the evaluation's version disputed")
    comment: str
    state: Annotated[str, enum(DISPUTE_STATES)]
    opened_at: Time
    resolved_by: str | None
    resolved_at: Time | None
    resolution: str | None = Field(description="the deciding supervisor's comment")
    revised_version: int | None = Field(description="revised: the evaluation's version the decision made")


class DisputeList(Model):
    items: list[Dispute]


class Version(Model):
    version: int
    scores: dict[str, float]
    cqr: float
    comment: str | None
    supervisor: str = Field(description="who wrote this version")
    created_at: Time
    current: bool = Field(description="the version the CQR figures count")


class Versions(Model):
    evaluation_id: int
    items: list[Version] = Field(description="first first")


class Accepted(Model):
    evaluation_id: int
    accepted_at: Time


class DisputesQuery(Period):
    state: Annotated[str | None, params.one_of(DISPUTE_STATES)] = Field(None, description="open, upheld, revised")
    operator: Text = Field(None, description="the operator who disputed")
    evaluator: Text = Field(None, description="the supervisor whose evaluations were disputed")


class EvaluatorCounts(Model):
    evaluator: str
    opened: int = Field(description="disputes of their evaluations opened in the period")
    open: int
    upheld: int
    revised: int


class DisputeReport(Model):
    items: list[EvaluatorCounts]


def _evaluation_id(request: web.Request) -> int:
    return params.path_id(
        request.match_info, "id", lambda raw: ApiError("not_found", f"no evaluation {raw!r}", {"evaluation_id": raw})
    )


def _operator_only(request: web.Request) -> str:
    operator = own_operator(request)
    if operator is None:
        raise ApiError(
            "forbidden", "an evaluation is accepted or disputed by its operator, with an operator's token", {}
        )
    return operator


async def post_dispute(request: web.Request) -> web.Response:
    evaluation_id = _evaluation_id(request)
    operator = _operator_only(request)
    body = await params.parse_body(request, DisputeRequest)
    async with request.app[SESSIONS]() as session, session.begin():
        row = await service.dispute(
            session,
            evaluation_id=evaluation_id,
            operator=operator,
            comment=body.comment,
            window_days=request.app[SETTINGS].dispute_days,
            at=_now(),
        )
    return json_response(Dispute.model_validate(asdict(row)), status=201)


async def post_accept(request: web.Request) -> web.Response:
    evaluation_id = _evaluation_id(request)
    operator = _operator_only(request)
    params.parse_query(request.query, params.NoQuery)
    at = _now()
    async with request.app[SESSIONS]() as session, session.begin():
        await service.accept(session, evaluation_id=evaluation_id, operator=operator, at=at)
    return json_response(Accepted(evaluation_id=evaluation_id, accepted_at=at))


async def post_resolve(request: web.Request) -> web.Response:
    evaluation_id = _evaluation_id(request)
    dispute_id = params.path_id(
        request.match_info, "dispute_id", lambda raw: ApiError("not_found", f"no dispute {raw!r}", {"dispute_id": raw})
    )
    body = await params.parse_body(request, ResolveRequest)
    async with request.app[SESSIONS]() as session, session.begin():
        row = await service.resolve(
            session,
            evaluation_id=evaluation_id,
            dispute_id=dispute_id,
            supervisor=request[PRINCIPAL].name,
            decision=body.decision,
            scores=body.scores,
            comment=body.comment,
            at=_now(),
        )
    return json_response(Dispute.model_validate(asdict(row)))


async def get_versions(request: web.Request) -> web.Response:
    evaluation_id = _evaluation_id(request)
    params.parse_query(request.query, params.NoQuery)
    async with request.app[SESSIONS]() as session:
        ev = await repo.evaluated(session, evaluation_id=evaluation_id)
        if ev is None:
            raise ApiError("not_found", f"no evaluation {evaluation_id}", {"evaluation_id": evaluation_id})
        keep_to_own(request, ev.operator or "")
        rows = await repo.versions(session, evaluation_id=evaluation_id)
    return json_response(Versions.model_validate({"evaluation_id": evaluation_id, "items": [asdict(r) for r in rows]}))


async def get_disputes(request: web.Request) -> web.Response:
    q = params.parse_query(request.query, DisputesQuery)
    async with request.app[SESSIONS]() as session:
        rows = await repo.list_disputes(
            session,
            operator=keep_to_own(request, q.operator),
            evaluator=q.evaluator,
            state=q.state,
            date_from=q.date_from,
            date_to=q.date_to,
        )
    return json_response(DisputeList.model_validate({"items": [asdict(r) for r in rows]}))


async def get_report(request: web.Request) -> web.Response:
    q = params.parse_query(request.query, Period)
    async with request.app[SESSIONS]() as session:
        counts = await repo.dispute_counts(session, date_from=q.date_from, date_to=q.date_to)
    items = [
        {
            "evaluator": evaluator,
            "opened": sum(by_state.values()),
            **{state: by_state.get(state, 0) for state in DISPUTE_STATES},
        }
        for evaluator, by_state in sorted(counts.items())
    ]
    return json_response(DisputeReport.model_validate({"items": items}))
