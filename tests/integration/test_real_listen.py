"""Listening to a live call against a real Asterisk: runs only when the AMI and ARI variables of test_real_ami
are set, with the same traced dialplan (../shared/asterisk-ari/dialplan/extensions.conf): the caller (the
`tester` app) dials 7001, whose Local channel in [operators] talks for ${TALK} seconds; the supervisor is
`Local/7100@operators`, which answers and waits 2 s (TALK unset on the listen's leg)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from ivr_survey.app import create_app
from ivr_survey.config import Settings
from ivr_survey.keys import AMI, LIVE, STASIS
from tests.integration.test_real_ami import AMI_HOST
from tests.integration.test_real_asterisk import ARI_PASSWORD, ARI_URL, ARI_USER, Caller

pytestmark = pytest.mark.skipif(
    not (AMI_HOST and ARI_URL),
    reason="set IVR_SURVEY_TEST_AMI_HOST (_PORT, _USER, _SECRET) and IVR_SURVEY_TEST_ARI_URL to test against a "
    "real Asterisk",
)
ADMIN = {"Authorization": "Bearer real-listen-admin-token"}


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        spool_dir=tmp_path / "spool",
        api_token="real-listen-admin-token",
        ari_url=ARI_URL,
        ari_user=ARI_USER,
        ari_password=ARI_PASSWORD,
        ami_host=AMI_HOST,
        ami_port=int(os.environ.get("IVR_SURVEY_TEST_AMI_PORT", "5038")),
        ami_user=os.environ.get("IVR_SURVEY_TEST_AMI_USER", "ivr-survey"),
        ami_secret=os.environ.get("IVR_SURVEY_TEST_AMI_SECRET", ""),
        live_listen=True,
    )
    async with TestClient(TestServer(create_app(settings))) as client:
        async with asyncio.timeout(10):
            while not (client.server.app[STASIS].connected and client.server.app[AMI].connected):
                await asyncio.sleep(0.05)
        yield client


async def _ari(path: str) -> Any:
    auth = aiohttp.encode_basic_auth(ARI_USER, ARI_PASSWORD)
    async with (
        aiohttp.ClientSession(headers={"Authorization": auth}) as http,
        http.get(f"{ARI_URL}/ari{path}") as resp,
    ):
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_a_live_call_is_listed_and_listened_to_on_a_real_asterisk(client: TestClient) -> None:
    app = client.server.app
    async with Caller() as caller:
        await caller.call(TALK="12")
        async with asyncio.timeout(15):
            while not [c for c in app[LIVE]() if c.state == "talking"]:
                await asyncio.sleep(0.1)
        [live] = (await (await client.get("/calls/live", headers=ADMIN)).json())["items"]
        assert (live["state"], live["operator"], live["direction"]) == ("talking", "7001", "inbound")
        resp = await client.post(
            f"/calls/{live['call_id']}/listen", headers=ADMIN, json={"endpoint": "Local/7100@operators"}
        )
        listen = await resp.json()
        assert resp.status == 201, listen
        async with asyncio.timeout(10):  # the supervisor's Local leg answers at once: snooped into a bridge
            while True:
                bridges = [b for b in await _ari("/bridges") if b["id"].startswith(f"listen-{listen['id']}-")]
                if bridges and len(bridges[0]["channels"]) == 2:
                    break
                await asyncio.sleep(0.1)
        names = {c["id"]: c["name"] for c in await _ari("/channels")}
        assert sorted(names[c].split("/")[0] for c in bridges[0]["channels"]) == ["Local", "Snoop"]
        async with asyncio.timeout(30):  # the supervisor's 2 s, then the call's end: nothing of the listen is left
            while True:
                state = (await (await client.get(f"/listens/{listen['id']}", headers=ADMIN)).json())["state"]
                channels = [c for c in await _ari("/channels") if c["name"].startswith("Snoop/")]
                if state == "ended" and not channels and not [c for c in app[LIVE]() if c.state == "talking"]:
                    break
                await asyncio.sleep(0.2)
    audit = (await (await client.get("/audit/listens", headers=ADMIN)).json())["items"]
    assert [(a["call_id"], a["operator"], a["mode"], a["state"]) for a in audit] == [
        (live["call_id"], "7001", "listen", "ended")
    ]
    assert audit[0]["answered_at"] is not None
