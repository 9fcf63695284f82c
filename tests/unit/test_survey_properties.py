"""Invariants of the survey state machine under arbitrary event sequences.

Random timer tokens and playback ids rarely hit the live ones, and random keys rarely answer three
questions, so placeholder events stand for "the running timer fires", "the oldest active playback
finishes" and "key in a valid answer to the current question"; the driver resolves them from the
session's state. That keeps every path reachable within a few hundred examples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from ivr_survey.survey import (
    DEFAULT_SURVEY,
    EXAMPLE_CSAT_SOLVED_NPS,
    STATUSES,
    Action,
    CancelTimer,
    Digit,
    Event,
    Failed,
    Finish,
    Hangup,
    HungUp,
    OptOut,
    Play,
    PlaybackFinished,
    PlaybackStarted,
    SaveAnswer,
    Start,
    StartTimer,
    StopPlayback,
    SurveyDefinition,
    SurveySession,
    TimerFired,
    Timing,
)


class _Live:
    """Placeholders resolved by the driver against the session's live timer and playbacks."""


@dataclass(frozen=True)
class FireRunningTimer(_Live):
    pass


@dataclass(frozen=True)
class FinishOldestPlayback(_Live):
    ok: bool


@dataclass(frozen=True)
class KeyValidAnswer(_Live):
    """The keys of one valid answer to the current question ('#' after a short multi-key one)."""

    choice: int


PLAYBACK_IDS = st.sampled_from([f"pb-{n}" for n in range(1, 13)])


def _weighted(*choices: tuple[int, st.SearchStrategy[object]]) -> st.SearchStrategy[object]:
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


EVENTS = _weighted(
    (8, st.builds(Digit, st.sampled_from("0123456789*#"))),
    (2, st.builds(PlaybackStarted, PLAYBACK_IDS)),
    (2, st.builds(PlaybackFinished, PLAYBACK_IDS, st.booleans())),
    (2, st.builds(TimerFired, st.integers(1, 30))),
    (4, st.builds(FinishOldestPlayback, st.booleans())),
    (4, st.just(FireRunningTimer())),
    (3, st.builds(KeyValidAnswer, st.integers(0, 10))),
    (1, st.just(Start())),
    (1, st.one_of(st.just(HungUp()), st.builds(Failed, st.just("adapter error")))),
)
DEFINITIONS = st.sampled_from([DEFAULT_SURVEY, EXAMPLE_CSAT_SOLVED_NPS])
TIMINGS = st.builds(Timing, max_retries=st.integers(0, 3))
OPT_OUT_KEYS = st.sampled_from([None, "9"])  # a post-call survey, a campaign call


@dataclass
class Driver:
    """Plays the adapter: feeds events, records every action, tracks the live timer and playbacks."""

    session: SurveySession
    session_timing: Timing
    log: list[tuple[Event, list[Action]]] = field(default_factory=list)
    token: int | None = None
    seconds: float = 0.0  # of the running timer
    active: list[str] = field(default_factory=list)

    def feed(self, event: Event | _Live) -> list[Action]:
        if isinstance(event, KeyValidAnswer):
            questions = self.session.definition.questions
            question = questions[min(self.session.position, len(questions) - 1)]
            answer = sorted(question.scores)[event.choice % len(question.scores)]
            if len(answer) < question.max_digits:
                answer += "#"
            return [action for key in answer for action in self.feed(Digit(key))]
        if isinstance(event, FireRunningTimer):
            event = TimerFired(self.token if self.token is not None else 0)
        elif isinstance(event, FinishOldestPlayback):
            event = PlaybackFinished(self.active[0] if self.active else "pb-0", event.ok)
        actions = self.session.handle(event)
        self.log.append((event, actions))
        if isinstance(event, TimerFired) and event.token == self.token:
            self.token = None
            if self.seconds == self.session_timing.playback_guard:
                self.active.clear()  # the session gives up on playbacks when the guard fires
        if isinstance(event, PlaybackFinished) and event.playback_id in self.active:
            self.active.remove(event.playback_id)
        for action in actions:
            match action:
                case Play(playback_id=playback_id):
                    self.active.append(playback_id)
                case StopPlayback(playback_id=playback_id):
                    self.active.remove(playback_id)  # raises if the session stops what it never played
                case StartTimer(token=token, seconds=seconds):
                    self.token, self.seconds = token, seconds
                case CancelTimer():
                    self.token = None
        return actions

    @property
    def actions(self) -> list[Action]:
        return [action for _, actions in self.log for action in actions]


def run(
    definition: SurveyDefinition, timing: Timing, events: Sequence[Event | _Live], opt_out: str | None = None
) -> Driver:
    driver = Driver(SurveySession(definition, timing=timing, opt_out_key=opt_out), timing)
    driver.feed(Start())
    for event in events:
        driver.feed(event)
    return driver


