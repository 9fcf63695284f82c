"""GET /ratings (JSON pages or a streamed CSV of the same query) and GET /ratings/summary."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import asdict, replace
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.funnel import FUNNEL_GROUPINGS
from ..db.funnel import Funnel as FunnelRow
from ..db.models import NOT_OFFERED_REASONS, RESPONSE_STATUSES
from ..db.ratings import CampaignScope, RatingFilter, RatingRow, iter_ratings, list_ratings
from ..db.summary import GROUPINGS, UnknownQuestion, ratings_summary, summary_scope, with_period
from ..db.summary import SummaryGroup as GroupRow
from ..keys import SESSIONS, SETTINGS
from ..service.phones import mask_phone_for_people
from ..survey.definition import QUESTION_KINDS
from . import params
from .auth import keep_to_own, own_operator
from .csv_export import Format, stream_csv, wants_csv
from .errors import invalid_parameter
from .params import Number, Paged, Period, Text, Zoned, one_of, text
from .responses import Model, Time, enum, json_response

# --- models ---


class RatingQuery(Period):
    operator: Text = Field(None, description="operator id, e.g. 7001")
    team: Text = Field(None, description="the operators in this team")
    queue: Text = Field(None, description="queue name")
    survey: Text = Field(None, description="survey name")
    status: Annotated[str | None, one_of(RESPONSE_STATUSES)] = Field(
        None, description="response status; not_offered: the calls a survey policy did not offer it to"
    )
    reason: Annotated[str | None, one_of(NOT_OFFERED_REASONS)] = Field(
        None, description="why a not_offered call was not offered the survey"
    )
    score_min: Number = Field(None, description="lowest first-question score")
    score_max: Number = Field(None, description="highest first-question score")
    campaign: Annotated[CampaignScope | None, params.CAMPAIGN] = Field(
        None, description="a campaign's id: its answers only; none: the post-call surveys' only"
    )

    def rating_filter(self) -> RatingFilter:
        return RatingFilter(
            operator=self.operator,
            team=self.team,
            queue=self.queue,
            survey=self.survey,
            status=self.status,
            reason=self.reason,
            date_from=self.date_from,
            date_to=self.date_to,
            score_min=self.score_min,
            score_max=self.score_max,
            campaign=self.campaign,
        )


class RatingsQuery(Format, Paged, RatingQuery):  # the filters are checked first
    pass


class SummaryQuery(RatingQuery, Zoned):
    group_by: Annotated[str, one_of(GROUPINGS)] = Field(
        "operator", description="grouping (default operator); all: one group over the period, key null"
    )
    # a key: answers are stored under it, the same question in every version and survey that asks it
    question: Annotated[str | None, text(max_length=64)] = Field(
        None,
        description="a question's key, e.g. nps: its answers are summarised instead of the first question's, in "
        "the surveys asking it; 400 when none in scope asks it, or they ask it as different kinds",
    )
    funnel: bool = Field(
        False,
        description="true: each group has its funnel (answered calls, offered, not offered by reason, started, "
        "completed); group_by operator, queue, survey or all only",
    )


class Answer(Model):
    question: str
    key: str | None = Field(description="keys pressed; null when unanswered after every attempt")
    score: float | None
    attempts: int


class Rating(Model):
    call_id: str = Field(description="Asterisk's linkedid")
    channel_uniqueid: str | None
    operator: str | None
    operator_name: str | None
    queue: str | None
    survey: str
    survey_version: int
    channel: Literal["ari", "agi", "ami"] = Field(
        description="how the caller came in; ami: a call the history saw the caller end, never in the app"
    )
    language: str
    status: Annotated[str, enum(RESPONSE_STATUSES)]
    reason: Annotated[str, enum(NOT_OFFERED_REASONS)] | None = Field(
        description="not_offered: why the call was not offered the survey (no_operator, no_consent, cooldown, "
        "sampled_out, caller_hung_up_first); null for a survey offered"
    )
    score: float | None = Field(description="the first question's score")
    answers: list[Answer]
    caller: str | None
    started_at: Time
    ended_at: Time | None
    campaign: int | None = Field(description="the outbound campaign that called the customer; null: a post-call survey")


class RatingsPage(Model):
    items: list[Rating]
    next_cursor: str | None


class SummaryGroup(Model):
    model_config = ConfigDict(json_schema_serialization_defaults_required=False)  # the CQR fields may be left out

    key: str | None = Field(
        description="operator, queue, survey, or the bucket's local start; null: unknown, or group_by=all"
    )
    offered: int = Field(description="surveys started (with question=: those asking it)")
    responses: int = Field(description="surveys whose first question (with question=: that one) was answered")
    response_rate: float | None = Field(description="responses / offered")
    average: float | None = Field(description="the responses' average score")
    csat: float | None = Field(
        description="share of satisfied among csat_responses, each judged by the satisfied scores of the survey "
        "version it answered (default: 4-5 of a 1-5 scale); null when none was judged"
    )
    csat_ci95: tuple[float, float] | None = Field(description="95 % Wilson interval of csat")
    csat_responses: int = Field(description="responses whose survey names satisfied scores: csat's denominator")
    distribution: dict[str, int] = Field(
        description="score ('4', '2.5') -> responses: every score of the question in the surveys in scope, and "
        "any other score counted"
    )
    nps: float | None = Field(None, description="kind nps: % promoters (9-10) minus % detractors (0-6)")
    promoters: int | None = Field(None, description="kind nps: responses scored 9-10")
    passives: int | None = Field(None, description="kind nps: responses scored 7-8")
    detractors: int | None = Field(None, description="kind nps: responses scored 0-6")
    yes: int | None = Field(None, description="kind yes_no: responses scored 1")
    no: int | None = Field(None, description="kind yes_no: responses scored 0")
    yes_share: float | None = Field(None, description="kind yes_no: yes / (yes + no)")
    yes_ci95: tuple[float, float] | None = Field(None, description="kind yes_no: 95 % Wilson interval of yes_share")
    cqr_average: float | None = Field(None, description="operator, time and all groupings only")
    cqr_evaluations: int = Field(0, description="operator, time and all groupings only")
    cqr_good: int = Field(0, description="evaluations with CQR >= 80 (good calls); where cqr_evaluations is")
    cqr_good_share: float | None = Field(
        None, description="cqr_good / cqr_evaluations; null without evaluations; where cqr_evaluations is"
    )
    funnel: Funnel | None = Field(None, description="with funnel=true only")


class Funnel(Model):
    answered: int = Field(
        description="answered calls the service knows of: offered + the sum of not_offered (the calls that entered "
        "the app, and those the call history saw the caller end)"
    )
    offered: int = Field(description="calls offered the survey (any status but not_offered)")
    not_offered: dict[Annotated[str, enum(NOT_OFFERED_REASONS)], int] = Field(
        description="reason -> calls not offered the survey; every reason is listed"
    )
    started: int = Field(description="offered surveys in which the caller answered at least one question")
    completed: int = Field(description="offered surveys the caller answered to the end (status completed)")
    response_rate_of_offered: float | None = Field(description="started / offered; null when none was offered")
    response_rate_of_answered: float | None = Field(description="started / answered; null without answered calls")


class Summary(Model):
    group_by: Annotated[str, enum(GROUPINGS)]
    date_from: Time = Field(alias="from")
    date_to: Time = Field(alias="to")
    tz: str
    question: str | None = Field(description="the question= summarised; null: the first question of every survey")
    kind: Annotated[str, enum(QUESTION_KINDS)] | None = Field(
        description="the question's kind (null without question=); nps and yes_no groups add their fields"
    )
    groups: list[SummaryGroup]


# --- handlers ---

CSV_COLUMNS = (
    "call_id",
    "operator",
    "operator_name",
    "queue",
    "survey",
    "survey_version",
    "status",
    "score",
    "answers",
    "caller",
    "channel",
    "language",
    "started_at",
    "ended_at",
    "channel_uniqueid",
    "campaign",
    "reason",
)


def _filters(request: web.Request, query: RatingQuery) -> RatingFilter:
    """The query's filters; an operator's token reads its own operator's only (and no team's)."""
    filters = query.rating_filter()
    if own_operator(request) is None:
        return filters
    return replace(filters, operator=keep_to_own(request, filters.operator), team=None)


def _shown(request: web.Request, item: RatingRow) -> RatingRow:
    """A rating as the token may see it: an operator's token sees callers' numbers masked."""
    if own_operator(request) is None or not item.caller:
        return item
    return replace(item, caller=mask_phone_for_people(item.caller, request.app[SETTINGS].default_country))


async def get_ratings(request: web.Request) -> web.StreamResponse:
    query = params.parse_query(request.query, RatingsQuery)
    filters = _filters(request, query)
    after = params.cursor(query.cursor, params.TIME_AND_ID)
    if wants_csv(request, query):  # the export is the whole query: no pages
        return await _stream_csv(request, filters)
    async with request.app[SESSIONS]() as session:
        page = await list_ratings(session, filters=filters, limit=query.limit, after=after)
    next_cursor = params.encode_cursor(*page.next_after) if page.next_after else None
    items = [_shown(request, item) for item in page.items]
    return json_response(RatingsPage.model_validate({"items": items, "next_cursor": next_cursor}))


async def _stream_csv(request: web.Request, filters: RatingFilter) -> web.StreamResponse:
    async def rows() -> AsyncIterator[list[object]]:
        async with request.app[SESSIONS]() as session:
            async for item in iter_ratings(session, filters=filters):
                row = asdict(_shown(request, item))  # the answers too, as the JSON the cell holds
                row["answers"] = json.dumps(row["answers"], ensure_ascii=False, separators=(",", ":"))
                yield [row[c] for c in CSV_COLUMNS]

    return await stream_csv(request, "ratings.csv", CSV_COLUMNS, rows())


def group_json(g: GroupRow) -> dict[str, Any]:
    """A summary group as the API writes it: flat, a question kind's fields and CQR's only where they apply.
    Written by hand rather than by the SummaryGroup model: a year by hour is 8,760 groups."""
    body: dict[str, Any] = {
        "key": g.key,
        "offered": g.offered,
        "responses": g.responses,
        "response_rate": g.response_rate,
        "average": g.average,
        "csat": g.csat,
        "csat_ci95": g.csat_ci95,
        "csat_responses": g.csat_responses,
        "distribution": g.distribution,
    }
    if g.nps is not None:
        body.update(nps=g.nps.nps, promoters=g.nps.promoters, passives=g.nps.passives, detractors=g.nps.detractors)
    if g.yes_no is not None:
        yes_no = g.yes_no
        body.update(yes=yes_no.yes, no=yes_no.no, yes_share=yes_no.yes_share, yes_ci95=yes_no.yes_ci95)
    if g.cqr_evaluations is not None:
        body.update(
            cqr_average=g.cqr_average,
            cqr_evaluations=g.cqr_evaluations,
            cqr_good=g.cqr_good,
            cqr_good_share=g.cqr_good_share,
        )
    if g.funnel is not None:
        body["funnel"] = funnel_json(g.funnel)
    return body


def funnel_json(f: FunnelRow) -> dict[str, Any]:
    return {
        "answered": f.answered,
        "offered": f.offered,
        "not_offered": f.not_offered,
        "started": f.started,
        "completed": f.completed,
        "response_rate_of_offered": f.response_rate_of_offered,
        "response_rate_of_answered": f.response_rate_of_answered,
    }


async def summary_json(
    session: AsyncSession,
    *,
    group_by: str,
    filters: RatingFilter,
    tz: ZoneInfo,
    question: str | None,
    funnel: bool = False,
) -> dict[str, Any]:
    """A summary as /ratings/summary writes it (Summary documents it), over the period `filters` bound."""
    if funnel and group_by not in FUNNEL_GROUPINGS:
        raise invalid_parameter(
            "funnel", f"the funnel is counted by {', '.join(FUNNEL_GROUPINGS)}; group_by={group_by} has none"
        )
    try:
        scope = await summary_scope(session, filters, question)
    except UnknownQuestion as exc:
        raise invalid_parameter("question", str(exc)) from None
    groups = await ratings_summary(session, group_by=group_by, filters=filters, tz=tz, scope=scope, funnel=funnel)
    assert filters.date_from is not None and filters.date_to is not None
    # The groups are written by group_json: a year by hour is 8,760 of them.
    return {
        "group_by": group_by,
        "from": filters.date_from.isoformat(),
        "to": filters.date_to.isoformat(),
        "tz": tz.key,
        "question": scope.question,
        "kind": scope.kind,
        "groups": [group_json(g) for g in groups],
    }


async def get_summary(request: web.Request) -> web.Response:
    query = params.parse_query(request.query, SummaryQuery)
    filters = with_period(_filters(request, query))
    async with request.app[SESSIONS]() as session:
        body = await summary_json(
            session,
            group_by=query.group_by,
            filters=filters,
            tz=query.tz,
            question=query.question,
            funnel=query.funnel,
        )
    return json_response(body)
