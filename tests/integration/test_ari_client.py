"""AriClient against the fake Asterisk on loopback, and the Backoff it reconnects with."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from ivr_survey.ari.client import AriClient, AriError, AriUnavailable
from ivr_survey.backoff import Backoff
from ivr_survey.simulator.ari import FakeAsterisk
from tests.support.waiting import free_port, wait_until

USER = "ivr-survey"
PASSWORD = "s3cret-ari-pass"
APP = "ivr-survey"
CLIENT_LOGGER = "ivr_survey.ari.client"


# -- helpers ---------------------------------------------------------------------------


def fast_backoff(initial: float = 0.05, cap: float = 0.2, seed: int = 7) -> Backoff:
    return Backoff(initial=initial, cap=cap, rng=random.Random(seed))


class Listener:
    """Runs ``client.listen`` in a task and records what it is given."""

    def __init__(self, client: AriClient) -> None:
        self.client = client
        self.events: list[dict[str, Any]] = []
        self.connected = 0
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def on_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def on_connected(self) -> None:
        self.connected += 1

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    async def __aenter__(self) -> Listener:
        self.task = asyncio.create_task(
            self.client.listen(self.on_event, on_connected=self.on_connected, stop=self.stop)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 2)


def client_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == CLIENT_LOGGER and r.levelno == level]


@contextlib.asynccontextmanager
async def serve(app: web.Application, port: int = 0) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    async with FakeAsterisk(user=USER, password=PASSWORD, app=APP, speed=50) as f:
        yield f


@pytest.fixture
async def client(fake: FakeAsterisk) -> AsyncIterator[AriClient]:
    async with AriClient(fake.base_url, USER, PASSWORD, APP, backoff=fast_backoff()) as c:
        yield c


def rest_calls(fake: FakeAsterisk) -> list[tuple[str, str, dict[str, Any], int]]:
    return [(r.method, r.path, r.params, r.status) for r in fake.requests if r.path != "/ari/events"]


# -- REST --------------------------------------------------------------------------------


async def test_rest_round_trips(fake: FakeAsterisk, client: AriClient) -> None:
    async with Listener(client) as listener:
        await fake.wait_for_app()
        ch = await fake.place_call(args=["post-call", "7001"])
        await client.answer(ch)
        pb = await client.play(ch, "pb-prompt", "sound:survey-rate")
        assert pb == {
            "id": "pb-prompt",
            "media_uri": "sound:survey-rate",
            "target_uri": f"channel:{ch}",
            "language": "en",
            "state": "queued",
        }
        pb2 = await client.play(ch, "pb-thanks", "survey-thanks", lang="ru")  # bare name -> sound:
        assert (pb2["media_uri"], pb2["language"], pb2["state"]) == ("sound:survey-thanks", "ru", "queued")
        assert await client.get_variable(ch, "CHANNEL(linkedid)") == fake.linkedid_of(ch)
        assert await client.get_variable(ch, "NOT_SET") is None
        await client.stop_playback("pb-prompt")
        await client.hangup(ch)
        # all of these are normal after the fact: no error
        await client.hangup(ch)
        await client.stop_playback("pb-prompt")
        await client.continue_in_dialplan(ch)
        assert await client.get_variable(ch, "CHANNEL(linkedid)") is None
        await wait_until(lambda: bool(listener.of_type("StasisEnd")), "StasisEnd")

    assert rest_calls(fake) == [
        ("POST", f"/ari/channels/{ch}/answer", {}, 204),
        ("POST", f"/ari/channels/{ch}/play/pb-prompt", {"media": "sound:survey-rate"}, 201),
        ("POST", f"/ari/channels/{ch}/play/pb-thanks", {"media": "sound:survey-thanks", "lang": "ru"}, 201),
        ("GET", f"/ari/channels/{ch}/variable", {"variable": "CHANNEL(linkedid)"}, 200),
        ("GET", f"/ari/channels/{ch}/variable", {"variable": "NOT_SET"}, 404),
        ("DELETE", "/ari/playbacks/pb-prompt", {}, 204),
        ("DELETE", f"/ari/channels/{ch}", {}, 204),
        ("DELETE", f"/ari/channels/{ch}", {}, 404),
        ("DELETE", "/ari/playbacks/pb-prompt", {}, 404),
        ("POST", f"/ari/channels/{ch}/continue", {}, 404),
        ("GET", f"/ari/channels/{ch}/variable", {"variable": "CHANNEL(linkedid)"}, 404),
    ]
    kinds = [e["type"] for e in listener.events]
    assert kinds[0] == "StasisStart"
    assert kinds[-2:] == ["ChannelHangupRequest", "StasisEnd"]


async def test_get_application_lists_the_channels_in_the_app(fake: FakeAsterisk, client: AriClient) -> None:
    async with Listener(client):
        await fake.wait_for_app()
        ch = await fake.place_call(args=["post-call", "7001"])
        application = await client.get_application(APP)
    assert application is not None
    assert (application["name"], application["channel_ids"]) == (APP, [ch])
    assert await client.get_application("nobody") is None  # 404: Asterisk knows no such app
    assert rest_calls(fake) == [
        ("GET", f"/ari/applications/{APP}", {}, 200),
        ("GET", "/ari/applications/nobody", {}, 404),
    ]


async def test_continue_reason_and_generated_playback_id(fake: FakeAsterisk, client: AriClient) -> None:
    async with Listener(client) as listener:
        await fake.wait_for_app()
        ch = await fake.place_call(args=[])
        pb = await client.play(ch, None, "sound:survey-accepted")
        assert len(pb["id"]) == 36  # Asterisk picks a UUID
        await client.continue_in_dialplan(ch, context="after-survey", extension="s", priority=1)
        await wait_until(lambda: bool(listener.of_type("StasisEnd")), "StasisEnd")
        ch2 = await fake.place_call(args=[])
        await client.hangup(ch2, reason="busy")
    assert rest_calls(fake)[0][:2] == ("POST", f"/ari/channels/{ch}/play")
    assert rest_calls(fake)[1:] == [
        (
            "POST",
            f"/ari/channels/{ch}/continue",
            {"context": "after-survey", "extension": "s", "priority": "1"},
            204,
        ),
        ("DELETE", f"/ari/channels/{ch2}", {"reason": "busy"}, 204),
    ]
    # continue waited for the prompt: PlaybackFinished comes before StasisEnd
    kinds = [e["type"] for e in listener.events]
    assert kinds.index("PlaybackFinished") < kinds.index("StasisEnd")


async def test_originate_sends_the_trace_body(fake: FakeAsterisk, client: AriClient) -> None:
    async with Listener(client) as listener:
        await fake.wait_for_app()
        channel = await client.originate(
            endpoint="Local/answer@customers",
            app_args="campaign=demo",
            caller_id="Company <74950000000>",
            timeout=8,
        )
        assert channel["state"] == "Down"
        assert channel["name"].startswith("Local/answer@customers-")
        assert channel["caller"] == {"name": "Company", "number": "74950000000"}
        await wait_until(lambda: bool(listener.of_type("StasisStart")), "StasisStart")
        start = listener.of_type("StasisStart")[0]
        assert (start["channel"]["id"], start["args"]) == (channel["id"], ["campaign=demo"])
        await client.hangup(channel["id"])
        await wait_until(lambda: len(listener.of_type("ChannelDestroyed")) == 2, "both halves destroyed")

        busy = await client.originate(
            endpoint="Local/busy@customers",
            app_args="campaign=demo",
            variables={"CAMPAIGN": "demo"},
            channel_id="my-channel-1",
        )
        assert busy["id"] == "my-channel-1"
        await wait_until(lambda: len(listener.of_type("ChannelDestroyed")) == 4, "busy destroyed")
        causes = {(e["channel"]["name"][-2:], e["cause"]) for e in listener.of_type("ChannelDestroyed")[2:]}
        assert causes == {(";2", 17), (";1", 0)}

        with pytest.raises(AriError) as err:
            await client.originate(endpoint="Bogus/123", app_args="")
        assert (err.value.status, err.value.message) == (500, "Allocation failed")

    bodies = [r.json for r in fake.requests if r.path == "/ari/channels"]
    # originate-outcomes.jsonl, first request, byte for byte (key order included)
    assert json.dumps(bodies[0]) == json.dumps(
        {
            "endpoint": "Local/answer@customers",
            "app": "ivr-survey",
            "appArgs": "campaign=demo",
            "callerId": "Company <74950000000>",
            "timeout": 8,
        }
    )
    assert bodies[1] == {
        "endpoint": "Local/busy@customers",
        "app": "ivr-survey",
        "appArgs": "campaign=demo",
        "timeout": 30,
        "variables": {"CAMPAIGN": "demo"},
        "channelId": "my-channel-1",
    }


async def test_errors_carry_status_and_message_never_the_password(fake: FakeAsterisk, client: AriClient) -> None:
    with pytest.raises(AriError) as err:
        await client.answer("1795000000.404")
    assert (err.value.status, err.value.message) == (404, "Channel not found")
    assert "404" in str(err.value) and "Channel not found" in str(err.value)
    assert not isinstance(err.value, AriUnavailable)
    for text in (str(err.value), repr(err.value), repr(client), client.events_url, client.base_url):
        assert PASSWORD not in text

    async with AriClient(fake.base_url, USER, "wrong-password", APP) as wrong:
        with pytest.raises(AriError) as err401:
            await wrong.get_variable("1795000000.1", "CHANNEL(linkedid)")
    assert (err401.value.status, err401.value.message) == (401, "Authentication required")
    assert "wrong-password" not in str(err401.value)


async def test_basic_authorization_header() -> None:
    seen: list[tuple[str, str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((request.path, request.query_string, request.headers.get("Authorization", "")))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/ari/channels/{id}/answer", handler)
    async with serve(app) as url, AriClient(url, USER, PASSWORD, APP) as client:
        await client.answer("1.2")
    assert seen == [("/ari/channels/1.2/answer", "", aiohttp.encode_basic_auth(USER, PASSWORD))]


async def test_credentials_in_base_url_are_dropped() -> None:
    client = AriClient("https://someone:leaked-pass@pbx.example:8089/", USER, PASSWORD, APP)
    assert client.base_url == "https://pbx.example:8089/ari"
    assert client.events_url == "wss://pbx.example:8089/ari/events?app=ivr-survey&subscribeAll=false"
    assert "leaked-pass" not in repr(client)
    with pytest.raises(RuntimeError):
        await client.answer("x")
    with pytest.raises(ValueError):
        AriClient("127.0.0.1:8088", USER, PASSWORD, APP)


async def test_unreachable_and_timeout_raise_ari_unavailable() -> None:
    async with AriClient(f"http://127.0.0.1:{free_port()}", USER, PASSWORD, APP) as client:
        with pytest.raises(AriUnavailable) as err:
            await client.hangup("1.1")
    assert err.value.status == 0
    assert PASSWORD not in str(err.value)

    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # read the request and never answer
        await reader.read(65536)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with AriClient(f"http://127.0.0.1:{port}", USER, PASSWORD, APP, request_timeout=0.2) as client:
            with pytest.raises(AriUnavailable) as err:
                await client.answer("1.1")
        assert err.value.status == 0 and "0.2s" in err.value.message
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


# -- events websocket -------------------------------------------------------------------


async def test_listen_delivers_events_in_order(fake: FakeAsterisk, client: AriClient) -> None:
    async with Listener(client) as listener:
        await fake.wait_for_app()
        await wait_until(lambda: listener.connected == 1, "on_connected")
        ch = await fake.place_call(args=["post-call", "7001"])
        await client.play(ch, "p1", "sound:survey-invalid")
        await client.play(ch, "p2", "sound:survey-accepted")
        await fake.press(ch, "1")
        await fake.caller_hangup(ch)
        await wait_until(lambda: bool(listener.of_type("StasisEnd")), "StasisEnd")
    assert listener.events == fake.events
    assert listener.events[0]["type"] == "StasisStart"


async def test_listen_skips_frames_that_are_not_json_objects(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=CLIENT_LOGGER)
    headers: list[str] = []

    async def events(request: web.Request) -> web.WebSocketResponse:
        headers.append(request.headers.get("Authorization", ""))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for frame in ('{"type": "First"}', "this is not json", "[1, 2]", '{"type": "Second"}'):
            await ws.send_str(frame)
        await ws.send_bytes(b"\x00binary")
        await ws.send_str('{"type": "Third"}')
        await asyncio.sleep(10)
        return ws

    app = web.Application()
    app.router.add_get("/ari/events", events)
    failures = 0

    def on_event(event: dict[str, Any]) -> None:  # a plain function works too
        nonlocal failures
        received.append(event["type"])
        if event["type"] == "Second":
            failures += 1
            raise RuntimeError("a bug in the handler")

    received: list[str] = []
    async with serve(app) as url, AriClient(url, USER, PASSWORD, APP) as client:
        stop = asyncio.Event()
        task = asyncio.create_task(client.listen(on_event, stop=stop))
        await wait_until(lambda: len(received) == 3, "three events")
        stop.set()
        await asyncio.wait_for(task, 2)
    assert received == ["First", "Second", "Third"]
    assert failures == 1
    assert headers == [aiohttp.encode_basic_auth(USER, PASSWORD)]
    skipped = [r for r in client_records(caplog, logging.WARNING) if "skipping" in r.getMessage()]
    assert len(skipped) == 2
    assert any("event handler failed" in r.getMessage() for r in client_records(caplog, logging.ERROR))


async def test_listen_reconnects_after_drop(
    fake: FakeAsterisk, client: AriClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=CLIENT_LOGGER)
    async with Listener(client) as listener:
        await fake.wait_for_app()
        await fake.place_call(args=["before"])
        await wait_until(lambda: len(listener.of_type("StasisStart")) == 1, "first StasisStart")
        for outage in (1, 2):
            assert await fake.drop_websockets() == 1
            await fake.wait_for_app(timeout=3)
            await wait_until(lambda o=outage: listener.connected == o + 1, "on_connected")
            await fake.place_call(args=[f"after-{outage}"])
            await wait_until(lambda o=outage: len(listener.of_type("StasisStart")) == o + 1, "StasisStart")
    assert [e["args"] for e in listener.of_type("StasisStart")] == [["before"], ["after-1"], ["after-2"]]
    warnings = client_records(caplog, logging.WARNING)
    assert len(warnings) == 2  # one per outage
    expected_prefix = f"ARI unreachable at {client.events_url}: "
    assert all(w.getMessage().startswith(expected_prefix) for w in warnings)
    assert all(w.getMessage().endswith("; retrying") for w in warnings)
    back = [r for r in client_records(caplog, logging.INFO) if "reachable again" in r.getMessage()]
    assert len(back) == 2
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)


async def test_listen_waits_for_asterisk_to_come_up(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=CLIENT_LOGGER)
    port = free_port()
    async with AriClient(f"http://127.0.0.1:{port}", USER, PASSWORD, APP, backoff=fast_backoff()) as client:
        listener = Listener(client)
        async with FakeAsterisk(user=USER, password=PASSWORD, app=APP, port=port) as fake:
            await fake.stop()  # the port is ours, and nothing listens on it
            async with listener:
                await asyncio.sleep(0.6)  # several refused attempts
                assert listener.connected == 0
                assert len(client_records(caplog, logging.WARNING)) == 1
                await fake.start()  # Asterisk comes up, on the same port
                await fake.wait_for_app(timeout=3)
                channel = await fake.place_call(args=["late"])
                await wait_until(lambda: bool(listener.of_type("StasisStart")), "StasisStart")
                assert listener.of_type("StasisStart")[0]["channel"]["id"] == channel
                assert listener.connected == 1
    warnings = client_records(caplog, logging.WARNING)
    assert len(warnings) == 1, [w.getMessage() for w in warnings]
    assert warnings[0].getMessage().startswith(f"ARI unreachable at ws://127.0.0.1:{port}/ari/events?app=")
    assert len([r for r in client_records(caplog, logging.INFO) if "reachable again" in r.getMessage()]) == 1
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)


async def test_no_busy_loop_while_asterisk_is_down_or_broken(caplog: pytest.LogCaptureFixture) -> None:
    """Every failure path waits its backoff delay: connection refused, an HTTP server that
    is not ARI (503), and an Asterisk that answers 401."""
    caplog.set_level(logging.DEBUG, logger=CLIENT_LOGGER)

    async def run_listener(url: str, password: str, seconds: float) -> None:
        backoff = Backoff(initial=0.2, cap=30.0, rng=random.Random(1))
        async with AriClient(url, USER, password, APP, backoff=backoff) as client:
            stop = asyncio.Event()
            task = asyncio.create_task(client.listen(lambda e: None, stop=stop))
            await asyncio.sleep(seconds)
            stop.set()
            await asyncio.wait_for(task, 1)

    def attempts_logged() -> int:
        # one warning for the outage, then one debug line per further failed attempt
        warnings = client_records(caplog, logging.WARNING)
        assert len(warnings) == 1
        return 1 + sum("still unreachable" in r.getMessage() for r in client_records(caplog, logging.DEBUG))

    # refused: nothing listens on the port
    await run_listener(f"http://127.0.0.1:{free_port()}", PASSWORD, 2.0)
    assert 2 <= attempts_logged() <= 6

    # a server that answers every connection with 503 (not even a websocket)
    caplog.clear()
    connections = 0

    async def unavailable(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(unavailable, "127.0.0.1", 0)
    try:
        await run_listener(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", PASSWORD, 1.0)
    finally:
        server.close()
        await server.wait_closed()
    assert 2 <= connections <= 5
    assert attempts_logged() == connections
    assert "503" in client_records(caplog, logging.WARNING)[0].getMessage()

    # wrong password: 401 on the websocket handshake
    caplog.clear()
    async with FakeAsterisk(user=USER, password=PASSWORD, app=APP) as fake:
        await run_listener(fake.base_url, "not-the-password", 1.0)
        tries = [r for r in fake.requests if r.path == "/ari/events"]
    assert 2 <= len(tries) <= 5
    assert {r.status for r in tries} == {401}
    assert attempts_logged() == len(tries)
    warning = client_records(caplog, logging.WARNING)[0].getMessage()
    assert "401" in warning
    assert "not-the-password" not in warning


async def test_heartbeat_notices_a_dead_connection(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=CLIENT_LOGGER)
    connections = 0

    async def mute(request: web.Request) -> web.WebSocketResponse:
        nonlocal connections
        connections += 1
        ws = web.WebSocketResponse(autoping=False)  # never answers pings: a dead peer
        await ws.prepare(request)
        await asyncio.sleep(10)
        return ws

    app = web.Application()
    app.router.add_get("/ari/events", mute)
    async with (
        serve(app) as url,
        AriClient(url, USER, PASSWORD, APP, heartbeat=0.2, backoff=fast_backoff()) as client,
        Listener(client),
    ):
        await wait_until(lambda: connections >= 2, "a reconnection", within=3)
    warnings = client_records(caplog, logging.WARNING)
    assert warnings and "heartbeat" in warnings[0].getMessage()


async def test_replaced_stops_listening_for_good(
    fake: FakeAsterisk, client: AriClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Another instance's websocket for the same app: one ERROR, and no reconnection that would take it back."""
    caplog.set_level(logging.DEBUG, logger=CLIENT_LOGGER)
    said: list[str] = []
    events: list[dict[str, Any]] = []
    task = asyncio.create_task(
        client.listen(
            events.append,
            on_connected=lambda: said.append("connected"),
            on_disconnected=lambda: said.append("disconnected"),
            on_replaced=lambda: said.append("replaced"),
        )
    )
    await fake.wait_for_app()
    auth = {"Authorization": aiohttp.encode_basic_auth(USER, PASSWORD)}
    async with aiohttp.ClientSession(headers=auth) as other_instance:
        other = await other_instance.ws_connect(f"{fake.base_url}/ari/events?app={APP}")
        await asyncio.wait_for(task, 3)  # listen returned by itself: no stop, no cancel
        assert task.result() is None
        assert said == ["connected", "disconnected", "replaced"]
        assert events == []  # ApplicationReplaced is the client's business, not the handler's
        await wait_until(lambda: fake.websocket_count() == 1, "our socket closed")
        channel = await fake.place_call(args=["x"])
        assert (await other.receive_json(timeout=2))["channel"]["id"] == channel
    assert [r.path for r in fake.requests] == ["/ari/events", "/ari/events"]  # ours, then the other's: no retry
    errors = client_records(caplog, logging.ERROR)
    assert [r.getMessage() for r in errors] == [
        f"another websocket took the ARI app {APP!r} (a second instance with the same app name?);"
        " this instance takes no more ARI calls until restarted"
    ]
    assert client_records(caplog, logging.WARNING) == []