SETTINGS = settings(max_examples=300, deadline=None)


@SETTINGS
@given(DEFINITIONS, TIMINGS, st.lists(EVENTS, max_size=40), OPT_OUT_KEYS)
def test_invariants(
    definition: SurveyDefinition, timing: Timing, events: list[Event | _Live], opt_out: str | None
) -> None:
    driver = run(definition, timing, events, opt_out)
    session, actions = driver.session, driver.actions
    saves = [a for a in actions if isinstance(a, SaveAnswer)]
    finishes = [a for a in actions if isinstance(a, Finish)]

    # An opt-out only with a key, once, at the question being asked, and straight before its abandoned Finish.
    opt_outs = [i for i, a in enumerate(actions) if isinstance(a, OptOut)]
    assert len(opt_outs) <= (opt_out is not None)
    for i in opt_outs:
        assert actions[i] == OptOut(len(saves)) and actions[i + 1] == Finish("abandoned")

    # One answer per question, in order, never two for one position.
    assert [a.position for a in saves] == list(range(len(saves)))
    assert [a.question for a in saves] == [q.key for q in definition.questions[: len(saves)]]
    for save in saves:
        assert 1 <= save.attempts <= timing.max_attempts
        question = definition.questions[save.position]
        if save.digits is None:
            assert save.score is None and save.attempts == timing.max_attempts
        else:
            assert question.scores[save.digits] == save.score
    assert session.answers == tuple(saves)

    assert len(finishes) <= 1
    assert sum(isinstance(a, Hangup) for a in actions) <= 1
    assert session.finished is bool(finishes)
    if finishes:
        assert session.status == finishes[0].status
        # Nothing is saved once the survey is finished, whatever the caller presses.
        assert all(isinstance(a, Finish | Play | StartTimer | CancelTimer | Hangup) for a in _after(actions, Finish))
    else:
        assert session.status is None

    # Playback ids are pb-1, pb-2, ... in order; timer tokens count up from 1.
    plays = [a.playback_id for a in actions if isinstance(a, Play)]
    assert plays == [f"pb-{n}" for n in range(1, len(plays) + 1)]
    tokens = [a.token for a in actions if isinstance(a, StartTimer)]
    assert tokens == list(range(1, len(tokens) + 1))

    if session.status == "completed":
        assert len(saves) == len(definition.questions)
        assert all(save.score is not None for save in saves)
    if session.status in ("partial", "no_input"):
        assert len(saves) == len(definition.questions)
        answered = sum(save.score is not None for save in saves)
        assert (answered > 0) is (session.status == "partial")
        assert answered < len(definition.questions)


@SETTINGS
@given(DEFINITIONS, TIMINGS, st.lists(EVENTS, max_size=40), st.lists(EVENTS, max_size=5))
def test_hang_up_always_ends_the_session(
    definition: SurveyDefinition, timing: Timing, events: list[Event | _Live], later: list[Event | _Live]
) -> None:
    driver = run(definition, timing, events)
    was_done, was_finished = driver.session.done, driver.session.finished
    actions = driver.feed(HungUp())
    session = driver.session
    assert session.status in STATUSES
    assert session.done
    if was_done:
        assert actions == []
    elif was_finished:
        assert actions == [CancelTimer()]
    else:
        assert actions == [CancelTimer(), Finish("abandoned")]
        assert len(session.answers) < len(definition.questions)
    for event in later:
        assert driver.feed(event) == []


@SETTINGS
@given(DEFINITIONS, TIMINGS, st.lists(EVENTS, max_size=40))
def test_failed_always_hangs_up(definition: SurveyDefinition, timing: Timing, events: list[Event | _Live]) -> None:
    driver = run(definition, timing, events)
    was_done, was_finished = driver.session.done, driver.session.finished
    actions = driver.feed(Failed("boom"))
    if was_done:
        assert actions == []
    elif was_finished:
        assert actions == [CancelTimer(), Hangup()]
    else:
        assert actions == [CancelTimer(), Finish("failed"), Hangup()]
    assert driver.session.done and driver.session.status in STATUSES


@SETTINGS
@given(TIMINGS, st.lists(st.sampled_from("0123456789*#"), max_size=60))
def test_keys_alone_always_reach_the_end(timing: Timing, keys: list[str]) -> None:
    # Every key ends an attempt or builds an answer; with enough keys the survey must finish.
    driver = run(EXAMPLE_CSAT_SOLVED_NPS, timing, [Digit(k) for k in keys])
    needed = len(EXAMPLE_CSAT_SOLVED_NPS.questions) * timing.max_attempts * 2
    if len(keys) >= needed:
        assert driver.session.finished


def _after(actions: list[Action], kind: type) -> list[Action]:
    index = next(i for i, action in enumerate(actions) if isinstance(action, kind))
    return actions[index:]
