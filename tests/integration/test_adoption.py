"""Adoption (issue 15): an instance dies with callers in the Stasis app; Asterisk keeps them there, in silence, and
the next instance to connect adopts them: each hears the right prompt again, and what is stored is exact."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.app import create_app
from ivr_survey.ari.client import AriClient
from ivr_survey.db import writes
from ivr_survey.db.adoption import StoredResponse, stored_response
from ivr_survey.db.repository import add_survey_version
from ivr_survey.keys import LEADERSHIP, SESSIONS, STASIS
from ivr_survey.simulator.ari import FakeAsterisk
from ivr_survey.simulator.sounds import PROMPT_DURATIONS
from ivr_survey.survey.actions import SaveAnswer
from ivr_survey.survey.definition import DEFAULT_SURVEY, EXAMPLE_CSAT_SOLVED_NPS
from tests.integration.test_stasis import SPEED, Service, prompt, settings_for
from tests.support.waiting import wait_until
from tests.support.writing import write

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
    # A dead process's active lock goes with it (its file descriptor, its PostgreSQL session).
    leadership = service.app[LEADERSHIP]
    await leadership.stop_watching()
    await leadership.release()
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

    # An instance that dies as Asterisk hands it a caller and a customer of our campaigns who answered (StasisStarts
    # nobody acted on), and as it places a campaign call under another instance's name (prefix).
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(fake.base_url + f"/ari/events?app={APP}&api_key={USER}:{PASSWORD}"),
        AriClient(fake.base_url, USER, PASSWORD, APP) as ari,
    ):
        lost = await fake.place_call(args=["operator=7003", "survey=csat3"], linkedid="L-lost")
        for channel_id, args in (("other-dial-1", "survey=csat3"), ("ivr-survey-dial-1", "survey=csat3,operator=7005")):
            await ari.originate(endpoint="Local/answer@customers", app_args=args, channel_id=channel_id)
            await wait_until(lambda: fake.in_stasis(channel_id), "the campaign call to be answered")  # noqa: B023
    ours = "ivr-survey-dial-1"
    await wait_until(lambda: not fake.app_registered(), "the second dead instance's websocket to close")
    listened = {channel: fake.subscribe(channel) for channel in (mid, between, thanked, lost, ours)}

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
    for channel in (lost, ours):
        for sound, keys in (("survey-rate", "1"), ("survey-solved", "1"), ("survey-nps", "9#")):
            await prompt(listened[channel], sound)  # a survey from the start: the first of this channel's prompts
            await fake.press(channel, keys)
    await replayed(listened[thanked], thanked, "survey-thanks")
    for channel in (mid, between, thanked, lost, ours):
        await second.wait_done(channel)

    assert await stored(second) == {
        "L-mid": ("completed", "7001", [("rating", "2", 1), ("solved", "2", 1), ("nps", "8", 1)]),
        "L-between": ("completed", "7001", [("rating", "5", 1), ("solved", "1", 1), ("nps", "7", 1)]),
        "L-thanks": ("completed", "7001", [("rating", "4", 1), ("solved", "1", 1), ("nps", "10", 1)]),
        "L-gone": ("abandoned", "7001", [("rating", "3", 1)]),
        "L-lost": ("completed", "7003", [("rating", "1", 1), ("solved", "1", 1), ("nps", "9", 1)]),
        fake.linkedid_of(ours): ("completed", "7005", [("rating", "1", 1), ("solved", "1", 1), ("nps", "9", 1)]),
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


async def test_a_reconnect_adopts_nothing_the_instance_already_surveys(fake: FakeAsterisk, start: Start) -> None:
    service = await start("only")
    channel = await fake.place_call(args=["operator=7001"], linkedid="L-kept")
    events = fake.subscribe(channel)
    await prompt(events, "survey-rate")
    assert await fake.drop_websockets() == 1
    await fake.wait_for_app()
    await wait_until(
        lambda: sum("/applications/" in r.path for r in fake.requests) == 2, "the reconnected app to look for orphans"
    )
    await fake.press(channel, "4")
    await service.wait_done(channel)

    assert await stored(service) == {"L-kept": ("completed", "7001", [("rating", "4", 1)])}
    plays = [r.params["media"] for r in fake.requests if "/play/" in r.path]
    assert plays == ["sound:survey-rate", "sound:survey-thanks"]  # one survey, not a second one adopted


@pytest.mark.parametrize(
    ("channel_id", "linkedid", "found"),
    [
        ("1795715814.17", "unknown", "1795715814.16"),  # by the channel's uniqueid
        ("unknown", "1795715814.16", "1795715814.16"),  # by the call's linkedid (another channel of the call)
        ("1795715814.17", "L-other", "1795715814.16"),  # the channel's own call wins over a linkedid match
        ("unknown", "unknown", None),
    ],
)
async def test_the_stored_response_of_a_channel(
    sessions: async_sessionmaker[AsyncSession], channel_id: str, linkedid: str, found: str | None
) -> None:
    started = datetime(2026, 11, 26, 17, 56, 57, tzinfo=UTC)
    async with sessions() as s, s.begin():
        for call, channel in (("1795715814.16", "1795715814.17"), ("L-other", "1795715900.1")):
            await write(
                s,
                writes.StartResponse(
                    linkedid=call,
                    survey="default",
                    survey_version=1,
                    channel="ari",
                    language="ru",
                    args={"operator": "7001", "arg3": "x"},
                    started_at=started,
                    channel_uniqueid=channel,
                ),
            )
        await write(
            s,
            writes.SaveAnswer(
                linkedid="1795715814.16",
                position=0,
                question="rating",
                digits=None,
                score=None,
                attempts=3,
                answered_at=started,
            ),
        )
    async with sessions() as s:
        response = await stored_response(s, channel_id=channel_id, linkedid=linkedid)
    if found is None:
        assert response is None
        return
    assert response == StoredResponse(
        linkedid=found,
        status="in_progress",
        definition=DEFAULT_SURVEY,
        language="ru",
        args={"operator": "7001", "arg3": "x"},
        answers=(SaveAnswer(0, "rating", None, None, 3),),
    )
