"""A fake Asterisk 22 ARI server: same REST paths, status codes and event JSON as the
real one, driven by a Python control API.

It is built from what a real Asterisk 22.11 said (``../shared/asterisk-ari/traces``)
and from Asterisk's own ARI description (``../shared/asterisk-ari/api-docs``); where
those were silent, from Asterisk's source (``res/res_stasis_playback.c``,
``res/ari/resource_channels.c``). The comments name the trace behind each quirk.

Usage (inside a running event loop, e.g. a pytest-asyncio test)::

    async with FakeAsterisk(user="u", password="p", app="ivr-survey", speed=100) as fake:
        client = AriClient(fake.base_url, "u", "p", "ivr-survey")
        ...                                     # connect the app's events websocket
        await fake.wait_for_app()
        channel_id = await fake.place_call(args=["post-call", "7001"])
        events = fake.subscribe(channel_id)     # what the app is sent about that channel
        ...                                     # wait for PlaybackStarted, then
        await fake.press(channel_id, "4")
        await fake.wait_channel_gone(channel_id)

Time: every duration given to the fake (prompt lengths, DTMF latency, ringing, talk time,
originate timeouts) is call time in seconds, divided by ``speed``: with ``speed=100`` the
2.5 s rating prompt plays for 25 ms.

Behaviour summary (real Asterisk unless marked *extrapolated*):

* Authentication: ``Authorization: Basic`` or ``?api_key=user:password``; otherwise
  401 ``{"message": "Authentication required"}``.
* ``GET /ari/events?app=NAME``: the events websocket. As api-docs' ``ApplicationReplaced``
  says, "an application may only be subscribed to by a single WebSocket at a time": the
  newest socket gets the app's events, an older one receives ``ApplicationReplaced`` and
  then nothing more. Events for a channel go out in order; while no socket is connected
  for the app, its events are dropped (Asterisk deactivates the app).
* ``place_call`` refuses (:class:`AppNotRegistered`) when no websocket is registered for the
  app, unless asked to wait: a real ``Stasis()`` fails on an unregistered app, so there is
  no StasisStart to lose or to queue.
* Channels that entered the app from the dialplan (``place_call``) are only subscribed
  while in Stasis: after ``StasisEnd`` the app hears nothing more about them, hence no
  ``ChannelDestroyed`` (none in ``rated-4``, ``invalid-then-5``, ``no-input-timeout``,
  ``caller-hangs-up-during-prompt``). Channels originated with ``app=`` are subscribed from
  birth to death, together with their Local ``;2`` half (``originate-outcomes``).
* Playbacks run one at a time per channel; later ones are queued (``invalid-then-5``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
import json
import logging
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Literal, Self

from aiohttp import web

from ivr_survey.simulator.sounds import DEFAULT_DURATION, PROMPT_DURATIONS

__all__ = [
    "ASTERISK_ID",
    "AppNotRegistered",
    "FakeAsterisk",
    "OriginateScript",
    "Outcome",
    "RecordedRequest",
]

log = logging.getLogger(__name__)

#: ``asterisk_id`` of every event in the traces.
ASTERISK_ID: Final = "02:fc:00:00:00:01"

Outcome = Literal["answer", "busy", "noanswer", "congestion", "fail"]

# ast_cause2str() (main/channel.c); 0 is "Unknown".
_CAUSE_TEXT: Final[Mapping[int, str]] = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    28: "Invalid number format",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    58: "Bearer capability not available",
    127: "Interworking, unspecified",
}

# DELETE /channels/{id}?reason=..: convert_reason_to_hangup_code() in resource_channels.c.
_HANGUP_REASONS: Final[Mapping[str, int]] = {
    "normal": 16,
    "busy": 17,
    "congestion": 34,
    "no_answer": 19,
    "timeout": 18,
    "rejected": 21,
    "unallocated": 1,
    "normal_unspecified": 31,
    "number_incomplete": 28,
    "codec_mismatch": 58,
    "interworking": 127,
    "failure": 38,
    "answered_elsewhere": 26,
}

# AST_SOFTHANGUP_EXPLICIT: what ChannelHangupRequest reports as `cause` (with soft=true)
# when the app hangs up: cause 32 in rated-4, invalid-then-5, no-input-timeout.
_SOFTHANGUP_EXPLICIT: Final = 32

_DTMF_DIGITS: Final = frozenset("0123456789*#ABCD")
_PLAY_SCHEMES: Final = ("sound:", "recording:", "number:", "digits:", "characters:", "tone:")
_KNOWN_TECHNOLOGIES: Final = frozenset({"Local", "PJSIP", "SIP", "IAX2", "DAHDI"})


def _timestamp(at: float | None = None) -> str:
    """ARI's timestamp format: ``2026-11-26T17:56:57.019+0000`` (UTC, milliseconds)."""
    moment = datetime.fromtimestamp(time.time() if at is None else at, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _json_response(status: int, body: Any) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def _error(status: int, message: str) -> web.Response:
    # Every ARI error body is {"message": "..."} (ast_ari_response_error).
    return _json_response(status, {"message": message})


def _no_content() -> web.Response:
    return web.Response(status=204)


class AppNotRegistered(RuntimeError):
    """No events websocket is connected for the Stasis app (Stasis() would fail)."""


@dataclass
class RecordedRequest:
    """One REST request the fake answered (``api_key`` passwords are masked)."""

    method: str
    path: str
    params: dict[str, str | list[str]]
    json: Any
    status: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_RECORD_KEY: Final = web.RequestKey("fake_asterisk_record", RecordedRequest)


@dataclass(frozen=True)
class OriginateScript:
    """What the far end of an originated call does.

    ``ring``: call-time seconds of ringing before the far end answers/rejects.
    ``talk``: after answering, the far end hangs up after this long (None: it waits for the
    app to hang up). ``noanswer`` rings until the originate ``timeout`` expires.
    ``fail``: the channel cannot even be created (500, like ``Bogus/123``).
    """

    outcome: Outcome
    ring: float = 0.0
    talk: float | None = None


@dataclass(eq=False)
class _Continue:
    """``POST /channels/{id}/continue``, queued behind the channel's playbacks."""

    context: str | None
    extension: str | None
    priority: int | None


@dataclass(eq=False)
class _Playback:
    id: str
    medias: list[str]
    language: str
    channel: _Channel
    state: str = "queued"
    index: int = 0
    cancelled: bool = False
    timer: asyncio.TimerHandle | None = None

    @property
    def media_uri(self) -> str:
        return self.medias[self.index]

    def to_json(self) -> dict[str, Any]:
        # stasis_app_playback_to_json(): next_media_uri only while more media follow.
        body: dict[str, Any] = {"id": self.id, "media_uri": self.media_uri}
        if self.index < len(self.medias) - 1:
            body["next_media_uri"] = self.medias[self.index + 1]
        body["target_uri"] = f"channel:{self.channel.id}"
        body["language"] = self.language
        body["state"] = self.state
        return body


@dataclass(eq=False)
class _Channel:
    id: str
    name: str
    state: str
    caller: dict[str, str]
    connected: dict[str, str]
    accountcode: str
    context: str
    exten: str
    priority: int
    app_name: str
    app_data: str
    creationtime: str
    language: str
    linkedid: str
    variables: dict[str, str] = field(default_factory=dict)
    app: str | None = None  # the Stasis app it is in, or is subscribed to
    subscribed: bool = False  # the app is sent events about it
    in_stasis: bool = False
    alive: bool = True
    originated: bool = False  # created by POST /channels with app=
    local_half: int = 0  # 1 or 2 for the halves of an originated Local channel
    peer: _Channel | None = None  # the ;2 half of an originated Local channel
    hangupcause: int = 16
    commands: deque[_Playback | _Continue] = field(default_factory=deque)
    current: _Playback | None = None
    pump_scheduled: bool = False
    origin_task: asyncio.Task[None] | None = None

    def to_json(self) -> dict[str, Any]:
        # Key order as in the traces.
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "protocol_id": "",
            "caller": dict(self.caller),
            "connected": dict(self.connected),
            "accountcode": self.accountcode,
            "dialplan": {
                "context": self.context,
                "exten": self.exten,
                "priority": self.priority,
                "app_name": self.app_name,
                "app_data": self.app_data,
            },
            "creationtime": self.creationtime,
            "language": self.language,
        }


