"""The ARI survey app end to end: the fake Asterisk (replaying the real traces' behaviour) calls in,
the app runs the survey, and we assert what is stored and what was asked of Asterisk."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from ivr_survey.app import create_app
from ivr_survey.config import Settings
from ivr_survey.db.models import SurveyAnswer
from ivr_survey.db.ratings import list_ratings
from ivr_survey.db.repository import add_survey_version
from ivr_survey.keys import SESSIONS, STASIS, STORE
from ivr_survey.simulator.ari import FakeAsterisk
from ivr_survey.survey.definition import EXAMPLE_CSAT_SOLVED_NPS
from tests.conftest import Databases
from tests.support.waiting import wait_until

SPEED = 50.0  # the 2.5 s prompt plays for 50 ms


@dataclass
class Service:
    fake: FakeAsterisk
    server: TestServer

    @property
    def app(self) -> web.Application:
        return self.server.app

    async def ratings(self) -> list[dict[str, Any]]:
        async with self.app[SESSIONS]() as session:
            return [asdict(r) for r in (await list_ratings(session, limit=1000)).items]

    async def answers(self) -> list[tuple]:
        async with self.app[SESSIONS]() as session:
            rows = await session.execute(
                select(
                    SurveyAnswer.position,
                    SurveyAnswer.question,
                    SurveyAnswer.digits,
                    SurveyAnswer.score,
                    SurveyAnswer.attempts,
                ).order_by(SurveyAnswer.response_id, SurveyAnswer.position)
            )
            return [tuple(r) for r in rows]

    async def wait_done(self, channel_id: str, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        await self.fake.wait_channel_gone(channel_id, timeout=timeout)
        await wait_until(lambda: channel_id not in self.app[STASIS].calls, "the call to leave the app", timeout)


async def prompt(events: asyncio.Queue, sound: str, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
    """Wait until the caller hears `sound` start."""
    async with asyncio.timeout(timeout):
        while True:
            event = await events.get()
            if event["type"] == "PlaybackStarted" and event["playback"]["media_uri"] == f"sound:{sound}":
                return event


def settings_for(database_url: str, fake: FakeAsterisk, tmp_path: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = dict(
        _env_file=None,
        database_url=database_url,
        spool_dir=tmp_path / "spool",
        ari_url=fake.base_url,
        ari_user="ivr-survey",
        ari_password="secret",
        no_input_timeout=0.1,
        inter_digit_timeout=0.1,
        shutdown_grace=2.0,
    )
    values.update(extra)
    return Settings(**values)


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with FakeAsterisk(user="ivr-survey", password="secret", app="ivr-survey", speed=SPEED) as fake:
        server = TestServer(create_app(settings_for(database_url, fake, tmp_path)))
        await server.start_server()
        try:
            await fake.wait_for_app()
            yield Service(fake, server)
        finally:
            await server.close()


def rest_calls(fake: FakeAsterisk, channel_id: str) -> list[str]:
    """What the app asked of Asterisk for one channel, with our generated ids made readable."""
    out = []
    for r in fake.requests:
        if channel_id not in r.path and not r.path.startswith("/ari/playbacks/"):
            continue
        path = r.path.replace(channel_id, "CH")
        path = re.sub(r"CH-pb-(\d+)", r"pb\1", path)
        media = r.params.get("media")
        out.append(f"{r.method} {path}" + (f" {media}" if media else "") + f" -> {r.status}")
    return out


# -- the traced scenarios ----------------------------------------------------------------


async def test_rated_4(service: Service) -> None:
    """rated-4.jsonl: the caller presses 4 while the prompt plays."""
    fake = service.fake
    channel = await fake.place_call(args=["post-call", "7001"], caller_number="79991234567", linkedid="L-rated")
    events = fake.subscribe(channel)
    await prompt(events, "survey-rate")
    await fake.press(channel, "4")
    await service.wait_done(channel)

    [rating] = await service.ratings()
    assert {
        k: rating[k]
        for k in (
            "call_id",
            "channel_uniqueid",
            "operator",
            "queue",
            "survey",
            "status",
            "score",
            "caller",
            "channel",
            "language",
        )
    } == {
        "call_id": "L-rated",
        "channel_uniqueid": channel,
        "operator": "7001",
        "queue": None,
        "survey": "default",
        "status": "completed",
        "score": 4.0,
        "caller": "79991234567",
        "channel": "ari",
        "language": "en",
    }
    assert rating["answers"] == [{"question": "rating", "key": "4", "score": 4.0, "attempts": 1}]
    assert rest_calls(fake, channel) == [
        "GET /ari/channels/CH/variable -> 200",
        "POST /ari/channels/CH/answer -> 204",
        "POST /ari/channels/CH/play/pb1 sound:survey-rate -> 201",
        "DELETE /ari/playbacks/pb1 -> 204",
        "POST /ari/channels/CH/play/pb2 sound:survey-thanks -> 201",
        "DELETE /ari/channels/CH -> 204",
    ]


async def test_invalid_then_5(service: Service) -> None:
    """invalid-then-5.jsonl: 9 is not an answer; the caller hears 'invalid', is asked again, presses 5."""
    fake = service.fake
    channel = await fake.place_call(args=["post-call", "7001"], linkedid="L-invalid")
    events = fake.subscribe(channel)
    await prompt(events, "survey-rate")
    await fake.press(channel, "9")
    await prompt(events, "survey-invalid")
    await fake.press(channel, "5")
    await service.wait_done(channel)

    [rating] = await service.ratings()
    assert (rating["status"], rating["score"]) == ("completed", 5.0)
    assert await service.answers() == [(0, "rating", "5", 5.0, 2)]
    assert rest_calls(fake, channel) == [
        "GET /ari/channels/CH/variable -> 200",
        "POST /ari/channels/CH/answer -> 204",
        "POST /ari/channels/CH/play/pb1 sound:survey-rate -> 201",
        "DELETE /ari/playbacks/pb1 -> 204",
        "POST /ari/channels/CH/play/pb2 sound:survey-invalid -> 201",
        "POST /ari/channels/CH/play/pb3 sound:survey-rate -> 201",
        "DELETE /ari/playbacks/pb2 -> 204",
        "DELETE /ari/playbacks/pb3 -> 204",
        "POST /ari/channels/CH/play/pb4 sound:survey-thanks -> 201",
        "DELETE /ari/channels/CH -> 204",
    ]


async def test_caller_hangs_up_during_prompt(service: Service) -> None:
    """caller-hangs-up-during-prompt.jsonl: no key; abandoned, nothing answered, no REST after the hangup."""
    fake = service.fake
    channel = await fake.place_call(args=["post-call", "7001"], linkedid="L-gone")
    events = fake.subscribe(channel)
    await prompt(events, "survey-rate")
    await fake.caller_hangup(channel)
    await service.wait_done(channel)

    [rating] = await service.ratings()
    assert (rating["status"], rating["score"], rating["answers"]) == ("abandoned", None, [])
    assert rest_calls(fake, channel)[-1] == "POST /ari/channels/CH/play/pb1 sound:survey-rate -> 201"


async def test_no_input_timeout(service: Service) -> None:
    """no-input-timeout.jsonl: silence; asked three times (two retries), then no_input and hang-up."""
    fake = service.fake
    channel = await fake.place_call(args=["post-call", "7001"], linkedid="L-silent")
    await service.wait_done(channel)

    [rating] = await service.ratings()
    assert (rating["status"], rating["score"]) == ("no_input", None)
    assert await service.answers() == [(0, "rating", None, None, 3)]
    assert rest_calls(fake, channel) == [
        "GET /ari/channels/CH/variable -> 200",
        "POST /ari/channels/CH/answer -> 204",
        "POST /ari/channels/CH/play/pb1 sound:survey-rate -> 201",
        "POST /ari/channels/CH/play/pb2 sound:survey-rate -> 201",
        "POST /ari/channels/CH/play/pb3 sound:survey-rate -> 201",
        "POST /ari/channels/CH/play/pb4 sound:survey-thanks -> 201",
        "DELETE /ari/channels/CH -> 204",
    ]


async def test_queue_agent_hangs_up_then_rated(service: Service) -> None:
    """queue-agent-hangs-up-then-rated.jsonl: key=value arguments name operator and queue."""
    fake = service.fake
    channel = await fake.place_call(args=["operator=7001", "queue=sales"], linkedid="L-queue")
    events = fake.subscribe(channel)
    await prompt(events, "survey-rate")
    await fake.press(channel, "4")
    await service.wait_done(channel)

    [rating] = await service.ratings()
    assert (rating["operator"], rating["queue"], rating["status"], rating["score"]) == (
        "7001",
        "sales",
        "completed",
        4.0,
    )


# -- the contract with the dialplan ---------------------------------------------------------


async def test_an_operator_given_as_a_queue_interface_is_named_as_the_call_history_names_it(
    service: Service,
) -> None:
    """operator=${MEMBERINTERFACE} passes Local/7001@operators/n: the operator pattern makes it 7001."""
    fake = service.fake
    channel = await fake.place_call(args=["operator=Local/7001@operators/n", "queue=sales"], linkedid="L-iface")
    events = fake.subscribe(channel)
    await prompt(events, "survey-rate")
    await fake.press(channel, "5")
    await service.wait_done(channel)
    [rating] = await service.ratings()
    assert (rating["operator"], rating["score"]) == ("7001", 5.0)


async def test_arguments_any_order_unknown_kept_operator_missing_is_unknown(service: Service) -> None:
    fake = service.fake
    channel = await fake.place_call(
        args=["campaign=spring", "queue=support", "lang=ru"], linkedid="L-args", language="en"
    )
    events = fake.subscribe(channel)
    started = await prompt(events, "survey-rate")
    await fake.press(channel, "2")
    await service.wait_done(channel)

    [rating] = await service.ratings()
    assert (rating["operator"], rating["queue"], rating["language"], rating["score"]) == (None, "support", "ru", 2.0)
    assert started["playback"]["language"] == "ru"
    play = next(r for r in fake.requests if r.path.endswith("/play/" + f"{channel}-pb-1"))
    assert play.params["lang"] == "ru"


async def test_multi_question_survey_with_nps(service: Service) -> None:
    """A three-question survey stored as data; NPS takes two keys ended by #."""
    async with service.app[SESSIONS]() as session, session.begin():
        await add_survey_version(session, name="csat3", definition=EXAMPLE_CSAT_SOLVED_NPS.to_dict())
    fake = service.fake
    channel = await fake.place_call(args=["operator=7002", "survey=csat3"], linkedid="L-csat3")
    events = fake.subscribe(channel)
    await prompt(events, "survey-rate")
    await fake.press(channel, "5")
    await prompt(events, "survey-solved")
    await fake.press(channel, "1")
    await prompt(events, "survey-nps")
    await fake.press(channel, "10")
    await service.wait_done(channel)

    [rating] = await service.ratings()
    assert (rating["survey"], rating["survey_version"], rating["status"], rating["score"]) == (
        "csat3",
        1,
        "completed",
        5.0,
    )
    assert rating["answers"] == [
        {"question": "rating", "key": "5", "score": 5.0, "attempts": 1},
        {"question": "solved", "key": "1", "score": 1.0, "attempts": 1},
        {"question": "nps", "key": "10", "score": 10.0, "attempts": 1},
    ]
    sounds = [r.params.get("media") for r in fake.requests if "/play/" in r.path]
    assert sounds == [
        "sound:survey-rate",
        "sound:survey-accepted",
        "sound:survey-solved",
        "sound:survey-accepted",
        "sound:survey-nps",
        "sound:survey-thanks",
    ]


