"""GET /survey-policies and PUT /survey-policies/{queue}: who is offered the survey, per queue (admins)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import ConfigDict, Field

from ..db import policies as repo
from ..keys import POLICIES, SESSIONS
from ..service.args import arg_problem
from ..service.policy import DEFAULT_POLICY_QUEUE, SurveyPolicy
from . import params
from .errors import invalid_parameter
from .params import Body
from .responses import Model, Time, json_response

MAX_QUEUE = 128


class PolicyFields(Model):
    survey: str | None = Field(
        None, description="the survey to ask; null: the default one (the dialplan's survey= wins)"
    )
    share: float = Field(1.0, ge=0, le=1, description="the part of the calls offered the survey, 0-1")
    cooldown_days: int = Field(
        0, ge=0, le=3650, description="a caller number offered a survey is not offered another for as many days"
    )
    consent: Literal["none", "ask"] = Field(
        "none", description="ask: survey only callers who agreed at Stasis(ivr-survey,consent) before the queue"
    )
    consent_default: Literal["yes", "no"] = Field("no", description="what silence at the consent prompt means")
    languages: list[str] = Field(
        [], description="the languages the survey is asked in, the first when the caller's is not among them"
    )
    not_offered: Literal["continue", "hangup"] = Field(
        "continue", description="a caller not surveyed goes on in the dialplan, or is hung up"
    )


class PolicyUpdate(PolicyFields, Body):
    """the whole policy; a field left out takes its default"""

    # a request body: its fields with defaults are not required (PolicyFields is a response's too)
    model_config = ConfigDict(json_schema_serialization_defaults_required=False)


class Policy(PolicyFields):
    queue: str = Field(description=f"the queue; {DEFAULT_POLICY_QUEUE}: calls with no queue or no policy of their own")
    version: int = Field(description="each change adds a version; a response records the one it was decided under")
    created_at: Time


class PolicyList(Model):
    items: list[Policy]


def _policy(row: repo.PolicyRow) -> Policy:
    return Policy.model_validate(
        {**row.definition, "queue": row.queue, "version": row.version, "created_at": row.created_at}
    )


def _queue(request: web.Request) -> str:
    queue = request.match_info["queue"]
    problem = arg_problem(queue) if len(queue) <= MAX_QUEUE else f"longer than {MAX_QUEUE} characters"
    if problem is not None:  # it must come back as given from Stasis(ivr-survey,queue=...)
        raise invalid_parameter("queue", f"the queue {problem}")
    return queue


async def list_policies(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        rows = await repo.list_policies(session)
    return json_response(PolicyList(items=[_policy(row) for row in rows]))


async def put_policy(request: web.Request) -> web.Response:
    queue = _queue(request)
    body = await params.parse_body(request, PolicyUpdate)
    try:
        policy = SurveyPolicy.from_dict(body.model_dump())
    except ValueError as exc:
        raise invalid_parameter("body", str(exc)) from None
    async with request.app[SESSIONS]() as session, session.begin():
        row, created = await repo.save_policy(session, queue=queue, definition=policy.to_dict())
    if POLICIES in request.app:
        request.app[POLICIES].changed(queue)
    return json_response(_policy(row), status=201 if created else 200)
