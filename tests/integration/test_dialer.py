"""The campaign dialer against the fake Asterisk (its originates replay originate-outcomes.jsonl): what each
outcome does to an attempt and its contact, the limits it keeps (concurrency, pacing, calling hours, retries),
the opt-out key, and what a restart finds."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.db import campaigns
from ivr_survey.db.engine import create_engine, create_sessionmaker
from ivr_survey.db.models import DoNotCall, SurveyResponse
from ivr_survey.service.outbound import PlacerUnavailable
from ivr_survey.simulator.ari import FakeAsterisk
from tests.support.dialing import Rig, campaign_spec, dialing_rig
from tests.support.waiting import wait_until


@pytest.fixture
async def rig(sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> AsyncIterator[Rig]:
    async with dialing_rig(sessions, tmp_path) as found:
        yield found


class Customers:
    """The far ends that answer: each presses its keys once the first prompt starts."""

    def __init__(self, fake: FakeAsterisk, keys: dict[str, str]) -> None:
        self.fake = fake
        self.keys = keys
        self.events = fake.subscribe(None)
        self.task = asyncio.create_task(self._run())
        self._pressing: set[asyncio.Task[None]] = set()

    async def _run(self) -> None:
        seen: set[str] = set()
        while True:
            event = await self.events.get()
            if event["type"] != "PlaybackStarted":
                continue
            channel_id = event["playback"]["target_uri"].removeprefix("channel:")
            if channel_id in seen:
                continue
            seen.add(channel_id)
            name = event.get("channel", {}).get("name") or self._name(channel_id)
            phone = name.split("/", 1)[1].split("@", 1)[0]
            if phone in self.keys:
                task = asyncio.create_task(self.fake.press(channel_id, self.keys[phone]))
                self._pressing.add(task)

    def _name(self, channel_id: str) -> str:
        channel = self.fake._channels.get(channel_id)
        return channel.name if channel is not None else "?/?@?"

    def close(self) -> None:
        self.task.cancel()
        for task in self._pressing:
            task.cancel()


async def responses(rig: Rig) -> list[tuple[Any, ...]]:
    async with rig.sessions() as session:
        rows = await session.execute(
            select(SurveyResponse.campaign_id, SurveyResponse.status, SurveyResponse.score).order_by(SurveyResponse.id)
        )
        return [tuple(r) for r in rows]


async def test_answered_call_runs_the_survey_and_stores_the_answer(rig: Rig) -> None:
    customers = Customers(rig.fake, {"+79161230001": "4"})
    await rig.instance()
    campaign_id = await rig.campaign(["+79161230001"])
    await rig.settled(campaign_id)
    customers.close()
    assert await rig.contacts(campaign_id) == [("+79161230001", "done", "completed", 1)]
    assert await rig.attempts(campaign_id) == [("+79161230001", 1, "completed", 16)]
    assert await responses(rig) == [(campaign_id, "completed", 4.0)]
    [originate] = rig.originates()
    assert originate["endpoint"] == "Local/+79161230001@customers"
    assert originate["callerId"] == "Company <74950000000>"
    assert originate["timeout"] == 8
    assert originate["appArgs"].startswith(f"campaign={campaign_id},contact=")
    async with rig.sessions() as session:
        [row] = await campaigns.campaign_results(session, campaign_id)
    assert (row.phone, row.outcome, row.attempts, row.score) == ("+79161230001", "completed", 1, 4.0)
    assert row.answers == (campaigns.ResultAnswer("rating", 4.0),)
    assert (await rig.get(campaign_id)).state == "finished"


@pytest.mark.parametrize(
    ("outcome", "attempt_outcome", "cause", "final"),
    [
        ("busy", "busy", 17, "busy"),
        ("noanswer", "no_answer", 19, "no_answer"),
        ("congestion", "congestion", 34, "failed"),
    ],
)
async def test_unanswered_calls_are_retried_after_the_delay_up_to_max_attempts(
    rig: Rig, outcome: str, attempt_outcome: str, cause: int, final: str
) -> None:
    phone = "+79161230002"
    rig.fake.script_endpoint(f"Local/{phone}@customers", outcome)  # type: ignore[arg-type]
    instance = await rig.instance(rounds=False)
    campaign_id = await rig.campaign([phone], max_attempts=2, retry_delay=600, ring_timeout=1)
    assert await instance.dialer.run_once() == 1
    await rig.settled(campaign_id)
    assert await rig.attempts(campaign_id) == [(phone, 1, attempt_outcome, cause)]
    assert await rig.contacts(campaign_id) == [(phone, "pending", None, 1)]
    rig.clock.advance(seconds=599)
    assert await instance.dialer.run_once() == 0  # not before the delay
    rig.clock.advance(seconds=1)
    assert await instance.dialer.run_once() == 1
    await rig.settled(campaign_id)
    assert await rig.attempts(campaign_id) == [(phone, 1, attempt_outcome, cause), (phone, 2, attempt_outcome, cause)]
    assert await rig.contacts(campaign_id) == [(phone, "done", final, 2)]
    assert (await rig.get(campaign_id)).state == "finished"
    # what /metrics reads (ivr_survey_campaign_attempts_total)
    await wait_until(lambda: instance.dialer.outcomes == Counter({attempt_outcome: 2}), "both attempts counted")


async def test_an_endpoint_that_does_not_exist_fails_at_once_and_is_not_retried(rig: Rig) -> None:
    await rig.instance()
    campaign_id = await rig.campaign(["+79161230003"], endpoint="Bogus/{number}")
    await rig.settled(campaign_id)
    assert await rig.attempts(campaign_id) == [("+79161230003", 1, "failed", None)]
    assert await rig.contacts(campaign_id) == [("+79161230003", "done", "failed", 1)]


async def test_answered_without_a_key_is_no_input(rig: Rig) -> None:
    await rig.instance()
    campaign_id = await rig.campaign(["+79161230004"])
    await rig.settled(campaign_id)
    assert await rig.contacts(campaign_id) == [("+79161230004", "done", "no_input", 1)]
    assert await responses(rig) == [(campaign_id, "no_input", None)]


async def test_a_round_fills_every_free_slot_and_no_more(rig: Rig) -> None:
    phones = [f"+7916123{n:04d}" for n in range(15)]
    for phone in phones:
        rig.fake.script_endpoint(f"Local/{phone}@customers", "busy", ring=30.0)  # still ringing at the end
    instance = await rig.instance(rounds=False)
    campaign_id = await rig.campaign(phones, concurrency=10, max_attempts=1)
    assert await instance.dialer.run_once() == 10
    assert await instance.dialer.run_once() == 0  # every slot taken
    assert len(rig.originates()) == 10
    assert rig.fake.originated_peak == 10
    assert (await rig.progress(campaign_id))["pending"] == 5


async def test_never_more_than_concurrency_calls_at_once(rig: Rig) -> None:
    # Whether all ten slots are ever full at one instant depends on how fast this machine is; the
    # test above shows a round fills them. This one shows the ceiling holds while calls come and go.
    phones = [f"+7916123{n:04d}" for n in range(200)]
    for phone in phones:
        rig.fake.script_endpoint(f"Local/{phone}@customers", "busy", ring=1.0)
    await rig.instance()
    campaign_id = await rig.campaign(phones, concurrency=10, max_attempts=1)
    await rig.settled(campaign_id, attempts=200, within=60)
    assert 1 <= rig.fake.originated_peak <= 10
    assert len(rig.originates()) == 200
    assert (await rig.progress(campaign_id))["busy"] == 200


async def test_pacing_places_no_call_before_its_turn(rig: Rig) -> None:
    phones = [f"+7916124{n:04d}" for n in range(3)]
    for phone in phones:
        rig.fake.script_endpoint(f"Local/{phone}@customers", "busy")
    instance = await rig.instance(rounds=False)
    await rig.campaign(phones, concurrency=5, calls_per_minute=6, max_attempts=1)
    await instance.dialer.run_once()
    await wait_until(lambda: len(rig.originates()) == 1, "the first call")
    assert await instance.dialer.run_once() == 0
    rig.clock.advance(seconds=9)
    assert await instance.dialer.run_once() == 0
    rig.clock.advance(seconds=1)
    assert await instance.dialer.run_once() == 1
    assert len(rig.originates()) == 2


async def test_calling_hours_in_the_contacts_own_zone(rig: Rig) -> None:
    async with rig.sessions.begin() as session:
        row = await campaigns.create_campaign(session, campaign_spec(max_attempts=1), created_by="test", at=rig.clock())
        await campaigns.add_contacts(
            session,
            row.id,
            [
                campaigns.NewContact(phone="+79161250001"),
                campaigns.NewContact(phone="+79241250002", timezone="Asia/Vladivostok"),
            ],
            at=rig.clock(),
        )
        await campaigns.change_state(session, row.id, "start", at=rig.clock())
    for phone in ("+79161250001", "+79241250002"):
        rig.fake.script_endpoint(f"Local/{phone}@customers", "busy")
    # Monday 12:00 UTC: 15:00 in Moscow, 22:00 in Vladivostok
    rig.clock.advance(hours=5)
    instance = await rig.instance(rounds=False)
    await instance.dialer.run_once()
    await rig.settled(row.id)
    assert [a[0] for a in await rig.attempts(row.id)] == ["+79161250001"]
    # Tuesday 08:59 in Vladivostok is Monday 22:59 UTC: not yet; 09:00 is
    rig.clock.advance(hours=10, minutes=59)
    assert await instance.dialer.run_once() == 0
    rig.clock.advance(minutes=1)
    assert await instance.dialer.run_once() == 1
    await rig.settled(row.id)
    assert [a[0] for a in await rig.attempts(row.id)] == ["+79161250001", "+79241250002"]


async def test_no_calls_on_a_weekend(rig: Rig) -> None:
    rig.clock.advance(days=5)  # Saturday
    instance = await rig.instance(rounds=False)
    await rig.campaign(["+79161260001"])
    assert await instance.dialer.run_once() == 0
    assert rig.originates() == []
    rig.clock.advance(days=2)  # Monday again
    assert await instance.dialer.run_once() == 1


async def test_pause_resume_cancel(rig: Rig) -> None:
    phones = [f"+7916127{n:04d}" for n in range(3)]
    for phone in phones:
        rig.fake.script_endpoint(f"Local/{phone}@customers", "busy")
    instance = await rig.instance(rounds=False)
    campaign_id = await rig.campaign(phones, concurrency=1, max_attempts=1)
    assert await instance.dialer.run_once() == 1
    await rig.settled(campaign_id)
    await rig.command(campaign_id, "pause")
    assert await instance.dialer.run_once() == 0
    await rig.command(campaign_id, "resume")
    assert await instance.dialer.run_once() == 1
    await rig.settled(campaign_id)
    await rig.command(campaign_id, "cancel")
    assert await instance.dialer.run_once() == 0
    assert await rig.progress(campaign_id) == {
        "total": 3,
        "pending": 1,
        "in_progress": 0,
        "completed": 0,
        "partial": 0,
        "no_input": 0,
        "opted_out": 0,
        "no_answer": 0,
        "busy": 2,
        "failed": 0,
        "dnc": 0,
    }


async def test_the_opt_out_key_puts_the_number_on_the_do_not_call_list(rig: Rig) -> None:
    customers = Customers(rig.fake, {"+79161280001": "9"})
    await rig.instance()
    other = await rig.campaign(["+79161280001"], start=False, name="Later")
    campaign_id = await rig.campaign(["+79161280001"])
    await rig.settled(campaign_id)
    customers.close()
    assert await rig.contacts(campaign_id) == [("+79161280001", "done", "opted_out", 1)]
    async with rig.sessions() as session:
        rows = (await session.execute(select(DoNotCall.phone, DoNotCall.source, DoNotCall.campaign_id))).all()
    assert [tuple(r) for r in rows] == [("+79161280001", "opt_out", campaign_id)]
    # the other campaign never dials the number
    await rig.command(other, "start")
    await rig.instances[0].dialer.run_once()
    assert await rig.contacts(other) == [("+79161280001", "done", "dnc", 0)]
    assert len(rig.originates()) == 1


async def test_a_number_on_the_list_is_kept_but_never_dialled(rig: Rig) -> None:
    async with rig.sessions.begin() as session:
        await campaigns.add_dnc(session, "+79161290001", source="api", at=rig.clock())
    instance = await rig.instance(rounds=False)
    campaign_id = await rig.campaign(["+79161290001", "+79161290002"], max_attempts=1)
    rig.fake.script_endpoint("Local/+79161290002@customers", "busy")
    await instance.dialer.run_once()
    await rig.settled(campaign_id)
    assert await rig.contacts(campaign_id) == [
        ("+79161290001", "done", "dnc", 0),
        ("+79161290002", "done", "busy", 1),
    ]
    assert [o["endpoint"] for o in rig.originates()] == ["Local/+79161290002@customers"]


async def test_a_run_of_failures_pauses_the_campaign_and_says_why(rig: Rig) -> None:
    phones = [f"+7916130{n:04d}" for n in range(5)]
    await rig.instance(failure_limit=3)
    campaign_id = await rig.campaign(phones, endpoint="Bogus/{number}", concurrency=1)
    await wait_until_state(rig, campaign_id, "paused")
    campaign = await rig.get(campaign_id)
    assert campaign.state_reason == "3 attempts in a row failed (the last: failed, cause None); check the endpoint"
    assert len(rig.originates()) == 3
    assert (await rig.progress(campaign_id))["pending"] == 2


async def wait_until_state(rig: Rig, campaign_id: int, state: str) -> None:
    async with asyncio.timeout(10):
        while (await rig.get(campaign_id)).state != state:
            await asyncio.sleep(0.02)


async def test_a_restart_mid_campaign_dials_nothing_twice(rig: Rig) -> None:
    ringing = [f"+7916131{n:04d}" for n in range(3)]
    for phone in ringing:
        rig.fake.script_endpoint(f"Local/{phone}@customers", "noanswer")
    first = await rig.instance()
    campaign_id = await rig.campaign(ringing, max_attempts=2, ring_timeout=20)
    await wait_until(lambda: first.dialer.calls_in_progress == 3, "three calls ringing")
    await first.crash()
    rig.instances.remove(first)
    # While no instance runs, one of the calls ends unheard.
    gone = next(c for c in rig.fake._channels.values() if ringing[0] in c.name and c.local_half == 1)
    rig.fake._destroy(gone.peer, 19)  # type: ignore[arg-type]
    rig.fake._destroy(gone, 19)
    await rig.instance()
    await rig.settled(campaign_id, within=30)
    # the gone call counted as one failed attempt; the others ended as their channels did (no answer)
    assert sorted(await rig.attempts(campaign_id)) == sorted(
        [(ringing[0], 1, "failed", None), (ringing[1], 1, "no_answer", 19), (ringing[2], 1, "no_answer", 19)]
    )
    channel_ids = [o["channelId"] for o in rig.originates()]
    assert len(channel_ids) == len(set(channel_ids)) == 3


async def test_stopping_hangs_up_ringing_calls_and_the_next_run_calls_them_again(rig: Rig) -> None:
    phones = [f"+7916132{n:04d}" for n in range(2)]
    for phone in phones:
        rig.fake.script_endpoint(f"Local/{phone}@customers", "noanswer")
    first = await rig.instance()
    campaign_id = await rig.campaign(phones, max_attempts=1, ring_timeout=60)
    await wait_until(lambda: first.dialer.calls_in_progress == 2, "two calls ringing")
    await first.stop()
    rig.instances.remove(first)
    await rig.settled(campaign_id, attempts=2)
    # cut short by us: not the customers' doing, so they are called again at once, their last attempt or not
    assert sorted(await rig.attempts(campaign_id)) == [(phones[0], 1, "no_answer", 16), (phones[1], 1, "no_answer", 16)]
    assert await rig.contacts(campaign_id) == [(phones[0], "pending", None, 1), (phones[1], "pending", None, 1)]
    await rig.instance()
    await wait_until(lambda: len(rig.originates()) == 4, "the two calls placed again")
    assert [o["channelId"] for o in rig.originates()] == [
        "ivr-survey-dial-1-1",
        "ivr-survey-dial-2-1",
        "ivr-survey-dial-1-2",
        "ivr-survey-dial-2-2",
    ]


async def test_two_dialers_on_one_database_dial_each_contact_once(rig: Rig, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several dialers share a campaign on PostgreSQL (row locks); on SQLite one dialer runs")
    engine = create_engine(database_url)
    try:
        phones = [f"+7916133{n:04d}" for n in range(100)]
        for phone in phones:
            rig.fake.script_endpoint(f"Local/{phone}@customers", "busy", ring=1.0)
        a = await rig.instance("ivr-survey-a")
        b = await rig.instance("ivr-survey-b", sessions=create_sessionmaker(engine))
        campaign_id = await rig.campaign(phones, concurrency=10, max_attempts=1)
        await rig.settled(campaign_id, attempts=100, within=60)
        attempts = await rig.attempts(campaign_id)
        assert sorted(phone for phone, *_ in attempts) == phones  # each contact once
        assert {(number, outcome, cause) for _, number, outcome, cause in attempts} == {(1, "busy", 17)}
        assert rig.fake.originated_peak <= 10
        by_app = [o["app"] for o in rig.originates()]
        assert len(by_app) == 100
        assert by_app.count("ivr-survey-a") > 0 and by_app.count("ivr-survey-b") > 0
        assert a.dialer.calls_in_progress == b.dialer.calls_in_progress == 0
    finally:
        for instance in rig.instances[:]:
            await instance.stop(grace=1.0)
            rig.instances.remove(instance)
        await engine.dispose()


async def test_calls_lost_in_a_restart_do_not_pause_the_campaign(rig: Rig) -> None:
    phones = [f"+7916134{n:04d}" for n in range(3)]
    for phone in phones:
        rig.fake.script_endpoint(f"Local/{phone}@customers", "noanswer")
    first = await rig.instance()
    campaign_id = await rig.campaign(phones, ring_timeout=60)
    await wait_until(lambda: first.dialer.calls_in_progress == 3, "three calls ringing")
    await first.crash()
    rig.instances.remove(first)
    for channel in [c for c in rig.fake._channels.values() if c.local_half == 1]:
        rig.fake._destroy(channel.peer, 19)  # type: ignore[arg-type]
        rig.fake._destroy(channel, 19)
    await rig.instance(failure_limit=2)
    await rig.settled(campaign_id, attempts=3)
    assert {a[2] for a in await rig.attempts(campaign_id)} == {"failed"}
    campaign = await rig.get(campaign_id)
    assert (campaign.state, campaign.consecutive_failures) == ("running", 0)
    assert await rig.contacts(campaign_id) == [(phone, "pending", None, 1) for phone in phones]


class SlowPlacer:
    """The ARI placer, with every originate held until the test lets it go (or made to look timed out)."""

    def __init__(self, placer: Any) -> None:
        self.placer = placer
        self.gate = asyncio.Event()
        self.placed = 0
        self.time_out = False

    @property
    def connected(self) -> bool:
        return bool(self.placer.connected)

    async def place(self, call: Any) -> None:
        await self.gate.wait()
        await self.placer.place(call)
        self.placed += 1
        if self.time_out:  # the call went out, but its answer never came back
            raise PlacerUnavailable("no answer within 5s")

    async def hang_up(self, channel_id: str) -> None:
        await self.placer.hang_up(channel_id)

    async def channel_exists(self, channel_id: str) -> bool | None:
        return bool(await self.placer.channel_exists(channel_id))


async def test_an_originate_whose_answer_was_lost_is_followed_not_dialled_again(rig: Rig) -> None:
    customers = Customers(rig.fake, {"+79161350001": "5"})
    instance = await rig.instance(rounds=False)
    slow = SlowPlacer(instance.dialer.placer)
    slow.time_out = True
    slow.gate.set()
    instance.dialer.placer = slow
    campaign_id = await rig.campaign(["+79161350001"])
    assert await instance.dialer.run_once() == 1
    await rig.settled(campaign_id)
    customers.close()
    assert await rig.contacts(campaign_id) == [("+79161350001", "done", "completed", 1)]
    assert len(rig.originates()) == 1


async def test_stopping_mid_round_gives_back_the_contacts_not_dialled_yet(rig: Rig) -> None:
    phones = [f"+7916136{n:04d}" for n in range(4)]
    for phone in phones:
        rig.fake.script_endpoint(f"Local/{phone}@customers", "noanswer")
    instance = await rig.instance(rounds=False)
    slow = SlowPlacer(instance.dialer.placer)
    instance.dialer.placer = slow
    campaign_id = await rig.campaign(phones, ring_timeout=60)
    round_ = asyncio.create_task(instance.dialer.run_once())
    async with asyncio.timeout(10):
        while len(await rig.attempts(campaign_id)) < 4:  # claimed, the first originate held at the gate
            await asyncio.sleep(0.01)
    stopping = asyncio.create_task(instance.dialer.stop_placing())
    await asyncio.sleep(0.05)
    slow.gate.set()  # the first originate goes out; the service is stopping, so the rest are not dialled
    assert await round_ == 1
    await stopping
    await rig.settled(campaign_id)
    contacts = await rig.contacts(campaign_id)
    assert contacts[0] == (phones[0], "pending", None, 1)  # rang, cut short by the stop: called again at once
    assert contacts[1:] == [(phone, "pending", None, 0) for phone in phones[1:]]
    assert len(await rig.attempts(campaign_id)) == 1


async def test_an_end_lost_with_the_websocket_is_found_when_it_is_back(rig: Rig) -> None:
    customers = Customers(rig.fake, {})
    instance = await rig.instance(recheck=0.5)
    campaign_id = await rig.campaign(["+79161370001"])
    await wait_until(lambda: instance.dialer.calls_in_progress == 1 and bool(rig.fake.live_channels), "the call")
    async with asyncio.timeout(10):
        while not await responses(rig):  # the survey began
            await asyncio.sleep(0.01)
    channel = next(iter(instance.stasis.calls))
    await rig.fake.drop_websockets()
    await rig.fake.caller_hangup(channel)  # unheard: the app has not reconnected yet
    await rig.settled(campaign_id, within=20)
    customers.close()
    assert await rig.contacts(campaign_id) == [("+79161370001", "done", "no_input", 1)]


async def test_an_idle_dialer_waits_its_idle_tick_unless_a_campaign_is_steered_here(rig: Rig) -> None:
    """With no campaign running it looks for one only every idle_tick (here an hour), so a campaign started
    unannounced waits; steering here (campaigns_changed, as the API and the workstation call it) starts a round
    at once, and while a campaign runs the rounds come every tick."""
    customers = Customers(rig.fake, {"+79161230001": "4", "+79161230002": "5"})
    instance = await rig.instance(idle_tick=3600.0)
    await asyncio.sleep(0.1)  # its first round found nothing: idle from now on
    first = await rig.campaign(["+79161230001"])
    await asyncio.sleep(0.5)  # ten ticks
    assert rig.originates() == []
    instance.dialer.campaigns_changed()
    await rig.settled(first)
    second = await rig.campaign(["+79161230002"])  # the first one has finished: idle again
    await asyncio.sleep(0.5)
    assert len(rig.originates()) == 1
    instance.dialer.campaigns_changed()
    await rig.settled(second)
    customers.close()
    assert await responses(rig) == [(first, "completed", 4.0), (second, "completed", 5.0)]
