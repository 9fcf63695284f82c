"""The call history against a real Asterisk: runs only when IVR_SURVEY_TEST_AMI_HOST (with _PORT, _USER,
_SECRET) and the ARI variables of test_real_asterisk are set.

The Asterisk needs the traced dialplan (../shared/asterisk-ari/dialplan/extensions.conf), cdr_manager enabled
and an AMI user that may read call, dialplan, agent and cdr events. The caller's side is played over ARI by the
`tester` app, as in test_real_asterisk."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from ivr_survey.app import create_app
from ivr_survey.config import Settings
from ivr_survey.db.calls import get_call
from ivr_survey.db.models import Call
from ivr_survey.keys import AMI, SESSIONS, STASIS
from tests.integration.test_real_asterisk import ARI_PASSWORD, ARI_URL, ARI_USER, Caller

AMI_HOST = os.environ.get("IVR_SURVEY_TEST_AMI_HOST")

pytestmark = pytest.mark.skipif(
    not (AMI_HOST and ARI_URL),
    reason="set IVR_SURVEY_TEST_AMI_HOST (_PORT, _USER, _SECRET) and IVR_SURVEY_TEST_ARI_URL to test against a "
    "real Asterisk",
)


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
        ami_host=AMI_HOST,
        ami_port=int(os.environ.get("IVR_SURVEY_TEST_AMI_PORT", "5038")),
        ami_user=os.environ.get("IVR_SURVEY_TEST_AMI_USER", "ivr-survey"),
        ami_secret=os.environ.get("IVR_SURVEY_TEST_AMI_SECRET", ""),
    )
    server = TestServer(create_app(settings))
    await server.start_server()
    async with asyncio.timeout(10):
        while not (server.app[STASIS].connected and server.app[AMI].connected):
            await asyncio.sleep(0.05)
    yield server
    await server.close()


async def _history(server: TestServer, linkedid_count: int) -> list[dict]:
    """The finished calls, once `linkedid_count` of them are stored."""
    async with asyncio.timeout(40):
        while True:
            async with server.app[SESSIONS]() as session:
                ids = (
                    (
                        await session.execute(
                            select(Call.linkedid).where(Call.history_source == "ami").order_by(Call.started_at)
                        )
                    )
                    .scalars()
                    .all()
                )
                if len(ids) >= linkedid_count:
                    return [asdict(await get_call(session, linkedid=i)) for i in ids]
            await asyncio.sleep(0.3)


async def test_an_answered_rated_call_and_a_missed_one_on_a_real_asterisk(service: TestServer) -> None:
    async with Caller() as caller:
        channel = await caller.call()
        async with asyncio.timeout(15):
            while not service.app[STASIS].calls:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.8)
        await caller.press(channel, "4")
        await _history(service, 1)
        await caller.call("Local/7999@incoming/n", RING="3")
        answered, missed = await _history(service, 2)
    assert {
        k: answered[k]
        for k in (
            "direction",
            "disposition",
            "operator",
            "rung_operators",
            "caller",
            "hangup_side",
            "incomplete",
            "surveyed",
        )
    } == {
        "direction": "inbound",
        "disposition": "answered",
        "operator": "7001",
        "rung_operators": ["7001"],
        "caller": "79991234567",
        "hangup_side": "operator",
        "incomplete": False,
        "surveyed": True,
    }
    assert 0.9 <= answered["talk_seconds"] <= 2.5 and answered["ring_seconds"] < 1.0
    assert {k: missed[k] for k in ("direction", "disposition", "operator", "rung_operators", "surveyed")} == {
        "direction": "inbound",
        "disposition": "missed",
        "operator": None,
        "rung_operators": ["7999"],
        "surveyed": False,
    }
    assert 2.5 <= missed["ring_seconds"] <= 4.0
