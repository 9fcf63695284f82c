"""Survey policies, versioned per queue, and the facts of a call a policy decides on: the caller's consent given
before the queue, and when the caller's number was last offered a survey."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Call, CallConsent, SurveyPolicy, SurveyResponse, utcnow


@dataclass(frozen=True, slots=True)
class PolicyRow:
    id: int
    queue: str
    version: int
    definition: dict[str, Any]
    created_at: datetime


def _row(policy: SurveyPolicy) -> PolicyRow:
    return PolicyRow(policy.id, policy.queue, policy.version, dict(policy.definition), policy.created_at)


async def latest_policy(session: AsyncSession, *, queue: str) -> PolicyRow | None:
    stmt = select(SurveyPolicy).where(SurveyPolicy.queue == queue).order_by(SurveyPolicy.version.desc()).limit(1)
    policy = (await session.execute(stmt)).scalar_one_or_none()
    return _row(policy) if policy is not None else None


async def list_policies(session: AsyncSession) -> list[PolicyRow]:
    """The newest version of every queue's policy, by queue."""
    newest = (
        select(SurveyPolicy.queue, func.max(SurveyPolicy.version).label("version"))
        .group_by(SurveyPolicy.queue)
        .subquery()
    )
    stmt = (
        select(SurveyPolicy)
        .join(newest, (newest.c.queue == SurveyPolicy.queue) & (newest.c.version == SurveyPolicy.version))
        .order_by(SurveyPolicy.queue)
    )
    return [_row(policy) for policy in (await session.execute(stmt)).scalars()]


async def save_policy(session: AsyncSession, *, queue: str, definition: dict[str, Any]) -> tuple[PolicyRow, bool]:
    """Store a new version of the queue's policy: (it, True); one equal to the newest adds nothing: (that, False).
    Past versions stay as they were: each response keeps the one it was decided under."""
    newest = await latest_policy(session, queue=queue)
    if newest is not None and newest.definition == definition:
        return newest, False
    policy = SurveyPolicy(
        queue=queue, version=(newest.version if newest else 0) + 1, definition=definition, created_at=utcnow()
    )
    session.add(policy)
    await session.flush()
    return _row(policy), True


async def stored_consent(session: AsyncSession, *, linkedid: str) -> bool | None:
    """The caller's answer to the consent prompt of this call; None when it was never asked."""
    stmt = select(CallConsent.agreed).join(Call, Call.id == CallConsent.call_id).where(Call.linkedid == linkedid)
    agreed: bool | None = (await session.execute(stmt)).scalar_one_or_none()
    return agreed


async def last_offered_at(session: AsyncSession, *, caller_number: str, since: datetime) -> datetime | None:
    """When a call from this number was last offered a survey (any queue, any status but not_offered), from
    `since` on."""
    stmt = (
        select(func.max(SurveyResponse.started_at))
        .join(Call, Call.id == SurveyResponse.call_id)
        .where(
            Call.caller_number == caller_number,
            SurveyResponse.started_at >= since,
            SurveyResponse.status != "not_offered",
        )
    )
    at: datetime | None = (await session.execute(stmt)).scalar_one_or_none()
    return at
