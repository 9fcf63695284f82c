"""The outbox: events written in the transaction of the answer that caused them, and their deliveries, one per
target, which a sender works through (notify.sender). Typed rows out; the payloads are made by notify."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from .engine import dialect_of
from .leadership import advisory_key
from .models import Call, Operator, OutboxDelivery, OutboxEvent, Survey, SurveyAnswer, SurveyResponse, SurveyVersion
from .statements import affected


@dataclass(frozen=True, slots=True)
class AnswerFact:
    position: int
    question: str
    digits: str | None
    score: float | None


@dataclass(frozen=True, slots=True)
class ResponseFacts:
    """What a finished response's events say."""

    linkedid: str
    status: str
    survey: str
    definition: dict[str, Any]
    operator: str | None
    operator_name: str | None
    queue: str | None
    caller_number: str | None
    campaign_id: int | None
    score: float | None
    started_at: datetime
    ended_at: datetime | None
    answers: tuple[AnswerFact, ...]


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    event_id: str
    type: str
    linkedid: str | None
    payload: dict[str, Any]
    target: str
    state: str
    attempts: int
    created_at: datetime
    queued_at: datetime
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_error: str | None


def response_facts(conn: Connection, *, linkedid: str) -> ResponseFacts | None:
    stmt = (
        select(
            Call.linkedid,
            Call.caller_number,
            SurveyResponse.id,
            SurveyResponse.status,
            SurveyResponse.queue,
            SurveyResponse.campaign_id,
            SurveyResponse.score,
            SurveyResponse.started_at,
            SurveyResponse.ended_at,
            Survey.name,
            SurveyVersion.definition,
            Operator.code,
            Operator.name.label("operator_name"),
        )
        .join(SurveyResponse, SurveyResponse.call_id == Call.id)
        .join(Survey, Survey.id == SurveyResponse.survey_id)
        .join(SurveyVersion, SurveyVersion.id == SurveyResponse.survey_version_id)
        .outerjoin(Operator, Operator.id == SurveyResponse.operator_id)
        .where(Call.linkedid == linkedid)
    )
    row = conn.execute(stmt).one_or_none()
    if row is None:
        return None
    answers = conn.execute(
        select(SurveyAnswer.position, SurveyAnswer.question, SurveyAnswer.digits, SurveyAnswer.score)
        .where(SurveyAnswer.response_id == row.id)
        .order_by(SurveyAnswer.position)
    )
    return ResponseFacts(
        linkedid=row.linkedid,
        status=row.status,
        survey=row.name,
        definition=row.definition,
        operator=row.code,
        operator_name=row.operator_name,
        queue=row.queue,
        caller_number=row.caller_number,
        campaign_id=row.campaign_id,
        score=row.score,
        started_at=row.started_at,
        ended_at=row.ended_at,
        answers=tuple(AnswerFact(*a) for a in answers),
    )


def add_event(
    conn: Connection,
    *,
    event_id: str,
    type: str,
    linkedid: str | None,
    payload: dict[str, Any],
    targets: list[str],
    at: datetime,
) -> None:
    event = insert(OutboxEvent).values(event_id=event_id, type=type, linkedid=linkedid, payload=payload, created_at=at)
    stored_id = conn.execute(event.returning(OutboxEvent.id)).scalar_one()
    conn.execute(
        insert(OutboxDelivery),
        [
            {
                "event_id": stored_id,
                "target": t,
                "state": "pending",
                "attempts": 0,
                "queued_at": at,
                "next_attempt_at": at,
            }
            for t in targets
        ],
    )


_COLUMNS = (
    OutboxDelivery.id,
    OutboxEvent.event_id,
    OutboxEvent.type,
    OutboxEvent.linkedid,
    OutboxEvent.payload,
    OutboxDelivery.target,
    OutboxDelivery.state,
    OutboxDelivery.attempts,
    OutboxEvent.created_at,
    OutboxDelivery.queued_at,
    OutboxDelivery.next_attempt_at,
    OutboxDelivery.last_attempt_at,
    OutboxDelivery.last_error,
)


# every read of deliveries: the delivery with its event
_DELIVERIES = select(*_COLUMNS).join(OutboxEvent, OutboxEvent.id == OutboxDelivery.event_id)


