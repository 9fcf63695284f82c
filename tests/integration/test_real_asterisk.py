"""Against a real Asterisk: runs only when IVR_SURVEY_TEST_ARI_URL (and _USER/_PASSWORD) are set.

The Asterisk needs the traced dialplan (../shared/asterisk-ari/dialplan/extensions.conf: context
`incoming` dials `Local/<op>@operators/n` with option g, then `Stasis(ivr-survey,post-call,<op>)`) and an
ARI user allowed to run two apps: `ivr-survey` (the service under test) and `tester` (the caller's side,
played by this test: it originates into `incoming`, then presses keys or hangs up on its own channel).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from ivr_survey.app import create_app
from ivr_survey.ari.client import AriClient
from ivr_survey.config import Settings
from ivr_survey.db.ratings import list_ratings
from ivr_survey.keys import SESSIONS, STASIS

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


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[TestServer]:
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        spool_dir=tmp_path / "spool",
        ari_url=ARI_URL,
        ari_user=ARI_USER,
        ari_password=ARI_PASSWORD,
        no_input_timeout=1.0,
        max_retries=1,
    )
    server = TestServer(create_app(settings))
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