async def test_stop_and_cancel(fake: FakeAsterisk, client: AriClient) -> None:
    loop = asyncio.get_running_loop()
    async with Listener(client) as listener:
        await fake.wait_for_app()
        started = loop.time()
        listener.stop.set()
        assert listener.task is not None
        await asyncio.wait_for(listener.task, 1)
        assert loop.time() - started < 0.5
    await wait_until(lambda: fake.websocket_count() == 0, "socket closed")

    task = asyncio.create_task(client.listen(lambda e: None))
    await fake.wait_for_app()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until(lambda: fake.websocket_count() == 0, "socket closed after cancel")

    # stop while waiting out a long backoff delay
    async with AriClient(
        f"http://127.0.0.1:{free_port()}", USER, PASSWORD, APP, backoff=Backoff(initial=5.0, cap=10.0)
    ) as down:
        stop = asyncio.Event()
        task = asyncio.create_task(down.listen(lambda e: None, stop=stop))
        await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(task, 1)


# -- Backoff -----------------------------------------------------------------------------


def test_backoff_bounds_cap_and_reset() -> None:
    backoff = Backoff(initial=0.5, cap=30.0, factor=2.0, rng=random.Random(3))
    for n in range(40):
        ceiling = min(30.0, 0.5 * 2.0**n)
        assert backoff.ceiling() == ceiling
        assert 0.0 <= backoff.next_delay() <= ceiling
    assert backoff.attempt == 40
    assert backoff.ceiling() == 30.0
    backoff.reset()
    assert backoff.attempt == 0
    assert backoff.ceiling() == 0.5
    assert 0.0 <= backoff.next_delay() <= 0.5


