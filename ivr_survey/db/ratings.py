"""Reading survey results back, one item per surveyed call, newest first, with keyset pagination."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from .models import Call, Operator, Survey, SurveyAnswer, SurveyResponse, SurveyVersion
from .operators import in_team

# The first question's answer is "the" score of a call (the 1-5 rating in the default survey).
FirstAnswer = aliased(SurveyAnswer, name="first_answer")
# A campaign filter: one campaign's answers (its id), or the post-call surveys' only ("none").
CampaignScope = int | Literal["none"]


@dataclass(frozen=True, slots=True)
class RatingFilter:
    operator: str | None = None
    team: str | None = None  # the operators in that team
    queue: str | None = None
    survey: str | None = None
    status: str | None = None
    reason: str | None = None  # a not_offered response's
    date_from: datetime | None = None  # inclusive, on the survey's start
    date_to: datetime | None = None  # exclusive
    score_min: float | None = None
    score_max: float | None = None
    call_id: str | None = None  # the call's linkedid
    campaign: CampaignScope | None = None


@dataclass(frozen=True, slots=True)
class RatingColumns:
    """What a rating filter compares: the list reads a call's own columns, the summaries a response's copies
    (some hidden from SQLite's planner)."""

    operator_id: Any
    queue: Any
    survey_id: Any
    status: Any
    reason: Any
    score: Any  # the first answer's
    campaign_id: Any


def rating_conditions(filters: RatingFilter, columns: RatingColumns) -> list[Any]:
    """The filter's conditions but the period and the call, which the list and the summaries bound each their
    own way."""
    conditions: list[Any] = []
    if filters.operator is not None:
        operator = select(Operator.id).where(Operator.code == filters.operator).scalar_subquery()
        conditions.append(columns.operator_id == operator)
    if filters.team is not None:
        conditions.append(columns.operator_id.in_(in_team(filters.team)))
    if filters.queue is not None:
        conditions.append(columns.queue == filters.queue)
    if filters.survey is not None:
        survey = select(Survey.id).where(Survey.name == filters.survey).scalar_subquery()
        conditions.append(columns.survey_id == survey)
    if filters.status is not None:
        conditions.append(columns.status == filters.status)
    if filters.reason is not None:
        conditions.append(columns.reason == filters.reason)
    if filters.score_min is not None:
        conditions.append(columns.score >= filters.score_min)
    if filters.score_max is not None:
        conditions.append(columns.score <= filters.score_max)
    if filters.campaign == "none":
        conditions.append(columns.campaign_id.is_(None))
    elif filters.campaign is not None:
        conditions.append(columns.campaign_id == filters.campaign)
    return conditions


def responses_query(*columns: Any, filters: RatingFilter = RatingFilter()) -> Select[Any]:
    """Survey responses joined to their call, operator, survey and first answer, filtered."""
    stmt = (
        select(*columns)
        .select_from(SurveyResponse)
        .join(Call, Call.id == SurveyResponse.call_id)
        .outerjoin(Operator, Operator.id == Call.operator_id)
        .join(SurveyVersion, SurveyVersion.id == SurveyResponse.survey_version_id)
        .join(Survey, Survey.id == SurveyVersion.survey_id)
        .outerjoin(FirstAnswer, and_(FirstAnswer.response_id == SurveyResponse.id, FirstAnswer.position == 0))
    )
    own = RatingColumns(
        operator_id=Call.operator_id,
        queue=Call.queue,
        survey_id=SurveyVersion.survey_id,
        status=SurveyResponse.status,
        reason=SurveyResponse.reason,
        score=FirstAnswer.score,
        campaign_id=SurveyResponse.campaign_id,
    )
    conditions = rating_conditions(filters, own)
    if filters.date_from is not None:
        conditions.append(SurveyResponse.started_at >= filters.date_from)
    if filters.date_to is not None:
        conditions.append(SurveyResponse.started_at < filters.date_to)
    if filters.call_id is not None:
        conditions.append(Call.linkedid == filters.call_id)
    return stmt.where(*conditions)


_COLUMNS = (
    SurveyResponse.id,
    Call.linkedid,
    Call.channel_uniqueid,
    Call.caller_number,
    Call.queue,
    Operator.code.label("operator"),
    Operator.name.label("operator_name"),
    Survey.name.label("survey"),
    SurveyVersion.version,
    SurveyResponse.channel,
    SurveyResponse.language,
    SurveyResponse.status,
    SurveyResponse.reason,
    FirstAnswer.score,
    SurveyResponse.started_at,
    SurveyResponse.ended_at,
    SurveyResponse.campaign_id,
)


@dataclass(frozen=True, slots=True)
class AnswerRow:
    question: str
    key: str | None  # the keys pressed; None when unanswered after every attempt
    score: float | None
    attempts: int


@dataclass(frozen=True, slots=True)
class RatingRow:
    """One surveyed call."""

    call_id: str  # the call's linkedid
    channel_uniqueid: str | None
    operator: str | None
    operator_name: str | None
    queue: str | None
    survey: str
    survey_version: int
    channel: str
    language: str
    status: str
    reason: str | None  # why a not_offered call was not offered the survey
    score: float | None  # the first answer's
    answers: list[AnswerRow]
    caller: str | None
    started_at: datetime
    ended_at: datetime | None
    campaign: int | None  # the outbound campaign that called; None for a post-call survey


@dataclass(frozen=True, slots=True)
class RatingsPage:
    items: list[RatingRow]
    # (started_at, id) of the last item when the page is full: where the next page starts.
    next_after: tuple[datetime, int] | None


async def list_ratings(
    session: AsyncSession,
    *,
    filters: RatingFilter = RatingFilter(),
    limit: int = 100,
    after: tuple[datetime, int] | None = None,
) -> RatingsPage:
    """One page, newest first; `after` is the page's `next_after` before it."""
    stmt = responses_query(*_COLUMNS, filters=filters)
    if after is not None:
        started, ident = after
        same_time_older = and_(SurveyResponse.started_at == started, SurveyResponse.id < ident)
        stmt = stmt.where(or_(SurveyResponse.started_at < started, same_time_older))
    stmt = stmt.order_by(SurveyResponse.started_at.desc(), SurveyResponse.id.desc()).limit(limit)
    rows = (await session.execute(stmt)).all()
    answers: dict[int, list[SurveyAnswer]] = defaultdict(list)
    if rows:
        found = await session.execute(
            select(SurveyAnswer)
            .where(SurveyAnswer.response_id.in_([r.id for r in rows]))
            .order_by(SurveyAnswer.response_id, SurveyAnswer.position)
        )
        for answer in found.scalars():
            answers[answer.response_id].append(answer)
    items = [
        RatingRow(
            call_id=r.linkedid,
            channel_uniqueid=r.channel_uniqueid,
            operator=r.operator,
            operator_name=r.operator_name,
            queue=r.queue,
            survey=r.survey,
            survey_version=r.version,
            channel=r.channel,
            language=r.language,
            status=r.status,
            reason=r.reason,
            score=r.score,
            answers=[AnswerRow(a.question, a.digits, a.score, a.attempts) for a in answers[r.id]],
            caller=r.caller_number,
            started_at=r.started_at,
            ended_at=r.ended_at,
            campaign=r.campaign_id,
        )
        for r in rows
    ]
    full = len(rows) == limit
    return RatingsPage(items, (rows[-1].started_at, rows[-1].id) if full else None)


async def iter_ratings(
    session: AsyncSession, *, filters: RatingFilter = RatingFilter(), batch: int = 1000
) -> AsyncIterator[RatingRow]:
    """Every matching rating, a keyset page at a time, so that memory stays flat however many there are."""
    after = None
    while True:
        page = await list_ratings(session, filters=filters, limit=batch, after=after)
        for item in page.items:
            yield item
        if page.next_after is None:
            return
        after = page.next_after
