"""Simulated customers: the far ends of a campaign's calls on the fake Asterisk. Drives the demo's campaign.

Whether a number answers, is busy, does not answer or is congested is scripted on the fake per endpoint
(`FakeAsterisk.script_endpoint`) before each call, and drawn again for the next call once a call is over, so a
customer who was busy may answer the retry. A customer who answers may hang up as soon as a machine speaks;
the others take the survey like people: when a question's prompt starts, a moment's thought, then a key
(mostly good scores, some bad), or the opt-out key, or silence, or a hang-up when the second question comes.

Every call draws from its own random generator, seeded from the one given, the number and the how-manieth
call to that number this is: with a seeded generator the customers do the same whatever order the dialer
calls them in."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections import Counter
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from .ari import FakeAsterisk, Outcome
from .callers import RATING_WEIGHTS

# The keys a customer presses for each question's prompt, and how often (a two-digit answer ends by itself).
ANSWER_WEIGHTS: dict[str, dict[str, int]] = {
    "survey-rate": RATING_WEIGHTS,
    "survey-solved": {"1": 75, "2": 25},
    "survey-nps": {
        "10": 24,
        "9#": 22,
        "8#": 17,
        "7#": 12,
        "6#": 7,
        "5#": 6,
        "4#": 3,
        "3#": 3,
        "2#": 2,
        "1#": 1,
        "0#": 3,
    },
}
# What the fake Asterisk is told each reach does; a customer who drops answers, then hangs up himself.
_SCRIPTED: dict[str, Outcome] = {
    "answers": "answer",
    "drops": "answer",
    "busy": "busy",
    "noanswer": "noanswer",
    "congestion": "congestion",
}
_CHANNEL_NAME = re.compile(r"(?P<endpoint>.+)-[0-9a-f]{8}(?P<half>;[12])?")


def _pick(rng: random.Random, shares: Iterable[tuple[str, float]], rest: str) -> str:
    roll = rng.random()
    for name, share in shares:
        if roll < share:
            return name
        roll -= share
    return rest


@dataclass(frozen=True, slots=True)
class ReachMix:
    """What happens when a customer's number is dialled; the rest of 1.0 answers and stays on the line."""

    busy: float = 0.15
    noanswer: float = 0.15
    congestion: float = 0.05
    drops: float = 0.05  # answers, hears a machine and hangs up within seconds

    def pick(self, rng: random.Random) -> str:
        shares = (
            ("busy", self.busy),
            ("noanswer", self.noanswer),
            ("congestion", self.congestion),
            ("drops", self.drops),
        )
        return _pick(rng, shares, "answers")


@dataclass(frozen=True, slots=True)
class CustomerMix:
    """How a customer who stays on the line takes the survey; the rest of 1.0 answers every question."""

    opts_out: float = 0.05
    silent: float = 0.08
    hangs_up: float = 0.07  # answers the first question, hangs up when the second is asked

    def pick(self, rng: random.Random) -> str:
        shares = (("opts_out", self.opts_out), ("silent", self.silent), ("hangs_up", self.hangs_up))
        return _pick(rng, shares, "answers")


@dataclass(slots=True)
class CustomerCall:
    """One call to a customer: `reach` as scripted, `behaviour` in the survey (None unless answered), the
    keys of each answer given, in order."""

    phone: str
    attempt: int  # the how-manieth call to this number since the customers started
    reach: str
    behaviour: str | None
    pressed: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Plan:
    call: CustomerCall
    rng: random.Random  # what is left of the call's draws: its thinking times and answers


