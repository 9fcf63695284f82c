"""The survey funnel of a summary's groups: of the answered calls the service knows of, how many were offered the
survey, why the others were not, how many callers started it and how many completed it.

Every answered call the service learns of is stored as a response: offered (any status but not_offered) or
not_offered with its reason, the policy's (the caller entered the app) or caller_hung_up_first (the call history
saw the caller end an answered call, so it never reached the app). So answered = offered + not offered, exactly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import NOT_OFFERED_REASONS, Operator, Survey, SurveyAnswer, SurveyResponse
from .ratings import RatingColumns, RatingFilter, rating_conditions

FUNNEL_GROUPINGS = ("operator", "queue", "survey", "all")


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(slots=True)
class Funnel:
    offered: int = 0
    not_offered: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NOT_OFFERED_REASONS, 0))
    started: int = 0  # offered surveys in which the caller answered at least one question
    completed: int = 0  # offered surveys of status completed

    @property
    def answered(self) -> int:
        return self.offered + sum(self.not_offered.values())

    @property
    def response_rate_of_offered(self) -> float | None:
        """started / offered: how many callers asked took part."""
        return _share(self.started, self.offered)

    @property
    def response_rate_of_answered(self) -> float | None:
        """started / answered: how many of the answered calls gave a rating, the policy's and hang-ups included."""
        return _share(self.started, self.answered)


async def funnel_summary(session: AsyncSession, *, group_by: str, filters: RatingFilter) -> dict[Any, Funnel]:
    """The funnel per key of `group_by` (FUNNEL_GROUPINGS; operator codes, queues, survey names, None for none
    and for "all") over the period `filters` bound, with their other filters."""
    r = SurveyResponse
    assert filters.date_from is not None and filters.date_to is not None
    key: Any = {
        "operator": Operator.code,
        "queue": r.queue,
        "survey": Survey.name,
        "all": None,
    }[group_by]
    answered = exists().where(SurveyAnswer.response_id == r.id, SurveyAnswer.digits.is_not(None))
    columns = [r.status, r.reason, func.count(), func.count().filter(answered)]
    stmt = select(*columns) if key is None else select(key, *columns)
    stmt = stmt.select_from(r)
    if group_by == "operator":
        stmt = stmt.outerjoin(Operator, Operator.id == r.operator_id)
    elif group_by == "survey":
        stmt = stmt.outerjoin(Survey, Survey.id == r.survey_id)
    copies = RatingColumns(
        operator_id=r.operator_id,
        queue=r.queue,
        survey_id=r.survey_id,
        status=r.status,
        reason=r.reason,
        score=r.score,
        campaign_id=r.campaign_id,
    )
    in_period = and_(r.started_at >= filters.date_from, r.started_at < filters.date_to)
    stmt = stmt.where(in_period, *rating_conditions(filters, copies))
    stmt = stmt.group_by(*([] if key is None else [key]), r.status, r.reason)
    funnels: dict[Any, Funnel] = {}
    for row in (await session.execute(stmt)).all():
        *keyed, status, reason, n, started = row
        funnel = funnels.setdefault(keyed[0] if keyed else None, Funnel())
        if status == "not_offered":
            funnel.not_offered[reason] += n
            continue
        funnel.offered += n
        funnel.started += started
        funnel.completed += n if status == "completed" else 0
    if group_by == "all":
        funnels.setdefault(None, Funnel())
    return funnels
