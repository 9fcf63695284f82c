"""Seeding campaigns and their calls for API tests, through the storage functions the service and the dialer use:
a contact claimed, its attempt written, the survey's writes of an answered call, the attempt settled."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.db import campaigns, dialing, writes
from tests.support.writing import write

ENDPOINT = "PJSIP/{number}@trunk"


def new_campaign(name: str = "November", survey: str = "default", **settings: object) -> campaigns.NewCampaign:
    fields: dict[str, object] = {
        "name": name,
        "survey": survey,
        "endpoint": ENDPOINT,
        "caller_id": None,
        "concurrency": 5,
        "calls_per_minute": None,
        "ring_timeout": 30,
        "max_attempts": 3,
        "retry_delay": 1800,
        "calling_hours": {"from": "09:00", "to": "20:00", "timezone": "Europe/Moscow", "weekdays": [1, 2, 3, 4, 5]},
        "opt_out_key": "9",
        **settings,
    }
    return campaigns.NewCampaign(**fields)  # type: ignore[arg-type]


async def make_campaign(
    sessions: async_sessionmaker[AsyncSession], phones: Sequence[str], *, at: datetime, **settings: object
) -> int:
    """A draft campaign with these contacts (named after their last digits); its id."""
    async with sessions() as s, s.begin():
        row = await campaigns.create_campaign(s, new_campaign(**settings), created_by="sue", at=at)
        contacts = [campaigns.NewContact(phone=p, line=n, name=f"C{p[-2:]}") for n, p in enumerate(phones, start=2)]
        await campaigns.add_contacts(s, row.id, contacts, at=at)
    return row.id


async def place(sessions: async_sessionmaker[AsyncSession], campaign_id: int, phone: str, *, at: datetime) -> str:
    """Claim the contact and write its next attempt, as the dialer does before it dials: the channel id."""
    async with sessions() as s, s.begin():
        due = await dialing.due_contacts(s, campaign_id, now=at, limit=10_000)
        contact = next(c for c in due if c.phone == phone)
        channel = f"c{campaign_id}-{phone}-{contact.attempts + 1}"
        await dialing.begin_attempt(s, contact, instance="test", channel_id=channel, other_channel_id=None, at=at)
    return channel


async def answer(
    sessions: async_sessionmaker[AsyncSession],
    channel: str,
    *,
    linkedid: str,
    at: datetime,
    answers: Sequence[tuple[str, float | None]],
    status: str,
    survey: str = "default",
) -> None:
    """The customer answered the attempt on `channel` and the survey ran: its writes, as the survey run makes them."""
    async with sessions() as s, s.begin():
        attempt = await dialing.attempt_by_channel(s, channel)
        assert attempt is not None
        await write(
            s,
            writes.StartResponse(
                linkedid=linkedid,
                survey=survey,
                survey_version=1,
                channel="ari",
                language="en",
                args={},
                started_at=at,
                campaign_id=attempt.campaign_id,
                contact_id=attempt.contact_id,
                attempt=attempt.number,
            ),
        )
        for position, (question, score) in enumerate(answers):
            await write(
                s,
                writes.SaveAnswer(
                    linkedid=linkedid,
                    position=position,
                    question=question,
                    digits=None if score is None else str(int(score)),
                    score=score,
                    attempts=1,
                    answered_at=at + timedelta(seconds=3 + position),
                ),
            )
        await write(s, writes.FinishResponse(linkedid=linkedid, status=status, ended_at=at + timedelta(seconds=9)))


async def settle(
    sessions: async_sessionmaker[AsyncSession],
    channel: str,
    *,
    outcome: str,
    cause: int | None,
    at: datetime,
    retry_at: datetime | None = None,
) -> None:
    """The attempt on `channel` ended: its contact is pending again from retry_at, or done."""
    async with sessions() as s, s.begin():
        attempt = await dialing.attempt_by_channel(s, channel)
        assert attempt is not None
        assert await dialing.close_attempt(s, attempt, outcome=outcome, cause=cause, at=at, retry_at=retry_at)
