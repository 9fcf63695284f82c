"""The fake Asterisk against what a real Asterisk 22.11 said.

Fidelity tests replay each real trace (../shared/asterisk-ari/traces): the trace's peer
actions go to the fake's control API, the trace's own REST requests go over HTTP, in the
trace's order, each one sent once the fake has sent as many events as Asterisk had at that
point. The events received over the fake's websocket and the (status, body) of its answers
must then equal the trace's, after replacing channel ids by their order of appearance,
timestamps by a placeholder and Local channel counters by ``-N;`` (the full JSON is
compared, key order included).

API tests check the fake against Asterisk's ARI description (api-docs): every route it
serves exists there with that method, and every event/answer it sends has each required
property of its model and nothing undocumented.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from ivr_survey.simulator.ari import AppNotRegistered, FakeAsterisk
from ivr_survey.simulator.sounds import PROMPT_DURATIONS
from tests.support.reference import REFERENCE, TRACES
from tests.support.waiting import wait_until

API_DOCS = REFERENCE / "api-docs"

pytestmark = pytest.mark.skipif(
    not TRACES.is_dir() or not API_DOCS.is_dir(),
    reason=f"real Asterisk reference data not found in {REFERENCE}",
)

USER = "ivr-survey"
PASSWORD = "fidelity-pass-4711"
APP = "ivr-survey"
AUTH = {"Authorization": aiohttp.encode_basic_auth(USER, PASSWORD)}

CHANNEL_ID = re.compile(r"\b\d{9,11}\.\d+\b")
LOCAL_COUNTER = re.compile(r"-[0-9a-f]{8};")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


# -- helpers -------------------------------------------------------------------------------


def load_trace(name: str) -> list[dict[str, Any]]:
    with (TRACES / f"{name}.jsonl").open() as f:
        return [json.loads(line) for line in f if line.strip()]


class Normalizer:
    """Replace volatile values by stable placeholders; channel ids by order of appearance."""

    def __init__(self) -> None:
        self.channels: dict[str, str] = {}

    def channel(self, raw: str) -> str:
        return self.channels.setdefault(raw, f"<ch{len(self.channels) + 1}>")

    def __call__(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: self(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, str):
            if key in ("timestamp", "creationtime"):
                assert TIMESTAMP.match(value), f"bad {key}: {value!r}"
                return "<ts>"
            value = CHANNEL_ID.sub(lambda m: self.channel(m.group(0)), value)
            value = LOCAL_COUNTER.sub("-N;", value)
            return UUID.sub("<uuid>", value)
        return value


def shape(value: Any) -> Any:
    """Keys in order, recursively: JSON key order is part of what is compared."""
    if isinstance(value, dict):
        return [(k, shape(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [shape(v) for v in value]
    return None


async def collect(ws: aiohttp.ClientWebSocketResponse, into: list[dict[str, Any]]) -> None:
    async for msg in ws:
        if msg.type is aiohttp.WSMsgType.TEXT:
            into.append(json.loads(msg.data))


async def read_body(resp: aiohttp.ClientResponse) -> Any:
    text = await resp.text()
    return json.loads(text) if text.strip() else None


class Replay:
    """Drive a fake through one trace; collect what it sent."""

    def __init__(self, name: str, speed: float) -> None:
        self.name = name
        self.speed = speed
        self.lines = load_trace(name)
        self.trace_events = [line["event"] for line in self.lines if line["kind"] == "event"]
        self.trace_responses = [(line["status"], line.get("body")) for line in self.lines if line["kind"] == "response"]
        self.events: list[dict[str, Any]] = []
        self.responses: list[tuple[int, Any]] = []
        self.to_fake: dict[str, str] = {}  # trace channel id -> fake channel id
        # Channels the trace's app hung up without the DELETE being in the trace (the
        # answered originate: ChannelHangupRequest {32, soft} right after StasisStart).
        deleted = {
            line["path"].split("/")[2]
            for line in self.lines
            if line["kind"] == "request" and line["method"] == "DELETE" and line["path"].startswith("/channels/")
        }
        self.unrecorded_hangups = {
            i
            for i, event in enumerate(self.trace_events)
            if event["type"] == "ChannelHangupRequest"
            and event.get("cause") == 32
            and event.get("soft")
            and event["channel"]["id"] not in deleted
        }

    def fake_path(self, path: str) -> str:
        return "/ari" + CHANNEL_ID.sub(lambda m: self.to_fake.get(m.group(0), m.group(0)), path)

    async def run(self, fake: FakeAsterisk, http: aiohttp.ClientSession) -> None:
        ws = await http.ws_connect(f"{fake.base_url}/ari/events?app={APP}")
        reader = asyncio.create_task(collect(ws, self.events))
        await fake.wait_for_app()
        seen = 0  # trace events before the current line
        loop = asyncio.get_running_loop()
        # Pacing: trace time t is due at anchor_real + (t - anchor_t - skipped) / speed.
        anchor_t: float | None = None
        anchor_real = 0.0
        skipped = 0.0  # trace gaps longer than 3 s are cut to 3 s
        last_t = 0.0
        try:
            for line in self.lines:
                kind = line["kind"]
                if kind == "event":
                    if seen in self.unrecorded_hangups:
                        await self.sync(seen)
                        fake_id = self.to_fake[line["event"]["channel"]["id"]]
                        async with http.delete(f"{fake.base_url}/ari/channels/{fake_id}") as resp:
                            assert resp.status == 204
                    seen += 1
                    continue
                if kind == "response":
                    continue
                t = line["t"]
                if anchor_t is not None:
                    skipped += max(0.0, t - last_t - 3.0)
                    due = anchor_real + (t - anchor_t - skipped) / self.speed
                    await asyncio.sleep(max(0.0, due - loop.time()))
                await self.sync(seen)
                last_t = t
                if kind == "peer":
                    start_t = await self.peer(fake, line)
                    if start_t is not None:  # the call is in Stasis: trace time start_t is now
                        anchor_t, anchor_real, last_t = start_t, loop.time(), start_t
                else:
                    if anchor_t is None:
                        anchor_t, anchor_real = t, loop.time()
                    await self.request(fake, http, line)
            await self.sync(len(self.trace_events))
            await asyncio.sleep(0.05)  # anything extra would show up now
        finally:
            await ws.close()
            await reader

    async def sync(self, count: int) -> None:
        await wait_until(lambda: len(self.events) >= count, f"{self.name}: event #{count}")

    async def peer(self, fake: FakeAsterisk, line: dict[str, Any]) -> float | None:
        action = line["action"]
        if action == "call placed":
            start_index = next(i for i, e in enumerate(self.trace_events) if e["type"] == "StasisStart")
            start = self.trace_events[start_index]
            ch = start["channel"]
            fake_id = await fake.place_call(
                caller_number=ch["caller"]["number"],
                caller_name=ch["caller"]["name"],
                args=start["args"],
                language=ch["language"],
                context=ch["dialplan"]["context"],
                exten=ch["dialplan"]["exten"],
                priority=ch["dialplan"]["priority"],
                accountcode=ch["accountcode"],
            )
            self.to_fake[ch["id"]] = fake_id
            # The trace's call spends a few seconds with the operator before StasisStart.
            return next(line["t"] for line in self.lines if line.get("event") is start)
        (trace_id,) = {e["channel"]["id"] for e in self.trace_events if e["type"] == "StasisStart"}
        fake_id = self.to_fake[trace_id]
        if action == "caller presses":
            if fake.channel_state(fake_id) is None:
                return None  # queue-agent-hangs-up-then-rated: a press after the hangup
            await fake.press(fake_id, line["digit"])
        elif action == "caller hangs up":
            await fake.caller_hangup(fake_id)
        else:
            pytest.fail(f"unknown peer action {action!r}")
        return None

    async def request(self, fake: FakeAsterisk, http: aiohttp.ClientSession, line: dict[str, Any]) -> None:
        async with http.request(
            line["method"],
            fake.base_url + self.fake_path(line["path"]),
            params=line.get("params") or None,
            json=line.get("json"),
        ) as resp:
            body = await read_body(resp)
            self.responses.append((resp.status, body))
        if line["path"] == "/channels" and line["method"] == "POST" and resp.status == 200:
            trace_body = self.trace_responses[len(self.responses) - 1][1]
            self.to_fake[trace_body["id"]] = body["id"]

    def compare(self) -> None:
        expected_norm, actual_norm = Normalizer(), Normalizer()
        expected_events = [expected_norm(e) for e in self.trace_events]
        actual_events = [actual_norm(e) for e in self.events]
        summary = [(e["type"], e.get("cause"), e.get("playback", {}).get("state")) for e in actual_events]
        assert actual_events == expected_events, f"{self.name}: fake sent {summary}"
        assert [shape(e) for e in self.events] == [shape(e) for e in self.trace_events]
        expected = [(status, expected_norm(body)) for status, body in self.trace_responses]
        actual = [(status, actual_norm(body)) for status, body in self.responses]
        # Race in the real Asterisk: a playback is created "queued" and the channel thread
        # may flip it to "playing" before the 201 is written (invalid-then-5's first
        # play answered "playing", the others "queued"). The fake always answers the
        # pre-race "queued"; test_first_playback_answers_queued pins that down.
        for status, body in expected:
            if status == 201 and isinstance(body, dict) and body.get("state") == "playing":
                body["state"] = "queued"
        assert actual == expected, f"{self.name}: answers differ"


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
async def http() -> Any:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


# -- fidelity to the traces ------------------------------------------------------------


@pytest.mark.parametrize(
    ("trace", "speed"),
    [
        ("rated-4", 10.0),
        ("invalid-then-5", 10.0),
        ("caller-hangs-up-during-prompt", 10.0),
        ("no-input-timeout", 10.0),
        # the press lands 13 ms (call time) before the prompt ends: keep real margins
        ("queue-agent-hangs-up-then-rated", 4.0),
        ("originate-outcomes", 20.0),
    ],
)
async def test_replays_real_trace(trace: str, speed: float, http: aiohttp.ClientSession) -> None:
    replay = Replay(trace, speed)
    async with FakeAsterisk(user=USER, password=PASSWORD, app=APP, speed=speed) as fake:
        await replay.run(fake, http)
        await fake.wait_idle(timeout=2.0)
    replay.compare()


async def test_first_playback_answers_queued(http: aiohttp.ClientSession) -> None:
    async with FakeAsterisk(user=USER, password=PASSWORD, speed=50) as fake:
        ws = await http.ws_connect(f"{fake.base_url}/ari/events?app={APP}")
        await fake.wait_for_app()
        channel = await fake.place_call(args=["post-call", "7001"])
        events = fake.subscribe(channel)
        states = []
        for pb in ("a", "b"):
            async with http.post(
                f"{fake.base_url}/ari/channels/{channel}/play/{pb}", params={"media": "sound:survey-rate"}
            ) as resp:
                assert resp.status == 201
                assert resp.headers["Location"] == f"/ari/playbacks/{pb}"
                states.append((await resp.json())["state"])
        assert states == ["queued", "queued"]
        event = await asyncio.wait_for(events.get(), 2)
        assert (event["type"], event["playback"]["id"], event["playback"]["state"]) == (
            "PlaybackStarted",
            "a",
            "playing",
        )
        await ws.close()


# -- behaviour not covered by a trace -----------------------------------------------------


async def _started(fake: FakeAsterisk, http: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(f"{fake.base_url}/ari/events?app={APP}")
    await fake.wait_for_app()
    return ws


async def _next(queue: asyncio.Queue[dict[str, Any]]) -> tuple[Any, ...]:
    event = await asyncio.wait_for(queue.get(), 3)
    pb = event.get("playback", {})
    return (event["type"], pb.get("id"), pb.get("state"), event.get("cause"))


async def test_authentication(http: aiohttp.ClientSession) -> None:
    async with FakeAsterisk(user=USER, password=PASSWORD) as fake, aiohttp.ClientSession() as anonymous:
        url = f"{fake.base_url}/ari/channels"
        async with anonymous.get(url) as resp:
            assert resp.status == 401
            assert await resp.json() == {"message": "Authentication required"}
            assert resp.headers["WWW-Authenticate"] == 'Basic realm="Asterisk REST Interface"'
        wrong = {"Authorization": aiohttp.encode_basic_auth(USER, "nope")}
        async with anonymous.get(url, headers=wrong) as resp:
            assert resp.status == 401
        async with anonymous.get(url, params={"api_key": f"{USER}:{PASSWORD}"}) as resp:
            assert resp.status == 200
            assert await resp.json() == []
        async with http.get(url) as resp:
            assert resp.status == 200
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await anonymous.ws_connect(f"{fake.base_url}/ari/events?app={APP}")
        assert err.value.status == 401
        # the api_key password is not kept in the recorded requests
        assert all(PASSWORD not in json.dumps(r.as_dict()) for r in fake.requests)
        assert [r.status for r in fake.requests] == [401, 401, 200, 200, 401]


async def test_place_call_needs_a_registered_app(http: aiohttp.ClientSession) -> None:
    async with FakeAsterisk(user=USER, password=PASSWORD, speed=100) as fake:
        with pytest.raises(AppNotRegistered):
            await fake.place_call(args=["post-call"])
        assert fake.events == []

        async def connect_later() -> aiohttp.ClientWebSocketResponse:
            await asyncio.sleep(0.05)
            return await http.ws_connect(f"{fake.base_url}/ari/events?app={APP}")

        connecting = asyncio.create_task(connect_later())
        channel = await fake.place_call(args=["post-call"], wait_for_app=2.0)
        ws = await connecting
        msg = await ws.receive_json(timeout=2)
        assert (msg["type"], msg["channel"]["id"], msg["args"]) == ("StasisStart", channel, ["post-call"])
        await ws.close()


async def test_place_call_ids_and_linkedid(http: aiohttp.ClientSession) -> None:
    async with FakeAsterisk(user=USER, password=PASSWORD) as fake:
        ws = await _started(fake, http)
        first = await fake.place_call(args=["post-call", "7001"], exten="7001", variables={"OPERATOR": "7001"})
        second = await fake.place_call(args=[], linkedid="1795000000.1", caller_number="100")
        epoch, seq = first.split(".")
        assert epoch.isdigit() and seq.isdigit()
        assert fake.linkedid_of(first) == f"{epoch}.{int(seq) - 1}"  # the call's first channel
        base = f"{fake.base_url}/ari/channels"

        async def var(channel: str, name: str) -> tuple[int, Any]:
            async with http.get(f"{base}/{channel}/variable", params={"variable": name}) as resp:
                return resp.status, await resp.json()

        assert await var(first, "CHANNEL(linkedid)") == (200, {"value": fake.linkedid_of(first)})
        assert await var(second, "CHANNEL(linkedid)") == (200, {"value": "1795000000.1"})
        assert await var(first, "OPERATOR") == (200, {"value": "7001"})
        assert await var(second, "CALLERID(num)") == (200, {"value": "100"})
        assert await var(first, "UNSET_THING") == (404, {"message": "Provided variable was not found"})
        assert await var(first, "NOSUCHFUNC(x)") == (500, {"message": "Unable to read provided function"})
        assert await var("1795000000.99", "CHANNEL(linkedid)") == (
            404,
            {"message": "Provided channel was not found"},
        )
        async with http.get(f"{base}/{first}/variable") as resp:
            assert (resp.status, await resp.json()) == (400, {"message": "Variable name is required"})
        msg = await ws.receive_json(timeout=2)
        assert msg["channel"]["dialplan"] == {
            "context": "incoming",
            "exten": "7001",
            "priority": 4,
            "app_name": "Stasis",
            "app_data": "ivr-survey,post-call,7001",
        }
        await ws.close()


async def test_playback_queue_stop_and_unknown_sound(http: aiohttp.ClientSession) -> None:
    async with FakeAsterisk(user=USER, password=PASSWORD, speed=50) as fake:
        ws = await _started(fake, http)
        channel = await fake.place_call(args=["x"])
        events = fake.subscribe(channel)
        base = f"{fake.base_url}/ari"

        async def play(pb: str, media: str) -> int:
            async with http.post(f"{base}/channels/{channel}/play/{pb}", params={"media": media}) as resp:
                return resp.status

        async def stop(pb: str) -> tuple[int, Any]:
            async with http.delete(f"{base}/playbacks/{pb}") as resp:
                return resp.status, await read_body(resp)

        assert await play("p1", "sound:survey-rate") == 201
        assert await play("p2", "sound:survey-invalid") == 201
        assert await play("p3", "sound:no-such-sound") == 201
        assert await _next(events) == ("PlaybackStarted", "p1", "playing", None)
        # a queued playback stopped: no PlaybackStarted, "done" when its turn comes
        assert await stop("p2") == (204, None)
        assert fake.playback_state("p2") == "done"
        assert await stop("p2") == (204, None)  # still known, stopping it again is a no-op
        assert await stop("p1") == (204, None)
        assert await _next(events) == ("PlaybackFinished", "p1", "done", None)
        assert await _next(events) == ("PlaybackFinished", "p2", "done", None)
        # a sound Asterisk does not have: started, then failed at once
        assert await _next(events) == ("PlaybackStarted", "p3", "playing", None)
        assert await _next(events) == ("PlaybackFinished", "p3", "failed", None)
        assert await stop("p1") == (404, {"message": "Playback not found"})
        assert await stop("p3") == (404, {"message": "Playback not found"})
        # duplicate ids are accepted (Asterisk does not check; api-docs list no 409)
        assert await play("dup", "sound:survey-accepted") == 201
        assert await play("dup", "sound:survey-accepted") == 201
        # generated UUID ids
        async with http.post(f"{base}/channels/{channel}/play", params={"media": "sound:survey-nps"}) as resp:
            assert resp.status == 201
            assert UUID.fullmatch((await resp.json())["id"])
        # no media at all
        async with http.post(f"{base}/channels/{channel}/play/x") as resp:
            assert (resp.status, await resp.json()) == (500, {"message": "Failed to queue media for playback"})
        await ws.close()


async def test_prompt_lengths_scale_with_speed(http: aiohttp.ClientSession) -> None:
    async with FakeAsterisk(user=USER, password=PASSWORD, speed=100) as fake:
        ws = await _started(fake, http)
        channel = await fake.place_call(args=["x"])
        events = fake.subscribe(channel)
        loop = asyncio.get_running_loop()
        async with http.post(f"{fake.base_url}/ari/channels/{channel}/play/p", params={"media": "sound:survey-rate"}):
            pass
        assert (await _next(events))[0] == "PlaybackStarted"
        started = loop.time()
        assert await _next(events) == ("PlaybackFinished", "p", "done", None)
        elapsed = loop.time() - started
        assert PROMPT_DURATIONS["survey-rate"] / 100 * 0.8 <= elapsed < 0.5
        await ws.close()


async def test_hangups_and_continue(http: aiohttp.ClientSession) -> None:
    async with FakeAsterisk(user=USER, password=PASSWORD, speed=50) as fake:
        ws = await _started(fake, http)
        base = f"{fake.base_url}/ari/channels"

        # caller hangs up during a prompt, with one more queued: the queued one vanishes
        c1 = await fake.place_call(args=["x"])
        q1 = fake.subscribe(c1)
        for pb in ("a", "b"):
            async with http.post(f"{base}/{c1}/play/{pb}", params={"media": "sound:survey-rate"}):
                pass
        assert await _next(q1) == ("PlaybackStarted", "a", "playing", None)
        await fake.caller_hangup(c1)
        assert await _next(q1) == ("ChannelHangupRequest", None, None, 16)
        assert await _next(q1) == ("PlaybackFinished", "a", "failed", None)
        assert await _next(q1) == ("StasisEnd", None, None, None)
        assert fake.channel_state(c1) is None
        assert fake.playback_state("b") is None
        with pytest.raises(LookupError):
            await fake.press(c1, "1")
        async with http.delete(f"{base}/{c1}") as resp:
            assert (resp.status, await resp.json()) == (404, {"message": "Channel not found"})
        async with http.post(f"{base}/{c1}/answer") as resp:
            assert (resp.status, await resp.json()) == (404, {"message": "Channel not found"})

        # continue waits for the playing prompt, then StasisEnd; the channel is then gone
        c2 = await fake.place_call(args=["x"])
        q2 = fake.subscribe(c2)
        async with http.post(f"{base}/{c2}/play/c", params={"media": "sound:survey-accepted"}):
            pass
        async with http.post(f"{base}/{c2}/continue") as resp:
            assert resp.status == 204
        assert await _next(q2) == ("PlaybackStarted", "c", "playing", None)
        assert await _next(q2) == ("PlaybackFinished", "c", "done", None)
        assert await _next(q2) == ("StasisEnd", None, None, None)
        await fake.wait_channel_gone(c2, timeout=1)

        # hangup with a reason; invalid reasons are refused
        c3 = await fake.place_call(args=["x"])
        async with http.delete(f"{base}/{c3}", params={"reason": "bogus"}) as resp:
            assert (resp.status, await resp.json()) == (
                400,
                {"message": "Invalid reason for hangup reason provided"},
            )
        async with http.delete(f"{base}/{c3}", params={"reason": "busy"}) as resp:
            assert resp.status == 204
        await fake.wait_idle(timeout=1)

        # DTMF arrives after the key is released
        c4 = await fake.place_call(args=["x"])
        q4 = fake.subscribe(c4)
        await fake.press(c4, "4#")
        for digit in "4#":
            event = await asyncio.wait_for(q4.get(), 2)
            assert (event["type"], event["digit"], event["duration_ms"]) == ("ChannelDtmfReceived", digit, 100)
        with pytest.raises(ValueError):
            await fake.press(c4, "x")
        await ws.close()


async def test_continue_leaves_stasis_and_the_call_ends(http: aiohttp.ClientSession) -> None:
    """``POST /channels/{id}/continue``, exactly: the events the app receives and the answers.

    No trace has the app continuing. A caller's channel goes on in the dialplan to its
    Hangup() (extensions.conf): StasisEnd and nothing more. An originated channel has no
    dialplan to return to and hangs up (*extrapolated*): the events must be the trace's own
    for the app's hangup of the answered originate (originate-outcomes) without that
    hangup's ChannelHangupRequest {32, soft}: StasisEnd, ChannelVarset STASISSTATUS=SUCCESS,
    then both Local halves torn down with cause 16.
    """
    lines = load_trace("originate-outcomes")
    end = next(
        i
        for i, line in enumerate(lines)
        if line["kind"] == "event"
        and line["event"]["type"] == "ChannelDestroyed"
        and line["event"]["channel"]["name"].endswith(";2")
    )
    answered = lines[: end + 1]  # the answered call, up to its ;2 half's ChannelDestroyed
    originate = answered[0]
    assert (originate["kind"], originate["method"], originate["path"]) == ("request", "POST", "/channels")
    app_hangup = ("ChannelHangupRequest", 32, True)  # the trace's DELETE, which continue replaces
    expected_events = [
        line["event"]
        for line in answered
        if line["kind"] == "event"
        and (line["event"]["type"], line["event"].get("cause"), line["event"].get("soft")) != app_hangup
    ]
    assert [e["type"] for e in expected_events][-7:] == [
        "StasisStart",
        "StasisEnd",
        "ChannelVarset",
        "ChannelHangupRequest",
        "ChannelDestroyed",
        "ChannelHangupRequest",
        "ChannelDestroyed",
    ]
    (trace_answer,) = [(line["status"], line["body"]) for line in answered if line["kind"] == "response"]
    rated = [line["event"] for line in load_trace("rated-4") if line["kind"] == "event"]
    caller_start, caller_end = (next(e for e in rated if e["type"] == kind) for kind in ("StasisStart", "StasisEnd"))
    gone = (404, {"message": "Channel not found"})

    async with FakeAsterisk(user=USER, password=PASSWORD, app=APP, speed=20) as fake:
        received: list[dict[str, Any]] = []
        ws = await http.ws_connect(f"{fake.base_url}/ari/events?app={APP}")
        reader = asyncio.create_task(collect(ws, received))
        await fake.wait_for_app()
        base = f"{fake.base_url}/ari/channels"

        async def call(method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
            async with http.request(method, f"{base}{path}", **kwargs) as resp:
                return resp.status, await read_body(resp)

        # a caller's channel (rated-4's): StasisEnd, and the app hears nothing more about it
        ch = caller_start["channel"]
        caller = await fake.place_call(
            caller_number=ch["caller"]["number"],
            caller_name=ch["caller"]["name"],
            args=caller_start["args"],
            language=ch["language"],
            context=ch["dialplan"]["context"],
            exten=ch["dialplan"]["exten"],
            priority=ch["dialplan"]["priority"],
            accountcode=ch["accountcode"],
        )
        await wait_until(lambda: len(received) == 1, "StasisStart")
        caller_answers = [await call("POST", f"/{caller}/continue")]
        await fake.wait_channel_gone(caller, timeout=2)
        await asyncio.sleep(0.05)  # anything extra would show up now
        caller_events = list(received)
        caller_answers += [await call("POST", f"/{caller}/continue"), await call("GET", f"/{caller}")]
        received.clear()

        # an originated channel: StasisEnd, STASISSTATUS=SUCCESS, then the call is torn down
        answers = [await call("POST", "", json=originate["json"])]
        channel = answers[0][1]["id"]
        await wait_until(lambda: any(e["type"] == "StasisStart" for e in received), "StasisStart")
        answers.append(await call("POST", f"/{channel}/continue"))
        with contextlib.suppress(TimeoutError):  # if the call is not torn down: see below what came
            await fake.wait_idle(timeout=2)
        await asyncio.sleep(0.05)  # anything extra would show up now
        left = fake.live_channels
        for method, path in (("POST", f"/{channel}/continue"), ("GET", f"/{channel}"), ("DELETE", f"/{channel}")):
            answers.append(await call(method, path))
        await ws.close()
        await reader

    expected_norm, actual_norm = Normalizer(), Normalizer()
    assert [actual_norm(e) for e in caller_events] == [expected_norm(e) for e in (caller_start, caller_end)]
    assert [shape(e) for e in caller_events] == [shape(e) for e in (caller_start, caller_end)]
    assert caller_answers == [(204, None), gone, gone]

    expected_norm, actual_norm = Normalizer(), Normalizer()
    expected = [expected_norm(e) for e in expected_events]
    actual = [actual_norm(e) for e in received]
    summary = [(e["type"], e.get("cause"), e.get("soft")) for e in actual]
    assert actual == expected, f"fake sent {summary}"
    assert [shape(e) for e in received] == [shape(e) for e in expected_events]
    assert [(status, actual_norm(body)) for status, body in answers] == [
        (trace_answer[0], expected_norm(trace_answer[1])),
        (204, None),  # api-docs: continueInDialplan answers void
        gone,
        gone,
        gone,  # rated-4: hanging up a channel that is gone answers 404
    ]
    assert left == []


async def test_hangups_of_originated_calls_leave_stasis_only_from_stasis(http: aiohttp.ClientSession) -> None:
    """The other users of leaving Stasis, next to ``continue``: the app hanging up a call
    still ringing (never in Stasis: no StasisEnd, no STASISSTATUS) and the far end hanging
    up an answered one (its Local halves just go, without the app-hangup teardown's
    ChannelHangupRequests on ;2). Both *extrapolated*."""
    async with FakeAsterisk(user=USER, password=PASSWORD, app=APP, speed=100) as fake:
        ws = await _started(fake, http)
        events = fake.subscribe()
        base = f"{fake.base_url}/ari/channels"

        async def after(event_type: str) -> list[tuple[Any, ...]]:
            seen: list[tuple[Any, ...]] = []
            while not seen or seen[-1][0] != "ChannelDestroyed" or seen[-1][1] != ";2":
                event = await asyncio.wait_for(events.get(), 3)
                half = event["channel"]["name"][-2:] if "channel" in event else None
                seen.append((event["type"], half, event.get("cause"), event.get("soft"), event.get("value")))
            return seen[next(i for i, s in enumerate(seen) if s[0] == event_type) :]

        body = {"endpoint": "Local/noanswer@customers", "app": APP, "appArgs": "campaign=demo", "timeout": 30}
        async with http.post(base, json=body) as resp:
            ringing = (await resp.json())["id"]
        await wait_until(lambda: fake.channel_state(ringing) == "Ringing", "ringing")
        async with http.delete(f"{base}/{ringing}") as resp:
            assert resp.status == 204
        assert await after("ChannelHangupRequest") == [
            ("ChannelHangupRequest", ";1", 32, True, None),
            ("ChannelHangupRequest", ";2", 16, None, None),
            ("ChannelDestroyed", ";1", 16, None, None),
            ("ChannelHangupRequest", ";2", 16, True, None),
            ("ChannelDestroyed", ";2", 16, None, None),
        ]

        fake.script_endpoint("Local/talk@customers", "answer", talk=1.0)
        async with http.post(base, json={**body, "endpoint": "Local/talk@customers"}) as resp:
            assert resp.status == 200
        assert await after("StasisStart") == [
            ("StasisStart", ";1", None, None, None),
            ("ChannelHangupRequest", ";1", 16, None, None),
            ("StasisEnd", ";1", None, None, None),
            ("ChannelVarset", ";1", None, None, "SUCCESS"),
            ("ChannelDestroyed", ";1", 16, None, None),
            ("ChannelDestroyed", ";2", 16, None, None),
        ]
        await fake.wait_idle(timeout=2)
        await ws.close()


async def test_newest_websocket_wins_and_drop(http: aiohttp.ClientSession) -> None:
    async with FakeAsterisk(user=USER, password=PASSWORD, speed=50) as fake:
        old = await _started(fake, http)
        new = await http.ws_connect(f"{fake.base_url}/ari/events?app={APP}")
        msg = await old.receive_json(timeout=2)
        assert msg["type"] == "ApplicationReplaced"
        assert msg["application"] == APP
        channel = await fake.place_call(args=["x"])
        msg = await new.receive_json(timeout=2)
        assert (msg["type"], msg["channel"]["id"]) == ("StasisStart", channel)
        with pytest.raises(TimeoutError):
            await old.receive(timeout=0.1)
        assert fake.websocket_count() == 2
        assert await fake.drop_websockets() == 2
        assert not fake.app_registered()
        for ws in (old, new):
            msg = await ws.receive(timeout=2)
            assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR)
        # events while no socket is connected are dropped, not queued
        await fake.caller_hangup(channel)
        again = await _started(fake, http)
        with pytest.raises(TimeoutError):
            await again.receive(timeout=0.1)
        await again.close()


async def test_a_replaced_websocket_hears_exactly_one_application_replaced(http: aiohttp.ClientSession) -> None:
    """Issue 15, fact 1: each newer socket replaces the one before; a replaced socket stays open and hears
    nothing after its ApplicationReplaced, not even when the socket that replaced it goes away."""
    async with FakeAsterisk(user=USER, password=PASSWORD, speed=50) as fake:
        heard: list[list[dict[str, Any]]] = [[], [], []]
        sockets = []
        readers = []
        for into in heard:
            ws = await http.ws_connect(f"{fake.base_url}/ari/events?app={APP}")
            sockets.append(ws)
            readers.append(asyncio.create_task(collect(ws, into)))
            await wait_until(lambda: fake.websocket_count() == len(sockets), "the socket to register")
        channel = await fake.place_call(args=["x"])
        await fake.press(channel, "1")
        await fake.caller_hangup(channel)
        await wait_until(lambda: any(e["type"] == "StasisEnd" for e in heard[2]), "StasisEnd on the newest")
        await sockets[2].close()
        await readers[2]
        await wait_until(lambda: not fake.app_registered(), "the app to go with its socket")
        assert fake.websocket_count() == 2  # the replaced ones are still connected
        assert await fake.drop_websockets() == 2
        await asyncio.gather(*readers[:2])

    replaced = {"type": "ApplicationReplaced", "application": APP, "asterisk_id": fake.asterisk_id}
    for first_two in heard[:2]:
        assert [{k: v for k, v in e.items() if k != "timestamp"} for e in first_two] == [replaced]
    assert [e["type"] for e in heard[2]] == ["StasisStart", "ChannelDtmfReceived", "ChannelHangupRequest", "StasisEnd"]


async def test_callers_stay_in_the_app_while_no_socket_listens(http: aiohttp.ClientSession) -> None:
    """Issue 15, facts 2 and 3: the app's socket goes away, its caller stays in Stasis and listed; a new socket
    hears that caller's later events at once, with no StasisStart."""
    async with FakeAsterisk(user=USER, password=PASSWORD, speed=50) as fake:
        ws = await _started(fake, http)
        channel = await fake.place_call(args=["x"])
        assert (await ws.receive_json(timeout=2))["type"] == "StasisStart"
        async with http.get(f"{fake.base_url}/ari/applications/{APP}") as resp:
            assert (resp.status, (await resp.json())["channel_ids"]) == (200, [channel])
        await ws.close()
        await wait_until(lambda: not fake.app_registered(), "the socket to go")
        async with http.get(f"{fake.base_url}/ari/applications/{APP}") as resp:
            assert (resp.status, await resp.json()) == (
                200,
                {
                    "name": APP,
                    "channel_ids": [channel],
                    "bridge_ids": [],
                    "endpoint_ids": [],
                    "device_names": [],
                    "events_allowed": [],
                    "events_disallowed": [],
                },
            )
        assert fake.in_stasis(channel)
        again = await _started(fake, http)
        await fake.press(channel, "5")
        await fake.caller_hangup(channel)
        kinds = [(await again.receive_json(timeout=2))["type"] for _ in range(3)]
        assert kinds == ["ChannelDtmfReceived", "ChannelHangupRequest", "StasisEnd"]
        await again.close()
        await wait_until(lambda: not fake.app_registered(), "the socket to go")
        # An app no socket ever registered, or whose channels are all gone, is unknown.
        for app in (APP, "other"):
            async with http.get(f"{fake.base_url}/ari/applications/{app}") as resp:
                assert (resp.status, await resp.json()) == (404, {"message": "Application not found"})


