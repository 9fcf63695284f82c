"""Outbound campaigns as the API and the pages see them: campaigns created and steered, their contacts added
and counted, their results, and the do-not-call list. What a dialer reads and writes is in dialing.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import (
    CONTACT_OUTCOMES,
    Call,
    Campaign,
    CampaignAttempt,
    CampaignContact,
    DoNotCall,
    Survey,
    SurveyAnswer,
    SurveyResponse,
    SurveyVersion,
)
from .statements import affected, upsert_insert

MAX_CAMPAIGN_NAME = 200
MAX_ENDPOINT = 256
MAX_CALLER_ID = 200
_CHUNK = 500  # rows per statement: far below either database's limit of bound parameters


class CampaignNotFound(LookupError):
    pass


class CampaignStateConflict(ValueError):
    """The campaign cannot go where it was asked from where it is."""

    def __init__(self, campaign_id: int, state: str, wanted: str) -> None:
        super().__init__(f"campaign {campaign_id} is {state}; it cannot be {wanted}")
        self.campaign_id = campaign_id
        self.state = state
        self.wanted = wanted


@dataclass(frozen=True, slots=True)
class CampaignRow:
    id: int
    name: str
    survey: str
    endpoint: str
    caller_id: str | None
    concurrency: int
    calls_per_minute: int | None
    ring_timeout: int
    max_attempts: int
    retry_delay: int
    calling_hours: dict[str, Any]
    opt_out_key: str | None
    state: str
    state_reason: str | None
    consecutive_failures: int
    next_dial_at: datetime | None
    created_at: datetime
    created_by: str | None
    started_at: datetime | None
    ended_at: datetime | None


CAMPAIGN_COLUMNS = tuple(getattr(Campaign, name) for name in CampaignRow.__slots__)


def campaign_row(row: Any) -> CampaignRow:
    return CampaignRow(*row)


@dataclass(frozen=True, slots=True)
class NewCampaign:
    name: str
    survey: str
    endpoint: str
    caller_id: str | None
    concurrency: int
    calls_per_minute: int | None
    ring_timeout: int
    max_attempts: int
    retry_delay: int
    calling_hours: dict[str, Any]
    opt_out_key: str | None


async def create_campaign(
    session: AsyncSession, campaign: NewCampaign, *, created_by: str | None, at: datetime
) -> CampaignRow:
    row = Campaign(
        name=campaign.name,
        survey=campaign.survey,
        endpoint=campaign.endpoint,
        caller_id=campaign.caller_id,
        concurrency=campaign.concurrency,
        calls_per_minute=campaign.calls_per_minute,
        ring_timeout=campaign.ring_timeout,
        max_attempts=campaign.max_attempts,
        retry_delay=campaign.retry_delay,
        calling_hours=campaign.calling_hours,
        opt_out_key=campaign.opt_out_key,
        state="draft",
        consecutive_failures=0,
        created_at=at,
        created_by=created_by,
    )
    session.add(row)
    await session.flush()
    created = await get_campaign(session, row.id)
    assert created is not None
    return created


async def get_campaign(session: AsyncSession, campaign_id: int) -> CampaignRow | None:
    row = (await session.execute(select(*CAMPAIGN_COLUMNS).where(Campaign.id == campaign_id))).one_or_none()
    return None if row is None else campaign_row(row)


async def list_campaigns(session: AsyncSession, *, state: str | None = None) -> list[CampaignRow]:
    """Newest first."""
    stmt = select(*CAMPAIGN_COLUMNS).order_by(Campaign.id.desc())
    if state is not None:
        stmt = stmt.where(Campaign.state == state)
    return [campaign_row(row) for row in await session.execute(stmt)]


# What each command does: the states it may come from, the state it goes to.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "start": (("draft",), "running"),
    "pause": (("running",), "paused"),
    "resume": (("paused",), "running"),
    "cancel": (("draft", "running", "paused"), "cancelled"),
}


async def change_state(
    session: AsyncSession, campaign_id: int, command: str, *, at: datetime, reason: str | None = None
) -> CampaignRow:
    """Carry out start/pause/resume/cancel, or raise CampaignNotFound / CampaignStateConflict. Resuming clears
    the reason a campaign paused itself and its count of failures in a row."""
    sources, target = TRANSITIONS[command]
    values: dict[str, Any] = {"state": target, "state_reason": reason}
    if command == "start":
        values["started_at"] = at
    elif command == "resume":
        values["consecutive_failures"] = 0
    elif command == "cancel":
        values["ended_at"] = at
    result = await session.execute(
        update(Campaign).where(Campaign.id == campaign_id, Campaign.state.in_(sources)).values(**values)
    )
    campaign = await get_campaign(session, campaign_id)
    if campaign is None:
        raise CampaignNotFound(campaign_id)
    if affected(result) == 0:
        raise CampaignStateConflict(campaign_id, campaign.state, target)
    return campaign


# --- contacts ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewContact:
    phone: str  # normalised
    line: int | None = None
    name: str | None = None
    operator: str | None = None
    timezone: str | None = None
    tags: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class AddedContacts:
    added: int
    duplicates: int  # already in the campaign (by normalised phone)
    dnc: int  # of the added ones, on the do-not-call list: kept, never dialled


async def add_contacts(
    session: AsyncSession, campaign_id: int, contacts: Sequence[NewContact], *, at: datetime
) -> AddedContacts:
    """Add contacts to a campaign that has not ended; a phone already in the campaign is a duplicate, and a
    phone on the do-not-call list is added as done with outcome dnc."""
    campaign = await get_campaign(session, campaign_id)
    if campaign is None:
        raise CampaignNotFound(campaign_id)
    if campaign.state in ("finished", "cancelled"):
        raise CampaignStateConflict(campaign_id, campaign.state, "given contacts")
    unique: dict[str, NewContact] = {}
    for contact in contacts:
        unique.setdefault(contact.phone, contact)
    phones = list(unique)
    existing: set[str] = set()
    blocked: set[str] = set()
    for start in range(0, len(phones), _CHUNK):
        chunk = phones[start : start + _CHUNK]
        existing.update(
            await session.scalars(
                select(CampaignContact.phone).where(
                    CampaignContact.campaign_id == campaign_id, CampaignContact.phone.in_(chunk)
                )
            )
        )
        blocked.update(await session.scalars(select(DoNotCall.phone).where(DoNotCall.phone.in_(chunk))))
    rows = [
        {
            "campaign_id": campaign_id,
            "line": contact.line,
            "phone": contact.phone,
            "name": contact.name,
            "operator": contact.operator,
            "timezone": contact.timezone,
            "tags": dict(contact.tags or {}),
            "state": "done" if contact.phone in blocked else "pending",
            "outcome": "dnc" if contact.phone in blocked else None,
            "attempts": 0,
            "created_at": at,
        }
        for contact in unique.values()
        if contact.phone not in existing
    ]
    for start in range(0, len(rows), _CHUNK):
        await session.execute(upsert_insert(session, CampaignContact.__table__), rows[start : start + _CHUNK])
    return AddedContacts(
        added=len(rows),
        duplicates=len(contacts) - len(rows),
        dnc=sum(row["outcome"] == "dnc" for row in rows),
    )


PROGRESS_KEYS = ("total", "pending", "in_progress", *CONTACT_OUTCOMES)


async def progress(session: AsyncSession, campaign_id: int) -> dict[str, int]:
    """Contacts per state, the done ones per final outcome; every key of PROGRESS_KEYS is present."""
    counts = dict.fromkeys(PROGRESS_KEYS, 0)
    stmt = (
        select(CampaignContact.state, CampaignContact.outcome, func.count())
        .where(CampaignContact.campaign_id == campaign_id)
        .group_by(CampaignContact.state, CampaignContact.outcome)
    )
    for state, outcome, count in await session.execute(stmt):
        counts["total"] += count
        counts[outcome if state == "done" and outcome else state] += count
    return counts


async def answered_contacts(session: AsyncSession, campaign_id: int) -> int:
    """Contacts with a final outcome other than dnc whose campaign call (any attempt's) has an answer with a
    score: the response rate's numerator."""
    scored = (
        select(CampaignAttempt.contact_id)
        .join(Call, Call.linkedid == CampaignAttempt.linkedid)
        .join(SurveyResponse, SurveyResponse.call_id == Call.id)
        .join(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id)
        .where(CampaignAttempt.campaign_id == campaign_id, SurveyAnswer.score.is_not(None))
    )
    stmt = select(func.count()).where(
        CampaignContact.campaign_id == campaign_id,
        CampaignContact.state == "done",
        CampaignContact.outcome != "dnc",
        CampaignContact.id.in_(scored),
    )
    return int((await session.execute(stmt)).scalar_one())


async def survey_questions(session: AsyncSession, survey: str) -> list[str]:
    """The question keys of a survey's stored versions: the newest version's in its order, then those only
    older versions ask."""
    stmt = (
        select(SurveyVersion.definition)
        .join(Survey, Survey.id == SurveyVersion.survey_id)
        .where(Survey.name == survey)
        .order_by(SurveyVersion.version.desc())
    )
    keys: dict[str, None] = {}
    for definition in await session.scalars(stmt):
        keys.update(dict.fromkeys(question["key"] for question in definition["questions"]))
    return list(keys)


@dataclass(frozen=True, slots=True)
class ResultAnswer:
    question: str
    score: float | None


@dataclass(frozen=True, slots=True)
class ResultRow:
    contact_id: int
    phone: str
    name: str | None
    operator: str | None
    tags: dict[str, Any]
    outcome: str | None  # None while the contact is pending or on the line
    attempts: int
    last_attempt_at: datetime | None
    last_cause: int | None
    call_id: str | None  # the linkedid of the answered call
    score: float | None  # the first question's
    answers: tuple[ResultAnswer, ...]


async def campaign_results(
    session: AsyncSession, campaign_id: int, *, after: int | None = None, limit: int | None = None
) -> list[ResultRow]:
    """One row per contact in the order they were added (keyset on the contact id), with the answers of the
    survey response its campaign call gave (the last answered attempt's, should two have been answered)."""
    # by the attempt's number, not by the linkedid: it is text, and "1733130000.99" sorts after "1733130000.100"
    answered = (
        select(CampaignAttempt.linkedid)
        .where(CampaignAttempt.contact_id == CampaignContact.id, CampaignAttempt.linkedid.is_not(None))
        .order_by(CampaignAttempt.number.desc())
        .limit(1)
        .correlate(CampaignContact)
        .scalar_subquery()
    )
    stmt = (
        select(
            CampaignContact.id,
            CampaignContact.phone,
            CampaignContact.name,
            CampaignContact.operator,
            CampaignContact.tags,
            CampaignContact.outcome,
            CampaignContact.attempts,
            CampaignContact.last_attempt_at,
            CampaignContact.last_cause,
            Call.linkedid,
            SurveyResponse.id,
            SurveyResponse.score,
        )
        .select_from(CampaignContact)
        .outerjoin(Call, Call.linkedid == answered)
        .outerjoin(SurveyResponse, SurveyResponse.call_id == Call.id)
        .where(CampaignContact.campaign_id == campaign_id)
        .order_by(CampaignContact.id)
    )
    if after is not None:
        stmt = stmt.where(CampaignContact.id > after)
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = (await session.execute(stmt)).all()
    response_ids = [row[10] for row in rows if row[10] is not None]
    answers: dict[int, list[ResultAnswer]] = {}
    for start in range(0, len(response_ids), _CHUNK):
        stmt_answers = (
            select(SurveyAnswer.response_id, SurveyAnswer.question, SurveyAnswer.score)
            .where(SurveyAnswer.response_id.in_(response_ids[start : start + _CHUNK]))
            .order_by(SurveyAnswer.response_id, SurveyAnswer.position)
        )
        for response_id, question, score in await session.execute(stmt_answers):
            answers.setdefault(response_id, []).append(ResultAnswer(question, score))
    return [
        ResultRow(
            contact_id=row[0],
            phone=row[1],
            name=row[2],
            operator=row[3],
            tags=row[4] or {},
            outcome=row[5],
            attempts=row[6],
            last_attempt_at=row[7],
            last_cause=row[8],
            call_id=row[9],
            score=row[11],
            answers=tuple(answers.get(row[10], ())) if row[10] is not None else (),
        )
        for row in rows
    ]


# --- the do-not-call list -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DncRow:
    phone: str
    source: str  # api or opt_out
    added_at: datetime
    added_by: str | None
    campaign_id: int | None
    call_id: str | None  # the linkedid of the call in which the customer opted out


_DNC_COLUMNS = (
    DoNotCall.phone,
    DoNotCall.source,
    DoNotCall.added_at,
    DoNotCall.added_by,
    DoNotCall.campaign_id,
    DoNotCall.linkedid,
)


async def list_dnc(session: AsyncSession, *, after: str | None = None, limit: int | None = None) -> list[DncRow]:
    """In the order of the numbers (keyset on the phone)."""
    stmt = select(*_DNC_COLUMNS).order_by(DoNotCall.phone)
    if after is not None:
        stmt = stmt.where(DoNotCall.phone > after)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [DncRow(*row) for row in await session.execute(stmt)]


async def get_dnc(session: AsyncSession, phone: str) -> DncRow | None:
    row = (await session.execute(select(*_DNC_COLUMNS).where(DoNotCall.phone == phone))).one_or_none()
    return None if row is None else DncRow(*row)


async def add_dnc(
    session: AsyncSession,
    phone: str,
    *,
    source: str,
    at: datetime,
    added_by: str | None = None,
) -> bool:
    """Put a number on the list; False when it was already there (the first entry stays, for the audit)."""
    stmt = dnc_insert(session, phone, source=source, at=at, added_by=added_by)
    return affected(await session.execute(stmt)) > 0


def dnc_insert(
    bind: AsyncSession | Connection,
    phone: str,
    *,
    source: str,
    at: datetime,
    added_by: str | None = None,
    campaign_id: int | None = None,
    linkedid: str | None = None,
) -> Any:
    """The statement that puts a number on the list unless it is there already."""
    stmt = upsert_insert(bind, DoNotCall.__table__).values(
        phone=phone, source=source, added_at=at, added_by=added_by, campaign_id=campaign_id, linkedid=linkedid
    )
    return stmt.on_conflict_do_nothing(index_elements=["phone"])


async def remove_dnc(session: AsyncSession, phone: str) -> bool:
    """Take a number off the list (contacts already ended as dnc stay so); False when it was not on it."""
    result = await session.execute(delete(DoNotCall).where(DoNotCall.phone == phone))
    return affected(result) > 0