async def test_missing_sound_file_does_not_trap_the_caller(database_url: str, tmp_path: Path) -> None:
    """Asterisk answers PlaybackFinished 'failed' for a missing sound: keys still count, the survey still ends."""
    async with FakeAsterisk(user="ivr-survey", password="secret", speed=SPEED, known_sounds={"survey-thanks"}) as fake:
        server = TestServer(create_app(settings_for(database_url, fake, tmp_path)))
        await server.start_server()
        try:
            await fake.wait_for_app()
            channel = await fake.place_call(args=["operator=7001"], linkedid="L-nosound")
            events = fake.subscribe(channel)
            async with asyncio.timeout(5):
                while (await events.get())["type"] != "PlaybackFinished":
                    pass
            await fake.press(channel, "3")
            await fake.wait_channel_gone(channel)
            silent = await fake.place_call(args=["operator=7001"], linkedid="L-nosound-silent")
            await fake.wait_channel_gone(silent)
            async with server.app[SESSIONS]() as session:
                ratings = [asdict(r) for r in (await list_ratings(session, limit=10)).items]
        finally:
            await server.close()
    assert [(r["call_id"], r["status"], r["score"]) for r in ratings] == [
        ("L-nosound-silent", "no_input", None),
        ("L-nosound", "completed", 3.0),
    ]


