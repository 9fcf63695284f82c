"""Events out, against the simulated PBX and receivers on loopback that fail first: every survey result reaches
the webhook once (signed), a low score reaches the alert webhook and Telegram once, retries survive a restart, a
dead target holds up neither another target nor a survey, old events are dropped and an admin can send them
again, and what the spool replays is told once."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.app import create_app
from ivr_survey.config import Settings
from ivr_survey.db import outbox
from ivr_survey.db.engine import create_engine, create_sessionmaker
from ivr_survey.db.models import OutboxDelivery
from ivr_survey.db.store import SurveyStore
from ivr_survey.db.writes import FinishResponse, SaveAnswer, StartResponse
from ivr_survey.keys import SESSIONS, STASIS
from ivr_survey.notify.events import WEBHOOK, Policy
from ivr_survey.notify.listener import OutboxListener
from ivr_survey.notify.sender import OutboxSender
from ivr_survey.notify.targets import Webhook
from ivr_survey.simulator.ari import FakeAsterisk
from tests.support.receivers import Receiver
from tests.support.store import T0, SwitchableWriter, answer_fields, start_fields
from tests.support.waiting import wait_until

SPEED = 50.0
SECRET = "webhook-secret-0123456789"
ADMIN = "outbox-admin-token-0123456789"
BOT = "123456:fake-bot-token"


def settings_for(database_url: str, tmp_path: Path, fake: FakeAsterisk | None, **extra: Any) -> Settings:
    values: dict[str, Any] = dict(
        _env_file=None,
        database_url=database_url,
        spool_dir=tmp_path / "spool",
        no_input_timeout=0.3,
        inter_digit_timeout=0.1,
        shutdown_grace=2.0,
        webhook_timeout=0.5,
        public_url="https://survey.example.com",
    )
    if fake is not None:
        values |= dict(ari_url=fake.base_url, ari_user="ivr-survey", ari_password="secret")
    return Settings(**(values | extra))


@dataclass
class Rig:
    fake: FakeAsterisk
    client: TestClient
    webhook: Receiver
    alerts: Receiver
    telegram: Receiver

    async def rated(self, linkedid: str, key: str | None, *, number: str = "+79161234567") -> None:
        channel = await self.fake.place_call(args=["post-call", "7001"], linkedid=linkedid, caller_number=number)
        events = self.fake.subscribe(channel)
        async with asyncio.timeout(10):
            while (await events.get())["type"] != "PlaybackStarted":
                pass
        if key is None:
            await self.fake.caller_hangup(channel)
        else:
            await self.fake.press(channel, key)
        await self.fake.wait_channel_gone(channel, timeout=10)
        await wait_until(lambda: channel not in self.client.app[STASIS].calls, "the call to leave the app", 10)


@pytest.fixture
async def receivers() -> AsyncIterator[tuple[Receiver, Receiver, Receiver]]:
    async with Receiver() as webhook, Receiver() as alerts, Receiver(telegram=True) as telegram:
        yield webhook, alerts, telegram


@pytest.fixture
async def rig(database_url: str, tmp_path: Path, receivers: tuple[Receiver, Receiver, Receiver]) -> AsyncIterator[Rig]:
    webhook, alerts, telegram = receivers
    async with FakeAsterisk(user="ivr-survey", password="secret", app="ivr-survey", speed=SPEED) as fake:
        settings = settings_for(
            database_url,
            tmp_path,
            fake,
            webhook_url=webhook.url + "/hooks/survey",
            webhook_secret=SECRET,
            alert_webhook_url=alerts.url + "/hooks/alert",
            telegram_bot_token=BOT,
            telegram_chat_id="-100200300",
            telegram_api_url=telegram.url,
            alert_language="ru",
            api_token=ADMIN,
        )
        client = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        try:
            await fake.wait_for_app()
            await wait_until(lambda: client.app[STASIS].connected, "ARI to connect")
            yield Rig(fake, client, webhook, alerts, telegram)
        finally:
            await client.close()


async def all_delivered(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, int]]:
    """The deliveries once none is pending (a 2xx is marked delivered just after the receiver saw it)."""
    async with asyncio.timeout(10):
        while True:
            found = await deliveries(sessions)
            if all(state != "pending" for _, state, _ in found):
                return found
            await asyncio.sleep(0.05)


def signed(received: Any) -> bool:
    expected = "sha256=" + hmac.new(SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    return bool(received.headers.get("X-Signature") == expected)


async def deliveries(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, int]]:
    async with sessions() as session:
        rows = await session.execute(
            select(OutboxDelivery.target, OutboxDelivery.state, OutboxDelivery.attempts).order_by(OutboxDelivery.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_a_call_rated_1_is_told_once_to_each_target_after_their_failures(rig: Rig) -> None:
    rig.webhook.answer([500, "hang"])  # the first attempts fail: a 500, then no answer at all
    rig.alerts.answer([503])
    rig.telegram.answer([429])
    await rig.rated("L-low", "1")
    await rig.rated("L-good", "5")
    await wait_until(lambda: len(rig.webhook.accepted) == 2, "both results", 15)
    await wait_until(lambda: len(rig.alerts.accepted) == 1 and len(rig.telegram.accepted) == 1, "the alert", 15)

    # One per call; calls go at their own pace (the one retried may arrive after the next call's).
    results = sorted((r.json for r in rig.webhook.accepted), key=lambda r: r["call_id"] != "L-low")
    assert [(r["type"], r["call_id"], r["score"]) for r in results] == [
        ("survey.completed", "L-low", 1.0),
        ("survey.completed", "L-good", 5.0),
    ]
    low = results[0]
    assert low["operator"] == "7001"
    assert low["survey"] == "default"
    assert low["campaign"] is None
    assert low["answers"] == [{"question": "rating", "digits": "1", "score": 1.0}]
    assert low["url"] == "https://survey.example.com/ui/review?call=L-low"
    assert low["started_at"].endswith("Z") and low["ended_at"].endswith("Z")
    assert "caller" not in low  # the number goes to the alert only, masked
    # Retried with the same id and body until accepted; every one signed.
    assert sorted(r.status for r in rig.webhook.received) == [0, 200, 200, 500]
    assert (rig.webhook.received[0].status, rig.webhook.received[0].json["call_id"]) == (500, "L-low")
    for result in results:
        tries = [r for r in rig.webhook.received if r.json["call_id"] == result["call_id"]]
        assert {r.headers["X-Event-Id"] for r in tries} == {result["event_id"]}
        assert {r.body for r in tries} == {tries[-1].body}
    assert all(signed(r) for r in rig.webhook.received)
    assert rig.webhook.accepted[0].path == "/hooks/survey"

    [alert] = [r.json for r in rig.alerts.accepted]
    assert alert["type"] == "alert.low_score"
    assert (alert["reason"], alert["bad_answers"], alert["call_id"]) == ("low_score", [], "L-low")
    assert alert["caller"] == "+7 916 ***-**-67"
    assert "X-Signature" not in rig.alerts.accepted[0].headers  # no secret of its own
    assert [r.status for r in rig.alerts.received] == [503, 200]

    [message] = rig.telegram.accepted
    assert message.path == f"/bot{BOT}/sendMessage"
    assert message.json["chat_id"] == "-100200300"
    assert message.json["text"] == (
        "⚠️ Низкая оценка\n"
        "Оператор: 7001\n"
        "Оценка: 1\n"
        "Звонивший: +7 916 ***-**-67\n"
        "Звонок: https://survey.example.com/ui/review?call=L-low"
    )
    assert [r.status for r in rig.telegram.received] == [429, 200]
    stored = await all_delivered(rig.client.app[SESSIONS])
    assert [(target, state) for target, state, _ in stored] == [
        ("webhook", "delivered"),
        ("alert_webhook", "delivered"),
        ("telegram", "delivered"),
        ("webhook", "delivered"),
    ]
    assert [attempts for _, _, attempts in stored][1:3] == [2, 2]
    assert stored[0][2] + stored[3][2] == 4


async def test_every_ending_is_told_and_an_abandoned_low_rating_alerts(rig: Rig) -> None:
    await rig.rated("L-silent", None)  # hung up during the question: abandoned, no score, no alert
    await wait_until(lambda: len(rig.webhook.accepted) == 1, "the result")
    assert rig.webhook.accepted[0].json["type"] == "survey.abandoned"
    assert rig.webhook.accepted[0].json["score"] is None
    await asyncio.sleep(0.5)
    assert rig.alerts.received == [] and rig.telegram.received == []


async def test_a_dead_target_holds_up_neither_another_target_nor_the_survey(rig: Rig) -> None:
    rig.alerts.answer([], then="hang")  # never answers
    rig.telegram.answer([], then="hang")
    await rig.rated("L-1", "1")  # the survey ends as ever: thanks, hang up
    await rig.rated("L-2", "2")
    await wait_until(lambda: len(rig.webhook.accepted) == 2, "both results")
    assert all(r.status == 0 for r in rig.alerts.received)
    async with rig.client.app[SESSIONS]() as session:
        pending = await outbox.undelivered(session, state="pending", limit=10)
    assert sorted((d.target, d.linkedid) for d in pending) == [
        ("alert_webhook", "L-1"),
        ("alert_webhook", "L-2"),
        ("telegram", "L-1"),
        ("telegram", "L-2"),
    ]
    assert {d.last_error for d in pending if d.attempts} <= {"no answer within 0.5 s"}
    scraped = await rig.client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"})
    gauges = {
        (s.name, s.labels["target"]): s.value
        for family in text_string_to_metric_families(await scraped.text())
        for s in family.samples
        if s.name in ("ivr_survey_outbox_pending", "ivr_survey_outbox_failed")
    }
    assert gauges == {
        ("ivr_survey_outbox_pending", "webhook"): 0.0,
        ("ivr_survey_outbox_pending", "alert_webhook"): 2.0,
        ("ivr_survey_outbox_pending", "telegram"): 2.0,
        ("ivr_survey_outbox_failed", "webhook"): 0.0,
        ("ivr_survey_outbox_failed", "alert_webhook"): 0.0,
        ("ivr_survey_outbox_failed", "telegram"): 0.0,
    }


async def test_admin_lists_what_was_refused_and_sends_it_again(rig: Rig) -> None:
    rig.webhook.answer([400])  # refused for good: no retry
    await rig.rated("L-refused", "4")
    await wait_until(lambda: len(rig.webhook.received) == 1, "the attempt")
    await wait_until(lambda: bool(rig.webhook.received) and rig.webhook.received[0].status == 400, "the refusal")
    headers = {"Authorization": f"Bearer {ADMIN}"}
    listed: dict[str, Any] = {}

    async def failed() -> bool:
        nonlocal listed
        response = await rig.client.get("/events/outbox?state=failed", headers=headers)
        listed = await response.json()
        return bool(listed["items"])

    async with asyncio.timeout(5):
        while not await failed():
            await asyncio.sleep(0.05)
    [item] = listed["items"]
    assert (item["type"], item["call_id"], item["target"], item["state"], item["attempts"]) == (
        "survey.completed",
        "L-refused",
        "webhook",
        "failed",
        1,
    )
    assert item["last_error"] == "HTTP 400: receiver says no"
    assert (await rig.client.get("/events/outbox", headers={})).status == 401
    response = await rig.client.post(f"/events/outbox/{item['id']}/retry", headers=headers)
    assert response.status == 200
    assert (await response.json())["state"] == "pending"
    await wait_until(lambda: len(rig.webhook.accepted) == 1, "the retry")
    assert rig.webhook.accepted[0].headers["X-Event-Id"] == item["event_id"]
    assert (await rig.client.get("/events/outbox", headers=headers)).status == 200
    assert (await (await rig.client.get("/events/outbox", headers=headers)).json())["items"] == []
    missing = await rig.client.post("/events/outbox/999999/retry", headers=headers)
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "not_found"
    bad = await rig.client.get("/events/outbox?state=delivered", headers=headers)
    assert bad.status == 400


async def test_retries_go_on_after_a_restart_and_the_event_arrives_once(
    database_url: str, tmp_path: Path, receivers: tuple[Receiver, Receiver, Receiver]
) -> None:
    webhook = receivers[0]
    webhook.answer([], then=500)
    async with FakeAsterisk(user="ivr-survey", password="secret", app="ivr-survey", speed=SPEED) as fake:
        settings = settings_for(database_url, tmp_path, fake, webhook_url=webhook.url)
        client = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        try:
            await fake.wait_for_app()
            await wait_until(lambda: client.app[STASIS].connected, "ARI to connect")
            rig = Rig(fake, client, webhook, Receiver(), Receiver())
            await rig.rated("L-restart", "3")
            await wait_until(lambda: len(webhook.received) >= 2, "two failed attempts", 10)
        finally:
            await client.close()
    tried = len(webhook.received)
    webhook.answer([], then=200)
    # The next start (no PBX this time) finds the delivery pending and goes on with it.
    again = TestClient(TestServer(create_app(settings_for(database_url, tmp_path, None, webhook_url=webhook.url))))
    await again.start_server()
    try:
        await wait_until(lambda: len(webhook.accepted) == 1, "the delivery after the restart", 10)
        [(target, state, attempts)] = await all_delivered(again.app[SESSIONS])
        # An attempt cut short by the shutdown is sent again but may not be counted: at most one more than seen.
        assert (target, state) == ("webhook", "delivered")
        assert 2 <= attempts <= tried + 1
    finally:
        await again.close()
    assert len(webhook.accepted) == 1
    assert {r.headers["X-Event-Id"] for r in webhook.received} == {webhook.accepted[0].headers["X-Event-Id"]}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> Any:
        return self.now


async def test_an_event_older_than_the_maximum_age_is_dropped_and_counted(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with Receiver() as webhook:
        webhook.answer([], then=500)
        dropped: list[str] = []
        clock = Clock()
        sender = OutboxSender(
            sessions,
            [Webhook(WEBHOOK, webhook.url, None, timeout=1)],
            clock=clock,
            max_age=60,
            retry_initial=0.01,
            retry_cap=0.01,
            on_dropped=dropped.append,
        )
        policy = Policy(result_targets=(WEBHOOK,), alert_targets=(), alert_max_score=2, link_base="http://x")
        store = SurveyStore(sessions, tmp_path, listeners=[OutboxListener(policy, sender.wake)])
        await store.start()
        await store.write(StartResponse(**start_fields("L-old")))
        await store.write(SaveAnswer(**answer_fields("L-old", "5")))
        await store.write(FinishResponse(linkedid="L-old", status="completed", ended_at=T0))
        await sender.start(rounds=False)
        [target] = sender.targets
        try:
            assert await sender.run_once(target) is True
            clock.now = T0 + timedelta(seconds=1)
            assert await sender.run_once(target) is True
            clock.now = T0 + timedelta(seconds=61)
            assert await sender.run_once(target) is True  # dropped, not sent
            assert await sender.run_once(target) is False
        finally:
            await sender.close()
            await store.close()
        assert len(webhook.received) == 2
        assert dropped == ["webhook"]
        assert await deliveries(sessions) == [("webhook", "dropped", 2)]


async def test_a_result_the_spool_replays_is_told_once(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    switch = SwitchableWriter(sessions)
    woken: list[int] = []
    policy = Policy(result_targets=(WEBHOOK,), alert_targets=(), alert_max_score=2, link_base="http://x")
    listener = OutboxListener(policy, lambda: woken.append(1))
    store = SurveyStore(sessions, tmp_path, writer=switch, retry_initial=0.01, retry_cap=0.02, listeners=[listener])
    await store.start()
    try:
        switch.down = True
        await store.write(StartResponse(**start_fields("L-spooled")))
        await store.write(SaveAnswer(**answer_fields("L-spooled", "2")))
        await store.write(FinishResponse(linkedid="L-spooled", status="completed", ended_at=T0))
        assert await deliveries(sessions) == []
        switch.down = False
        await wait_until(lambda: store.pending == 0, "the replay")
        # The same records again (a crash before the spool was rewritten): nothing new is told.
        await store.write(StartResponse(**start_fields("L-spooled")))
        await store.write(FinishResponse(linkedid="L-spooled", status="completed", ended_at=T0))
    finally:
        await store.close()
    assert await deliveries(sessions) == [("webhook", "pending", 0)]
    assert woken == [1]
    async with sessions() as session:
        [pending] = await outbox.undelivered(session, state=None, limit=5)
    assert (pending.type, pending.payload["score"]) == ("survey.completed", 2.0)


async def test_instances_sharing_postgresql_send_each_event_once(database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("instances share an outbox on PostgreSQL (its advisory lock); on SQLite one instance runs")
    engines = [create_engine(database_url) for _ in range(2)]
    makers = [create_sessionmaker(e) for e in engines]
    async with Receiver() as webhook:
        webhook.answer([500, 500, 503], then=200)
        policy = Policy(result_targets=(WEBHOOK,), alert_targets=(), alert_max_score=2, link_base="http://x")
        store = SurveyStore(makers[0], tmp_path, listeners=[OutboxListener(policy, lambda: None)])
        await store.start()
        for n in range(20):
            await store.write(StartResponse(**start_fields(f"L-{n}")))
            await store.write(FinishResponse(linkedid=f"L-{n}", status="no_input", ended_at=T0))
        await store.close()
        senders = [
            OutboxSender(
                m,
                [Webhook(WEBHOOK, webhook.url, None, timeout=1)],
                clock=lambda: datetime.now(UTC),
                max_age=10**9,  # the events are dated T0, days ago
                retry_initial=0.01,
                retry_cap=0.05,
                poll=0.02,
            )
            for m in makers
        ]
        for sender in senders:
            await sender.start()
        try:
            await wait_until(lambda: len(webhook.accepted) >= 20, "every event", 20)
            await all_delivered(makers[0])
        finally:
            for sender in senders:
                await sender.close()
            for engine in engines:
                await engine.dispose()
        ids = [r.headers["X-Event-Id"] for r in webhook.accepted]
        assert len(ids) == len(set(ids)) == 20
        assert sorted(r.json["call_id"] for r in webhook.accepted) == sorted(f"L-{n}" for n in range(20))
