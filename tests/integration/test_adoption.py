"""Adoption (issue 15): an instance dies with callers in the Stasis app; Asterisk keeps them there, in silence, and
the next instance to connect adopts them: each hears the right prompt again, and what is stored is exact."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from ivr_survey.app import create_app
from ivr_survey.ari.client import AriClient
from ivr_survey.db.repository import add_survey_version
from ivr_survey.keys import SESSIONS, STASIS
from ivr_survey.simulator.ari import FakeAsterisk
from ivr_survey.simulator.sounds import PROMPT_DURATIONS
from ivr_survey.survey.definition import EXAMPLE_CSAT_SOLVED_NPS
from tests.integration.test_stasis import SPEED, Service, prompt, settings_for
from tests.support.waiting import wait_until

USER, PASSWORD, APP = "ivr-survey", "secret", "ivr-survey"
Start = Callable[[str], Awaitable[Service]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    # A thanks prompt long enough (2 s) for an instance to die while it plays.
    durations = {**PROMPT_DURATIONS, "survey-thanks": 2.0 * SPEED}
    async with FakeAsterisk(user=USER, password=PASSWORD, app=APP, speed=SPEED, sound_durations=durations) as fake:
        yield fake


@pytest.fixture
async def start(fake: FakeAsterisk, database_url: str, tmp_path: Path) -> AsyncIterator[Start]:
    """start(name) -> a service instance connected to the fake; all of them share the database."""
    servers: list[TestServer] = []

    async def go(name: str) -> Service:
        # Keys are pressed when the test says: no question times out while the test sets the scene.
        settings = settings_for(
            database_url, fake, tmp_path, spool_dir=tmp_path / name, no_input_timeout=5.0, inter_digit_timeout=5.0
        )
        server = TestServer(create_app(settings))
        servers.append(server)
        await server.start_server()
        await fake.wait_for_app()
        return Service(fake, server)

    yield go
    for server in reversed(servers):
        await server.close()


async def crash(service: Service) -> None:
    """The instance dies: its tasks stop where they are and its connections drop; nobody hangs up the callers."""
    stasis = service.app[STASIS]
    tasks = [t for t in (stasis._listener, *(c.task for c in stasis.calls.values()), *stasis._side_tasks) if t]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await stasis.client.close()
    await wait_until(lambda: not service.fake.app_registered(), "the dead instance's websocket to close")


async def stored(service: Service) -> dict[str, tuple[str, str | None, list[tuple[str, str | None, int]]]]:
    """linkedid -> (status, operator, [(question, key, attempts)])."""
    return {
        r["call_id"]: (r["status"], r["operator"], [(a["question"], a["key"], a["attempts"]) for a in r["answers"]])
        for r in await service.ratings()
    }


async def replayed(events: asyncio.Queue[dict[str, Any]], channel: str, sound: str) -> None:
    """Wait until the caller hears `sound` played by the adopting instance (its playback ids are not the dead
    one's: a prompt the dead instance had queued may still be playing)."""
    adopted = re.compile(rf"{re.escape(channel)}-[0-9a-f]{{8}}-pb-\d+")
    async with asyncio.timeout(5.0):
        while not adopted.fullmatch((await prompt(events, sound))["playback"]["id"]):
            pass


def adopter_calls(fake: FakeAsterisk, channel: str) -> list[str]:
    """What the adopting instance asked of Asterisk about one channel, with the ids made readable."""
    out = []
    for r in fake.requests:
        if channel in r.path:
            path = re.sub(rf"{re.escape(channel)}-[0-9a-f]{{8}}-pb-", "pb", r.path).replace(channel, "CH")
            media = r.params.get("media")
            out.append(f"{r.method} {path}" + (f" {media}" if media else "") + f" -> {r.status}")
    return out


async def test_a_new_instance_adopts_every_caller_the_dead_one_left_in_the_app(
    fake: FakeAsterisk, start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await start("first")
    async with first.app[SESSIONS]() as session, session.begin():
        await add_survey_version(session, name="csat3", definition=EXAMPLE_CSAT_SOLVED_NPS.to_dict())

    async def call(linkedid: str) -> tuple[str, asyncio.Queue[dict[str, Any]]]:
        """A caller who has heard the first question."""
        channel = await fake.place_call(args=["operator=7001", "survey=csat3"], linkedid=linkedid)
        events = fake.subscribe(channel)
        await prompt(events, "survey-rate")
        return channel, events

    mid, _ = await call("L-mid")  # presses nothing
    between, events = await call("L-between")  # answers the first question (stored before it is accepted)
    await fake.press(between, "5")
    await prompt(events, "survey-accepted")
    thanked, events = await call("L-thanks")  # answers everything, hears the thanks
    for keys, sound in (("4", "survey-solved"), ("1", "survey-nps"), ("10", "survey-thanks")):
        await fake.press(thanked, keys)
        await prompt(events, sound)
    gone, events = await call("L-gone")  # answers the first question, hangs up as the new instance connects
    await fake.press(gone, "3")
    await prompt(events, "survey-accepted")
    await crash(first)

    # An instance that dies as Asterisk hands it a caller (a StasisStart nobody acted on), and as it places a
    # campaign call under another instance's name (prefix).
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(fake.base_url + f"/ari/events?app={APP}&api_key={USER}:{PASSWORD}"),
        AriClient(fake.base_url, USER, PASSWORD, APP) as ari,
    ):
        lost = await fake.place_call(args=["operator=7003", "survey=csat3"], linkedid="L-lost")
        await ari.originate(endpoint="Local/answer@customers", app_args="survey=csat3", channel_id="other-dial-1")
        await wait_until(lambda: fake.in_stasis("other-dial-1"), "the other instance's campaign call to answer")
    await wait_until(lambda: not fake.app_registered(), "the second dead instance's websocket to close")
    listened = {channel: fake.subscribe(channel) for channel in (mid, between, thanked, lost)}

    # The caller who hung up did so while the new instance looked at the list of channels: listed, then gone.
    get_application = AriClient.get_application

    async def listed_then_gone(client: AriClient, app: str) -> dict[str, Any] | None:
        application = await get_application(client, app)
        await fake.caller_hangup(gone)
        return application

    monkeypatch.setattr(AriClient, "get_application", listed_then_gone)
    fake.clear_requests()
    second = await start("second")

    for channel, presses in (
        (mid, (("survey-rate", "2"), ("survey-solved", "2"), ("survey-nps", "8#"))),
        (between, (("survey-solved", "1"), ("survey-nps", "7#"))),
    ):
        for n, (sound, keys) in enumerate(presses):
            if n == 0:  # the question asked again, from its prompt
                await replayed(listened[channel], channel, sound)
            else:
                await prompt(listened[channel], sound)
            await fake.press(channel, keys)
    for sound, keys in (("survey-rate", "1"), ("survey-solved", "1"), ("survey-nps", "9#")):
        await prompt(listened[lost], sound)  # a survey from the start: the first of this channel's prompts
        await fake.press(lost, keys)
    await replayed(listened[thanked], thanked, "survey-thanks")
    for channel in (mid, between, thanked, lost):
        await second.wait_done(channel)

    assert await stored(second) == {
        "L-mid": ("completed", "7001", [("rating", "2", 1), ("solved", "2", 1), ("nps", "8", 1)]),
        "L-between": ("completed", "7001", [("rating", "5", 1), ("solved", "1", 1), ("nps", "7", 1)]),
        "L-thanks": ("completed", "7001", [("rating", "4", 1), ("solved", "1", 1), ("nps", "10", 1)]),
        "L-gone": ("abandoned", "7001", [("rating", "3", 1)]),
        "L-lost": ("completed", "7003", [("rating", "1", 1), ("solved", "1", 1), ("nps", "9", 1)]),
    }
    # The other instance's campaign call is left alone: not even looked at.
    assert [r.path for r in fake.requests if "other-dial-1" in r.path] == []
    assert fake.in_stasis("other-dial-1")
    # Read, then the question asked again from its prompt; the thanks played again, then the hang-up; a channel
    # gone by then is only looked at.
    assert adopter_calls(fake, between)[:3] == [
        "GET /ari/channels/CH -> 200",
        "GET /ari/channels/CH/variable -> 200",
        "POST /ari/channels/CH/play/pb1 sound:survey-solved -> 201",
    ]
    assert adopter_calls(fake, thanked) == [
        "GET /ari/channels/CH -> 200",
        "GET /ari/channels/CH/variable -> 200",
        "POST /ari/channels/CH/play/pb1 sound:survey-thanks -> 201",
        "DELETE /ari/channels/CH -> 204",
    ]
    assert adopter_calls(fake, gone) == ["GET /ari/channels/CH -> 404"]
    assert [r.path for r in fake.requests if "/applications/" in r.path] == [f"/ari/applications/{APP}"]