async def test_requests_endpoint(http: aiohttp.ClientSession) -> None:
    async with FakeAsterisk(user=USER, password=PASSWORD) as fake:
        async with http.post(
            f"{fake.base_url}/ari/channels",
            json={"endpoint": "Bogus/1", "app": APP},
        ) as resp:
            assert resp.status == 500
            assert await resp.json() == '{"error":"Allocation failed"}'
        async with aiohttp.ClientSession() as anonymous:
            async with anonymous.get(f"{fake.base_url}/_requests") as resp:
                recorded = await resp.json()
            assert recorded == [
                {
                    "method": "POST",
                    "path": "/ari/channels",
                    "params": {},
                    "json": {"endpoint": "Bogus/1", "app": APP},
                    "status": 500,
                }
            ]
            async with anonymous.delete(f"{fake.base_url}/_requests") as resp:
                assert resp.status == 204
        assert fake.requests == []


async def test_originate_scripts(http: aiohttp.ClientSession) -> None:
    async with FakeAsterisk(user=USER, password=PASSWORD, speed=100) as fake:
        ws = await _started(fake, http)
        events = fake.subscribe()
        fake.script_endpoint("PJSIP/200", "answer", ring=1.0, talk=1.0)
        fake.script_endpoint("PJSIP/201", "busy")
        body = {"endpoint": "PJSIP/200", "app": APP, "appArgs": "campaign=demo,x=1", "callerId": "100"}
        async with http.post(f"{fake.base_url}/ari/channels", json=body) as resp:
            assert resp.status == 200
            channel = await resp.json()
        assert channel["state"] == "Down"
        assert channel["caller"] == {"name": "", "number": "100"}
        seen = []
        while True:
            event = await asyncio.wait_for(events.get(), 3)
            seen.append((event["type"], event.get("cause"), event.get("dialstatus")))
            if event["type"] == "StasisStart":
                assert event["args"] == ["campaign=demo", "x=1"]
            if event["type"] == "ChannelDestroyed":
                break
        assert [s[0] for s in seen] == [
            "Dial",
            "ChannelStateChange",
            "Dial",
            "ChannelVarset",
            "StasisStart",
            "ChannelHangupRequest",
            "StasisEnd",
            "ChannelVarset",
            "ChannelDestroyed",
        ]
        assert seen[-1][1] == 16
        async with http.post(f"{fake.base_url}/ari/channels", json={**body, "endpoint": "PJSIP/201"}) as resp:
            assert resp.status == 200
        while (event := await asyncio.wait_for(events.get(), 3))["type"] != "ChannelDestroyed":
            pass
        assert event["cause"] == 17  # without a Local ;2 half the channel carries the cause
        for bad, message in (
            ({"app": APP}, "Endpoint must be specified"),
            ({"endpoint": "nothing", "app": APP}, "Invalid endpoint specified"),
            ({"endpoint": "PJSIP/1"}, "Application or extension must be specified"),
        ):
            async with http.post(f"{fake.base_url}/ari/channels", json=bad) as resp:
                assert (resp.status, await resp.json()) == (400, {"message": message})
        await fake.wait_idle(timeout=2)
        await ws.close()


