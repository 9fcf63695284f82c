"""A campaign dialer wired as the service wires it (ARI client, Stasis app, survey store), against the fake
Asterisk, with a clock the test moves by hand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.ari.client import AriClient
from ivr_survey.ari.placer import AriPlacer
from ivr_survey.ari.stasis import StasisApp
from ivr_survey.backoff import Backoff
from ivr_survey.db import campaigns
from ivr_survey.db.catalog import SurveyCatalog
from ivr_survey.db.models import CampaignAttempt, CampaignContact
from ivr_survey.db.store import SurveyStore
from ivr_survey.dialer.runner import Dialer
from ivr_survey.service.survey_run import SurveySetup
from ivr_survey.simulator.ari import FakeAsterisk
from ivr_survey.survey.timing import Timing

# A Monday, 10:00 in Moscow: inside the default calling hours.
MONDAY_10_MSK = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
TIMING = Timing(no_input_timeout=0.1, inter_digit_timeout=0.1, max_retries=0, playback_guard=1.0)


class Clock:
    """The dialer's idea of now (calling hours, retries, pacing); real time still runs the calls."""

    def __init__(self, at: datetime = MONDAY_10_MSK) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


def campaign_spec(**overrides: Any) -> campaigns.NewCampaign:
    values: dict[str, Any] = dict(
        name="Test campaign",
        survey="default",
        endpoint="Local/{number}@customers",
        caller_id="Company <74950000000>",
        concurrency=5,
        calls_per_minute=None,
        ring_timeout=8,
        max_attempts=3,
        retry_delay=1800,
        calling_hours={"from": "09:00", "to": "20:00", "timezone": "Europe/Moscow", "weekdays": [1, 2, 3, 4, 5]},
        opt_out_key="9",
    )
    values.update(overrides)
    return campaigns.NewCampaign(**values)


@dataclass
class Instance:
    """One service instance's ARI side: its client, Stasis app and dialer."""

    client: AriClient
    stasis: StasisApp
    dialer: Dialer

    async def stop(self, *, grace: float = 2.0) -> None:
        await self.dialer.stop_placing()
        await self.stasis.stop(grace=grace)
        await self.dialer.close()
        await self.client.close()

    async def crash(self) -> None:
        """Gone without a word: no hangups, no settling; the websocket just closes."""
        self.dialer._placing = False
        if self.dialer._loop is not None:
            self.dialer._loop.cancel()
        for call in list(self.stasis.calls.values()):
            call.task.cancel()
        await self.stasis.stop(grace=0)
        await self.client.close()


@dataclass
class Rig:
    fake: FakeAsterisk
    sessions: async_sessionmaker[AsyncSession]
    store: SurveyStore
    clock: Clock
    instances: list[Instance] = field(default_factory=list)

    async def instance(
        self,
        app: str = "ivr-survey",
        *,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        tick: float = 0.05,
        rounds: bool = True,
        **dialer_options: Any,
    ) -> Instance:
        """An instance; with rounds=False its dialer places calls only when the test calls run_once()."""
        client = AriClient(self.fake.base_url, "ivr-survey", "secret", app, backoff=Backoff(initial=0.05, cap=0.2))
        await client.start()
        setup = SurveySetup(self.store, SurveyCatalog(self.sessions), TIMING)
        stasis = StasisApp(client, setup)
        dialer = Dialer(
            sessions or self.sessions,
            AriPlacer(client, stasis),
            instance=app,
            clock=self.clock,
            tick=tick,
            **{"idle_tick": tick, **dialer_options},  # these tests start campaigns in the database, unannounced
        )
        stasis.outbound = dialer
        await stasis.start()
        await self.fake.wait_for_app(app)
        await asyncio.sleep(0.05)  # the listener marks itself connected once the socket is up
        await dialer.start(rounds=rounds)
        found = Instance(client, stasis, dialer)
        self.instances.append(found)
        return found

    async def campaign(self, phones: Sequence[str], *, start: bool = True, **overrides: Any) -> int:
        async with self.sessions.begin() as session:
            row = await campaigns.create_campaign(
                session, campaign_spec(**overrides), created_by="test", at=self.clock()
            )
            await campaigns.add_contacts(
                session,
                row.id,
                [campaigns.NewContact(phone=p, line=n + 2) for n, p in enumerate(phones)],
                at=self.clock(),
            )
            if start:
                await campaigns.change_state(session, row.id, "start", at=self.clock())
        return row.id

    async def command(self, campaign_id: int, command: str) -> campaigns.CampaignRow:
        async with self.sessions.begin() as session:
            return await campaigns.change_state(session, campaign_id, command, at=self.clock())

    async def get(self, campaign_id: int) -> campaigns.CampaignRow:
        async with self.sessions() as session:
            row = await campaigns.get_campaign(session, campaign_id)
        assert row is not None
        return row

    async def progress(self, campaign_id: int) -> dict[str, int]:
        async with self.sessions() as session:
            return await campaigns.progress(session, campaign_id)

    async def contacts(self, campaign_id: int) -> list[tuple[str, str, str | None, int]]:
        """(phone, state, outcome, attempts) in the order added."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(CampaignContact.phone, CampaignContact.state, CampaignContact.outcome, CampaignContact.attempts)
                .where(CampaignContact.campaign_id == campaign_id)
                .order_by(CampaignContact.id)
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]

    async def attempts(self, campaign_id: int) -> list[tuple[str, int, str | None, int | None]]:
        """(phone, number, outcome, cause) in the order placed."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(CampaignContact.phone, CampaignAttempt.number, CampaignAttempt.outcome, CampaignAttempt.cause)
                .join(CampaignContact, CampaignContact.id == CampaignAttempt.contact_id)
                .where(CampaignAttempt.campaign_id == campaign_id)
                .order_by(CampaignAttempt.id)
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]

    def originates(self) -> list[dict[str, Any]]:
        """The bodies of every POST /channels the fake answered."""
        return [r.json for r in self.fake.requests if r.method == "POST" and r.path == "/ari/channels"]

    async def settled(self, campaign_id: int, *, attempts: int = 1, within: float = 10.0) -> None:
        """Until the campaign has made at least `attempts` attempts and none of them is open."""
        async with asyncio.timeout(within):
            while True:
                async with self.sessions() as session:
                    rows = await session.execute(
                        select(CampaignAttempt.ended_at).where(CampaignAttempt.campaign_id == campaign_id)
                    )
                    ends = [end for (end,) in rows]
                if len(ends) >= attempts and all(end is not None for end in ends):
                    return
                await asyncio.sleep(0.02)


@asynccontextmanager
async def dialing_rig(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, *, speed: float = 50.0
) -> AsyncIterator[Rig]:
    async with FakeAsterisk(user="ivr-survey", password="secret", speed=speed) as fake:
        store = SurveyStore(sessions, tmp_path / "spool")
        await store.start()
        rig = Rig(fake, sessions, store, Clock())
        try:
            yield rig
        finally:
            for instance in rig.instances:
                await instance.stop(grace=1.0)
            await store.close()
