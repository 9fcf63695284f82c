"""Against a real Asterisk: runs only when IVR_SURVEY_TEST_ARI_URL (and _USER/_PASSWORD) are set.

The Asterisk needs the traced dialplan (../shared/asterisk-ari/dialplan/extensions.conf: context
`incoming` dials `Local/<op>@operators/n` with option g, then `Stasis(ivr-survey,post-call,<op>)`) and an
ARI user allowed to run two apps: `ivr-survey` (the service under test) and `tester` (the caller's side,
played by this test: it originates into `incoming`, then presses keys or hangs up on its own channel).

The campaign tests need the `customers` context (in ../shared/asterisk-ari/dialplan/extensions-queue-and-
originate.conf and in asterisk_conf/extensions.conf): its extensions `answer` (answers, hangs up after 3 s),
`busy`, `noanswer` and `congestion` stand in for the customers behind a trunk, dialled as
`Local/{number}@customers` with the extension as the contact's number.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from ivr_survey.app import create_app
from ivr_survey.ari.client import AriClient
from ivr_survey.config import Settings
from ivr_survey.db import campaigns
from ivr_survey.db.models import CampaignAttempt, CampaignContact, SurveyResponse
from ivr_survey.db.ratings import list_ratings
from ivr_survey.keys import SESSIONS, STASIS
from tests.support.receivers import Receiver

ARI_URL = os.environ.get("IVR_SURVEY_TEST_ARI_URL")
ARI_USER = os.environ.get("IVR_SURVEY_TEST_ARI_USER", "ivr-survey")
ARI_PASSWORD = os.environ.get("IVR_SURVEY_TEST_ARI_PASSWORD", "")
OPERATOR_ENDPOINT = os.environ.get("IVR_SURVEY_TEST_ARI_ENDPOINT", "Local/7001@incoming/n")

pytestmark = pytest.mark.skipif(
    not ARI_URL, reason="set IVR_SURVEY_TEST_ARI_URL, _USER and _PASSWORD to test against a real Asterisk"
)


class Caller:
    """The caller's side of the line, driven over ARI as the Stasis app `tester`."""

    def __init__(self) -> None:
        assert ARI_URL is not None
        self.client = AriClient(ARI_URL, ARI_USER, ARI_PASSWORD, "tester")
        self.stop = asyncio.Event()
        self.up: asyncio.Queue[str] = asyncio.Queue()

    async def __aenter__(self) -> Caller:
        await self.client.start()
        connected = asyncio.Event()
        self.task = asyncio.create_task(self.client.listen(self._on_event, on_connected=connected.set, stop=self.stop))
        # Originating before Asterisk has registered the `tester` app would send the call nowhere.
        await asyncio.wait_for(connected.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await self.task
        await self.client.close()

    def _on_event(self, event: dict[str, Any]) -> None:
        if event["type"] == "StasisStart":
            self.up.put_nowait(event["channel"]["id"])

    async def call(self, endpoint: str = OPERATOR_ENDPOINT, **variables: str) -> str:
        await self.client.originate(
            endpoint=endpoint,
            app_args="",
            caller_id="Client <79991234567>",
            variables={"__TALK": "1", **{f"__{k}": v for k, v in variables.items()}},
        )
        return await asyncio.wait_for(self.up.get(), 15)

    async def press(self, channel_id: str, digits: str) -> None:
        auth = aiohttp.encode_basic_auth(ARI_USER, ARI_PASSWORD)
        async with aiohttp.ClientSession(headers={"Authorization": auth}) as http:
            url = f"{ARI_URL}/ari/channels/{channel_id}/dtmf"
            async with http.post(url, params={"dtmf": digits}) as resp:
                assert resp.status == 204

    async def hang_up(self, channel_id: str) -> None:
        await self.client.hangup(channel_id)


def _settings(database_url: str, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        spool_dir=tmp_path / "spool",
        ari_url=ARI_URL,
        ari_user=ARI_USER,
        ari_password=ARI_PASSWORD,
        no_input_timeout=1.0,
        max_retries=1,
        **extra,
    )


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[TestServer]:
    server = TestServer(create_app(_settings(database_url, tmp_path)))
    await server.start_server()
    async with asyncio.timeout(10):
        while not server.app[STASIS].connected:
            await asyncio.sleep(0.05)
    yield server
    await server.close()


async def _in_survey(server: TestServer) -> None:
    async with asyncio.timeout(15):
        while not server.app[STASIS].calls:
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.8)  # the prompt has started


async def _rating(server: TestServer) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while True:
            async with server.app[SESSIONS]() as session:
                ratings = [asdict(r) for r in (await list_ratings(session, limit=5)).items]
            if ratings and ratings[0]["status"] != "in_progress" and not server.app[STASIS].calls:
                return ratings[0]
            await asyncio.sleep(0.2)