async def due(session: AsyncSession, *, target: str, now: datetime, limit: int) -> list[Delivery]:
    """The target's pending deliveries whose time has come, oldest first; one waits while an earlier pending one
    of the same call does, so that a call's events arrive in the order they were made."""
    earlier = aliased(OutboxDelivery)
    earlier_event = aliased(OutboxEvent)
    blocked = exists().where(
        and_(
            earlier.target == OutboxDelivery.target,
            earlier.state == "pending",
            earlier.id < OutboxDelivery.id,
            earlier_event.id == earlier.event_id,
            earlier_event.linkedid == OutboxEvent.linkedid,
        )
    )
    stmt = (
        _DELIVERIES.where(
            OutboxDelivery.target == target,
            OutboxDelivery.state == "pending",
            OutboxDelivery.next_attempt_at <= now,
            ~blocked,
        )
        .order_by(OutboxDelivery.id)
        .limit(limit)
    )
    return [Delivery(*r) for r in await session.execute(stmt)]


async def lock_target(session: AsyncSession, *, target: str) -> bool:
    """On PostgreSQL, whether this transaction is the only sender of the target now (instances sharing the
    database take turns, so that a delivery goes out once and in order); SQLite has one instance."""
    if dialect_of(session) != "postgresql":
        return True
    key = advisory_key(f"ivr-survey outbox {target}")
    return bool((await session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key})).scalar())


async def _settle(session: AsyncSession, delivery_id: int, **values: Any) -> bool:
    result = await session.execute(
        update(OutboxDelivery)
        .where(OutboxDelivery.id == delivery_id, OutboxDelivery.state == "pending")
        .values(**values)
    )
    return bool(affected(result))


async def mark_delivered(session: AsyncSession, *, delivery_id: int, at: datetime) -> bool:
    return await _settle(
        session,
        delivery_id,
        state="delivered",
        attempts=OutboxDelivery.attempts + 1,
        last_attempt_at=at,
        delivered_at=at,
        last_error=None,
    )


async def mark_retry(session: AsyncSession, *, delivery_id: int, at: datetime, retry_at: datetime, error: str) -> bool:
    return await _settle(
        session,
        delivery_id,
        attempts=OutboxDelivery.attempts + 1,
        last_attempt_at=at,
        next_attempt_at=retry_at,
        last_error=error,
    )


async def mark_failed(session: AsyncSession, *, delivery_id: int, at: datetime, error: str) -> bool:
    return await _settle(
        session,
        delivery_id,
        state="failed",
        attempts=OutboxDelivery.attempts + 1,
        last_attempt_at=at,
        last_error=error,
    )


async def mark_dropped(session: AsyncSession, *, delivery_id: int, error: str) -> bool:
    return await _settle(session, delivery_id, state="dropped", last_error=error)


async def undelivered(session: AsyncSession, *, state: str | None, limit: int) -> list[Delivery]:
    """Pending, failed and dropped deliveries (or those of one state), newest first."""
    states = (state,) if state is not None else ("pending", "failed", "dropped")
    stmt = _DELIVERIES.where(OutboxDelivery.state.in_(states)).order_by(OutboxDelivery.id.desc()).limit(limit)
    return [Delivery(*r) for r in await session.execute(stmt)]


async def retry(session: AsyncSession, *, delivery_id: int, at: datetime) -> Delivery | None:
    """Send a failed or dropped delivery again (its age counts anew); None when there is no such delivery. A
    pending one is tried at once; a delivered one is left as it is."""
    await session.execute(
        update(OutboxDelivery)
        .where(OutboxDelivery.id == delivery_id, OutboxDelivery.state != "delivered")
        .values(state="pending", queued_at=at, next_attempt_at=at)
    )
    row = (await session.execute(_DELIVERIES.where(OutboxDelivery.id == delivery_id))).one_or_none()
    return Delivery(*row) if row is not None else None


@dataclass(frozen=True, slots=True)
class TargetCount:
    target: str
    state: str
    count: int


async def counts(session: AsyncSession) -> list[TargetCount]:
    """How many pending and failed deliveries each target has."""
    stmt = (
        select(OutboxDelivery.target, OutboxDelivery.state, func.count())
        .where(OutboxDelivery.state.in_(("pending", "failed")))
        .group_by(OutboxDelivery.target, OutboxDelivery.state)
        .order_by(OutboxDelivery.target, OutboxDelivery.state)
    )
    return [TargetCount(*r) for r in await session.execute(stmt)]