class _EventSocket:
    """One connected events websocket; a writer task keeps the frames in order."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, apps: Sequence[str]) -> None:
        self.ws = ws
        self.request = request
        self.apps = tuple(apps)
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()

    def send(self, event: Mapping[str, Any]) -> None:
        self._queue.put_nowait(json.dumps(event))

    def finish(self) -> None:
        self._queue.put_nowait(None)

    async def run_writer(self) -> None:
        while (data := await self._queue.get()) is not None:
            try:
                await self.ws.send_str(data)
            except Exception:  # the peer is gone; the reader side notices and cleans up
                return

    def abort(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.abort()


class FakeAsterisk:
    """A fake Asterisk ARI server on loopback plus a control API for tests/simulations.

    ``known_sounds``: sound names that play (default: the survey prompts); anything else
    fails like a missing file. ``sound_durations``: call-time seconds per sound (default
    :data:`ivr_survey.simulator.sounds.PROMPT_DURATIONS`, else ``default_duration``).
    ``dtmf_delay``: call-time seconds between a key press and ``ChannelDtmfReceived``
    (the event comes when the key is released: ~0.2 s in the traces).
    ``known_technologies``: endpoint technologies an originate can use; others fail with
    the trace's 500. ``record_limit``: keep only about that many of the newest
    :attr:`requests` and :attr:`events` (long simulations); None keeps everything.
    """

    def __init__(
        self,
        *,
        user: str = "asterisk",
        password: str = "asterisk",
        app: str = "ivr-survey",
        speed: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
        known_sounds: Iterable[str] | None = None,
        sound_durations: Mapping[str, float] | None = None,
        default_duration: float = DEFAULT_DURATION,
        dtmf_delay: float = 0.2,
        asterisk_id: str = ASTERISK_ID,
        known_technologies: Iterable[str] = _KNOWN_TECHNOLOGIES,
        record_limit: int | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.user = user
        self.password = password
        self.app = app
        self.speed = speed
        self.host = host
        self.port = port
        self.sound_durations: dict[str, float] = dict(PROMPT_DURATIONS if sound_durations is None else sound_durations)
        self.known_sounds: set[str] = set(PROMPT_DURATIONS if known_sounds is None else known_sounds)
        self.default_duration = default_duration
        self.dtmf_delay = dtmf_delay
        self.asterisk_id = asterisk_id
        self.known_technologies = frozenset(known_technologies)
        self.record_limit = record_limit

        #: Every REST request answered, in arrival order (also ``GET /_requests``).
        self.requests: list[RecordedRequest] = []
        #: Every event generated for an app, in order (delivered or not).
        self.events: list[dict[str, Any]] = []

        self._channels: dict[str, _Channel] = {}
        self._linkedids: dict[str, str] = {}
        self._playbacks: dict[str, list[_Playback]] = {}
        self._scripts: dict[str, OriginateScript] = {}
        self._apps: dict[str, _EventSocket] = {}  # app name -> the socket that gets its events
        self._sockets: set[_EventSocket] = set()
        self._subscribers: dict[str | None, list[asyncio.Queue[dict[str, Any]]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._changed = asyncio.Event()
        self._seq = itertools.count(1)
        self._local_seq = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.web_app = self._build_app()

    # -- lifecycle -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://host:port`` (what an :class:`AriClient` takes as ``base_url``)."""
        if self._runner is None:
            raise RuntimeError("FakeAsterisk is not started")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        if self._runner is not None:
            return
        runner = web.AppRunner(self.web_app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = runner.addresses[0][1]
        self._runner = runner

    async def stop(self) -> None:
        """Stop like a crashing/restarting Asterisk: no hangup events, sockets close (1001)."""
        runner, self._runner = self._runner, None
        for task in list(self._tasks):
            task.cancel()
        for channel in self._channels.values():
            if channel.current is not None and channel.current.timer is not None:
                channel.current.timer.cancel()
        for sock in list(self._sockets):
            with contextlib.suppress(Exception):
                await sock.ws.close(code=1001, message=b"Asterisk stopping")
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if runner is not None:
            await runner.cleanup()
        # Like an Asterisk restart: every channel and playback is gone (the recorded
        # requests and events stay readable). start() may be called again.
        self._channels.clear()
        self._playbacks.clear()
        self._notify()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- control API -----------------------------------------------------------------

    def app_registered(self, app: str | None = None) -> bool:
        """True while an events websocket is connected for ``app`` (default: ours)."""
        return (app or self.app) in self._apps

    def websocket_count(self) -> int:
        return len(self._sockets)

    async def wait_for_app(self, app: str | None = None, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until an events websocket is connected for ``app``."""
        name = app or self.app
        try:
            await self._wait_until(lambda: name in self._apps, timeout)
        except TimeoutError:
            raise AppNotRegistered(f"Stasis app {name!r} not registered after {timeout}s") from None

    async def place_call(
        self,
        *,
        caller_number: str = "79991234567",
        caller_name: str = "Client",
        args: Sequence[str],
        linkedid: str | None = None,
        language: str = "en",
        name: str | None = None,
        variables: Mapping[str, str] | None = None,
        app: str | None = None,
        context: str = "incoming",
        exten: str = "s",
        priority: int = 4,
        accountcode: str = "",
        wait_for_app: float = 0.0,
    ) -> str:
        """Put a caller's channel into Stasis (``StasisStart`` with ``args``, state Up).

        Like ``Stasis(ivr-survey,post-call,7001)`` in ``extensions.conf``: the channel is
        the ``;2`` half of a Local channel, its id ``epoch.seq``; the call's linkedid
        defaults to the id of the call's first channel (the one before it). Raises
        :class:`AppNotRegistered` if no websocket is connected for the app (after waiting
        up to ``wait_for_app`` seconds of real time).
        """
        app_name = app or self.app
        if app_name not in self._apps:
            if wait_for_app > 0:
                await self.wait_for_app(app_name, wait_for_app)
            else:
                raise AppNotRegistered(f"Stasis app {app_name!r} not registered")
        now = time.time()
        first_id = self._new_id(now)  # the caller's own channel, first of the call
        channel_id = self._new_id(now)
        args = [str(a) for a in args]
        caller = {"name": caller_name, "number": caller_number}
        channel = _Channel(
            id=channel_id,
            name=name or f"Local/{exten}@{context}-{next(self._local_seq):08x};2",
            state="Up",
            caller=caller,
            connected=dict(caller),
            accountcode=accountcode,
            context=context,
            exten=exten,
            priority=priority,
            app_name="Stasis",
            app_data=",".join([app_name, *args]),
            creationtime=_timestamp(now),
            language=language,
            linkedid=linkedid or first_id,
            variables=dict(variables or {}),
            app=app_name,
            subscribed=True,
            in_stasis=True,
        )
        self._channels[channel_id] = channel
        self._linkedids[channel_id] = channel.linkedid
        self._send(channel, self._ev_stasis_start(channel, args))
        self._notify()
        return channel_id

    async def press(
        self,
        channel_id: str,
        digit: str,
        *,
        delay: float | None = None,
        duration_ms: int = 100,
    ) -> None:
        """The caller presses ``digit`` (or each digit of a string, one after the other).

        ``ChannelDtmfReceived`` (``duration_ms`` 100, as in every trace) is sent when the
        key is released, ``delay`` call-time seconds later (default ``dtmf_delay``). Raises
        KeyError for an unknown or gone channel.
        """
        channel = self._live(channel_id)
        wait = self.dtmf_delay if delay is None else delay
        for char in digit:
            if char not in _DTMF_DIGITS:
                raise ValueError(f"not a DTMF digit: {char!r}")
            await self._sleep(wait)
            if not channel.alive or not channel.in_stasis:
                return
            self._send(channel, self._ev_dtmf(channel, char, duration_ms))

    async def caller_hangup(self, channel_id: str, *, cause: int = 16) -> None:
        """The caller hangs up (``caller-hangs-up-during-prompt.jsonl``).

        ``ChannelHangupRequest`` {cause 16} (no ``soft``), then ``PlaybackFinished``
        "failed" for the prompt that was playing, then ``StasisEnd``.
        """
        self._far_end_hangup(self._live(channel_id), cause)

    async def drop_websockets(self) -> int:
        """Abort every events websocket's TCP connection (no close frame). Returns how many."""
        socks = list(self._sockets)
        for sock in socks:
            self._unregister(sock)
            sock.abort()
        self._notify()
        await asyncio.sleep(0)
        return len(socks)

    def subscribe(self, channel_id: str | None = None) -> asyncio.Queue[dict[str, Any]]:
        """A queue receiving every event sent about ``channel_id`` (its playbacks
        included) from now on; ``None``: every event."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._subscribers.setdefault(channel_id, []).append(queue)
        return queue

    def unsubscribe(self, channel_id: str | None, queue: asyncio.Queue[dict[str, Any]]) -> None:
        """Stop feeding a queue obtained from :meth:`subscribe`."""
        queues = self._subscribers.get(channel_id)
        if queues is not None and queue in queues:
            queues.remove(queue)
            if not queues:
                del self._subscribers[channel_id]

    def linkedid_of(self, channel_id: str) -> str:
        """The linkedid of a channel placed or originated by this fake (even once gone)."""
        return self._linkedids[channel_id]

    def channel_state(self, channel_id: str) -> str | None:
        """The channel's ARI state ("Up", "Ringing", ...) or None once it is gone."""
        channel = self._channels.get(channel_id)
        return channel.state if channel is not None and channel.alive else None

    def in_stasis(self, channel_id: str) -> bool:
        channel = self._channels.get(channel_id)
        return channel is not None and channel.alive and channel.in_stasis

    def playback_state(self, playback_id: str) -> str | None:
        """State of a playback the fake still knows ("queued", "playing", ...), else None."""
        playbacks = self._playbacks.get(playback_id)
        return playbacks[0].state if playbacks else None

    @property
    def live_channels(self) -> list[str]:
        return [cid for cid, channel in self._channels.items() if channel.alive]

    async def wait_channel_gone(self, channel_id: str, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait (real seconds) until the channel no longer exists."""
        await self._wait_until(lambda: channel_id not in self._channels, timeout)

    async def wait_idle(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait (real seconds) until no channel exists and no originate is in progress."""
        await self._wait_until(lambda: not self._channels and not self._origin_tasks(), timeout)

    def script_endpoint(
        self,
        endpoint: str,
        outcome: Outcome,
        *,
        ring: float = 0.0,
        talk: float | None = None,
    ) -> None:
        """Decide what happens when the app originates to ``endpoint``.

        Without a script, ``Local/<exten>@...`` with exten answer/busy/noanswer/congestion
        behaves like the trace's ``customers`` context; any other endpoint of a known
        technology answers; an unknown technology fails (500).
        """
        self._scripts[endpoint] = OriginateScript(outcome, ring, talk)

    def clear_requests(self) -> None:
        self.requests.clear()

    # -- internals: plumbing -----------------------------------------------------------

    def _keep(self, records: list[Any], item: Any) -> None:
        records.append(item)
        limit = self.record_limit
        if limit is not None and len(records) > limit + max(limit // 10, 1):
            del records[: len(records) - limit]

    def _new_id(self, now: float) -> str:
        # Asterisk's uniqueid: "<epoch seconds of creation>.<global counter>".
        return f"{int(now)}.{next(self._seq)}"

    def _live(self, channel_id: str) -> _Channel:
        channel = self._channels.get(channel_id)
        if channel is None or not channel.alive:
            raise KeyError(f"no such channel: {channel_id}")
        return channel

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _wait_until(self, predicate: Callable[[], bool], seconds: float) -> None:
        async with asyncio.timeout(seconds):
            while not predicate():
                await self._changed.wait()

    async def _sleep(self, call_seconds: float) -> None:
        if call_seconds > 0:
            await asyncio.sleep(call_seconds / self.speed)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("fake Asterisk task failed", exc_info=task.exception())
        self._notify()

    def _origin_tasks(self) -> list[asyncio.Task[None]]:
        return [ch.origin_task for ch in self._channels.values() if ch.origin_task and not ch.origin_task.done()]

    def _unregister(self, sock: _EventSocket) -> None:
        self._sockets.discard(sock)
        for app in sock.apps:
            if self._apps.get(app) is sock:
                del self._apps[app]

    def _send(self, channel: _Channel, event: dict[str, Any]) -> None:
        """Send an event about ``channel`` to its app, if the app is subscribed to it."""
        if not channel.subscribed or channel.app is None:
            return
        event["asterisk_id"] = self.asterisk_id
        event["application"] = channel.app
        self._keep(self.events, event)
        sock = self._apps.get(channel.app)
        if sock is not None:
            sock.send(event)
        for key in (channel.id, None):
            for queue in self._subscribers.get(key, ()):
                queue.put_nowait(event)

    def _destroy(self, channel: _Channel, cause: int) -> None:
        """ChannelDestroyed (if subscribed) and forget the channel."""
        if channel.local_half == 2:
            # The ;2 half's dialplan app is already cleared in its ChannelDestroyed,
            # the ;1 half keeps AppDial2 (originate-outcomes.jsonl).
            channel.app_name = channel.app_data = ""
        self._send(channel, self._ev_destroyed(channel, cause))
        self._remove(channel)

    def _remove(self, channel: _Channel) -> None:
        channel.alive = False
        channel.in_stasis = False
        if self._channels.get(channel.id) is channel:
            del self._channels[channel.id]
        task = channel.origin_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
        self._notify()

    # -- internals: events (key order as in the traces) --------------------------------

    @staticmethod
    def _ev_stasis_start(channel: _Channel, args: list[str]) -> dict[str, Any]:
        return {"type": "StasisStart", "timestamp": _timestamp(), "args": args, "channel": channel.to_json()}

    @staticmethod
    def _ev_channel(kind: str, channel: _Channel) -> dict[str, Any]:
        # StasisEnd, ChannelStateChange, ChannelConnectedLine
        return {"type": kind, "timestamp": _timestamp(), "channel": channel.to_json()}

    @staticmethod
    def _ev_dtmf(channel: _Channel, digit: str, duration_ms: int) -> dict[str, Any]:
        return {
            "type": "ChannelDtmfReceived",
            "timestamp": _timestamp(),
            "digit": digit,
            "duration_ms": duration_ms,
            "channel": channel.to_json(),
        }

    @staticmethod
    def _ev_playback(pb: _Playback) -> dict[str, Any]:
        kind = {"playing": "PlaybackStarted", "continuing": "PlaybackContinuing"}.get(pb.state, "PlaybackFinished")
        return {"type": kind, "timestamp": _timestamp(), "playback": pb.to_json()}

    @staticmethod
    def _ev_hangup_request(channel: _Channel, cause: int, *, soft: bool = False) -> dict[str, Any]:
        event: dict[str, Any] = {"cause": cause}
        if soft:
            event["soft"] = True
        event.update({"type": "ChannelHangupRequest", "timestamp": _timestamp(), "channel": channel.to_json()})
        return event

    @staticmethod
    def _ev_destroyed(channel: _Channel, cause: int) -> dict[str, Any]:
        return {
            "type": "ChannelDestroyed",
            "timestamp": _timestamp(),
            "cause": cause,
            "cause_txt": _CAUSE_TEXT.get(cause, "Unknown"),
            "channel": channel.to_json(),
        }

    @staticmethod
    def _ev_varset(channel: _Channel, variable: str, value: str) -> dict[str, Any]:
        return {
            "variable": variable,
            "value": value,
            "type": "ChannelVarset",
            "timestamp": _timestamp(),
            "channel": channel.to_json(),
        }

    @staticmethod
    def _ev_caller_id(channel: _Channel) -> dict[str, Any]:
        return {
            "type": "ChannelCallerId",
            "timestamp": _timestamp(),
            "caller_presentation": 0,
            "caller_presentation_txt": "Presentation Allowed, Not Screened",
            "channel": channel.to_json(),
        }

    @staticmethod
    def _ev_dialplan(channel: _Channel) -> dict[str, Any]:
        return {
            "type": "ChannelDialplan",
            "timestamp": _timestamp(),
            "dialplan_app": channel.app_name,
            "dialplan_app_data": channel.app_data,
            "channel": channel.to_json(),
        }

    @staticmethod
    def _ev_dial(peer: _Channel, dialstring: str, dialstatus: str) -> dict[str, Any]:
        # An originate's Dial events have no "caller", only the dialled "peer" (the ;1 half).
        return {
            "type": "Dial",
            "timestamp": _timestamp(),
            "dialstatus": dialstatus,
            "forward": "",
            "dialstring": dialstring,
            "peer": peer.to_json(),
        }

    # -- internals: playbacks ------------------------------------------------------------

    def _register_playback(self, pb: _Playback) -> None:
        # Asterisk does not refuse a duplicate playback id (playback_create() just links
        # another object; api-docs list no 409 for play): both exist, lookups find one.
        self._playbacks.setdefault(pb.id, []).append(pb)

    def _forget_playback(self, pb: _Playback) -> None:
        playbacks = self._playbacks.get(pb.id)
        if playbacks and pb in playbacks:
            playbacks.remove(pb)
            if not playbacks:
                del self._playbacks[pb.id]

    def _find_playback(self, playback_id: str) -> _Playback | None:
        playbacks = self._playbacks.get(playback_id)
        return playbacks[0] if playbacks else None

    def _schedule_pump(self, channel: _Channel) -> None:
        # The channel's thread picks queued commands up asynchronously, which is why the
        # 201 of a play usually still says "queued" (rated-4: 201 "queued", then
        # PlaybackStarted) and occasionally "playing" already (invalid-then-5).
        if channel.current is None and not channel.pump_scheduled:
            channel.pump_scheduled = True
            asyncio.get_running_loop().call_soon(self._pump, channel)

    def _pump(self, channel: _Channel) -> None:
        """Run the channel's queued commands (playbacks, continue) one at a time."""
        channel.pump_scheduled = False
        while channel.alive and channel.in_stasis and channel.current is None and channel.commands:
            item = channel.commands.popleft()
            if isinstance(item, _Continue):
                self._leave_stasis(channel)
                return
            if item.cancelled:
                # Stopped while queued: playback_first_update() publishes it as "done" when
                # its turn comes, and it never starts.
                self._send(channel, self._ev_playback(item))
                self._forget_playback(item)
                continue
            self._start_media(channel, item)

    def _media_duration(self, media: str) -> float | None:
        """Call-time seconds a media URI plays; None: fails at once; inf: until stopped;
        -1: unsupported scheme."""
        scheme, _, what = media.partition(":")
        if scheme == "sound":
            if what not in self.known_sounds:
                return None
            return self.sound_durations.get(what, self.default_duration)
        if scheme in ("digits", "characters"):
            return 0.6 * max(len(what), 1)
        if scheme == "number":
            return 0.6 * max(len(what.lstrip("-")), 1) if what.lstrip("-").isdigit() else -1.0
        if scheme == "tone":
            return float("inf")
        if scheme == "recording":
            return None
        return -1.0

    def _start_media(self, channel: _Channel, pb: _Playback) -> None:
        pb.state = "playing"
        self._send(channel, self._ev_playback(pb))
        duration = self._media_duration(pb.media_uri)
        if duration is None:
            # A missing sound: PlaybackStarted, then PlaybackFinished "failed" at once.
            self._media_ended(channel, pb, ok=False)
            return
        if duration < 0:
            # Unsupported URI scheme: res_stasis_playback.c logs and skips the media without
            # a final update, so PlaybackStarted is never followed by PlaybackFinished.
            if pb.index < len(pb.medias) - 1:
                pb.index += 1
                self._start_media(channel, pb)
            else:
                self._forget_playback(pb)
            return
        channel.current = pb
        if duration != float("inf"):
            loop = asyncio.get_running_loop()
            pb.timer = loop.call_later(duration / self.speed, self._media_ended, channel, pb, True)

    def _media_ended(self, channel: _Channel, pb: _Playback, ok: bool) -> None:
        pb.timer = None
        last = pb.index >= len(pb.medias) - 1
        pb.state = ("done" if ok else "failed") if last else "continuing"
        self._send(channel, self._ev_playback(pb))
        if not last:
            pb.index += 1
            channel.current = None
            self._start_media(channel, pb)
            return
        if channel.current is pb:
            channel.current = None
        self._forget_playback(pb)
        # The next queued playback starts right away (invalid-then-5: PlaybackFinished of
        # one and PlaybackStarted of the next share a timestamp).
        self._pump(channel)

    def _stop_playback(self, pb: _Playback) -> None:
        channel = pb.channel
        if pb.state == "queued":
            pb.cancelled = True
            pb.state = "done"  # STASIS_PLAYBACK_STATE_CANCELED reads as "done"
            return
        if pb.state not in ("playing", "continuing") or channel.current is not pb:
            return  # done/failed/cancelled: a no-op, still 204
        if pb.timer is not None:
            pb.timer.cancel()
            pb.timer = None
        # rated-4: DELETE /playbacks/pb-prompt -> 204, PlaybackFinished "done", and the
        # queued playback starts.
        pb.state = "done"
        self._send(channel, self._ev_playback(pb))
        channel.current = None
        self._forget_playback(pb)
        self._pump(channel)

    def _end_current_playback(self, channel: _Channel, state: str) -> None:
        pb = channel.current
        if pb is None:
            return
        if pb.timer is not None:
            pb.timer.cancel()
            pb.timer = None
        pb.state = state
        self._send(channel, self._ev_playback(pb))
        channel.current = None
        self._forget_playback(pb)

    def _flush_commands(self, channel: _Channel) -> None:
        # control_flush_queue(): queued commands are dropped without running, so queued
        # playbacks vanish without any event.
        for item in channel.commands:
            if isinstance(item, _Playback):
                self._forget_playback(item)
        channel.commands.clear()

    # -- internals: leaving Stasis and hanging up ---------------------------------------

    def _leave_stasis(self, channel: _Channel) -> None:
        """``continue``: StasisEnd; the dialplan goes on (here: to its Hangup())."""
        self._flush_commands(channel)
        channel.in_stasis = False
        self._send(channel, self._ev_channel("StasisEnd", channel))
        if not channel.originated:
            # extensions.conf: the priority after Stasis() is Hangup(). The app is no
            # longer subscribed, so it hears nothing more.
            channel.subscribed = False
            self._remove(channel)
            return
        # *extrapolated*: an originated channel has no dialplan to return to and hangs up.
        self._send(channel, self._ev_varset(channel, "STASISSTATUS", "SUCCESS"))
        self._teardown_originated(channel, channel.hangupcause)

    def _app_hangup(self, channel: _Channel, cause: int) -> None:
        """``DELETE /channels/{id}``, as in rated-4 / invalid-then-5 / no-input-timeout:
        PlaybackFinished ("done") of the playing prompt, ChannelHangupRequest
        {cause 32, soft true}, StasisEnd; originated channels then also get
        ChannelVarset STASISSTATUS=SUCCESS and ChannelDestroyed (originate-outcomes)."""
        channel.hangupcause = cause
        self._end_current_playback(channel, "done")
        self._send(channel, self._ev_hangup_request(channel, _SOFTHANGUP_EXPLICIT, soft=True))
        if self._leave_stasis(channel):
            self._teardown_originated(channel, cause)

    def _leave_stasis(self, channel: _Channel) -> bool:
        """The hung-up channel leaves the app (StasisEnd). A caller's channel is gone then (False); an
        originated one gets STASISSTATUS=SUCCESS and is torn down by the caller of this (True)."""
        self._flush_commands(channel)
        was_in_stasis = channel.in_stasis
        if was_in_stasis:
            channel.in_stasis = False
            self._send(channel, self._ev_channel("StasisEnd", channel))
        if not channel.originated:
            channel.subscribed = False
            self._remove(channel)
            return False
        if was_in_stasis:
            self._send(channel, self._ev_varset(channel, "STASISSTATUS", "SUCCESS"))
        return True

    def _far_end_hangup(self, channel: _Channel, cause: int) -> None:
        """The caller / called party hangs up (caller-hangs-up-during-prompt):
        ChannelHangupRequest {cause} without soft, PlaybackFinished "failed", StasisEnd."""
        if channel.local_half == 2 and channel.peer is not None:
            channel = channel.peer  # (the ;2 half's partner is the one the app drives)
        channel.hangupcause = cause
        self._send(channel, self._ev_hangup_request(channel, cause))
        self._end_current_playback(channel, "failed")
        # *extrapolated* for an originated call (no trace of its far end hanging up).
        if not self._leave_stasis(channel):
            return
        self._restore_outgoing_dialplan(channel)
        peer = channel.peer
        self._destroy(channel, cause)
        if peer is not None and peer.alive:
            self._destroy(peer, cause)

    @staticmethod
    def _restore_outgoing_dialplan(channel: _Channel) -> None:
        # The ;1 half's ChannelDestroyed shows AppDial2 "(Outgoing Line)" again, not Stasis.
        channel.app_name = "AppDial2"
        channel.app_data = "(Outgoing Line)"

    def _teardown_originated(self, channel: _Channel, cause: int) -> None:
        # originate-outcomes.jsonl, answered call hung up by the app, after StasisEnd and
        # ChannelVarset: HangupRequest ;2 {16}, Destroyed ;1, HangupRequest ;2 {16, soft},
        # Destroyed ;2.
        self._restore_outgoing_dialplan(channel)
        peer = channel.peer
        if peer is not None and peer.alive:
            self._send(peer, self._ev_hangup_request(peer, 16))
        self._destroy(channel, cause)
        if peer is not None and peer.alive:
            self._send(peer, self._ev_hangup_request(peer, 16, soft=True))
            self._destroy(peer, cause)

    # -- internals: originate ------------------------------------------------------------

    def _script_for(self, endpoint: str) -> OriginateScript:
        script = self._scripts.get(endpoint)
        if script is not None:
            return script
        tech, _, device = endpoint.partition("/")
        if tech not in self.known_technologies:
            return OriginateScript("fail")
        if tech == "Local":
            exten = device.split("@", 1)[0]
            if exten in ("answer", "busy", "noanswer", "congestion"):
                return OriginateScript(exten)  # the [customers] context of the trace
        return OriginateScript("answer")

    async def _run_originate(
        self,
        a: _Channel,
        b: _Channel | None,
        script: OriginateScript,
        dialstring: str,
        app_args: list[str],
        dial_timeout: int,
    ) -> None:
        """The far end's script; event order copied from originate-outcomes.jsonl."""
        await asyncio.sleep(0)  # the 200 goes out before the first event, as in the trace
        if b is not None:
            self._send(b, self._ev_caller_id(b))
            self._send(b, self._ev_channel("ChannelConnectedLine", b))

        def dialplan(app_name: str, app_data: str, priority: int = 1) -> None:
            # the [customers] context: `exten => noanswer,1,Ringing()` / `same => n,Wait(60)`
            if b is not None:
                b.app_name, b.app_data, b.priority = app_name, app_data, priority
                self._send(b, self._ev_dialplan(b))

        def state(channel: _Channel | None, value: str) -> None:
            if channel is not None:
                channel.state = value
                self._send(channel, self._ev_channel("ChannelStateChange", channel))

        # Local channels: the ;1 half reports cause 0 while the ;2 half carries the real
        # one (README); without a ;2 half the ;1 half carries it (*extrapolated*).
        outcome = script.outcome
        if outcome == "answer":
            self._send(a, self._ev_dial(a, dialstring, ""))
            await self._sleep(script.ring)
            dialplan("Answer", "")
            state(b, "Up")
            state(a, "Up")
            self._send(a, self._ev_dial(a, dialstring, "ANSWER"))
            a.app_name, a.app_data = "Stasis", ",".join([a.app or "", *app_args])
            if a.app not in self._apps:
                # Stasis() on an unregistered app fails and the call ends (*extrapolated*).
                self._send(a, self._ev_varset(a, "STASISSTATUS", "FAILED"))
                self._teardown_originated(a, 16)
                return
            self._send(a, self._ev_varset(a, "STASISSTATUS", ""))
            a.in_stasis = True
            self._send(a, self._ev_stasis_start(a, app_args))
            if script.talk is not None:
                await self._sleep(script.talk)
                if a.alive:
                    self._far_end_hangup(a, 16)
        elif outcome == "busy":
            dialplan("Busy", "5")
            self._send(a, self._ev_dial(a, dialstring, ""))
            await self._sleep(script.ring)
            self._send(a, self._ev_dial(a, dialstring, "BUSY"))
            state(b, "Busy")
            if b is not None:
                self._send(b, self._ev_hangup_request(b, 0))
                self._send(b, self._ev_hangup_request(b, 16, soft=True))
                self._destroy(b, 17)
            self._destroy(a, 0 if b is not None else 17)
        elif outcome == "congestion":
            self._send(a, self._ev_dial(a, dialstring, ""))
            await self._sleep(script.ring)
            dialplan("Congestion", "5")
            state(b, "Busy")
            self._send(a, self._ev_dial(a, dialstring, "CONGESTION"))
            if b is not None:
                self._send(b, self._ev_hangup_request(b, 0))
            self._destroy(a, 0 if b is not None else 34)
            if b is not None:
                self._send(b, self._ev_hangup_request(b, 16, soft=True))
                self._destroy(b, 34)
        else:  # noanswer: rings until the originate's timeout (8 s in the trace)
            self._send(a, self._ev_dial(a, dialstring, ""))
            dialplan("Ringing", "")
            state(a, "Ringing")
            self._send(a, self._ev_dial(a, dialstring, "RINGING"))
            dialplan("Wait", "60", 2)
            if dial_timeout < 0:
                await asyncio.Event().wait()  # no timeout: until the app hangs up
            await self._sleep(float(dial_timeout))
            if b is not None:
                self._send(b, self._ev_hangup_request(b, 19))
            self._destroy(a, 19)
            if b is not None:
                self._send(b, self._ev_hangup_request(b, 16, soft=True))
                self._destroy(b, 19)

    # -- HTTP ----------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get("/ari/events", self._h_events, allow_head=False)
        r.add_get("/ari/channels", self._h_list_channels, allow_head=False)
        r.add_post("/ari/channels", self._h_originate)
        r.add_get("/ari/channels/{channelId}", self._h_get_channel, allow_head=False)
        r.add_delete("/ari/channels/{channelId}", self._h_hangup)
        r.add_post("/ari/channels/{channelId}/answer", self._h_answer)
        r.add_post("/ari/channels/{channelId}/continue", self._h_continue)
        r.add_post("/ari/channels/{channelId}/play", self._h_play)
        r.add_post("/ari/channels/{channelId}/play/{playbackId}", self._h_play)
        r.add_get("/ari/channels/{channelId}/variable", self._h_get_variable, allow_head=False)
        r.add_post("/ari/channels/{channelId}/variable", self._h_set_variable)
        r.add_get("/ari/playbacks/{playbackId}", self._h_get_playback, allow_head=False)
        r.add_delete("/ari/playbacks/{playbackId}", self._h_stop_playback)
        # Not ARI: the recorded requests, for tests and the benchmark.
        r.add_get("/_requests", self._h_requests, allow_head=False)
        r.add_delete("/_requests", self._h_clear_requests)
        return app

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return decoded == f"{self.user}:{self.password}"
        api_key = request.query.get("api_key")
        return api_key == f"{self.user}:{self.password}"

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if not (request.path == "/ari" or request.path.startswith("/ari/")):
            return await handler(request)
        params: dict[str, str | list[str]] = {}
        for key in request.query:
            values = [v.split(":", 1)[0] + ":***" if key == "api_key" else v for v in request.query.getall(key)]
            params[key] = values[0] if len(values) == 1 else values
        body: Any = None
        parse_error = False
        if request.body_exists:
            raw = await request.read()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError:
                    parse_error = True
                    body = raw.decode("utf-8", "replace")
        record = RecordedRequest(request.method, request.path, params, body)
        self._keep(self.requests, record)
        request[_RECORD_KEY] = record
        response: web.StreamResponse
        if not self._authorized(request):
            response = _error(401, "Authentication required")
            response.headers["WWW-Authenticate"] = 'Basic realm="Asterisk REST Interface"'
        elif parse_error:
            response = _error(400, "Error parsing request body")
        else:
            try:
                response = await handler(request)
            except web.HTTPNotFound:
                response = _error(404, "Resource not found")
            except web.HTTPMethodNotAllowed:
                response = _error(405, "Invalid method")
        record.status = response.status
        return response

    @staticmethod
    def _body(request: web.Request) -> dict[str, Any]:
        record = request[_RECORD_KEY]
        return record.json if isinstance(record.json, dict) else {}

    def _control(self, channel_id: str) -> _Channel | web.Response:
        """find_control(): 404 if the channel does not exist, 409 if not in Stasis."""
        channel = self._channels.get(channel_id)
        if channel is None or not channel.alive:
            return _error(404, "Channel not found")
        if not channel.in_stasis:
            return _error(409, "Channel not in Stasis application")
        return channel

    async def _h_requests(self, request: web.Request) -> web.Response:
        return _json_response(200, [r.as_dict() for r in self.requests])

    async def _h_clear_requests(self, request: web.Request) -> web.Response:
        self.requests.clear()
        return _no_content()

    async def _h_events(self, request: web.Request) -> web.StreamResponse:
        apps = [a for value in request.query.getall("app", []) for a in value.split(",") if a]
        if not apps:
            return _error(400, "Missing params: app")
        ws = web.WebSocketResponse(protocols=("ari",), timeout=1.0)  # close handshake wait
        await ws.prepare(request)
        request[_RECORD_KEY].status = ws.status
        sock = _EventSocket(ws, request, apps)
        for app in apps:
            previous = self._apps.get(app)
            if previous is not None:
                # api-docs (events.json, ApplicationReplaced): the newer websocket wins,
                # the older one receives this event.
                previous.send(
                    {
                        "type": "ApplicationReplaced",
                        "timestamp": _timestamp(),
                        "application": app,
                        "asterisk_id": self.asterisk_id,
                    }
                )
            self._apps[app] = sock
        self._sockets.add(sock)
        self._notify()
        writer = asyncio.get_running_loop().create_task(sock.run_writer())
        try:
            async for _msg in ws:
                pass  # nothing a client sends on the events socket matters here
        finally:
            self._unregister(sock)
            self._notify()
            sock.finish()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def _h_list_channels(self, request: web.Request) -> web.Response:
        return _json_response(200, [c.to_json() for c in self._channels.values() if c.alive])

    async def _h_get_channel(self, request: web.Request) -> web.Response:
        channel = self._channels.get(request.match_info["channelId"])
        if channel is None or not channel.alive:
            return _error(404, "Channel not found")
        return _json_response(200, channel.to_json())

    async def _h_answer(self, request: web.Request) -> web.Response:
        channel = self._control(request.match_info["channelId"])
        if isinstance(channel, web.Response):
            return channel
        if channel.state != "Up":
            channel.state = "Up"
            self._send(channel, self._ev_channel("ChannelStateChange", channel))
        # rated-4: 204 with no body.
        return _no_content()

    async def _h_play(self, request: web.Request) -> web.Response:
        channel = self._control(request.match_info["channelId"])
        if isinstance(channel, web.Response):
            return channel
        if channel.state in ("Down", "Rsrved", "Ringing"):
            return _error(412, "Channel in invalid state")
        medias = request.query.getall("media", [])
        medias = [m for value in medias for m in value.split(",") if m]
        if not medias:
            # stasis_app_control_play_uri() refuses an empty media list.
            return _error(500, "Failed to queue media for playback")
        playback_id = request.match_info.get("playbackId") or request.query.get("playbackId") or str(uuid.uuid4())
        language = request.query.get("lang") or channel.language
        pb = _Playback(id=playback_id, medias=medias, language=language, channel=channel)
        self._register_playback(pb)
        body = pb.to_json()  # "queued": the channel thread has not picked it up yet
        channel.commands.append(pb)
        self._schedule_pump(channel)
        response = _json_response(201, body)
        response.headers["Location"] = f"/ari/playbacks/{playback_id}"
        return response

    async def _h_get_playback(self, request: web.Request) -> web.Response:
        pb = self._find_playback(request.match_info["playbackId"])
        if pb is None:
            return _error(404, "Playback not found")
        return _json_response(200, pb.to_json())

    async def _h_stop_playback(self, request: web.Request) -> web.Response:
        pb = self._find_playback(request.match_info["playbackId"])
        if pb is None:
            # README: DELETE /playbacks/{id} on a finished playback answers 404.
            return _error(404, "Playback not found")
        self._stop_playback(pb)
        return _no_content()

    async def _h_hangup(self, request: web.Request) -> web.Response:
        channel = self._channels.get(request.match_info["channelId"])
        if channel is None or not channel.alive:
            # rated-4: a second DELETE 3 ms after the first answers 404 "Channel not found".
            return _error(404, "Channel not found")
        reason = request.query.get("reason")
        reason_code = request.query.get("reason_code")
        if reason and reason_code:
            return _error(400, "The reason and reason_code can't both be specified")
        cause = 16
        if reason_code:
            try:
                cause = int(reason_code)
            except ValueError:
                return _error(400, "Invalid reason for hangup reason code provided")
        elif reason:
            if reason not in _HANGUP_REASONS:
                return _error(400, "Invalid reason for hangup reason provided")
            cause = _HANGUP_REASONS[reason]
        if channel.local_half == 2 and channel.peer is not None:
            # Hanging up the far end's half of a Local pair: the app's side sees the far
            # end hang up (*extrapolated*).
            self._far_end_hangup(channel, cause)
        else:
            self._app_hangup(channel, cause)
        return _no_content()

    async def _h_continue(self, request: web.Request) -> web.Response:
        channel = self._control(request.match_info["channelId"])
        if isinstance(channel, web.Response):
            return channel
        priority = request.query.get("priority")
        channel.commands.append(
            _Continue(
                request.query.get("context"),
                request.query.get("extension"),
                int(priority) if priority and priority.isdigit() else None,
            )
        )
        self._schedule_pump(channel)
        return _no_content()

    async def _h_get_variable(self, request: web.Request) -> web.Response:
        variable = request.query.get("variable", "")
        if not variable:
            return _error(400, "Variable name is required")
        channel = self._channels.get(request.match_info["channelId"])
        if channel is None or not channel.alive:
            # ast_ari_channels_get_channel_var() has its own wording for a missing channel.
            return _error(404, "Provided channel was not found")
        try:
            value = self._read_variable(channel, variable)
        except LookupError:
            return _error(500, "Unable to read provided function")
        if value is None:
            return _error(404, "Provided variable was not found")
        return _json_response(200, {"value": value})

    async def _h_set_variable(self, request: web.Request) -> web.Response:
        variable = request.query.get("variable") or self._body(request).get("variable")
        if not variable:
            return _error(400, "Variable name is required")
        channel = self._control(request.match_info["channelId"])
        if isinstance(channel, web.Response):
            return channel
        value = request.query.get("value", self._body(request).get("value", ""))
        channel.variables[str(variable)] = str(value)
        return _no_content()

    @staticmethod
    def _read_variable(channel: _Channel, name: str) -> str | None:
        """A channel variable, or a dialplan function when the name ends with ``)``.

        Unset variable: None (404 "Provided variable was not found"); unknown function or
        item: LookupError (500 "Unable to read provided function").
        """
        if name in channel.variables:
            return channel.variables[name]
        if name.endswith(")"):
            match = re.fullmatch(r"([A-Za-z_]+)\((.*)\)", name)
            if match is None:
                raise LookupError(name)
            func, arg = match.group(1).upper(), match.group(2).strip().lower()
            if func == "CHANNEL":
                items = {
                    "linkedid": channel.linkedid,
                    "uniqueid": channel.id,
                    "name": channel.name,
                    "language": channel.language,
                    "accountcode": channel.accountcode,
                    "state": channel.state,
                    "channeltype": channel.name.split("/", 1)[0],
                }
            elif func in ("CALLERID", "CONNECTEDLINE"):
                party = channel.caller if func == "CALLERID" else channel.connected
                items = {
                    "num": party["number"],
                    "number": party["number"],
                    "name": party["name"],
                    "all": f'"{party["name"]}" <{party["number"]}>',
                }
            else:
                raise LookupError(name)
            if arg not in items:
                raise LookupError(name)
            return items[arg]
        builtins = {
            "UNIQUEID": channel.id,
            "CHANNEL": channel.name,
            "CONTEXT": channel.context,
            "EXTEN": channel.exten,
            "PRIORITY": str(channel.priority),
            "LANGUAGE": channel.language,
            "ACCOUNTCODE": channel.accountcode,
            "CALLERID(num)": channel.caller["number"],
        }
        return builtins.get(name)

    async def _h_originate(self, request: web.Request) -> web.Response:
        # Query parameters and the JSON body both work; the body wins
        # (ast_ari_channels_originate_parse_body). The trace's dialer used a JSON body.
        args: dict[str, Any] = {k: v for k, v in request.query.items() if k != "api_key"}
        body = self._body(request)
        args.update({k: v for k, v in body.items() if k != "variables"})
        endpoint = str(args.get("endpoint") or "")
        if not endpoint:
            return _error(400, "Endpoint must be specified")
        tech, _, device = endpoint.partition("/")
        if not tech or not device:
            return _error(400, "Invalid endpoint specified")
        app = args.get("app")
        if not app and not args.get("extension"):
            return _error(400, "Application or extension must be specified")
        channel_id = args.get("channelId")
        other_id = args.get("otherChannelId")
        for wanted in (channel_id, other_id):
            if wanted and wanted in self._channels:
                return _error(409, "Channel with given unique ID already exists")
        script = self._script_for(endpoint)
        if script.outcome == "fail":
            # originate-outcomes.jsonl, Bogus/123: a 500 whose JSON body is a *string*
            # holding '{"error":"Allocation failed"}' -- reproduced as recorded.
            return _json_response(500, json.dumps({"error": "Allocation failed"}, separators=(",", ":")))
        try:
            timeout = int(args.get("timeout", 30))
        except (TypeError, ValueError):
            timeout = 30
        if timeout == 0:
            timeout = 30
        caller = self._parse_caller_id(str(args.get("callerId") or ""))
        variables = body.get("variables")
        now = time.time()
        is_local = tech == "Local"
        exten, _, context = device.partition("@")
        if not is_local:
            exten, context = "s", "default"  # *extrapolated*
        suffix = f"{next(self._local_seq):08x}"
        a = _Channel(
            id=str(channel_id) if channel_id else self._new_id(now),
            name=f"{endpoint}-{suffix};1" if is_local else f"{endpoint}-{suffix}",
            state="Down",
            caller=dict(caller),
            connected=dict(caller),
            accountcode="",
            context=context or "default",
            exten=exten or "s",
            priority=1,
            app_name="AppDial2",
            app_data="(Outgoing Line)",
            creationtime=_timestamp(now),
            language="en",
            linkedid="",
            variables={str(k): str(v) for k, v in variables.items()} if isinstance(variables, dict) else {},
            app=str(app) if app else None,
            subscribed=bool(app),  # stasis_app_subscribe_channel() at originate time
            originated=True,
            local_half=1 if is_local else 0,
        )
        a.linkedid = a.id
        b: _Channel | None = None
        if is_local:
            b = _Channel(
                id=str(other_id) if other_id else self._new_id(now),
                name=f"{endpoint}-{suffix};2",
                state="Ring",
                caller=dict(caller),
                connected=dict(caller),
                accountcode="",
                context=a.context,
                exten=a.exten,
                priority=1,
                app_name="",
                app_data="",
                creationtime=_timestamp(now),
                language="en",
                linkedid=a.id,
                app=a.app,
                subscribed=a.subscribed,  # "Subscribe to the Local channel peer also."
                originated=True,
                local_half=2,
            )
            a.peer = b
            b.peer = a
            self._channels[b.id] = b
            self._linkedids[b.id] = a.id
        self._channels[a.id] = a
        self._linkedids[a.id] = a.id
        app_args_text = str(args.get("appArgs") or "")
        app_args = app_args_text.split(",") if app_args_text else []
        dialstring = device if is_local else endpoint
        a.origin_task = self._spawn(self._run_originate(a, b, script, dialstring, app_args, timeout))
        self._notify()
        return _json_response(200, a.to_json())

    @staticmethod
    def _parse_caller_id(text: str) -> dict[str, str]:
        """``Company <74950000000>`` -> name Company, number 74950000000."""
        match = re.fullmatch(r'\s*"?([^"<]*?)"?\s*<([^>]*)>\s*', text)
        if match:
            return {"name": match.group(1).strip(), "number": match.group(2).strip()}
        text = text.strip()
        if text.replace("+", "").isdigit():
            return {"name": "", "number": text}
        return {"name": text, "number": ""}