class SimulatedCustomers:
    """The customers behind the numbers given to `expect`; `calls` lists their calls as each one ends."""

    def __init__(
        self,
        fake: FakeAsterisk,
        *,
        rng: random.Random | None = None,
        reach: ReachMix | None = None,
        mix: CustomerMix | None = None,
        opt_out_key: str | None = "9",
        think_time: tuple[float, float] = (1.0, 3.0),
        ring_time: tuple[float, float] = (2.0, 12.0),
        drop_time: tuple[float, float] = (1.0, 4.0),
    ) -> None:
        self.fake = fake
        self.reach = reach or ReachMix()
        self.mix = mix or CustomerMix()
        self.opt_out_key = opt_out_key
        self.think_time = think_time
        self.ring_time = ring_time
        self.drop_time = drop_time
        self.calls: list[CustomerCall] = []
        self._seed = (rng or random.Random()).getrandbits(64)
        self._phones: dict[str, str] = {}  # endpoint -> number
        self._plans: dict[str, _Plan] = {}  # endpoint -> its next (or current) call
        self._attempts: Counter[str] = Counter()
        self._inboxes: dict[str, asyncio.Queue[dict[str, Any]]] = {}  # channel id -> a survey's events
        self._events: asyncio.Queue[dict[str, Any]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def expect(self, endpoint: str, phones: Iterable[str]) -> None:
        """The customers at these numbers, dialled as `endpoint` with {number} (a campaign's endpoint)."""
        for phone in phones:
            dialled = endpoint.replace("{number}", phone)
            self._phones[dialled] = phone
            self._next_call(dialled)

    def summary(self) -> Counter[str]:
        """Calls by what the customer did: the reach of unanswered calls, the behaviour of answered ones."""
        return Counter(call.behaviour or call.reach for call in self.calls)

    # -- lifecycle --------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._events = self.fake.subscribe(None)
        self._spawn(self._listen())

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._events is not None:
            self.fake.unsubscribe(None, self._events)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- the calls --------------------------------------------------------------------------------------------

    def _next_call(self, endpoint: str) -> None:
        phone = self._phones[endpoint]
        self._attempts[phone] += 1
        attempt = self._attempts[phone]
        rng = random.Random(f"{self._seed}:{phone}:{attempt}")
        reach = self.reach.pick(rng)
        outcome = _SCRIPTED[reach]
        ring = rng.uniform(*self.ring_time)
        if outcome in ("busy", "congestion"):
            ring /= 4  # the tone comes soon
        behaviour = self.mix.pick(rng) if reach == "answers" else None
        self._plans[endpoint] = _Plan(CustomerCall(phone, attempt, reach, behaviour), rng)
        # an unanswered call rings until the campaign's ring timeout, whatever `ring`
        self.fake.script_endpoint(endpoint, outcome, ring=ring)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _listen(self) -> None:
        assert self._events is not None
        while True:
            self._route(await self._events.get())

    def _route(self, event: dict[str, Any]) -> None:
        channel = event.get("channel")
        if channel is not None:
            channel_id = channel["id"]
        elif "playback" in event:
            channel_id = event["playback"]["target_uri"].removeprefix("channel:")
        else:
            return
        inbox = self._inboxes.get(channel_id)
        if inbox is not None:
            inbox.put_nowait(event)
        if channel is None or event["type"] not in ("StasisStart", "ChannelDestroyed"):
            return
        name = _CHANNEL_NAME.fullmatch(channel["name"])
        if name is None or name["half"] == ";2" or name["endpoint"] not in self._plans:
            return  # not a call to one of these customers (a caller's channel, a Local channel's far half)
        plan = self._plans[name["endpoint"]]
        if event["type"] == "ChannelDestroyed":
            self._inboxes.pop(channel_id, None)
            self.calls.append(plan.call)
            self._next_call(name["endpoint"])
        elif plan.call.reach in ("answers", "drops"):
            inbox = self._inboxes[channel_id] = asyncio.Queue()
            self._spawn(self._take_survey(channel_id, plan, inbox))

    async def _take_survey(self, channel_id: str, plan: _Plan, inbox: asyncio.Queue[dict[str, Any]]) -> None:
        call, rng = plan.call, plan.rng
        with contextlib.suppress(KeyError):  # pressing or hanging up when the call is over already
            while True:
                event = await inbox.get()
                if event["type"] in ("StasisEnd", "ChannelDestroyed"):
                    return
                if event["type"] != "PlaybackStarted":
                    continue
                if call.reach == "drops":  # a machine speaking: hangs up without a word
                    await asyncio.sleep(rng.uniform(*self.drop_time) / self.fake.speed)
                    await self.fake.caller_hangup(channel_id)
                    return
                answers = ANSWER_WEIGHTS.get(event["playback"]["media_uri"].removeprefix("sound:"))
                if answers is None or call.behaviour == "silent":
                    continue  # not a question ("thank you", "not a valid choice"), or nothing to say
                await asyncio.sleep(rng.uniform(*self.think_time) / self.fake.speed)
                if call.behaviour == "hangs_up" and call.pressed:
                    await self.fake.caller_hangup(channel_id)
                    return
                if call.behaviour == "opts_out" and self.opt_out_key is not None:
                    keys = self.opt_out_key
                else:
                    keys = rng.choices(list(answers), list(answers.values()))[0]
                call.pressed.append(keys)
                await self.fake.press(channel_id, keys)
