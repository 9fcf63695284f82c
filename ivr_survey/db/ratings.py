"""Reading survey results back, one item per surveyed call."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Call, Operator, Survey, SurveyAnswer, SurveyResponse, SurveyVersion


async def list_ratings(session: AsyncSession, *, limit: int = 100) -> list[dict[str, Any]]:
    """Newest first. `score` is the first question's score (None when it was not answered)."""
    stmt = (
        select(
            SurveyResponse.id,
            Call.linkedid,
            Call.channel_uniqueid,
            Call.caller_number,
            Call.queue,
            Operator.code,
            Survey.name,
            SurveyVersion.version,
            SurveyResponse.channel,
            SurveyResponse.language,
            SurveyResponse.status,
            SurveyResponse.started_at,
            SurveyResponse.ended_at,
        )
        .join(Call, Call.id == SurveyResponse.call_id)
        .outerjoin(Operator, Operator.id == Call.operator_id)
        .join(SurveyVersion, SurveyVersion.id == SurveyResponse.survey_version_id)
        .join(Survey, Survey.id == SurveyVersion.survey_id)
        .order_by(SurveyResponse.started_at.desc(), SurveyResponse.id.desc())
        .limit(limit)
    )
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
    items = []
    for r in rows:
        given = answers[r.id]
        first = next((a for a in given if a.position == 0), None)
        items.append(
            {
                "call_id": r.linkedid,
                "channel_uniqueid": r.channel_uniqueid,
                "operator": r.code,
                "queue": r.queue,
                "survey": r.name,
                "survey_version": r.version,
                "channel": r.channel,
                "language": r.language,
                "status": r.status,
                "score": first.score if first else None,
                "answers": [
                    {"question": a.question, "key": a.digits, "score": a.score, "attempts": a.attempts}
                    for a in given
                ],
                "caller": r.caller_number,
                "started_at": r.started_at.isoformat(),
                "ended_at": r.ended_at.isoformat() if r.ended_at else None,
            }
        )
    return items