# -- fidelity to api-docs ------------------------------------------------------------------


def _api_docs(name: str) -> dict[str, Any]:
    return json.loads((API_DOCS / f"{name}.json").read_text())


def _models() -> dict[str, dict[str, Any]]:
    models: dict[str, dict[str, Any]] = {}
    for path in API_DOCS.glob("*.json"):
        models.update(json.loads(path.read_text()).get("models", {}))
    return models


def _validate(value: Any, model: str, models: dict[str, dict[str, Any]], where: str) -> list[str]:
    """Errors of ``value`` against the Swagger 1.2 ``model`` (inherited properties included)."""
    parents = {sub: name for name, m in models.items() for sub in m.get("subTypes", [])}
    properties: dict[str, dict[str, Any]] = {}
    current: str | None = model
    while current is not None:
        for key, spec in models[current]["properties"].items():
            properties.setdefault(key, spec)
        current = parents.get(current)
    errors = [f"{where}: missing {k}" for k, spec in properties.items() if spec.get("required") and k not in value]
    errors += [f"{where}: undocumented {key}" for key in value if key not in properties]
    simple: dict[str, Callable[[Any], bool]] = {
        "string": lambda v: isinstance(v, str),
        "Date": lambda v: isinstance(v, str) and bool(TIMESTAMP.match(v)),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
    }
    for key, item in value.items():
        spec = properties.get(key)
        if spec is None:
            continue
        kind = spec["type"]
        if kind.startswith("List[") and isinstance(item, list):
            inner = kind[5:-1]
            if inner in models:
                for i, element in enumerate(item):
                    errors += _validate(element, inner, models, f"{where}.{key}[{i}]")
            elif not all(simple[inner](e) for e in item):
                errors.append(f"{where}.{key}: not a {kind}")
        elif kind in models:
            errors += _validate(item, kind, models, f"{where}.{key}")
        elif kind in simple and not simple[kind](item):
            errors.append(f"{where}.{key}: {item!r} is not a {kind}")
        allowed = spec.get("allowableValues", {}).get("values")
        if allowed and item not in allowed:
            errors.append(f"{where}.{key}: {item!r} not in {allowed}")
    return errors


