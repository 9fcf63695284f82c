"""Small async repository functions: the surveys' versions, and the call row and operators for async callers
(the call history), through the synchronous statements in responses.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import responses
from .models import Survey, SurveyVersion, utcnow
from .statements import upsert_insert


async def operator_id(session: AsyncSession, *, code: str | None) -> int | None:
    """The operator's id, created on first sight; None for an unknown operator."""
    return await session.run_sync(lambda s: responses.operator_id(s.connection(), code=code))


async def upsert_call(session: AsyncSession, **fields: Any) -> int:
    """The call row keyed by linkedid (responses.upsert_call's fields); whichever side writes first creates it,
    later writers only fill gaps."""
    call: tuple[int, int | None, str | None] = await session.run_sync(
        lambda s: responses.upsert_call(s.connection(), **fields)
    )
    return call[0]


async def latest_survey_version(session: AsyncSession, *, name: str) -> SurveyVersion | None:
    stmt = (
        select(SurveyVersion)
        .join(Survey, Survey.id == SurveyVersion.survey_id)
        .where(Survey.name == name)
        .order_by(SurveyVersion.version.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def question_texts(session: AsyncSession, *, name: str, version: int) -> dict[str, dict[str, str]]:
    """key -> the question's wording per language, in a stored survey version (empty when it has none)."""
    stmt = (
        select(SurveyVersion.definition)
        .join(Survey, Survey.id == SurveyVersion.survey_id)
        .where(Survey.name == name, SurveyVersion.version == version)
    )
    definition = (await session.execute(stmt)).scalar_one_or_none()
    questions = definition["questions"] if definition is not None else []
    return {q["key"]: dict(q.get("text") or {}) for q in questions}


async def add_survey_version(session: AsyncSession, *, name: str, definition: dict[str, Any]) -> tuple[int, bool]:
    """Store a new version of the named survey (creating the survey): (version, True). A definition equal to
    the newest one adds nothing: (that version, False). Past versions are never changed, so answers keep the
    meaning they were given under."""
    await session.execute(
        upsert_insert(session, Survey.__table__)
        .values(name=name, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    survey_id = (await session.execute(select(Survey.id).where(Survey.name == name))).scalar_one()
    newest = await latest_survey_version(session, name=name)
    if newest is not None and {**newest.definition, "version": 0} == {**definition, "name": name, "version": 0}:
        return newest.version, False
    version = (newest.version if newest is not None else 0) + 1
    session.add(
        SurveyVersion(survey_id=survey_id, version=version, definition={**definition, "name": name, "version": version})
    )
    await session.flush()
    return version, True


async def list_surveys(session: AsyncSession) -> list[tuple[str, int, dict[str, Any]]]:
    """(name, newest version, its definition) for every survey."""
    newest = (
        select(SurveyVersion.survey_id, func.max(SurveyVersion.version).label("version"))
        .group_by(SurveyVersion.survey_id)
        .subquery()
    )
    stmt = (
        select(Survey.name, SurveyVersion.version, SurveyVersion.definition)
        .join(newest, newest.c.survey_id == Survey.id)
        .join(
            SurveyVersion,
            (SurveyVersion.survey_id == Survey.id) & (SurveyVersion.version == newest.c.version),
        )
        .order_by(Survey.name)
    )
    return [(r.name, r.version, r.definition) for r in (await session.execute(stmt)).all()]
