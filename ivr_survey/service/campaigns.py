"""Outbound campaigns as the API and the Campaigns page share them: a campaign created from checked settings,
contacts uploaded as CSV, steered, viewed with its progress and response rate, its results, and the do-not-call
list. Every refusal is a Refused with a stable code; db/campaigns.py stores what is decided here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ..db import campaigns as db
from ..db.campaigns import CampaignRow, DncRow, NewCampaign, NewContact, ResultRow
from ..db.catalog import stored_survey
from ..db.models import CONTACT_OUTCOMES
from ..db.ratings import RatingFilter
from ..db.summary import with_period
from ..survey.definition import opt_out_conflict
from .calling_hours import CallingHours, ScheduleError
from .contacts_csv import ContactsError, parse_contacts
from .phones import PhoneError, mask_phone, normalize_phone
from .refusals import Refused, invalid

log = logging.getLogger(__name__)

# The settings' bounds, (lowest, highest): what a campaign may ask of the PBX and of its customers.
BOUNDS: Mapping[str, tuple[int, int]] = {
    "concurrency": (1, 200),
    "calls_per_minute": (1, 600),
    "ring_timeout": (5, 300),  # seconds
    "max_attempts": (1, 20),
    "retry_delay": (0, 7 * 24 * 3600),  # seconds
}
OPT_OUT_KEYS = (*"0123456789", "*", "#")
MAX_SURVEY_NAME = 64  # campaigns.survey
MAX_CONTACTS = 100_000  # rows of one upload; a longer list goes in several
# Tech/resource with {number} once: PJSIP/{number}@trunk, Local/{number}@customers, SIP/trunk/{number}
_ENDPOINT = re.compile(r"[A-Za-z][A-Za-z0-9_]*/[^\s,]+")
NUMBER = "{number}"


def endpoint_problem(endpoint: str) -> str | None:
    """Why a dial pattern is not one, or None."""
    if len(endpoint) > db.MAX_ENDPOINT:
        return f"is longer than {db.MAX_ENDPOINT} characters"
    if endpoint.count(NUMBER) != 1 or not _ENDPOINT.fullmatch(endpoint):
        return "must look like Tech/resource with {number} once, e.g. PJSIP/{number}@trunk or Local/{number}@customers"
    return None


def calling_hours(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """Calling hours as stored: every key given, the defaults for the rest. Raises Refused naming the field."""
    try:
        return CallingHours.parse(raw).as_dict()
    except ScheduleError as exc:
        raise invalid(exc.field, str(exc)) from None


async def create_campaign(
    session: AsyncSession, campaign: NewCampaign, *, created_by: str | None, at: datetime
) -> CampaignRow:
    """A draft campaign of settings checked field by field (the API's body, the page's form); here what only the
    database can tell: the survey is stored, and the opt-out key takes no answer from its questions."""
    survey = await stored_survey(session, campaign.survey)
    if survey is None:
        raise invalid("survey", f"no survey {campaign.survey!r} is stored; add it first (ivr-survey survey add FILE)")
    if campaign.opt_out_key is not None:
        question = opt_out_conflict(survey, campaign.opt_out_key)
        if question is not None:
            raise Refused(
                "invalid_parameter",
                f"opt_out_key {campaign.opt_out_key} starts an answer to question {question!r} of survey "
                f"{campaign.survey!r}; choose another key, or send opt_out_key: null for no opt-out",
                {"parameter": "opt_out_key", "question": question},
            )
    row = await db.create_campaign(session, campaign, created_by=created_by, at=at)
    log.info("campaign %d (%s) created by %s", row.id, row.survey, created_by)
    return row


def _not_found(campaign_id: int) -> Refused:
    return Refused("not_found", f"no campaign {campaign_id}", {"campaign": campaign_id})


def _state_conflict(exc: db.CampaignStateConflict, why: str) -> Refused:
    message = f"campaign {exc.campaign_id} is {exc.state}; {why}"
    return Refused("campaign_state", message, {"state": exc.state, "wanted": exc.wanted})


_ENDED = "contacts are added until a campaign is finished or cancelled"


async def get_campaign(session: AsyncSession, campaign_id: int) -> CampaignRow:
    campaign = await db.get_campaign(session, campaign_id)
    if campaign is None:
        raise _not_found(campaign_id)
    return campaign


async def steer(session: AsyncSession, campaign_id: int, command: str, *, at: datetime) -> CampaignRow:
    """start, pause, resume or cancel; a campaign with no contacts does not start."""
    campaign = await get_campaign(session, campaign_id)
    if command == "start" and campaign.state == "draft" and (await db.progress(session, campaign_id))["total"] == 0:
        raise Refused(
            "no_contacts",
            f"campaign {campaign_id} has no contacts; upload them first (POST /campaigns/{campaign_id}/contacts)",
            {"campaign": campaign_id},
        )
    try:
        row = await db.change_state(session, campaign_id, command, at=at)
    except db.CampaignStateConflict as exc:
        sources = db.TRANSITIONS[command][0]
        raise _state_conflict(exc, f"{command} is for a campaign that is {' or '.join(sources)}") from None
    log.info("campaign %d: %s, now %s", campaign_id, command, row.state)
    return row


@dataclass(frozen=True, slots=True)
class RejectedLine:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class Upload:
    added: int
    duplicates: int  # repeated in the file, or already in the campaign
    dnc: int  # of the added, on the do-not-call list: kept, never dialled
    rejected: list[RejectedLine]


async def upload_contacts(
    session: AsyncSession, campaign_id: int, data: bytes, *, default_country: str | None, at: datetime
) -> Upload:
    """A CSV of contacts added to a campaign that has not ended: the good rows are kept, the bad ones named by
    line; a file that is no contacts list at all (empty, no phone column) is refused whole."""
    campaign = await get_campaign(session, campaign_id)
    if campaign.state in ("finished", "cancelled"):  # before reading the file: nothing of it could be used
        raise _state_conflict(db.CampaignStateConflict(campaign_id, campaign.state, "given contacts"), _ENDED)
    try:
        # seconds of work for a long file: off the event loop, where calls are being surveyed
        parsed = await asyncio.to_thread(parse_contacts, data, default_country=default_country, max_rows=MAX_CONTACTS)
    except ContactsError as exc:
        raise invalid("body", str(exc)) from None
    contacts = [
        NewContact(
            phone=row.phone,
            line=row.line,
            name=row.name,
            operator=row.operator,
            timezone=row.timezone,
            tags=row.tags,
        )
        for row in parsed.contacts
    ]
    try:
        added = await db.add_contacts(session, campaign_id, contacts, at=at)
    except db.CampaignStateConflict as exc:  # ended meanwhile
        raise _state_conflict(exc, _ENDED) from None
    rejected = [RejectedLine(row.line, row.reason) for row in parsed.rejected]
    log.info(
        "campaign %d: %d contacts added (%d duplicates, %d on the do-not-call list, %d rows rejected)",
        campaign_id,
        added.added,
        parsed.duplicates + added.duplicates,
        added.dnc,
        len(rejected),
    )
    return Upload(added.added, parsed.duplicates + added.duplicates, added.dnc, rejected)


@dataclass(frozen=True, slots=True)
class CampaignView:
    campaign: CampaignRow
    progress: dict[str, int]  # every key of db.campaigns.PROGRESS_KEYS
    response_rate: float | None  # see campaign_view


async def campaign_view(session: AsyncSession, campaign: CampaignRow) -> CampaignView:
    """The campaign with its progress and its response rate: the contacts that answered at least one question
    (a score stored) over the contacts with a final outcome other than dnc; None before any has one."""
    counts = await db.progress(session, campaign.id)
    reached = sum(counts[outcome] for outcome in CONTACT_OUTCOMES if outcome != "dnc")
    answered = await db.answered_contacts(session, campaign.id) if reached else 0
    return CampaignView(campaign, counts, round(answered / reached, 4) if reached else None)


def summary_filter(campaign: CampaignRow, *, date_from: datetime | None, date_to: datetime) -> RatingFilter:
    """The campaign's answers for the summaries, over its survey's scales; from its creation unless told (raises
    PeriodTooLong as every summary does)."""
    start = date_from or min(campaign.created_at, date_to)
    return with_period(RatingFilter(campaign=campaign.id, survey=campaign.survey, date_from=start, date_to=date_to))


def sees_phones(role: str | None) -> bool:
    """Whether a viewer sees customers' numbers in full: supervisors and admins, who call and steer campaigns.
    A customer list is personal data; analysts read the answers with the numbers masked."""
    return role in ("supervisor", "admin")


async def results(
    session: AsyncSession,
    campaign_id: int,
    *,
    after: int | None = None,
    limit: int | None = None,
    full_phones: bool = True,
) -> list[ResultRow]:
    await get_campaign(session, campaign_id)
    rows = await db.campaign_results(session, campaign_id, after=after, limit=limit)
    return rows if full_phones else [replace(row, phone=mask_phone(row.phone)) for row in rows]


# --- the do-not-call list ---


def _phone(raw: str, default_country: str | None) -> str:
    try:
        return normalize_phone(raw, default_country)
    except PhoneError as exc:
        raise invalid("phone", f"phone: {exc}") from None


async def add_dnc(
    session: AsyncSession, raw_phone: str, *, default_country: str | None, by: str | None, at: datetime
) -> tuple[DncRow, bool]:
    """The number (normalised) on the list, and whether this put it there (False: it already was)."""
    phone = _phone(raw_phone, default_country)
    created = await db.add_dnc(session, phone, source="api", at=at, added_by=by)
    row = await db.get_dnc(session, phone)
    assert row is not None
    if created:
        log.info("%s put on the do-not-call list by %s", mask_phone(phone), by)
    return row, created


async def remove_dnc(session: AsyncSession, raw_phone: str, *, default_country: str | None, by: str | None) -> None:
    """Take a number off the list, as stored or as it normalises (a number stored before the default country was
    set keeps its old form); Refused not_found when it is on it in neither."""
    candidates = [raw_phone]
    with contextlib.suppress(PhoneError):  # a number that does not normalise may still be stored as it is
        candidates.append(normalize_phone(raw_phone, default_country))
    for phone in dict.fromkeys(candidates):
        if await db.remove_dnc(session, phone):
            log.info("%s taken off the do-not-call list by %s", mask_phone(phone), by)
            return
    raise Refused("not_found", "the number is not on the do-not-call list", {"phone": raw_phone})
