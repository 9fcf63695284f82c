""":class:`FakeAsterisk`: configuration, lifecycle (start/stop, ``async with``) and the
control API that tests and simulations drive the fake with (place a call, press keys, hang
up, drop websockets, script originates, wait, inspect)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Self

from aiohttp import web

from ivr_survey.simulator.sounds import DEFAULT_DURATION, PROMPT_DURATIONS

from . import events
from .channels import Channel
from .events import ASTERISK_ID
from .originate import KNOWN_TECHNOLOGIES, OriginateScript, Outcome
from .routes import Routes

__all__ = ["AppNotRegistered", "FakeAsterisk"]

_DTMF_DIGITS: Final = frozenset("0123456789*#ABCD")


class AppNotRegistered(RuntimeError):
    """No events websocket is connected for the Stasis app (Stasis() would fail)."""


class FakeAsterisk(Routes):
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
        known_technologies: Iterable[str] = KNOWN_TECHNOLOGIES,
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
        self.sound_durations = dict(PROMPT_DURATIONS if sound_durations is None else sound_durations)
        self.known_sounds = set(PROMPT_DURATIONS if known_sounds is None else known_sounds)
        self.default_duration = default_duration
        self.dtmf_delay = dtmf_delay
        self.asterisk_id = asterisk_id
        self.known_technologies = frozenset(known_technologies)
        self.record_limit = record_limit

        #: Every REST request answered, in arrival order (also ``GET /_requests``).
        self.requests = []
        #: Every event generated for an app, in order (delivered or not).
        self.events = []

        self._channels = {}
        self._linkedids = {}
        self._playbacks = {}
        self._scripts = {}
        self.originated_peak = 0
        self._apps = {}  # app name -> the socket that gets its events
        self._sockets = set()
        self.most_websockets = 0
        self._subscribers = {}
        self._tasks = set()
        self._changed = asyncio.Event()
        self._seq = itertools.count(1)
        self._local_seq = itertools.count(1)
        self._bridges = {}
        self._snoops = {}
        self._snoop_seq = itertools.count(1)
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
        channel = Channel(
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
            creationtime=events.timestamp(now),
            language=language,
            linkedid=linkedid or first_id,
            variables=dict(variables or {}),
            app=app_name,
            subscribed=True,
            in_stasis=True,
        )
        self._channels[channel_id] = channel
        self._linkedids[channel_id] = channel.linkedid
        self._send(channel, events.stasis_start(channel, args))
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
            self._send(channel, events.dtmf(channel, char, duration_ms))

    def add_channel(self, *, name: str, linkedid: str, caller_number: str = "", channel_id: str | None = None) -> str:
        """A channel of a call that is in no app (an operator's phone talking to a caller): what a snoop spies on.
        Its id (Asterisk's uniqueid) is returned; :meth:`end_channel` hangs it up."""
        now = time.time()
        party = {"name": "", "number": caller_number}
        channel = Channel(
            id=channel_id or self._new_id(now),
            name=name,
            state="Up",
            caller=party,
            connected=dict(party),
            accountcode="",
            context="operators",
            exten="s",
            priority=1,
            app_name="AppDial",
            app_data="(Outgoing Line)",
            creationtime=events.timestamp(now),
            language="en",
            linkedid=linkedid,
        )
        self._channels[channel.id] = channel
        self._notify()
        return channel.id

    def end_channel(self, channel_id: str, *, cause: int = 16) -> None:
        """The channel hangs up (the app hears of it only through its snoops and bridges)."""
        channel = self._live(channel_id)
        channel.hangupcause = cause
        self._destroy(channel, cause)

    def bridges(self) -> dict[str, list[str]]:
        """Bridge id -> the ids of the channels in it."""
        return {b.id: [c.id for c in b.channels] for b in self._bridges.values()}

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

    # -- helpers of the control API ------------------------------------------------------

    def _live(self, channel_id: str) -> Channel:
        channel = self._channels.get(channel_id)
        if channel is None or not channel.alive:
            raise KeyError(f"no such channel: {channel_id}")
        return channel

    async def _wait_until(self, predicate: Callable[[], bool], seconds: float) -> None:
        async with asyncio.timeout(seconds):
            while not predicate():
                await self._changed.wait()

    def _origin_tasks(self) -> list[asyncio.Task[None]]:
        return [ch.origin_task for ch in self._channels.values() if ch.origin_task and not ch.origin_task.done()]