async def test_rated_4_on_a_real_asterisk(service: TestServer) -> None:
    async with Caller() as caller:
        channel = await caller.call()
        await _in_survey(service)
        await caller.press(channel, "4")
        rating = await _rating(service)
    assert (rating["operator"], rating["status"], rating["score"], rating["caller"]) == (
        "7001",
        "completed",
        4.0,
        "79991234567",
    )
    assert rating["call_id"] != rating["channel_uniqueid"]  # the linkedid, read over ARI


async def test_invalid_then_5_on_a_real_asterisk(service: TestServer) -> None:
    async with Caller() as caller:
        channel = await caller.call()
        await _in_survey(service)
        await caller.press(channel, "9")
        await asyncio.sleep(1.5)
        await caller.press(channel, "5")
        rating = await _rating(service)
    assert (rating["status"], rating["answers"]) == (
        "completed",
        [{"question": "rating", "key": "5", "score": 5.0, "attempts": 2}],
    )


async def test_silence_on_a_real_asterisk(service: TestServer) -> None:
    async with Caller() as caller:
        await caller.call()
        rating = await _rating(service)
    assert (rating["status"], rating["score"]) == ("no_input", None)


async def test_caller_hangs_up_on_a_real_asterisk(service: TestServer) -> None:
    async with Caller() as caller:
        channel = await caller.call()
        await _in_survey(service)
        await caller.hang_up(channel)
        rating = await _rating(service)
    assert (rating["status"], rating["answers"]) == ("abandoned", [])


def _open_now() -> dict[str, Any]:
    """Calling hours open from an hour ago to two hours on, every day: the dialer's clock is the real one (a
    window may cross midnight)."""
    now = datetime.now(UTC)
    return {
        "from": f"{now - timedelta(hours=1):%H:%M}",
        "to": f"{now + timedelta(hours=2):%H:%M}",
        "timezone": "UTC",
        "weekdays": [1, 2, 3, 4, 5, 6, 7],
    }


async def _campaign(server: TestServer, endpoint: str, phones: list[str], *, max_attempts: int) -> int:
    """A started campaign; its contacts' "numbers" are extensions of the `customers` context, which the
    normaliser of uploaded numbers would refuse, so they are added as they are."""
    spec = campaigns.NewCampaign(
        name="Real Asterisk",
        survey="default",
        endpoint=endpoint,
        caller_id="Company <74950000000>",
        concurrency=len(phones),
        calls_per_minute=None,
        ring_timeout=5,  # noanswer rings until then (the least a campaign may ask)
        max_attempts=max_attempts,
        retry_delay=1,
        calling_hours=_open_now(),
        opt_out_key="9",
    )
    now = datetime.now(UTC)
    async with server.app[SESSIONS].begin() as session:
        row = await campaigns.create_campaign(session, spec, created_by="test", at=now)
        await campaigns.add_contacts(session, row.id, [campaigns.NewContact(phone=p) for p in phones], at=now)
        await campaigns.change_state(session, row.id, "start", at=now)
    return row.id


async def _finished(server: TestServer, campaign_id: int) -> None:
    async with asyncio.timeout(60):
        while True:
            async with server.app[SESSIONS]() as session:
                campaign = await campaigns.get_campaign(session, campaign_id)
            assert campaign is not None
            if campaign.state == "finished":
                return
            await asyncio.sleep(0.2)


