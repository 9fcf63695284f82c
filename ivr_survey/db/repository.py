"""Small async repository functions; every write is idempotent so that a replayed event or a
replayed spool record stores nothing twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, FromClause, Result, Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ..survey.definition import Question
from .engine import dialect_of
from .models import Call, Operator, Survey, SurveyAnswer, SurveyResponse, SurveyVersion, utcnow
from .timebuckets import HOUR, QUARTER_HOUR


def affected(result: Result[Any]) -> int:
    """Rows an INSERT, UPDATE or DELETE touched (what `session.execute` returns for one is a CursorResult)."""
    return cast(CursorResult[Any], result).rowcount


def upsert_insert(session: AsyncSession, table: FromClause) -> Any:
    """An INSERT with on_conflict_do_nothing/on_conflict_do_update, in the session's dialect."""
    return (postgresql.insert if dialect_of(session) == "postgresql" else sqlite.insert)(cast(Table, table))


async def operator_id(session: AsyncSession, *, code: str | None) -> int | None:
    """The operator's id, created on first sight; None for an unknown operator."""
    if not code:
        return None
    stmt = upsert_insert(session, Operator.__table__).values(code=code)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["code"]))
    return (await session.execute(select(Operator.id).where(Operator.code == code))).scalar_one()


async def upsert_call(
    session: AsyncSession,
    *,
    linkedid: str,
    channel_uniqueid: str | None = None,
    caller_number: str | None = None,
    operator: str | None = None,
    queue: str | None = None,
    started_at: datetime | None = None,
) -> int:
    """The call row keyed by linkedid; whichever side writes first creates it, later writers only fill gaps."""
    table = Call.__table__
    values = {
        "linkedid": linkedid,
        "channel_uniqueid": channel_uniqueid,
        "caller_number": caller_number,
        "operator_id": await operator_id(session, code=operator),
        "queue": queue,
        "started_at": started_at,
    }
    stmt = upsert_insert(session, table).values(**values)
    fill = {col: func.coalesce(table.c[col], stmt.excluded[col]) for col in values if col != "linkedid"}
    await session.execute(stmt.on_conflict_do_update(index_elements=["linkedid"], set_=fill))
    return (await session.execute(select(Call.id).where(Call.linkedid == linkedid))).scalar_one()


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


async def survey_version_ids(session: AsyncSession, *, name: str, version: int) -> tuple[int, int] | None:
    """(survey version id, survey id) of a stored version."""
    stmt = (
        select(SurveyVersion.id, SurveyVersion.survey_id)
        .join(Survey, Survey.id == SurveyVersion.survey_id)
        .where(Survey.name == name, SurveyVersion.version == version)
    )
    row = (await session.execute(stmt)).one_or_none()
    return (row.id, row.survey_id) if row is not None else None


async def start_response(
    session: AsyncSession,
    *,
    linkedid: str,
    survey: str,
    survey_version: int,
    channel: str,
    language: str,
    args: dict[str, Any],
    started_at: datetime,
    channel_uniqueid: str | None = None,
    caller_number: str | None = None,
    operator: str | None = None,
    queue: str | None = None,
    campaign_id: int | None = None,
) -> bool:
    """Record that the caller entered the survey (status in_progress); False when the call already had one (a
    second start is ignored)."""
    ids = await survey_version_ids(session, name=survey, version=survey_version)
    if ids is None:
        raise LookupError(f"survey {survey!r} version {survey_version} is not stored")
    call_id = await upsert_call(
        session,
        linkedid=linkedid,
        channel_uniqueid=channel_uniqueid,
        caller_number=caller_number,
        operator=operator,
        queue=queue,
        started_at=started_at,
    )
    call = (await session.execute(select(Call.operator_id, Call.queue).where(Call.id == call_id))).one()
    stmt = upsert_insert(session, SurveyResponse.__table__).values(
        call_id=call_id,
        survey_version_id=ids[0],
        survey_id=ids[1],
        operator_id=call.operator_id,
        queue=call.queue,
        started_slot=int(started_at.timestamp()) // QUARTER_HOUR,
        started_hour=int(started_at.timestamp()) // HOUR,
        channel=channel,
        language=language,
        status="in_progress",
        args=args,
        started_at=started_at,
        campaign_id=campaign_id,
    )
    return bool(affected(await session.execute(stmt.on_conflict_do_nothing(index_elements=["call_id"]))))


async def response_survey(session: AsyncSession, *, linkedid: str) -> str | None:
    """The name of the survey the call's response answers; None when the call has no response."""
    stmt = (
        select(Survey.name)
        .join(SurveyResponse, SurveyResponse.survey_id == Survey.id)
        .join(Call, Call.id == SurveyResponse.call_id)
        .where(Call.linkedid == linkedid)
    )
    name: str | None = (await session.execute(stmt)).scalar_one_or_none()
    return name


async def _response_id(session: AsyncSession, linkedid: str) -> int:
    stmt = select(SurveyResponse.id).join(Call, Call.id == SurveyResponse.call_id).where(Call.linkedid == linkedid)
    response_id = (await session.execute(stmt)).scalar_one_or_none()
    if response_id is None:
        raise LookupError(f"no survey response for call {linkedid}")
    return response_id


async def save_answer(
    session: AsyncSession,
    *,
    linkedid: str,
    position: int,
    question: str,
    digits: str | None,
    score: float | None,
    attempts: int,
    answered_at: datetime,
) -> bool:
    """Store one answer; False when the same question of the call was already answered."""
    response_id = await _response_id(session, linkedid)
    stmt = upsert_insert(session, SurveyAnswer.__table__).values(
        response_id=response_id,
        position=position,
        question=question,
        digits=digits,
        score=score,
        attempts=attempts,
        answered_at=answered_at,
    )
    result = await session.execute(stmt.on_conflict_do_nothing(index_elements=["response_id", "position"]))
    stored = bool(affected(result))
    if stored and position == 0:  # the response's score and CSAT's verdict on it, copied for the summaries
        satisfied = None
        if score is not None and (scores := await _satisfied_scores(session, response_id)) is not None:
            satisfied = score in scores
        await session.execute(
            update(SurveyResponse).where(SurveyResponse.id == response_id).values(score=score, satisfied=satisfied)
        )
    return stored


async def _satisfied_scores(session: AsyncSession, response_id: int) -> frozenset[float] | None:
    """The scores the response's survey version counts as satisfied in its first question (None: no CSAT)."""
    stmt = (
        select(SurveyVersion.definition)
        .join(SurveyResponse, SurveyResponse.survey_version_id == SurveyVersion.id)
        .where(SurveyResponse.id == response_id)
    )
    definition = (await session.execute(stmt)).scalar_one()
    return Question.from_dict(definition["questions"][0]).satisfied_scores


async def finish_response(session: AsyncSession, *, linkedid: str, status: str, ended_at: datetime) -> bool:
    """Give the response its final status once; False for a replay, which does not move ended_at."""
    response_id = await _response_id(session, linkedid)
    result = await session.execute(
        update(SurveyResponse)
        .where(SurveyResponse.id == response_id, SurveyResponse.status == "in_progress")
        .values(status=status, ended_at=ended_at)
    )
    return bool(affected(result))


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