# -- robustness ---------------------------------------------------------------------------


async def test_replayed_events_store_nothing_twice(service: Service) -> None:
    fake = service.fake
    stasis = service.app[STASIS]
    channel = await fake.place_call(args=["operator=7001"], linkedid="L-replay")
    start = next(e for e in fake.events if e["type"] == "StasisStart" and e["channel"]["id"] == channel)
    events = fake.subscribe(channel)
    await prompt(events, "survey-rate")
    stasis.on_event(start)  # the same StasisStart again
    await fake.press(channel, "4")
    dtmf = next(e for e in fake.events if e["type"] == "ChannelDtmfReceived" and e["channel"]["id"] == channel)
    stasis.on_event(dtmf)  # and the same keypress event again
    await service.wait_done(channel)
    stasis.on_event(start)  # a StasisStart replayed after the call is over
    await wait_until(lambda: channel not in stasis.calls, "the call to leave the app")

    assert [(r["call_id"], r["status"]) for r in await service.ratings()] == [("L-replay", "completed")]
    assert await service.answers() == [(0, "rating", "4", 4.0, 1)]


async def test_many_concurrent_calls_one_slow(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    """50 callers at once; one call whose REST answers hang does not hold up the others: its first prompt is
    held until all 50 are rated, which could never happen if it held them up (the timeout is only a guard
    against hanging; nothing here is timed)."""
    fake = service.fake
    stasis = service.app[STASIS]
    slow_channel: list[str] = []
    release = asyncio.Event()
    real_play = stasis.client.play

    async def play(channel_id: str, *args: Any, **kwargs: Any) -> dict:
        if channel_id in slow_channel:
            await release.wait()
        return await real_play(channel_id, *args, **kwargs)

    monkeypatch.setattr(stasis.client, "play", play)
    slow = await fake.place_call(args=["operator=7999"], linkedid="L-slow")
    slow_channel.append(slow)
    slow_events = fake.subscribe(slow)

    async def caller(n: int) -> str:
        channel = await fake.place_call(args=[f"operator=70{n % 5:02d}"], linkedid=f"L-{n:02d}")
        events = fake.subscribe(channel)
        await prompt(events, "survey-rate", timeout=60)
        await fake.press(channel, str(n % 5 + 1))
        await service.wait_done(channel, timeout=60)
        return channel

    async with asyncio.timeout(120):
        await asyncio.gather(*(caller(n) for n in range(50)))
        # on a busy machine some writes outlast the write timeout and reach the database through the spool
        await wait_until(lambda: service.app[STORE].pending == 0, "the spool to drain", 60)
    ratings = {r["call_id"]: r for r in await service.ratings()}
    assert {k: (v["operator"], v["score"], v["status"]) for k, v in ratings.items() if k != "L-slow"} == {
        f"L-{n:02d}": (f"70{n % 5:02d}", float(n % 5 + 1), "completed") for n in range(50)
    }
    assert ratings["L-slow"]["status"] == "in_progress"

    release.set()  # the slow call goes on as if nothing had happened
    async with asyncio.timeout(60):
        await prompt(slow_events, "survey-rate", timeout=60)
        await fake.press(slow, "3")
        await service.wait_done(slow, timeout=60)
        await wait_until(lambda: service.app[STORE].pending == 0, "the spool to drain", 60)
    ratings = {r["call_id"]: r for r in await service.ratings()}
    assert (ratings["L-slow"]["operator"], ratings["L-slow"]["score"], ratings["L-slow"]["status"]) == (
        "7999",
        3.0,
        "completed",
    )


async def test_handler_error_ends_survey_cleanly(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = service.fake
    stasis = service.app[STASIS]
    real_play = stasis.client.play

    async def play(channel_id: str, playback_id: str, media: str, **kwargs: Any) -> dict:
        if media == "sound:survey-invalid":
            raise RuntimeError("boom")
        return await real_play(channel_id, playback_id, media, **kwargs)

    monkeypatch.setattr(stasis.client, "play", play)
    channel = await fake.place_call(args=["operator=7001"], linkedid="L-boom")
    events = fake.subscribe(channel)
    await prompt(events, "survey-rate")
    await fake.press(channel, "7")  # invalid: the app's attempt to say so blows up
    await service.wait_done(channel)

    [rating] = await service.ratings()
    assert (rating["status"], rating["answers"]) == ("failed", [])
    assert rest_calls(fake, channel)[-1] == "DELETE /ari/channels/CH -> 204"


async def test_survey_that_cannot_start_sends_caller_back_to_dialplan(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    stasis = service.app[STASIS]

    async def broken(name: str | None) -> Any:
        raise RuntimeError("catalog broken")

    monkeypatch.setattr(stasis.setup.catalog, "get", broken)
    channel = await service.fake.place_call(args=["operator=7001"], linkedid="L-nostart")
    await service.wait_done(channel)
    assert rest_calls(service.fake, channel) == [
        "GET /ari/channels/CH/variable -> 200",
        "POST /ari/channels/CH/answer -> 204",
        "POST /ari/channels/CH/continue -> 204",
    ]


async def test_database_outage_changes_nothing_for_the_caller(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers made while the database is down are spooled and written when it returns."""
    store = service.app[STORE]
    real_apply = store._apply
    down = True

    async def apply(record: Any) -> None:
        if down:
            raise ConnectionRefusedError(111, "Connection refused")
        await real_apply(record)

    monkeypatch.setattr(store, "_apply", apply)
    fake = service.fake
    channel = await fake.place_call(args=["operator=7001"], linkedid="L-outage")
    events = fake.subscribe(channel)
    await prompt(events, "survey-rate")
    await fake.press(channel, "5")
    await service.wait_done(channel)
    assert rest_calls(fake, channel)[-2:] == [
        "POST /ari/channels/CH/play/pb2 sound:survey-thanks -> 201",
        "DELETE /ari/channels/CH -> 204",
    ]
    assert store.pending == 3
    assert await service.ratings() == []

    down = False
    await wait_until(lambda: store.pending == 0, "the spool to drain", 10)
    [rating] = await service.ratings()
    assert (rating["call_id"], rating["status"], rating["score"]) == ("L-outage", "completed", 5.0)


async def test_websocket_drop_reconnects_and_keeps_serving(service: Service) -> None:
    fake = service.fake
    stasis = service.app[STASIS]
    assert await fake.drop_websockets() == 1
    await fake.wait_for_app(timeout=10)
    await wait_until(lambda: stasis.connected, "the app to connect")
    channel = await fake.place_call(args=["operator=7001"], linkedid="L-after-drop")
    events = fake.subscribe(channel)
    await prompt(events, "survey-rate")
    await fake.press(channel, "3")
    await service.wait_done(channel)
    assert [(r["call_id"], r["score"]) for r in await service.ratings()] == [("L-after-drop", 3.0)]


async def test_shutdown_drains(service: Service) -> None:
    """SIGTERM's path: a survey in progress may finish; a caller arriving meanwhile goes back to the dialplan."""
    fake = service.fake
    stasis = service.app[STASIS]
    channel = await fake.place_call(args=["operator=7001"], linkedid="L-drain")
    events = fake.subscribe(channel)
    await prompt(events, "survey-rate")
    stopping = asyncio.create_task(stasis.stop(grace=5.0))
    await asyncio.sleep(0.05)
    late = await fake.place_call(args=["operator=7001"], linkedid="L-late")
    await fake.press(channel, "4")
    await asyncio.wait_for(stopping, 5)
    assert not stasis.calls
    assert [(r["call_id"], r["status"], r["score"]) for r in await service.ratings()] == [("L-drain", "completed", 4.0)]
    assert rest_calls(fake, late) == ["POST /ari/channels/CH/continue -> 204"]


async def test_a_second_instance_with_the_same_app_replaces_the_first(
    database_url: str, databases: Databases, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 15, fact 1: the first instance says it is replaced (503), lets go of its callers and takes no calls;
    the second one takes new calls and adopts the first's caller. The second has a database of its own: on a shared
    one it would wait as a standby."""

    async def health(server: TestServer) -> tuple[int, dict[str, Any]]:
        async with aiohttp.ClientSession() as http, http.get(server.make_url("/healthz")) as resp:
            return resp.status, await resp.json()

    async with FakeAsterisk(user="ivr-survey", password="secret", app="ivr-survey", speed=SPEED) as fake:
        # No question times out while the second instance starts (on PostgreSQL it waits 1.5 s before connecting).
        slow = {"no_input_timeout": 5.0, "inter_digit_timeout": 5.0}
        first = TestServer(
            create_app(settings_for(database_url, fake, tmp_path, spool_dir=tmp_path / "spool-1", **slow))
        )
        other_url = await databases.create()
        second = TestServer(create_app(settings_for(other_url, fake, tmp_path, spool_dir=tmp_path / "spool-2", **slow)))
        await first.start_server()
        try:
            await fake.wait_for_app()
            stasis_1 = first.app[STASIS]
            await wait_until(lambda: stasis_1.connected, "the first to connect")
            caller = await fake.place_call(args=["operator=7001"], linkedid="L-first")
            await prompt(fake.subscribe(caller), "survey-rate")

            again = fake.subscribe(caller)
            await second.start_server()
            stasis_2 = second.app[STASIS]
            await wait_until(lambda: stasis_1.replaced and stasis_2.connected, "the second to take over")
            # The first lets go of its caller without a word to Asterisk: the caller's events go elsewhere now.
            await wait_until(lambda: not stasis_1.calls, "the first to let go of its caller")
            assert fake.in_stasis(caller)
            # The second adopted the caller the first let go of (no caller stranded) and asked again: an adopted
            # survey's playbacks have ids of their own.
            async with asyncio.timeout(5):
                while True:
                    event = await again.get()
                    playback = event.get("playback", {})
                    if event["type"] == "PlaybackStarted" and not playback["id"].startswith(f"{caller}-pb-"):
                        break
            assert (caller in stasis_2.calls, playback["media_uri"]) == (True, "sound:survey-rate")
            await fake.press(caller, "5")

            status_1, body_1 = await health(first)
            assert (status_1, body_1) == (
                503,
                {
                    "status": "degraded",
                    "database": "ok",
                    "ari": "replaced",
                    "ami": "disabled",
                    "agi": "disabled",
                    "pending_records": 0,
                    "spool": {"status": "ok", "pending": 0, "set_aside": 0},
                    "dialer": {"status": "waiting_for_ari", "campaigns_running": 0, "calls_in_progress": 0},
                    "role": "active",
                    "role_since": body_1["role_since"],
                    "takeovers": 1,
                },
            )
            status, body = await health(second)
            assert (status, body["status"], body["ari"]) == (200, "ok", "connected")

            channel = await fake.place_call(args=["operator=7002"], linkedid="L-second")
            await prompt(fake.subscribe(channel), "survey-rate")
            assert (channel in stasis_2.calls, stasis_1.calls) == (True, {})
            await fake.press(channel, "4")
            await fake.wait_channel_gone(channel)
            await wait_until(lambda: not stasis_2.calls, "the survey to end")
            await fake.wait_channel_gone(caller)
            await wait_until(lambda: not stasis_2.calls, "the adopted survey to end")
            rated = []
            for server in (first, second):
                async with server.app[SESSIONS]() as session:
                    rated.append(
                        sorted(
                            (r.call_id, r.status, r.score or 0) for r in (await list_ratings(session, limit=10)).items
                        )
                    )
            # The second knew nothing of the first's caller (its own database): it asked the survey from the start.
            assert rated == [
                [("L-first", "in_progress", 0)],
                [("L-first", "completed", 5.0), ("L-second", "completed", 4.0)],
            ]
        finally:
            await second.close()
            await first.close()
            await databases.drop(other_url)
    # Both were on the app for a moment: the replaced one closes its websocket on hearing ApplicationReplaced.
    assert (fake.websocket_count(), fake.most_websockets) == (0, 2)
    replaced = [r for r in caplog.records if r.name == "ivr_survey.ari.client" and r.levelno == logging.ERROR]
    assert len(replaced) == 1
    assert "'ivr-survey'" in replaced[0].getMessage()
