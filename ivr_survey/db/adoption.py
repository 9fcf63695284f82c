"""What a caller left in the Stasis app by a crashed instance had stored: enough to go on with its survey."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..survey.actions import SaveAnswer
from ..survey.definition import SurveyDefinition
from .models import Call, Survey, SurveyAnswer, SurveyResponse, SurveyVersion


@dataclass(frozen=True, slots=True)
class StoredResponse:
    linkedid: str
    status: str  # "in_progress" until the survey ended
    definition: SurveyDefinition  # the version the survey was started with
    language: str
    args: dict[str, Any]  # the Stasis arguments as given
    answers: tuple[SaveAnswer, ...]  # by position


async def stored_response(session: AsyncSession, *, channel_id: str, linkedid: str) -> StoredResponse | None:
    """The survey response of the call on this channel (by its uniqueid, else by the call's linkedid), or None
    when none was stored."""
    stmt = (
        select(
            SurveyResponse.id,
            Call.linkedid,
            SurveyResponse.status,
            SurveyResponse.language,
            SurveyResponse.args,
            Survey.name,
            SurveyVersion.version,
            SurveyVersion.definition,
        )
        .join(Call, Call.id == SurveyResponse.call_id)
        .join(SurveyVersion, SurveyVersion.id == SurveyResponse.survey_version_id)
        .join(Survey, Survey.id == SurveyVersion.survey_id)
        .where(or_(Call.channel_uniqueid == channel_id, Call.linkedid == linkedid))
        # A call whose linkedid only matches comes second: the channel's own call wins. (A CASE, not the bare
        # comparison: a NULL channel_uniqueid would sort first in PostgreSQL's descending order.)
        .order_by(case((Call.channel_uniqueid == channel_id, 0), else_=1))
        .limit(1)
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        return None
    answers = await session.execute(
        select(
            SurveyAnswer.position, SurveyAnswer.question, SurveyAnswer.digits, SurveyAnswer.score, SurveyAnswer.attempts
        )
        .where(SurveyAnswer.response_id == row.id)
        .order_by(SurveyAnswer.position)
    )
    return StoredResponse(
        linkedid=row.linkedid,
        status=row.status,
        definition=SurveyDefinition.from_dict({**row.definition, "name": row.name, "version": row.version}),
        language=row.language,
        args=dict(row.args),
        answers=tuple(SaveAnswer(a.position, a.question, a.digits, a.score, a.attempts) for a in answers),
    )
