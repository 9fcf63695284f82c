"""The FastAGI adapter: one connection runs one caller through the same state machine as Stasis does.

AGI is a conversation of blocking commands, so the machine's actions are carried out in turn: Play
queues a prompt, played with STREAM FILE (a key ends it: barge-in); once nothing is queued, the
running timer is waited out with WAIT FOR DIGIT (a key, or the timer's expiry). Asterisk's replies
become the machine's events: PlaybackFinished, Digit, TimerFired, HungUp. An answer is committed
(database or spool) before the next command is sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from ..service.args import SurveyArgs, parse_args
from ..service.survey_run import Caller, NotSurveyed, SurveyRun, SurveySetup, in_steps
from ..survey.actions import Action, CancelTimer, Hangup, Play, StartTimer, StopPlayback
from ..survey.events import Digit, Event, Failed, HungUp, PlaybackFinished, Start, TimerFired
from .protocol import AgiChannel, AgiGone, quote, script_args

log = logging.getLogger(__name__)

SCRIPT = "survey"  # AGI(agi://host:4573/survey?operator=...)
ESCAPE_DIGITS = "0123456789*#"  # every key on a phone; A-D are on none


class AgiSurvey:
    """One FastAGI connection: the caller's survey, from the headers to the hang-up."""

    def __init__(
        self,
        agi: AgiChannel,
        headers: dict[str, str],
        setup: SurveySetup,
        *,
        on_latency: Callable[[float], None] | None = None,
    ) -> None:
        """on_latency: seconds from a reply of Asterisk's (a key, a prompt's end) to the actions it led to being
        carried out (the answer committed, the next command ready to send)."""
        self.agi = agi
        self.on_latency = on_latency
        self.headers = headers
        self.setup = setup
        self.uniqueid = headers.get("uniqueid", "")
        self.linkedid = self.uniqueid  # until Asterisk tells us the call's linkedid
        self._prompts: deque[Play] = deque()  # played in turn with STREAM FILE
        self._timer: tuple[int, float] | None = None  # token and loop-time deadline of the running timer

    async def run(self) -> None:
        path, raw_args = script_args(self.headers)
        if path != SCRIPT or not self.uniqueid:
            # Closing without a command sends the caller on in the dialplan.
            log.warning("AGI request for %r (uniqueid %r) is not ours; closed", path, self.uniqueid)
            return
        args = parse_args(raw_args)
        if args.consent:  # asked over ARI only; closing sends the caller on, to the queue
            log.warning("call %s: consent is asked by Stasis(ivr-survey,consent), not over FastAGI", self.linkedid)
            return
        try:
            survey = await self._begin(args)
        except AgiGone:
            survey = None
        except Exception:
            # Closing the connection hands the caller back to the dialplan, which decides what happens next.
            log.exception("call %s: survey could not start", self.linkedid)
            return
        if survey is None:
            log.info("call %s: channel %s gone before the survey began", self.linkedid, self.uniqueid)
            return
        if isinstance(survey, NotSurveyed):  # closing without a command sends the caller on in the dialplan
            if survey.hang_up:
                await self._hang_up()
            return
        try:
            await self._converse(survey)
        except asyncio.CancelledError:
            # Shutdown ran out of grace mid-command; its reply will never be read, so the connection is just
            # closed (the caller goes on in the dialplan). The survey ends failed, its answers kept, as over ARI.
            for step in in_steps(survey.session.handle(Failed("shutdown"))):
                if isinstance(step, tuple):
                    await survey.record(*step)
            raise

    async def _begin(self, args: SurveyArgs) -> SurveyRun | NotSurveyed | None:
        """The survey, stored as started (or the call, as not offered it); None when the caller is already gone."""
        reply = await self.agi.command("GET VARIABLE CHANNEL(linkedid)")
        if reply.result == 1 and reply.data:
            self.linkedid = reply.data
        # Answering first (as over ARI) also proves the channel is still there.
        answered = not self.agi.hung_up and (await self.agi.command("ANSWER")).result == 0
        if not answered or self.agi.hung_up:
            return None
        number = self.headers.get("callerid", "")
        caller = Caller(
            linkedid=self.linkedid,
            channel_uniqueid=self.uniqueid,
            number=None if number in ("", "unknown") else number,  # "unknown" is Asterisk's word for none
            language=self.headers.get("language") or None,
        )
        return await SurveyRun.begin(self.setup, entry="agi", args=args, caller=caller, playback_prefix="pb-")

    async def _converse(self, survey: SurveyRun) -> None:
        session = survey.session
        try:
            if session.language != survey.caller.language:
                # STREAM FILE plays in the channel's language (ARI is told per playback, AGI per channel).
                await self.agi.command(f"SET VARIABLE CHANNEL(language) {quote(session.language)}")
            await self._feed(survey, Start())
            loop = asyncio.get_running_loop()
            while not session.done:
                events = await self._step()
                heard = loop.time()
                if self.agi.hung_up:  # a HANGUP line came with the reply; a key it reports still counts
                    events.append(HungUp())
                if await self._feed(survey, *events) and self.on_latency is not None:
                    self.on_latency(loop.time() - heard)
        except AgiGone as exc:
            log.info("call %s: AGI connection lost (%s)", self.linkedid, exc)
            await self._feed(survey, HungUp())
        except Exception:
            log.exception("call %s: survey failed; ending it", self.linkedid)
            await self._feed(survey, Failed("agi error"))

    async def _step(self) -> list[Event]:
        """Carry out what the survey now waits for: the next prompt, else the running timer."""
        if self._prompts:
            play = self._prompts.popleft()
            reply = await self.agi.command(
                f'STREAM FILE {quote(play.sound)} "{ESCAPE_DIGITS}"', takes=self.setup.timing.playback_guard
            )
            if reply.code == 511:
                return [HungUp()]
            if reply.result > 0:
                # The key ended the prompt. A survey that ignores the key (thanks is playing) sees the prompt end.
                return [Digit(chr(reply.result)), PlaybackFinished(play.playback_id)]
            # -1 is a missing sound file or a hang-up; a HANGUP line or 511 on the next command tells which.
            return [PlaybackFinished(play.playback_id, ok=reply.result == 0)]
        assert self._timer is not None, "the survey waits for a prompt or a timer until it is done"
        token, deadline = self._timer
        ms = round((deadline - asyncio.get_running_loop().time()) * 1000)
        if ms <= 0:
            self._timer = None
            return [TimerFired(token)]
        reply = await self.agi.command(f"WAIT FOR DIGIT {ms}", takes=ms / 1000)
        if reply.code == 511 or reply.result < 0:
            return [HungUp()]
        if reply.result == 0:
            self._timer = None
            return [TimerFired(token)]
        return [Digit(chr(reply.result))]

    async def _feed(self, survey: SurveyRun, *events: Event) -> bool:
        """Carry out what the events lead to; True when they led to any action."""
        acted = False
        for event in events:
            for step in in_steps(survey.session.handle(event)):
                acted = True
                if isinstance(step, tuple):
                    # Committed (or spooled) before anything else is played: a keypress is never lost.
                    await survey.record(*step)
                else:
                    await self._do(survey, step)
        return acted

    async def _do(self, survey: SurveyRun, action: Action) -> None:
        match action:
            case Play():
                self._prompts.append(action)
            case StopPlayback():
                # The one playing was already ended by the key; what is queued never starts.
                self._prompts = deque(p for p in self._prompts if p.playback_id != action.playback_id)
            case StartTimer():
                self._timer = (action.token, asyncio.get_running_loop().time() + action.seconds)
            case CancelTimer():
                self._timer = None
            case Hangup():
                await self._hang_up()

    async def _hang_up(self) -> None:
        if not self.agi.gone:
            try:
                await self.agi.command("HANGUP")
            except Exception as exc:  # the call is over for us either way
                log.info("call %s: HANGUP not confirmed (%s)", self.linkedid, exc)
