"""What a dialer reads and writes: campaigns to dial, contacts to claim, attempts placed and ended.

An attempt is written (in the same transaction as its contact's claim) before its call is placed, and a
contact is claimed under a row lock that other instances skip, so that a restart or a second instance on the
same PostgreSQL goes on from exactly where the first left. What an outcome means and when to retry is the
dialer's to decide; these functions only read and write what it decided."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, and_, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .campaigns import CAMPAIGN_COLUMNS, CampaignRow, campaign_row, dnc_insert
from .engine import dialect_of
from .models import Call, Campaign, CampaignAttempt, CampaignContact, DoNotCall, SurveyAnswer, SurveyResponse
from .statements import affected


def opt_out(conn: Connection, *, linkedid: str, at: datetime) -> bool:
    """The customer of a campaign call pressed the opt-out key: the number goes on the do-not-call list and the
    attempt's outcome is opted_out. A replay changes nothing and a call that is no campaign's is ignored (False)."""
    stmt = (
        select(CampaignAttempt.id, CampaignAttempt.campaign_id, CampaignContact.phone)
        .join(CampaignContact, CampaignContact.id == CampaignAttempt.contact_id)
        .where(CampaignAttempt.linkedid == linkedid)
        .order_by(CampaignAttempt.id.desc())
        .limit(1)
    )
    row = conn.execute(stmt).one_or_none()
    if row is None:
        return False
    attempt_id, campaign_id, phone = row
    conn.execute(dnc_insert(conn, phone, source="opt_out", at=at, campaign_id=campaign_id, linkedid=linkedid))
    result = conn.execute(
        update(CampaignAttempt)
        .where(CampaignAttempt.id == attempt_id, CampaignAttempt.outcome.is_distinct_from("opted_out"))
        .values(outcome="opted_out")
    )
    return bool(affected(result))


def link_attempt(
    conn: Connection, *, campaign_id: int, contact_id: int, attempt: int, linkedid: str, at: datetime
) -> str | None:
    """The survey of a campaign call began: the attempt was answered and its call is `linkedid`. Returns the
    contact's phone (the originated channel shows our caller id, not theirs), or None when no such attempt exists
    (arguments that name no attempt of ours)."""
    result = conn.execute(
        update(CampaignAttempt)
        .where(
            CampaignAttempt.campaign_id == campaign_id,
            CampaignAttempt.contact_id == contact_id,
            CampaignAttempt.number == attempt,
        )
        .values(linkedid=linkedid, answered_at=func.coalesce(CampaignAttempt.answered_at, at))
    )
    if affected(result) == 0:
        return None
    phone: str = conn.execute(select(CampaignContact.phone).where(CampaignContact.id == contact_id)).scalar_one()
    return phone


async def lock_campaign(session: AsyncSession, campaign_id: int) -> CampaignRow | None:
    """The running campaign, row-locked until the transaction ends; None when it is not running or another
    instance holds it (PostgreSQL: that instance is claiming its contacts now, and this one skips it)."""
    if dialect_of(session) == "sqlite":
        # SQLite has no row locks, and its driver begins a transaction only at the first write: without one,
        # an attempt settled (and the campaign paused) between this read and the claim would go unseen. A write
        # first takes the database's write lock, so the claim and any settling are one after the other.
        touched = await session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.state == "running")
            .values(next_dial_at=Campaign.next_dial_at)
        )
        if affected(touched) == 0:
            return None
    stmt = (
        select(*CAMPAIGN_COLUMNS)
        .where(Campaign.id == campaign_id, Campaign.state == "running")
        .with_for_update(skip_locked=True)
    )
    row = (await session.execute(stmt)).one_or_none()
    return None if row is None else campaign_row(row)


async def open_attempts_of(session: AsyncSession, campaign_id: int) -> int:
    """The campaign's calls on the line now, whichever instance placed them."""
    stmt = select(func.count()).where(CampaignAttempt.campaign_id == campaign_id, CampaignAttempt.ended_at.is_(None))
    return int((await session.execute(stmt)).scalar_one())