async def _dialled(server: TestServer, campaign_id: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(phone, attempt, outcome, cause) of every attempt, and (phone, state, outcome, attempts) of every
    contact, by phone."""
    async with server.app[SESSIONS]() as session:
        attempts = await session.execute(
            select(CampaignContact.phone, CampaignAttempt.number, CampaignAttempt.outcome, CampaignAttempt.cause)
            .join(CampaignContact, CampaignContact.id == CampaignAttempt.contact_id)
            .where(CampaignAttempt.campaign_id == campaign_id)
            .order_by(CampaignContact.phone, CampaignAttempt.number)
        )
        contacts = await session.execute(
            select(CampaignContact.phone, CampaignContact.state, CampaignContact.outcome, CampaignContact.attempts)
            .where(CampaignContact.campaign_id == campaign_id)
            .order_by(CampaignContact.phone)
        )
        return [tuple(r) for r in attempts], [tuple(r) for r in contacts]


async def test_a_campaign_on_a_real_asterisk(service: TestServer) -> None:
    """Each far end of the `customers` context: the unanswered ones are retried once, after the delay."""
    campaign_id = await _campaign(
        service, "Local/{number}@customers", ["answer", "busy", "noanswer", "congestion"], max_attempts=2
    )
    await _finished(service, campaign_id)
    attempts, contacts = await _dialled(service, campaign_id)
    # A Local channel's ;1 half may end with cause 0: the causes are the ;2 half's.
    assert attempts == [
        ("answer", 1, "no_input", 16),  # answered, no key, the far end hung up after 3 s
        ("busy", 1, "busy", 17),
        ("busy", 2, "busy", 17),
        ("congestion", 1, "congestion", 34),
        ("congestion", 2, "congestion", 34),
        ("noanswer", 1, "no_answer", 19),
        ("noanswer", 2, "no_answer", 19),
    ]
    assert contacts == [
        ("answer", "done", "no_input", 1),
        ("busy", "done", "busy", 2),
        ("congestion", "done", "failed", 2),
        ("noanswer", "done", "no_answer", 2),
    ]
    async with service.app[SESSIONS]() as session:
        responses = await session.execute(select(SurveyResponse.campaign_id, SurveyResponse.status))
    # the survey began: hung up on while waiting for a key (prompt 2.5 s, no-input timeout 1 s)
    assert [tuple(r) for r in responses] == [(campaign_id, "abandoned")]


async def test_a_campaign_endpoint_that_does_not_exist_fails_on_a_real_asterisk(service: TestServer) -> None:
    campaign_id = await _campaign(service, "Bogus/{number}", ["123"], max_attempts=3)
    await _finished(service, campaign_id)
    assert await _dialled(service, campaign_id) == ([("123", 1, "failed", None)], [("123", "done", "failed", 1)])


AGI_ENDPOINT = os.environ.get("IVR_SURVEY_TEST_AGI_ENDPOINT")  # e.g. Local/7001@incoming-agi/n
AGI_PORT = int(os.environ.get("IVR_SURVEY_TEST_AGI_PORT", "4573"))


@pytest.mark.skipif(
    not AGI_ENDPOINT,
    reason="set IVR_SURVEY_TEST_AGI_ENDPOINT (a context that runs "
    "AGI(agi://127.0.0.1:<IVR_SURVEY_TEST_AGI_PORT>/survey?operator=...) after Dial(...,g))",
)
async def test_rated_4_over_fastagi_on_a_real_asterisk(database_url: str, tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        spool_dir=tmp_path / "spool",
        agi_port=AGI_PORT,
        no_input_timeout=1.0,
        max_retries=1,
    )
    server = TestServer(create_app(settings))
    await server.start_server()
    try:
        async with Caller() as caller:
            assert AGI_ENDPOINT is not None
            channel = await caller.call(AGI_ENDPOINT)
            await asyncio.sleep(3.5)  # the operator talks for 1 s, then the survey asks
            await caller.press(channel, "4")
            async with asyncio.timeout(20):
                while True:
                    async with server.app[SESSIONS]() as session:
                        ratings = [asdict(r) for r in (await list_ratings(session, limit=5)).items]
                    if ratings and ratings[0]["status"] != "in_progress":
                        break
                    await asyncio.sleep(0.2)
    finally:
        await server.close()
    [rating] = ratings
    assert (rating["channel"], rating["operator"], rating["status"], rating["score"], rating["caller"]) == (
        "agi",
        "7001",
        "completed",
        4.0,
        "79991234567",
    )
    assert rating["call_id"] != rating["channel_uniqueid"]  # the linkedid, read with GET VARIABLE


async def test_rated_1_is_told_to_the_webhook_and_alerted_on_a_real_asterisk(database_url: str, tmp_path: Path) -> None:
    async with Receiver() as webhook, Receiver() as alerts:
        settings = _settings(database_url, tmp_path, webhook_url=webhook.url, alert_webhook_url=alerts.url)
        server = TestServer(create_app(settings))
        await server.start_server()
        try:
            async with asyncio.timeout(10):
                while not server.app[STASIS].connected:
                    await asyncio.sleep(0.05)
            async with Caller() as caller:
                channel = await caller.call()
                await _in_survey(server)
                await caller.press(channel, "1")
                rating = await _rating(server)
            async with asyncio.timeout(15):
                while not (webhook.accepted and alerts.accepted):
                    await asyncio.sleep(0.05)
        finally:
            await server.close()
    [result] = [r.json for r in webhook.accepted]
    [alert] = [r.json for r in alerts.accepted]
    assert (result["type"], result["call_id"], result["score"]) == ("survey.completed", rating["call_id"], 1.0)
    assert (alert["type"], alert["reason"], alert["call_id"], alert["operator"]) == (
        "alert.low_score",
        "low_score",
        rating["call_id"],
        "7001",
    )
