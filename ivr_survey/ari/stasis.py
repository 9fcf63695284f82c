"""The Stasis adapter: ARI events in, survey events to the state machine, its actions out over REST.

Each caller's channel gets one worker task fed by a queue, so that one call's events are handled in
order while calls run concurrently and a slow call never stalls the others. An answer is committed
(database or spool) before the next prompt is asked for. Whatever goes wrong inside one call ends
that call's survey cleanly: what was answered is kept and the caller is hung up (or, when the
survey never began, sent back to the dialplan).

Each time the app connects (start, reconnect) it adopts the callers Asterisk kept in the app while no
instance listened (issue 15): one whose survey was stored goes on with it, from the next unanswered
question's prompt; one with nothing stored (its StasisStart was lost) gets the survey from the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..service.args import SurveyArgs, parse_args
from ..service.outbound import OutboundCalls
from ..service.survey_run import (
    Caller,
    NotSurveyed,
    SurveyRun,
    SurveySetup,
    in_steps,
    record_consent,
    stored_response,
)
from ..survey.actions import (
    Action,
    CancelTimer,
    Finish,
    Hangup,
    OptOut,
    Play,
    SaveAnswer,
    StartTimer,
    Status,
    StopPlayback,
)
from ..survey.consent import ConsentAction, ConsentSession, ContinueDialplan, RecordConsent
from ..survey.events import Digit, Event, Failed, HungUp, PlaybackFinished, PlaybackStarted, Start, TimerFired
from ..survey.session import SurveySession
from .client import AriClient, AriError
from .listening import Listening, leg_of

log = logging.getLogger(__name__)

_GONE = ("ChannelHangupRequest", "StasisEnd", "ChannelDestroyed")
LINGER = 10.0  # seconds a finished call's worker waits for Asterisk's StasisEnd


def _channel_of(event: dict[str, Any]) -> str | None:
    if "channel" in event:
        channel_id: str | None = event["channel"].get("id")
        return channel_id
    target = event.get("playback", {}).get("target_uri", "")
    return target.removeprefix("channel:") if target.startswith("channel:") else None


def _stasis_args(channel: dict[str, Any]) -> list[str]:
    """The Stasis arguments, read back from the channel's dialplan application data (`app,arg1,arg2`): what a
    lost StasisStart would have said."""
    app_data: str = channel.get("dialplan", {}).get("app_data", "")
    return app_data.split(",")[1:]


@dataclass(frozen=True, slots=True)
class _Stop:
    """Ends the worker: the channel left the app."""


@dataclass(frozen=True, slots=True)
class _Heard:
    """An event from Asterisk, with the loop time it arrived: what it leads to is timed from then."""

    event: Event
    at: float


class CallSurvey:
    """One caller in the survey, or, sent by Stasis(ivr-survey,consent,...) before the queue, asked for consent."""

    def __init__(
        self,
        app: StasisApp,
        channel: dict[str, Any],
        args: SurveyArgs,
        *,
        resumed: SurveyRun | None = None,
        playback_prefix: str | None = None,
    ) -> None:
        """resumed: the survey another run began, to go on with (the channel is already answered).
        playback_prefix: for an adopted channel, so that no playback id of the run before is used again."""
        self.app = app
        self.channel = channel
        self.channel_id: str = channel["id"]
        self.args = args
        self.playback_prefix = playback_prefix or f"{self.channel_id}-pb-"
        # Until Asterisk tells us the call's linkedid.
        self.linkedid = resumed.caller.linkedid if resumed is not None else self.channel_id
        self.language = app.setup.default_language
        self.survey = resumed
        self.session: SurveySession | None = None
        self.consent: ConsentSession | None = None
        self.caller: Caller | None = None
        self.inbox: asyncio.Queue[Event | _Heard | _Stop] = asyncio.Queue()
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
            self._hear(Digit(event["digit"]))
        elif kind == "PlaybackStarted":
            self._hear(PlaybackStarted(event["playback"]["id"]))
        elif kind == "PlaybackFinished":
            self._hear(PlaybackFinished(event["playback"]["id"], ok=event["playback"]["state"] == "done"))
        elif kind in _GONE:
            self._hear(HungUp())
            if kind != "ChannelHangupRequest":
                self.inbox.put_nowait(_Stop())

    def _hear(self, event: Event) -> None:
        self.inbox.put_nowait(_Heard(event, asyncio.get_running_loop().time()))

    def release(self) -> None:
        """End the worker without touching the channel: another instance took the app, and the caller with it."""
        self.inbox.put_nowait(_Stop())

    def abort(self, reason: str) -> None:
        self.inbox.put_nowait(Failed(reason))

    async def _run(self) -> None:
        try:
            try:
                if not await self._begin():
                    return
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
                    async with asyncio.timeout(LINGER if self._done else None):
                        item = await self.inbox.get()
                except TimeoutError:
                    break
                if isinstance(item, _Stop):
                    break
                if not isinstance(item, _Heard):
                    await self._handle(item)
                elif await self._handle(item.event) and self.app.on_latency is not None:
                    self.app.on_latency(asyncio.get_running_loop().time() - item.at)
        finally:
            self._cancel_timer()
            self.app.calls.pop(self.channel_id, None)
            if self.app.outbound is not None and self.app.outbound.owns(self.channel_id):
                self.app.outbound.survey_ended(self.channel_id, began=self.survey is not None)

    @property
    def _done(self) -> bool:
        machine = self.consent or self.session
        return machine is not None and machine.done

    async def _begin(self) -> bool:
        """Start the survey (or the consent prompt); False when the call is not offered the survey and was sent
        on."""
        app = self.app
        if self.survey is not None:
            log.info(
                "call %s: adopted channel %s at question %d",
                self.linkedid,
                self.channel_id,
                self.survey.session.position + 1,
            )
            self.session = self.survey.session
            self.language = self.session.language
            await self._handle(Start())
            return True
        linkedid = await app.client.get_variable(self.channel_id, "CHANNEL(linkedid)")
        self.linkedid = linkedid or self.channel_id
        # Answering first (as the traced app did) also proves the channel is still there.
        await app.client.answer(self.channel_id)
        caller = self.caller = Caller(
            linkedid=self.linkedid,
            channel_uniqueid=self.channel_id,
            number=self.channel.get("caller", {}).get("number") or None,
            language=self.channel.get("language"),
        )
        if self.args.consent:
            policy = (await app.setup.policy(self.args.queue)).policy
            self.language = policy.language(self.args.lang or caller.language or app.setup.default_language)
            timing = app.setup.timing
            self.consent = ConsentSession(
                wait=timing.no_input_timeout, guard=timing.playback_guard, playback_id=f"{self.playback_prefix}consent"
            )
            await self._handle(Start())
            return True
        run = await SurveyRun.begin(
            app.setup, entry="ari", args=self.args, caller=caller, playback_prefix=self.playback_prefix
        )
        if isinstance(run, NotSurveyed):
            await (app.client.hangup(self.channel_id) if run.hang_up else app.send_off(self.channel_id))
            return False
        self.survey = run
        self.session = run.session
        self.language = self.session.language
        await self._handle(Start())
        return True

    async def _handle(self, event: Event) -> bool:
        """True when the event led to actions and they were all carried out."""
        machine = self.consent or self.session
        assert machine is not None
        try:
            actions = machine.handle(event)
            await self._execute(actions)
        except Exception:
            log.exception("call %s: survey handler failed on %s; ending the survey", self.linkedid, event)
            for action in machine.handle(Failed("handler error")):
                await self._best_effort(self._do(action))
            return False
        return bool(actions)

    async def _execute(self, actions: list[Action] | list[ConsentAction]) -> None:
        for step in in_steps(actions):
            if isinstance(step, tuple):
                # Committed (or spooled) before anything else is played: a keypress is never lost.
                assert self.survey is not None
                await self.survey.record(*step)
            else:
                await self._do(step)

    async def _do(self, action: Action | ConsentAction) -> None:
        client = self.app.client
        match action:
            case RecordConsent():  # stored before the caller goes on to the queue
                assert self.caller is not None
                await record_consent(self.app.setup, args=self.args, caller=self.caller, digit=action.digit)
            case ContinueDialplan():
                await self._best_effort(self.app.send_off(self.channel_id))
            case SaveAnswer() | Finish() | OptOut():  # one at a time only when a failure ends the survey
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
        self.listening: Listening | None = None  # supervisors' live listens, whose legs run in this app too
        self.calls: dict[str, CallSurvey] = {}
        self.connected = False
        self.reconnects = 0  # connections after the first
        # Seconds from an event's arrival (a key, a prompt's end) to the actions it led to being carried out.
        self.on_latency: Callable[[float], None] | None = None
        self._ever_connected = False
        self.replaced = False  # another instance took the app: no more calls until restarted
        self.draining = False
        self._stop = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[None]] = set()
        # Channels being adopted -> their events meanwhile, handed to their survey once it exists.
        self._held: dict[str, list[dict[str, Any]]] = {}

    async def start(self) -> None:
        self.replaced = False  # a new term as the active instance
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
        self.reconnects += self._ever_connected
        self._ever_connected = True
        if self.outbound is not None:
            self.outbound.events_heard()
        if not self.draining:
            self._spawn(self._adopt_all())

    async def _adopt_all(self) -> None:
        """Adopt every channel Asterisk lists in our app that no survey of ours runs for."""
        try:
            application = await self.client.get_application(self.client.app)
        except AriError as exc:
            log.error("callers left in app %s not adopted: %s", self.client.app, exc)
            return
        listed = application.get("channel_ids", []) if application is not None else []
        # A campaign channel of another instance (its dialer's prefix is not ours) is not ours to survey.
        orphans = [cid for cid in listed if cid not in self.calls and ("-dial-" not in cid or self._placed(cid))]
        if orphans:
            log.info("adopting %d channels left in app %s", len(orphans), self.client.app)
        for channel_id in orphans:
            self._held.setdefault(channel_id, [])
        await asyncio.gather(*(self._adopt(channel_id) for channel_id in orphans))

    async def _adopt(self, channel_id: str) -> None:
        try:
            call = await self._adoption(channel_id)
            if call is not None:
                self.calls[channel_id] = call
        except Exception:
            log.exception("channel %s: could not be adopted; sending it back to the dialplan", channel_id)
            if channel_id in self._held:  # as when a survey cannot start: the caller must not sit in silence
                await self._send_off_quietly(channel_id)
        finally:
            held = self._held.pop(channel_id, None)
            call = self.calls.get(channel_id)
            if held and call is not None:
                for event in held:
                    call.feed(event)

    async def _adoption(self, channel_id: str) -> CallSurvey | None:
        """The survey for a channel left in the app, or None when there is none to run."""
        channel = await self.client.get_channel(channel_id)
        linkedid = channel_id
        if channel is not None:
            linkedid = await self.client.get_variable(channel_id, "CHANNEL(linkedid)") or channel_id
        stored = await stored_response(self.setup, channel_id=channel_id, linkedid=linkedid)
        caller = Caller(
            linkedid=stored.linkedid if stored is not None else linkedid,
            channel_uniqueid=channel_id,
            number=(channel or {}).get("caller", {}).get("number") or None,
            language=(channel or {}).get("language"),
        )
        prefix = f"{channel_id}-{uuid.uuid4().hex[:8]}-pb-"  # never the ids of the playbacks of the run before
        if channel is None:
            if stored is not None and stored.status == "in_progress":
                log.info("call %s: channel %s gone before it was adopted", caller.linkedid, channel_id)
                run = SurveyRun.resume(self.setup, stored, caller=caller, playback_prefix=prefix)
                await run.record(Finish(Status.ABANDONED))
            return None
        if channel_id not in self._held:  # its StasisStart came meanwhile: that survey is running
            return None
        dialplan = channel.get("dialplan", {})
        if leg_of(_stasis_args(channel)) is not None or channel.get("name", "").startswith("Snoop/"):
            # A leg of a listen that ended with the run before: nobody listens any more.
            await self.client.hangup(channel_id)
            return None
        if dialplan.get("app_name") != "Stasis":
            # Still ringing, or the far half of a Local channel: not a caller in the survey.
            return None
        if self.draining:  # as for a StasisStart now: the caller goes on in the dialplan
            await self.send_off(channel_id)
            return None
        if stored is not None and stored.status == "not_offered":  # decided already: it goes on as it would have
            await self.send_off(channel_id)
            return None
        if stored is None:
            log.info("call %s: channel %s in the app with no survey stored; starting it", linkedid, channel_id)
            if self.outbound is not None and self._placed(channel_id):
                self.outbound.answered(channel_id)
            return CallSurvey(self, channel, parse_args(_stasis_args(channel)), playback_prefix=prefix)
        run = SurveyRun.resume(self.setup, stored, caller=caller, playback_prefix=prefix)
        return CallSurvey(self, channel, parse_args(_stasis_args(channel)), resumed=run)

    def _on_disconnected(self) -> None:
        # Events said while the socket is down are lost; the dialer must not place calls it cannot hear.
        self.connected = False

    def _on_replaced(self) -> None:
        # The calls' events now go to the other instance: our workers must stop driving those channels.
        self.replaced = True
        self._let_go_of_callers()

    def _let_go_of_callers(self) -> None:
        """End every worker without touching its channel: the caller stays in the app for another instance."""
        for call in list(self.calls.values()):
            call.release()

    def _placed(self, channel_id: str) -> bool:
        return self.outbound is not None and self.outbound.owns(channel_id)

    def surveying(self) -> set[str]:
        """The linkedids of the calls whose caller is in the survey (or asked for consent) now."""
        return {call.linkedid for call in self.calls.values()}

    def on_event(self, event: dict[str, Any]) -> None:
        channel_id = _channel_of(event)
        if channel_id is None:
            return
        if self.listening is not None and self.listening.claims(event):
            return
        kind = event.get("type")
        if kind == "StasisStart":
            self._held.pop(channel_id, None)  # a live StasisStart wins over an adoption under way
            if self.draining:
                # Shutting down: the caller goes on in the dialplan instead of into a survey we cannot finish.
                self._spawn(self._send_off_quietly(channel_id))
            elif channel_id not in self.calls:  # a replayed StasisStart starts nothing new
                if self.outbound is not None and self._placed(channel_id):
                    self.outbound.answered(channel_id)
                try:
                    self.calls[channel_id] = CallSurvey(self, event["channel"], parse_args(event.get("args", [])))
                except Exception:
                    log.exception("channel %s: bad StasisStart; sending the caller back to the dialplan", channel_id)
                    self._spawn(self._send_off_quietly(channel_id))
                    if self.outbound is not None and self._placed(channel_id):
                        self.outbound.survey_ended(channel_id, began=False)
            return
        if kind == "ChannelDestroyed" and self.outbound is not None and self._placed(channel_id):
            self.outbound.channel_ended(channel_id, int(event.get("cause") or 0))
        held = self._held.get(channel_id)
        if held is not None:
            held.append(event)
            return
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

    async def detach(self) -> None:
        """Step down: close the events websocket and let go of the callers without a word to Asterisk (they stay
        in the app, for the instance that takes over). start() connects again."""
        self._stop.set()
        if self._listener is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        self._stop = asyncio.Event()
        self._let_go_of_callers()

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