async def mark_blocked_contacts(session: AsyncSession, campaign_id: int) -> int:
    """Pending contacts whose number went on the do-not-call list since they were added end as dnc."""
    blocked = exists().where(DoNotCall.phone == CampaignContact.phone)
    result = await session.execute(
        update(CampaignContact)
        .where(CampaignContact.campaign_id == campaign_id, CampaignContact.state == "pending", blocked)
        .values(state="done", outcome="dnc")
        .execution_options(synchronize_session=False)
    )
    return affected(result)


@dataclass(frozen=True, slots=True)
class ContactRow:
    id: int
    campaign_id: int
    phone: str
    name: str | None
    operator: str | None
    timezone: str | None
    attempts: int
    next_attempt_at: datetime | None


async def due_contacts(session: AsyncSession, campaign_id: int, *, now: datetime, limit: int) -> list[ContactRow]:
    """Pending contacts whose next attempt is due, first due first, row-locked (others skip them)."""
    stmt = (
        select(
            CampaignContact.id,
            CampaignContact.campaign_id,
            CampaignContact.phone,
            CampaignContact.name,
            CampaignContact.operator,
            CampaignContact.timezone,
            CampaignContact.attempts,
            CampaignContact.next_attempt_at,
        )
        .where(
            CampaignContact.campaign_id == campaign_id,
            CampaignContact.state == "pending",
            (CampaignContact.next_attempt_at.is_(None)) | (CampaignContact.next_attempt_at <= now),
        )
        .order_by(CampaignContact.next_attempt_at.is_not(None), CampaignContact.next_attempt_at, CampaignContact.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [ContactRow(*row) for row in await session.execute(stmt)]


async def defer_contact(session: AsyncSession, contact_id: int, *, until: datetime) -> None:
    """Not now (outside the contact's calling hours): due again at `until`."""
    await session.execute(update(CampaignContact).where(CampaignContact.id == contact_id).values(next_attempt_at=until))


async def begin_attempt(
    session: AsyncSession,
    contact: ContactRow,
    *,
    instance: str,
    channel_id: str,
    other_channel_id: str | None,
    at: datetime,
) -> int:
    """Write the attempt and put the contact on the line, before the call is placed. Returns the attempt's
    number (1 for the first)."""
    number = contact.attempts + 1
    session.add(
        CampaignAttempt(
            campaign_id=contact.campaign_id,
            contact_id=contact.id,
            number=number,
            instance=instance,
            channel_id=channel_id,
            other_channel_id=other_channel_id,
            placed_at=at,
        )
    )
    await session.execute(
        update(CampaignContact)
        .where(CampaignContact.id == contact.id)
        .values(state="in_progress", attempts=number, last_attempt_at=at)
    )
    await session.flush()
    return number


async def release_attempt(session: AsyncSession, channel_id: str) -> None:
    """Take back an attempt written but never dialled (the service stopping between the claim and the call):
    the row goes and the contact is pending again, as if it had not been claimed."""
    row = (
        await session.execute(
            select(CampaignAttempt.id, CampaignAttempt.contact_id).where(
                CampaignAttempt.channel_id == channel_id, CampaignAttempt.ended_at.is_(None)
            )
        )
    ).one_or_none()
    if row is None:
        return
    await session.execute(delete(CampaignAttempt).where(CampaignAttempt.id == row.id))
    await session.execute(
        update(CampaignContact)
        .where(CampaignContact.id == row.contact_id, CampaignContact.state == "in_progress")
        .values(state="pending", attempts=CampaignContact.attempts - 1)
    )


async def set_next_dial(session: AsyncSession, campaign_id: int, at: datetime | None) -> None:
    await session.execute(update(Campaign).where(Campaign.id == campaign_id).values(next_dial_at=at))


@dataclass(frozen=True, slots=True)
class AttemptRow:
    id: int
    campaign_id: int
    contact_id: int
    number: int
    instance: str
    channel_id: str
    other_channel_id: str | None
    linkedid: str | None
    placed_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: str | None  # opted_out already, when the customer pressed the key
    response_status: str | None  # the survey's status, once it began
    answered_questions: int  # answers with a score


async def _attempts(session: AsyncSession, *conditions: Any) -> list[AttemptRow]:
    scored = (
        select(func.count())
        .where(SurveyAnswer.response_id == SurveyResponse.id, SurveyAnswer.score.is_not(None))
        .correlate(SurveyResponse)
        .scalar_subquery()
    )
    stmt = (
        select(
            CampaignAttempt.id,
            CampaignAttempt.campaign_id,
            CampaignAttempt.contact_id,
            CampaignAttempt.number,
            CampaignAttempt.instance,
            CampaignAttempt.channel_id,
            CampaignAttempt.other_channel_id,
            CampaignAttempt.linkedid,
            CampaignAttempt.placed_at,
            CampaignAttempt.answered_at,
            CampaignAttempt.ended_at,
            CampaignAttempt.outcome,
            SurveyResponse.status,
            func.coalesce(scored, 0),
        )
        .outerjoin(Call, Call.linkedid == CampaignAttempt.linkedid)
        .outerjoin(SurveyResponse, SurveyResponse.call_id == Call.id)
        .where(*conditions)
        .order_by(CampaignAttempt.id)
    )
    return [AttemptRow(*cast(tuple[Any, ...], row)) for row in await session.execute(stmt)]


async def attempt_by_channel(session: AsyncSession, channel_id: str) -> AttemptRow | None:
    rows = await _attempts(session, CampaignAttempt.channel_id == channel_id)
    return rows[0] if rows else None


async def open_attempts(session: AsyncSession, *, instance: str | None = None) -> list[AttemptRow]:
    """Attempts still on the line (or whose fate is not known yet): an instance's own, or everyone's."""
    conditions: list[Any] = [CampaignAttempt.ended_at.is_(None)]
    if instance is not None:
        conditions.append(CampaignAttempt.instance == instance)
    return await _attempts(session, *conditions)


async def close_attempt(
    session: AsyncSession,
    attempt: AttemptRow,
    *,
    outcome: str,
    cause: int | None,
    at: datetime,
    retry_at: datetime | None,
) -> bool:
    """End an attempt with its outcome and move its contact on: pending again from `retry_at`, or done with
    `outcome` (congestion ends a contact as failed). False when the attempt was already ended (by another
    instance or an earlier run): nothing is changed twice."""
    result = await session.execute(
        update(CampaignAttempt)
        .where(CampaignAttempt.id == attempt.id, CampaignAttempt.ended_at.is_(None))
        .values(ended_at=at, cause=cause, outcome=outcome)
    )
    if affected(result) == 0:
        return False
    values: dict[str, Any] = {"last_cause": cause}
    if retry_at is not None:
        values |= {"state": "pending", "next_attempt_at": retry_at}
    else:
        values |= {"state": "done", "outcome": "failed" if outcome == "congestion" else outcome}
    await session.execute(
        update(CampaignContact)
        .where(CampaignContact.id == attempt.contact_id, CampaignContact.state == "in_progress")
        .values(**values)
    )
    return True


async def count_failure(session: AsyncSession, campaign_id: int, *, failed: bool) -> int:
    """Count a failed attempt in a row (or reset the count on any other outcome); the count after it."""
    if failed:
        await session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(consecutive_failures=Campaign.consecutive_failures + 1)
        )
    else:
        await session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.consecutive_failures != 0)
            .values(consecutive_failures=0)
        )
    stmt = select(Campaign.consecutive_failures).where(Campaign.id == campaign_id)
    return int((await session.execute(stmt)).scalar_one())


async def pause_itself(session: AsyncSession, campaign_id: int, *, reason: str) -> bool:
    """The dialer pauses a running campaign and says why."""
    result = await session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.state == "running")
        .values(state="paused", state_reason=reason)
    )
    return affected(result) > 0


async def finish_if_done(session: AsyncSession, campaign_id: int, *, at: datetime) -> bool:
    """A running campaign none of whose contacts is pending or on the line is finished."""
    unfinished = exists().where(and_(CampaignContact.campaign_id == campaign_id, CampaignContact.state != "done"))
    result = await session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.state == "running", ~unfinished)
        .values(state="finished", ended_at=at)
    )
    return affected(result) > 0
