"""Simulated callers: the fake Asterisk places calls to operators, lets them talk, sends the caller
into the survey, and the caller presses keys the way callers do. Drives `ivr-survey demo` and bench/.

Given a fake AMI, the calls also show in the call history: each call rings its operator and is answered
(or missed, and then often called back by the operator), with the channel and dial events Asterisk sends.
Given a recordings folder too, every answered call is recorded there as MixMonitor would: Asterisk names the
file in a VarSet of MIXMONITOR_FILENAME, which the AMI collector keeps as the call's recording."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..db.operators import OperatorRow
from .ari import FakeAsterisk
from .fake_ami import FakeAmiServer
from .recordings import write_recording

log = logging.getLogger(__name__)

# The simulated operators, named and in teams when the demo starts (as `ivr-survey operators import` would).
ROSTER = (
    OperatorRow("7001", "Анна Смирнова", "Продажи"),
    OperatorRow("7002", "Иван Петров", "Продажи"),
    OperatorRow("7003", "Olga Ivanova", "Продажи"),
    OperatorRow("7004", "John Miller", "Support"),
    OperatorRow("7005", "Мария Кузнецова", "Support"),
)
OPERATORS = tuple(o.code for o in ROSTER)

# Prompts that ask something, and how a caller answers each (a key for each valid answer).
QUESTIONS: dict[str, tuple[str, ...]] = {
    "survey-rate": ("1", "2", "3", "4", "5"),
    "survey-solved": ("1", "2"),
    "survey-nps": tuple(str(n) for n in range(11)),
}
# Most callers are satisfied; a few are not.
RATING_WEIGHTS = {"5": 45, "4": 27, "3": 13, "2": 8, "1": 7}


@dataclass(frozen=True, slots=True)
class CallerMix:
    """Shares of caller behaviour; the rest of 1.0 rates at once."""

    wrong_key_first: float = 0.10
    silent: float = 0.08
    hangs_up: float = 0.07

    def pick(self, rng: random.Random) -> str:
        roll = rng.random()
        for behaviour, share in (
            ("wrong_key_first", self.wrong_key_first),
            ("silent", self.silent),
            ("hangs_up", self.hangs_up),
        ):
            if roll < share:
                return behaviour
            roll -= share
        return "rates"


@dataclass
class CallOutcome:
    channel_id: str
    linkedid: str
    operator: str
    behaviour: str
    pressed: list[str] = field(default_factory=list)


def _answer_for(sound: str, rng: random.Random) -> str:
    if sound == "survey-rate":
        keys, weights = zip(*RATING_WEIGHTS.items(), strict=True)
        key: str = rng.choices(keys, weights)[0]
        return key
    if sound == "survey-nps":
        return str(rng.choice(range(6, 11))) + "#"
    return rng.choice(QUESTIONS[sound])


class SimulatedCallers:
    def __init__(
        self,
        fake: FakeAsterisk,
        *,
        operators: tuple[str, ...] = OPERATORS,
        queues: tuple[str | None, ...] = (None, "sales", "support"),
        mix: CallerMix | None = None,
        rng: random.Random | None = None,
        think_time: tuple[float, float] = (0.4, 2.0),
        talk_time: tuple[float, float] = (1.0, 4.0),
        languages: tuple[str, ...] = ("en", "en", "ru"),
        ami: FakeAmiServer | None = None,
        missed_share: float = 0.15,
        callback_share: float = 0.6,
        recordings: Path | None = None,
    ) -> None:
        self.fake = fake
        self.ami = ami
        self.recordings = recordings.resolve() if recordings is not None else None  # MixMonitor's absolute names
        self.missed_share = missed_share
        self.callback_share = callback_share
        self._seq = itertools.count(1)
        self.operators = operators
        self.queues = queues
        self.mix = mix or CallerMix()
        self.rng = rng or random.Random()
        self.think_time = think_time
        self.talk_time = talk_time
        self.languages = languages
        self.outcomes: list[CallOutcome] = []

    def _wait(self, bounds: tuple[float, float]) -> float:
        return self.rng.uniform(*bounds) / self.fake.speed

    async def call(self) -> CallOutcome:
        """One call: ring an operator, talk, then the caller is surveyed and behaves per the mix."""
        operator = self.rng.choice(self.operators)
        queue = self.rng.choice(self.queues)
        behaviour = self.mix.pick(self.rng)
        number = f"7999{self.rng.randrange(10**7):07d}"
        args = [f"operator={operator}"] + ([f"queue={queue}"] if queue else [])
        if self.ami is not None and self.rng.random() < self.missed_share:
            return await self._missed(operator, queue, number)
        caller = await self._ring_and_talk(operator, queue, number)
        channel_id = await self.fake.place_call(
            caller_number=number,
            args=args,
            language=self.rng.choice(self.languages),
            linkedid=caller["Linkedid"] if caller else None,
        )
        outcome = CallOutcome(channel_id, self.fake.linkedid_of(channel_id), operator, behaviour)
        self.outcomes.append(outcome)
        try:
            await self._behave(outcome)
        finally:
            self._hang_up(caller)
        return outcome

    # -- what AMI sees of a call

    def _channel(self, name: str, linkedid: str | None, context: str, exten: str, number: str) -> dict[str, str]:
        uniqueid = f"{int(time.time())}.{next(self._seq)}"
        return {
            "Channel": f"{name}-{next(self._seq):08x}",
            "Uniqueid": uniqueid,
            "Linkedid": linkedid or uniqueid,
            "Context": context,
            "Exten": exten,
            "CallerIDNum": number,
        }

    def _hang_up(self, *channels: dict[str, str] | None) -> None:
        for channel in channels:
            if channel is not None and self.ami is not None:
                self.ami.emit("Hangup", **channel, Cause="16", **{"Cause-txt": "Normal Clearing"})

    async def _dial(self, caller: dict[str, str], dest: dict[str, str], *, answer: bool) -> None:
        assert self.ami is not None
        dial = {
            **caller,
            "DestChannel": dest["Channel"],
            "DestUniqueid": dest["Uniqueid"],
            "DestLinkedid": dest["Linkedid"],
        }
        self.ami.emit("Newchannel", **dest)
        self.ami.emit("DialBegin", **dial)
        await asyncio.sleep(self._wait((0.5, 3.0) if answer else (3.0, 8.0)))
        self.ami.emit("DialEnd", **dial, DialStatus="ANSWER" if answer else "NOANSWER")

    async def _ring(
        self, operator: str, queue: str | None, number: str, *, answer: bool
    ) -> tuple[dict[str, str], dict[str, str]]:
        """A client's call comes in (into the queue, if any) and rings the operator: (caller, operator) channels."""
        assert self.ami is not None
        caller = self._channel("PJSIP/trunk", None, "incoming", operator, number)
        self.ami.emit("Newchannel", **caller)
        if queue:
            self.ami.emit("QueueCallerJoin", **caller, Queue=queue, Position="1", Count="1")
        agent = self._channel(f"PJSIP/{operator}", caller["Linkedid"], "operators", operator, operator)
        await self._dial(caller, agent, answer=answer)
        return caller, agent

    async def _ring_and_talk(self, operator: str, queue: str | None, number: str) -> dict[str, str] | None:
        """The caller rings the operator, who answers, talks and hangs up; the caller's channel stays up."""
        if self.ami is None:
            await asyncio.sleep(self._wait(self.talk_time))
            return None
        caller, agent = await self._ring(operator, queue, number, answer=True)
        # the operator's phone is a channel of the simulated PBX too, so that a supervisor can listen in
        self.fake.add_channel(name=agent["Channel"], linkedid=agent["Linkedid"], channel_id=agent["Uniqueid"])
        await self._talk(caller)
        self.fake.end_channel(agent["Uniqueid"])
        self._hang_up(agent)
        return caller

    async def _talk(self, channel: dict[str, str]) -> None:
        """The two parties talk for a while, recorded on `channel` when there is a recordings folder: MixMonitor
        starts as they are bridged (as a queue's member recording does) and its file is whole at the hang-up."""
        path = self._start_recording(channel)
        talk = self.rng.uniform(*self.talk_time)  # seconds of simulated time
        await asyncio.sleep(talk / self.fake.speed)
        if path is not None:
            try:
                await asyncio.to_thread(write_recording, path, talk)
            except OSError as exc:  # a full disk loses the recording, not the call
                log.warning("simulated recording %s not written: %s", path, exc)

    def _start_recording(self, channel: dict[str, str]) -> Path | None:
        """MixMonitor on the channel, named by its uniqueid as the dialplan names it; None without a recordings
        folder."""
        if self.recordings is None or self.ami is None:
            return None
        path = self.recordings / f"{channel['Uniqueid']}.wav"
        self.ami.mixmonitor(channel, path)
        return path

    async def _missed(self, operator: str, queue: str | None, number: str) -> CallOutcome:
        """Nobody answers; often the operator calls the client back a little later."""
        assert self.ami is not None
        caller, agent = await self._ring(operator, queue, number, answer=False)
        self._hang_up(agent, caller)
        outcome = CallOutcome("", caller["Linkedid"], operator, "missed")
        self.outcomes.append(outcome)
        if self.rng.random() < self.callback_share:
            await asyncio.sleep(self._wait((3.0, 15.0)))
            phone = self._channel(f"PJSIP/{operator}", None, "operators", f"9{number}", operator)
            self.ami.emit("Newchannel", **phone)
            self.ami.emit("Newexten", **{**phone, "Context": "outbound", "Exten": number})
            client = self._channel("PJSIP/client-trunk", phone["Linkedid"], "outbound", number, number)
            await self._dial(phone, client, answer=True)
            await self._talk(phone)
            self._hang_up(client, phone)
        return outcome

    async def _behave(self, outcome: CallOutcome) -> None:
        events = self.fake.subscribe(outcome.channel_id)
        wrong_key_given = False
        try:
            while True:
                event: dict[str, Any] = await events.get()
                kind = event["type"]
                if kind in ("StasisEnd", "ChannelDestroyed"):
                    return
                if kind != "PlaybackStarted":
                    continue
                sound = event["playback"]["media_uri"].removeprefix("sound:")
                if sound not in QUESTIONS:
                    continue
                if outcome.behaviour == "silent":
                    continue
                await asyncio.sleep(self._wait(self.think_time))
                if outcome.behaviour == "hangs_up":
                    await self.fake.caller_hangup(outcome.channel_id)
                    return
                keys = _answer_for(sound, self.rng)
                if outcome.behaviour == "wrong_key_first" and not wrong_key_given:
                    wrong_key_given = True
                    keys = "9" if sound != "survey-nps" else "*"
                for key in keys:
                    outcome.pressed.append(key)
                    await self.fake.press(outcome.channel_id, key)
        except LookupError:  # the channel is gone already
            return
        finally:
            self.fake.unsubscribe(outcome.channel_id, events)

    async def run(self, *, calls: int | None = None, per_second: float = 1.0, concurrency: int = 50) -> None:
        """Place `calls` calls (forever when None) at about `per_second`, at most `concurrency` at once."""
        limit = asyncio.Semaphore(concurrency)
        tasks: set[asyncio.Task[None]] = set()

        async def one() -> None:
            try:
                await self.call()
            except Exception as exc:  # a simulated call failing must not stop the simulation
                log.warning("simulated call failed: %s", exc)
            finally:
                limit.release()

        placed = 0
        while calls is None or placed < calls:
            await limit.acquire()
            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            placed += 1
            await asyncio.sleep(self.rng.expovariate(per_second) if per_second > 0 else 0)
        if tasks:
            await asyncio.gather(*tasks)

    def summary(self) -> Counter[str]:
        return Counter(o.behaviour for o in self.outcomes)