def test_backoff_full_jitter_spreads_over_the_whole_range() -> None:
    backoff = Backoff(initial=1.0, cap=1.0, rng=random.Random(11))
    delays = [backoff.next_delay() for _ in range(500)]
    assert all(0.0 <= d <= 1.0 for d in delays)
    assert min(delays) < 0.05
    assert max(delays) > 0.95
    assert 0.4 < sum(delays) / len(delays) < 0.6


def test_backoff_default_rng_and_validation() -> None:
    assert 0.0 <= Backoff().next_delay() <= 0.5
    for kwargs in ({"initial": 0.0}, {"initial": 2.0, "cap": 1.0}, {"factor": 0.5}):
        with pytest.raises(ValueError):
            Backoff(**kwargs)
    huge = Backoff(initial=0.1, cap=5.0)
    for _ in range(5000):  # no overflow after many failures
        huge.next_delay()
    assert huge.ceiling() == 5.0


@given(
    initial=st.floats(min_value=0.001, max_value=10.0),
    extra=st.floats(min_value=0.0, max_value=100.0),
    factor=st.floats(min_value=1.0, max_value=4.0),
    steps=st.integers(min_value=1, max_value=60),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_backoff_delays_always_within_bounds(
    initial: float, extra: float, factor: float, steps: int, seed: int
) -> None:
    cap = initial + extra
    backoff = Backoff(initial=initial, cap=cap, factor=factor, rng=random.Random(seed))
    previous_ceiling = 0.0
    for _ in range(steps):
        ceiling = backoff.ceiling()
        assert initial <= ceiling <= cap
        assert ceiling >= previous_ceiling  # never shrinks until reset
        assert 0.0 <= backoff.next_delay() <= ceiling
        previous_ceiling = ceiling