def test_validator_accepts_the_real_traces() -> None:
    models = _models()
    for path in sorted(TRACES.glob("*.jsonl")):
        for n, line in enumerate(load_trace(path.stem)):
            if line["kind"] == "event":
                event = line["event"]
                assert _validate(event, event["type"], models, f"{path.name}:{n}") == []


def test_every_route_is_in_api_docs() -> None:
    documented = {
        (op["httpMethod"], api["path"])
        for name in ("channels", "playbacks", "events", "applications", "bridges")
        for api in _api_docs(name)["apis"]
        for op in api["operations"]
    }
    fake = FakeAsterisk()
    served = set()
    for route in fake.web_app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/_"):
            continue  # the fake's own control endpoints
        assert path.startswith("/ari/"), path
        served.add((route.method, path.removeprefix("/ari")))
    assert served - documented == set()
    assert ("GET", "/events") in served
    assert ("DELETE", "/playbacks/{playbackId}") in served


async def test_every_event_and_answer_matches_api_docs(http: aiohttp.ClientSession) -> None:
    """Drive the fake through everything it can send and validate all of it."""
    models = _models()
    answers: list[tuple[str, Any]] = []

    async def call(method: str, path: str, model: str | None, **kwargs: Any) -> Any:
        async with http.request(method, f"{fake.base_url}/ari{path}", **kwargs) as resp:
            body = await read_body(resp)
        if model is not None:
            answers.append((model, body))
        return body

    async with FakeAsterisk(user=USER, password=PASSWORD, speed=100) as fake:
        received: list[dict[str, Any]] = []
        old = await _started(fake, http)
        ws = await http.ws_connect(f"{fake.base_url}/ari/events?app={APP}")
        reader = asyncio.create_task(collect(ws, received))
        received.append(await old.receive_json(timeout=2))  # ApplicationReplaced

        c1 = await fake.place_call(args=["post-call", "7001"])
        await call("POST", f"/channels/{c1}/answer", None)
        await call("POST", f"/channels/{c1}/play/p1", "Playback", params={"media": "sound:survey-rate"})
        await call(
            "POST",
            f"/channels/{c1}/play/p2",
            "Playback",
            params=[("media", "sound:survey-accepted"), ("media", "sound:survey-thanks")],
        )
        await call("GET", "/playbacks/p2", "Playback")
        await call("GET", f"/channels/{c1}", "Channel")
        await call("GET", f"/channels/{c1}/variable", "Variable", params={"variable": "CHANNEL(linkedid)"})
        await call("GET", f"/applications/{APP}", "Application")
        await fake.press(c1, "5")
        await call("DELETE", "/playbacks/p1", None)
        await wait_until(lambda: any(e["type"] == "PlaybackContinuing" for e in received), "PlaybackContinuing")
        await call("DELETE", f"/channels/{c1}", None)
        c2 = await fake.place_call(args=[])
        await call("POST", f"/channels/{c2}/play/p3", "Playback", params={"media": "sound:survey-rate"})
        await fake.caller_hangup(c2)
        c3 = await fake.place_call(args=[])
        await call("POST", f"/channels/{c3}/continue", None)
        # a listen: a snoop on a channel in no app, bridged with one in the app; the bridge goes, then the spied
        c4 = await fake.place_call(args=["listen=1"])
        spied = fake.add_channel(name="PJSIP/7001-00000001", linkedid="L-spied")
        snoop = await call(
            "POST", f"/channels/{spied}/snoop", "Channel", params={"spy": "both", "app": APP, "appArgs": "snoop=1"}
        )
        await call("POST", "/bridges", "Bridge", params={"type": "mixing", "bridgeId": "b1"})
        await call("POST", "/bridges/b1/addChannel", None, params={"channel": f"{c4},{snoop['id']}"})
        await call("GET", "/bridges/b1", "Bridge")
        await call("DELETE", "/bridges/b1", None)
        fake.end_channel(spied)
        await call("DELETE", f"/channels/{c4}", None)
        for endpoint in ("Local/answer@customers", "Local/busy@customers", "Local/congestion@customers"):
            body = {"endpoint": endpoint, "app": APP, "appArgs": "campaign=demo", "callerId": "Co <1>"}
            channel = await call("POST", "/channels", "Channel", json=body)
            if endpoint.startswith("Local/answer"):
                await wait_until(lambda: any(e["type"] == "StasisStart" for e in received[-3:]), "answer")
                await call("DELETE", f"/channels/{channel['id']}", None)
        body = {"endpoint": "Local/noanswer@customers", "app": APP, "appArgs": "", "timeout": 1}
        await call("POST", "/channels", "Channel", json=body)
        await call("GET", "/channels", None)
        await fake.wait_idle(timeout=3)
        await asyncio.sleep(0.05)
        await ws.close()
        await old.close()
        await reader

    types = {e["type"] for e in received}
    assert types == {
        "ApplicationReplaced",
        "StasisStart",
        "StasisEnd",
        "ChannelDtmfReceived",
        "PlaybackStarted",
        "PlaybackContinuing",
        "PlaybackFinished",
        "ChannelHangupRequest",
        "ChannelDestroyed",
        "ChannelVarset",
        "ChannelCallerId",
        "ChannelConnectedLine",
        "ChannelDialplan",
        "ChannelStateChange",
        "Dial",
        "ChannelEnteredBridge",
        "ChannelLeftBridge",
        "BridgeDestroyed",
    }
    errors = [err for n, e in enumerate(received) for err in _validate(e, e["type"], models, f"event {n}")]
    errors += [err for n, (model, body) in enumerate(answers) for err in _validate(body, model, models, f"answer {n}")]
    assert errors == []
