"""The Stasis adapter: ARI events in, survey events to the state machine, its actions out over REST.

Each caller's channel gets one worker task fed by a queue, so that one call's events are handled in
order while calls run concurrently and a slow call never stalls the others. An answer is committed
(database or spool) before the next prompt is asked for. Whatever goes wrong inside one call ends
that call's survey cleanly: what was answered is kept and the caller is hung up (or, when the
survey never began, sent back to the dialplan).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from ..service.args import parse_args
from ..service.outbound import OutboundCalls
from ..service.survey_run import Caller, SurveyRun, SurveySetup
from ..survey.actions import (
    Action,
    CancelTimer,
    Finish,
    Hangup,
    OptOut,
    Play,
    SaveAnswer,
    StartTimer,
    StopPlayback,
)
from ..survey.events import Digit, Event, Failed, HungUp, PlaybackFinished, PlaybackStarted, Start, TimerFired
from ..survey.session import SurveySession
from .client import AriClient, AriError

log = logging.getLogger(__name__)

_GONE = ("ChannelHangupRequest", "StasisEnd", "ChannelDestroyed")
LINGER = 10.0  # seconds a finished call's worker waits for Asterisk's StasisEnd


def _channel_of(event: dict[str, Any]) -> str | None:
    if "channel" in event:
        channel_id: str | None = event["channel"].get("id")
        return channel_id
    target = event.get("playback", {}).get("target_uri", "")
    return target.removeprefix("channel:") if target.startswith("channel:") else None


@dataclass(frozen=True, slots=True)
class _Stop:
    """Ends the worker: the channel left the app."""


class CallSurvey:
    """One caller in the survey."""

    def __init__(self, app: StasisApp, start_event: dict[str, Any]) -> None:
        self.app = app
        self.channel: dict[str, Any] = start_event["channel"]
        self.channel_id: str = self.channel["id"]
        self.args = parse_args(start_event.get("args", []))
        self.linkedid = self.channel_id  # until Asterisk tells us the call's linkedid
        self.language = app.setup.default_language
        self.survey: SurveyRun | None = None
        self.session: SurveySession | None = None
        self.inbox: asyncio.Queue[Event | _Stop] = asyncio.Queue()
        self._timer: asyncio.TimerHandle | None = None
        self._last_dtmf: tuple[str, str] | None = None
        self.task = asyncio.create_task(self._run(), name=f"survey-{self.channel_id}")

    # ARI -> survey events (called from the websocket reader: must not block)
    def feed(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "ChannelDtmfReceived":
            stamp = (event.get("timestamp", ""), event["digit"])
            if stamp == self._last_dtmf:  # the same event delivered twice is one keypress
                return
            self._last_dtmf = stamp
            self.inbox.put_nowait(Digit(event["digit"]))
        elif kind == "PlaybackStarted":
            self.inbox.put_nowait(PlaybackStarted(event["playback"]["id"]))
        elif kind == "PlaybackFinished":
            self.inbox.put_nowait(PlaybackFinished(event["playback"]["id"], ok=event["playback"]["state"] == "done"))
        elif kind in _GONE:
            self.inbox.put_nowait(HungUp())
            if kind != "ChannelHangupRequest":
                self.inbox.put_nowait(_Stop())

    def release(self) -> None:
        """End the worker without touching the channel: another instance took the app, and the caller with it."""
        self.inbox.put_nowait(_Stop())

    def abort(self, reason: str) -> None:
        self.inbox.put_nowait(Failed(reason))

    async def _run(self) -> None:
        try:
            try:
                await self._begin()
            except Exception as exc:
                if isinstance(exc, AriError) and exc.status == 404:
                    # Gone before we began (or a StasisStart replayed after the call): nothing to survey or store.
                    log.info("call %s: channel %s gone before the survey began", self.linkedid, self.channel_id)
                    return
                # The caller must not sit in silence: the dialplan decides what happens next.
                log.exception("call %s: survey could not start", self.linkedid)
                await self._best_effort(self.app.send_off(self.channel_id))
                return
            while True:
                try:
                    # Once the survey is over, StasisEnd may never come (lost while the websocket was down):
                    # the worker does not wait for it forever.
                    async with asyncio.timeout(LINGER if self.session and self.session.done else None):
                        item = await self.inbox.get()
                except TimeoutError:
                    break
                if isinstance(item, _Stop):
                    break
                await self._handle(item)
        finally:
            self._cancel_timer()
            self.app.calls.pop(self.channel_id, None)
            if self.app.outbound is not None and self.app.outbound.owns(self.channel_id):
                self.app.outbound.survey_ended(self.channel_id, began=self.survey is not None)

    async def _begin(self) -> None:
        app = self.app
        linkedid = await app.client.get_variable(self.channel_id, "CHANNEL(linkedid)")
        self.linkedid = linkedid or self.channel_id
        # Answering first (as the traced app did) also proves the channel is still there.
        await app.client.answer(self.channel_id)
        caller = Caller(
            linkedid=self.linkedid,
            channel_uniqueid=self.channel_id,
            number=self.channel.get("caller", {}).get("number") or None,
            language=self.channel.get("language"),
        )
        self.survey = await SurveyRun.begin(
            app.setup, entry="ari", args=self.args, caller=caller, playback_prefix=f"{self.channel_id}-pb-"
        )
        self.session = self.survey.session
        self.language = self.session.language
        await self._handle(Start())

    async def _handle(self, event: Event) -> None:
        assert self.session is not None
        try:
            await self._execute(self.session.handle(event))
        except Exception:
            log.exception("call %s: survey handler failed on %s; ending the survey", self.linkedid, event)
            for action in self.session.handle(Failed("handler error")):
                await self._best_effort(self._do(action))

    async def _execute(self, actions: list[Action]) -> None:
        for action in actions:
            await self._do(action)

    async def _do(self, action: Action) -> None:
        client = self.app.client
        match action:
            case SaveAnswer() | Finish() | OptOut():
                # Committed (or spooled) before anything else is played: a keypress is never lost.
                assert self.survey is not None
                await self.survey.record(action)
            case Play():
                try:
                    await client.play(self.channel_id, action.playback_id, f"sound:{action.sound}", lang=self.language)
                except AriError as exc:
                    # A gone channel ends the survey; any other refusal must not trap the caller.
                    gone = exc.status == 404
                    log.warning("call %s: play %s refused (%s)", self.linkedid, action.sound, exc.status)
                    self.inbox.put_nowait(HungUp() if gone else PlaybackFinished(action.playback_id, ok=False))
            case StopPlayback():
                await self._best_effort(client.stop_playback(action.playback_id))
            case StartTimer():
                self._cancel_timer()
                self._timer = asyncio.get_running_loop().call_later(
                    action.seconds, self.inbox.put_nowait, TimerFired(action.token)
                )
            case CancelTimer():
                self._cancel_timer()
            case Hangup():
                await self._best_effort(client.hangup(self.channel_id))

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _best_effort(self, coro: Any) -> None:
        try:
            await coro
        except Exception as exc:
            log.warning("call %s: %s", self.linkedid, exc)


class StasisApp:
    """Every channel that enters our app gets a survey: a caller sent by the dialplan, or a campaign's customer
    who answered. The campaign's dialer (`outbound`) also hears what becomes of the calls it placed."""

    def __init__(self, client: AriClient, setup: SurveySetup) -> None:
        self.client = client
        self.setup = setup
        self.outbound: OutboundCalls | None = None
        self.calls: dict[str, CallSurvey] = {}
        self.connected = False
        self.replaced = False  # another instance took the app: no more calls until restarted
        self.draining = False
        self._stop = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._listener = asyncio.create_task(
            self.client.listen(
                self.on_event,
                on_connected=self._on_connected,
                on_disconnected=self._on_disconnected,
                on_replaced=self._on_replaced,
                stop=self._stop,
            ),
            name="ari-listener",
        )

    def _on_connected(self) -> None:
        self.connected = True
        if self.outbound is not None:
            self.outbound.events_heard()

    def _on_disconnected(self) -> None:
        # Events said while the socket is down are lost; the dialer must not place calls it cannot hear.
        self.connected = False

    def _on_replaced(self) -> None:
        # The calls' events now go to the other instance: our workers must stop driving those channels.
        self.replaced = True
        for call in list(self.calls.values()):
            call.release()

    def _placed(self, channel_id: str) -> bool:
        return self.outbound is not None and self.outbound.owns(channel_id)

    def on_event(self, event: dict[str, Any]) -> None:
        channel_id = _channel_of(event)
        if channel_id is None:
            return
        kind = event.get("type")
        if kind == "StasisStart":
            if self.draining:
                # Shutting down: the caller goes on in the dialplan instead of into a survey we cannot finish.
                self._spawn(self._send_off_quietly(channel_id))
            elif channel_id not in self.calls:  # a replayed StasisStart starts nothing new
                if self.outbound is not None and self._placed(channel_id):
                    self.outbound.answered(channel_id)
                try:
                    self.calls[channel_id] = CallSurvey(self, event)
                except Exception:
                    log.exception("channel %s: bad StasisStart; sending the caller back to the dialplan", channel_id)
                    self._spawn(self._send_off_quietly(channel_id))
                    if self.outbound is not None and self._placed(channel_id):
                        self.outbound.survey_ended(channel_id, began=False)
            return
        if kind == "ChannelDestroyed" and self.outbound is not None and self._placed(channel_id):
            self.outbound.channel_ended(channel_id, int(event.get("cause") or 0))
        call = self.calls.get(channel_id)
        if call is not None:
            call.feed(event)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def send_off(self, channel_id: str) -> None:
        """A channel we will not survey: a caller goes on in the dialplan; a call we placed has no dialplan to go
        back to, so it is hung up."""
        if self._placed(channel_id):
            await self.client.hangup(channel_id)
        else:
            await self.client.continue_in_dialplan(channel_id)

    async def _send_off_quietly(self, channel_id: str) -> None:
        with contextlib.suppress(Exception):
            await self.send_off(channel_id)

    async def stop(self, *, grace: float) -> None:
        """Stop taking calls, let surveys in progress finish within `grace` seconds, end the rest."""
        self.draining = True
        tasks = [c.task for c in self.calls.values()]
        if tasks:
            log.info("waiting up to %.0f s for %d surveys in progress", grace, len(tasks))
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for call in list(self.calls.values()):
                call.abort("shutdown")
            if pending:
                _, stuck = await asyncio.wait(pending, timeout=5.0)
                for task in stuck:  # Asterisk never confirmed the hangup; nothing more to wait for
                    task.cancel()
        if self._side_tasks:  # callers being sent back to the dialplan must get there before we go
            await asyncio.wait(list(self._side_tasks), timeout=5.0)
        self._stop.set()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        self.connected = False
