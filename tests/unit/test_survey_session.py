"""The survey state machine, call flow by call flow: each case is a list of (event, expected actions)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import pytest

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
    Question,
    SaveAnswer,
    Start,
    StartTimer,
    Status,
    StopPlayback,
    SurveyDefinition,
    SurveyDefinitionError,
    SurveySession,
    TimerFired,
    Timing,
    opt_out_conflict,
)

GUARD, NO_INPUT, INTER_DIGIT = 60.0, 5.0, 3.0  # Timing() defaults
NPS_ONLY = SurveyDefinition(name="nps", version=1, questions=(EXAMPLE_CSAT_SOLVED_NPS.questions[2],))

Steps = Sequence[tuple[Event, list[Action]]]


def rate(pb: str) -> Play:
    return Play(pb, "survey-rate")


def invalid(pb: str) -> Play:
    return Play(pb, "survey-invalid")


def thanks(pb: str) -> Play:
    return Play(pb, "survey-thanks")


def opted_out(pb: str) -> Play:
    return Play(pb, "survey-opted-out")


def guard(token: int) -> StartTimer:
    return StartTimer(token, GUARD)


def silence(token: int) -> StartTimer:
    return StartTimer(token, NO_INPUT)


def between_keys(token: int) -> StartTimer:
    return StartTimer(token, INTER_DIGIT)


def rating(digits: str | None, attempts: int = 1) -> SaveAnswer:
    score = None if digits is None else float(digits)
    return SaveAnswer(0, "rating", digits, score, attempts)


def nps(digits: str | None, attempts: int = 1, position: int = 0) -> SaveAnswer:
    score = None if digits is None else float(digits)
    return SaveAnswer(position, "nps", digits, score, attempts)


START = (Start(), [rate("pb-1"), guard(1)])


def case(
    steps: Steps,
    status: Status | None,
    *,
    id: str,
    definition: SurveyDefinition = DEFAULT_SURVEY,
    timing: Timing | None = None,
    opt_out: str | None = None,
    done: bool = True,
) -> Any:
    return pytest.param(definition, timing or Timing(), opt_out, steps, status, done, id=id)


CASES = [
    case(
        [
            START,
            (PlaybackStarted("pb-1"), []),
            (PlaybackFinished("pb-1"), [silence(2)]),
            (Digit("4"), [rating("4"), Finish("completed"), thanks("pb-2"), guard(3)]),
            (PlaybackStarted("pb-2"), []),
            (Digit("1"), []),  # closing: keys no longer count
            (PlaybackFinished("pb-2"), [Hangup()]),
            (HungUp(), []),
        ],
        Status.COMPLETED,
        id="rated-after-prompt",
    ),
    case(
        [
            START,
            (PlaybackStarted("pb-1"), []),
            (Digit("5"), [StopPlayback("pb-1"), rating("5"), Finish("completed"), thanks("pb-2"), guard(2)]),
            (PlaybackFinished("pb-1"), []),  # Asterisk reports the stopped prompt: ignored
            (PlaybackStarted("pb-2"), []),
            (PlaybackFinished("pb-2"), [Hangup()]),
        ],
        Status.COMPLETED,
        id="barge-in-during-prompt",
    ),
    # The event sequence of a real call: 9 during the prompt, then 5 while the invalid prompt and the
    # repeated question are queued. Barge-in stops the prompt at the 9, so the 5 stops the invalid
    # prompt and the repeated question queued behind it.
    case(
        [
            START,
            (PlaybackStarted("pb-1"), []),
            (Digit("9"), [StopPlayback("pb-1"), invalid("pb-2"), rate("pb-3"), guard(2)]),
            (PlaybackFinished("pb-1"), []),
            (PlaybackStarted("pb-2"), []),
            (
                Digit("5"),
                [
                    StopPlayback("pb-2"),
                    StopPlayback("pb-3"),
                    rating("5", attempts=2),
                    Finish("completed"),
                    thanks("pb-4"),
                    guard(3),
                ],
            ),
            (PlaybackFinished("pb-2"), []),
            (PlaybackFinished("pb-3"), []),
            (PlaybackStarted("pb-4"), []),
            (PlaybackFinished("pb-4"), [Hangup()]),
        ],
        Status.COMPLETED,
        id="invalid-then-valid-trace",
    ),
    case(
        [
            START,
            (Digit("9"), [StopPlayback("pb-1"), invalid("pb-2"), rate("pb-3"), guard(2)]),
            (
                Digit("*"),
                [StopPlayback("pb-2"), StopPlayback("pb-3"), invalid("pb-4"), rate("pb-5"), guard(3)],
            ),
            (PlaybackFinished("pb-4"), []),
            (PlaybackFinished("pb-5"), [silence(4)]),
            (Digit("#"), [rating(None, attempts=3), Finish("no_input"), thanks("pb-6"), guard(5)]),
            (Digit("5"), []),
            (TimerFired(4), []),  # stale no-input timer
            (TimerFired(5), [Hangup()]),  # guard while the thanks never ends
        ],
        Status.NO_INPUT,
        id="invalid-exhausted",
    ),
    case(
        [
            START,
            (
                Digit("0"),
                [
                    StopPlayback("pb-1"),
                    rating(None, attempts=1),
                    Finish("no_input"),
                    thanks("pb-2"),
                    guard(2),
                ],
            ),
            (PlaybackFinished("pb-2"), [Hangup()]),
        ],
        Status.NO_INPUT,
        id="no-retries-one-invalid-key",
        timing=Timing(max_retries=0),
    ),
    case(
        [
            START,
            (PlaybackFinished("pb-1"), [silence(2)]),
            (TimerFired(2), [rate("pb-2"), guard(3)]),
            (PlaybackFinished("pb-2"), [silence(4)]),
            (Digit("3"), [rating("3", attempts=2), Finish("completed"), thanks("pb-3"), guard(5)]),
            (PlaybackFinished("pb-3", ok=False), [Hangup()]),
        ],
        Status.COMPLETED,
        id="silence-then-rated",
    ),
    case(
        [
            START,
            (PlaybackFinished("pb-1"), [silence(2)]),
            (TimerFired(2), [rate("pb-2"), guard(3)]),
            (PlaybackFinished("pb-2"), [silence(4)]),
            (TimerFired(4), [rating(None, attempts=2), Finish("no_input"), thanks("pb-3"), guard(5)]),
            (TimerFired(4), []),  # fired twice
            (PlaybackFinished("pb-3"), [Hangup()]),
        ],
        Status.NO_INPUT,
        id="silence-exhausted",
        timing=Timing(max_retries=1),
    ),
    case(
        [
            START,
            (PlaybackStarted("pb-1"), []),
            (HungUp(), [CancelTimer(), Finish("abandoned")]),
            (PlaybackFinished("pb-1"), []),
            (Digit("5"), []),
            (TimerFired(1), []),
            (HungUp(), []),
            (Failed("late"), []),
        ],
        Status.ABANDONED,
        id="hang-up-during-prompt",
    ),
    case(
        [
            START,
            (Digit("5"), [StopPlayback("pb-1"), rating("5"), Finish("completed"), thanks("pb-2"), guard(2)]),
            (HungUp(), [CancelTimer()]),
            (PlaybackFinished("pb-2"), []),
            (TimerFired(2), []),
        ],
        Status.COMPLETED,
        id="hang-up-during-thanks",
    ),
    case(
        [
            START,
            (PlaybackFinished("pb-1", ok=False), [silence(2)]),  # e.g. the sound file is missing
            (Digit("2"), [rating("2"), Finish("completed"), thanks("pb-2"), guard(3)]),
            (PlaybackFinished("pb-2", ok=False), [Hangup()]),
        ],
        Status.COMPLETED,
        id="failed-playbacks",
    ),
    case(
        [
            START,
            (PlaybackStarted("pb-1"), []),
            (TimerFired(1), [silence(2)]),  # Asterisk never reported the end of the prompt
            (PlaybackFinished("pb-1"), []),
            (TimerFired(2), [rate("pb-2"), guard(3)]),
            (
                Digit("1"),
                [
                    StopPlayback("pb-2"),
                    rating("1", attempts=2),
                    Finish("completed"),
                    thanks("pb-3"),
                    guard(4),
                ],
            ),
            (TimerFired(4), [Hangup()]),
            (PlaybackFinished("pb-3"), []),
        ],
        Status.COMPLETED,
        id="guard-timer",
    ),
    case(
        [
            START,
            (PlaybackFinished("pb-1"), [silence(2)]),
            (TimerFired(1), []),  # the guard was replaced by the no-input timer
            (Digit("9"), [invalid("pb-2"), rate("pb-3"), guard(3)]),
            (TimerFired(2), []),  # the no-input timer was replaced by the guard
            (TimerFired(99), []),  # never started
            (PlaybackFinished("pb-2"), []),
            (PlaybackFinished("pb-2"), []),  # duplicate
            (PlaybackFinished("pb-9"), []),  # unknown
            (PlaybackFinished("pb-3"), [silence(4)]),
            (PlaybackFinished("pb-3"), []),  # duplicate: no second timer
            (TimerFired(4), [rate("pb-4"), guard(5)]),
            (TimerFired(5), [silence(6)]),
            (TimerFired(5), []),
            (TimerFired(6), [rating(None, attempts=3), Finish("no_input"), thanks("pb-5"), guard(7)]),
            (TimerFired(6), []),
            (PlaybackFinished("pb-5"), [Hangup()]),
        ],
        Status.NO_INPUT,
        id="stale-duplicate-unknown-ignored",
    ),
    case(
        [
            (Digit("5"), []),
            (PlaybackFinished("pb-1"), []),
            (TimerFired(1), []),
            (HungUp(), []),
            (Failed("early"), []),
            START,
            (Start(), []),
        ],
        None,
        id="nothing-before-start",
        done=False,
    ),
    case(
        [
            START,
            (
                Digit("4"),
                [
                    StopPlayback("pb-1"),
                    SaveAnswer(0, "rating", "4", 4.0, 1),
                    Play("pb-2", "survey-accepted"),
                    Play("pb-3", "survey-solved"),
                    guard(2),
                ],
            ),
            (PlaybackFinished("pb-2"), []),
            (PlaybackFinished("pb-3"), [silence(3)]),
            # Exhausted at once (no retries): the next question follows without a confirmation.
            (Digit("7"), [SaveAnswer(1, "solved", None, None, 1), Play("pb-4", "survey-nps"), guard(4)]),
            (Digit("1"), [StopPlayback("pb-4"), between_keys(5)]),
            (Digit("0"), [nps("10", position=2), Finish("partial"), thanks("pb-5"), guard(6)]),
            (TimerFired(5), []),
            (PlaybackFinished("pb-5"), [Hangup()]),
        ],
        Status.PARTIAL,
        id="three-questions-partial",
        definition=EXAMPLE_CSAT_SOLVED_NPS,
        timing=Timing(max_retries=0),
    ),
    case(
        [
            START,
            (
                Digit("5"),
                [
                    StopPlayback("pb-1"),
                    SaveAnswer(0, "rating", "5", 5.0, 1),
                    Play("pb-2", "survey-accepted"),
                    Play("pb-3", "survey-solved"),
                    guard(2),
                ],
            ),
            (PlaybackStarted("pb-2"), []),
            # Barge-in during the confirmation stops it and the question queued behind it.
            (
                Digit("1"),
                [
                    StopPlayback("pb-2"),
                    StopPlayback("pb-3"),
                    SaveAnswer(1, "solved", "1", 1.0, 1),
                    Play("pb-4", "survey-accepted"),
                    Play("pb-5", "survey-nps"),
                    guard(3),
                ],
            ),
            (Digit("9"), [StopPlayback("pb-4"), StopPlayback("pb-5"), between_keys(4)]),
            (TimerFired(4), [nps("9", position=2), Finish("completed"), thanks("pb-6"), guard(5)]),
            (PlaybackFinished("pb-6"), [Hangup()]),
        ],
        Status.COMPLETED,
        id="three-questions-completed",
        definition=EXAMPLE_CSAT_SOLVED_NPS,
    ),
    case(
        [
            (Start(), [Play("pb-1", "survey-nps"), guard(1)]),
            (Digit("1"), [StopPlayback("pb-1"), between_keys(2)]),
            (Digit("0"), [nps("10"), Finish("completed"), thanks("pb-2"), guard(3)]),
            (TimerFired(2), []),  # the inter-digit timer was replaced
        ],
        Status.COMPLETED,
        id="nps-10-at-max-digits",
        definition=NPS_ONLY,
        done=False,
    ),
    case(
        [
            (Start(), [Play("pb-1", "survey-nps"), guard(1)]),
            (PlaybackFinished("pb-1"), [silence(2)]),
            (Digit("7"), [between_keys(3)]),
            (Digit("#"), [nps("7"), Finish("completed"), thanks("pb-2"), guard(4)]),
        ],
        Status.COMPLETED,
        id="nps-7-hash",
        definition=NPS_ONLY,
        done=False,
    ),
    case(
        [
            (Start(), [Play("pb-1", "survey-nps"), guard(1)]),
            (Digit("3"), [StopPlayback("pb-1"), between_keys(2)]),
            (TimerFired(2), [nps("3"), Finish("completed"), thanks("pb-2"), guard(3)]),
        ],
        Status.COMPLETED,
        id="nps-3-inter-digit-timeout",
        definition=NPS_ONLY,
        done=False,
    ),
    case(
        [
            (Start(), [Play("pb-1", "survey-nps"), guard(1)]),
            (Digit("1"), [StopPlayback("pb-1"), between_keys(2)]),
            (Digit("1"), [invalid("pb-2"), Play("pb-3", "survey-nps"), guard(3)]),  # 11 is not a score
            (
                Digit("#"),
                [
                    StopPlayback("pb-2"),
                    StopPlayback("pb-3"),
                    invalid("pb-4"),
                    Play("pb-5", "survey-nps"),
                    guard(4),
                ],
            ),
            (Digit("5"), [StopPlayback("pb-4"), StopPlayback("pb-5"), between_keys(5)]),
            (
                Digit("*"),
                [nps(None, attempts=3), Finish("no_input"), thanks("pb-6"), guard(6)],
            ),  # '*' is invalid
            (TimerFired(5), []),
            (Digit("5"), []),
        ],
        Status.NO_INPUT,
        id="nps-11-then-bare-hash-then-star",
        definition=NPS_ONLY,
        done=False,
    ),
    case(
        [
            START,
            (
                Digit("4"),
                [
                    StopPlayback("pb-1"),
                    SaveAnswer(0, "rating", "4", 4.0, 1),
                    Play("pb-2", "survey-accepted"),
                    Play("pb-3", "survey-solved"),
                    guard(2),
                ],
            ),
            (Failed("ARI returned 500"), [CancelTimer(), Finish("failed"), Hangup()]),
            (Digit("1"), []),
            (HungUp(), []),
        ],
        Status.FAILED,
        id="failed-mid-survey",
        definition=EXAMPLE_CSAT_SOLVED_NPS,
    ),
    case(
        [
            START,
            (Digit("5"), [StopPlayback("pb-1"), rating("5"), Finish("completed"), thanks("pb-2"), guard(2)]),
            (Failed("websocket closed"), [CancelTimer(), Hangup()]),
            (PlaybackFinished("pb-2"), []),
        ],
        Status.COMPLETED,
        id="failed-after-finish",
    ),
    case(
        [
            START,
            (Digit("x"), []),  # not a DTMF key: not from a caller
            (Digit("A"), [StopPlayback("pb-1"), invalid("pb-2"), rate("pb-3"), guard(2)]),
        ],
        None,
        id="non-dtmf-ignored-a-to-d-invalid",
        done=False,
    ),
]


# A campaign call's opt-out key (9 here): pressed before any key of an answer it ends the survey for good.
OPT_OUT_CASES = [
    case(
        [
            START,
            (PlaybackStarted("pb-1"), []),
            (
                Digit("9"),
                [StopPlayback("pb-1"), CancelTimer(), OptOut(0), Finish("abandoned"), opted_out("pb-2"), guard(2)],
            ),
            (PlaybackFinished("pb-1"), []),  # the stopped prompt
            (PlaybackStarted("pb-2"), []),
            (Digit("5"), []),  # closing: keys no longer count
            (Digit("9"), []),  # nor does the opt-out key again
            (PlaybackFinished("pb-2"), [Hangup()]),
            (HungUp(), []),
        ],
        Status.ABANDONED,
        id="opt-out-during-first-prompt",
        opt_out="9",
    ),
    case(
        [
            START,
            (PlaybackFinished("pb-1"), [silence(2)]),
            (Digit("9"), [CancelTimer(), OptOut(0), Finish("abandoned"), opted_out("pb-2"), guard(3)]),
            (TimerFired(2), []),  # the cancelled no-input timer
            (TimerFired(3), [Hangup()]),  # the goodbye never reported its end
            (PlaybackFinished("pb-2"), []),
        ],
        Status.ABANDONED,
        id="opt-out-waiting-for-a-key",
        opt_out="9",
    ),
    case(
        [
            START,
            (
                Digit("4"),
                [
                    StopPlayback("pb-1"),
                    SaveAnswer(0, "rating", "4", 4.0, 1),
                    Play("pb-2", "survey-accepted"),
                    Play("pb-3", "survey-solved"),
                    guard(2),
                ],
            ),
            (PlaybackStarted("pb-2"), []),
            (
                Digit("9"),
                [
                    StopPlayback("pb-2"),
                    StopPlayback("pb-3"),
                    CancelTimer(),
                    OptOut(1),  # at the second question; the first one's answer stays saved
                    Finish("abandoned"),
                    opted_out("pb-4"),
                    guard(3),
                ],
            ),
            (HungUp(), [CancelTimer()]),  # gone during the goodbye: nothing more to finish
            (PlaybackFinished("pb-4"), []),
        ],
        Status.ABANDONED,
        id="opt-out-at-question-2",
        definition=EXAMPLE_CSAT_SOLVED_NPS,
        opt_out="9",
    ),
    case(
        [
            (Start(), [Play("pb-1", "survey-nps"), guard(1)]),
            # 9 would start the answer 9, but nothing is collected yet: the opt-out wins.
            (
                Digit("9"),
                [StopPlayback("pb-1"), CancelTimer(), OptOut(0), Finish("abandoned"), opted_out("pb-2"), guard(2)],
            ),
            (Digit("#"), []),
            (Failed("websocket closed"), [CancelTimer(), Hangup()]),
        ],
        Status.ABANDONED,
        id="opt-out-first-key-of-multi-key",
        definition=NPS_ONLY,
        opt_out="9",
    ),
    case(
        [
            (Start(), [Play("pb-1", "survey-nps"), guard(1)]),
            (Digit("1"), [StopPlayback("pb-1"), between_keys(2)]),
            (Digit("9"), [invalid("pb-2"), Play("pb-3", "survey-nps"), guard(3)]),  # mid-answer: 19, not a score
            (
                Digit("9"),  # the first key of the next attempt
                [
                    StopPlayback("pb-2"),
                    StopPlayback("pb-3"),
                    CancelTimer(),
                    OptOut(0),
                    Finish("abandoned"),
                    opted_out("pb-4"),
                    guard(4),
                ],
            ),
            (PlaybackFinished("pb-4"), [Hangup()]),
        ],
        Status.ABANDONED,
        id="opt-out-key-mid-multi-key-is-a-digit",
        definition=NPS_ONLY,
        opt_out="9",
    ),
    case(
        [
            (Start(), [Play("pb-1", "survey-nps"), guard(1)]),
            (Digit("1"), [StopPlayback("pb-1"), between_keys(2)]),
            (Digit("0"), [nps("10"), Finish("completed"), thanks("pb-2"), guard(3)]),
        ],
        Status.COMPLETED,
        id="opt-out-key-completes-an-answer",
        definition=NPS_ONLY,
        opt_out="0",
        done=False,
    ),
    case(
        [
            START,
            (Digit("5"), [StopPlayback("pb-1"), rating("5"), Finish("completed"), thanks("pb-2"), guard(2)]),
            (Digit("9"), []),  # the thanks is playing: too late to opt out
            (PlaybackFinished("pb-2"), [Hangup()]),
        ],
        Status.COMPLETED,
        id="opt-out-key-while-closing",
        opt_out="9",
    ),
    case(
        [
            (Start(), [Play("pb-1", "survey-nps"), guard(1)]),
            (Digit("9"), [StopPlayback("pb-1"), between_keys(2)]),
            (Digit("#"), [nps("9"), Finish("completed"), thanks("pb-2"), guard(3)]),
        ],
        Status.COMPLETED,
        id="no-opt-out-key-9-is-an-answer",
        definition=NPS_ONLY,
        done=False,
    ),
    case(
        [
            START,
            (Digit("9"), [StopPlayback("pb-1"), invalid("pb-2"), rate("pb-3"), guard(2)]),
        ],
        None,
        id="no-opt-out-key-9-is-invalid",
        done=False,
    ),
    case(
        [
            (Start(), [Play("pb-1", "survey-rate"), guard(1)]),
            (
                Digit("*"),
                [StopPlayback("pb-1"), CancelTimer(), OptOut(0), Finish("abandoned"), Play("pb-2", "bye"), guard(2)],
            ),
            (PlaybackFinished("pb-2"), [Hangup()]),
        ],
        Status.ABANDONED,
        id="opt-out-star-and-the-surveys-own-prompt",
        definition=SurveyDefinition("own", 1, DEFAULT_SURVEY.questions, opted_out_prompt="bye"),
        opt_out="*",
    ),
]


@pytest.mark.parametrize(("definition", "timing", "opt_out", "steps", "status", "done"), CASES + OPT_OUT_CASES)
def test_call_flow(
    definition: SurveyDefinition, timing: Timing, opt_out: str | None, steps: Steps, status: Status | None, done: bool
) -> None:
    session = SurveySession(definition, timing=timing, opt_out_key=opt_out)
    emitted: list[Action] = []
    for number, (event, expected) in enumerate(steps, 1):
        actions = session.handle(event)
        assert actions == expected, f"step {number}: {event}"
        emitted += actions
    assert session.status == status
    assert session.finished is (status is not None)
    assert session.done is done
    assert session.answers == tuple(a for a in emitted if isinstance(a, SaveAnswer))


@pytest.mark.parametrize("key", ["99", "", "x", "9#"])
def test_opt_out_key_must_be_one_dtmf_key(key: str) -> None:
    with pytest.raises(ValueError, match="opt_out_key must be one of the keys 0-9, \\*, #, A-D"):
        SurveySession(DEFAULT_SURVEY, opt_out_key=key)


def test_properties_follow_the_call() -> None:
    session = SurveySession(EXAMPLE_CSAT_SOLVED_NPS)
    assert (session.position, session.status, session.finished, session.done) == (0, None, False, False)
    session.handle(Start())
    session.handle(Digit("5"))
    assert session.position == 1
    assert session.answers == (SaveAnswer(0, "rating", "5", 5.0, 1),)
    session.handle(Digit("2"))
    session.handle(Digit("8"))
    session.handle(Digit("#"))
    assert session.position == 3  # past the last question
    assert session.status == "completed"
    assert session.finished and not session.done
    assert [a.score for a in session.answers] == [5.0, 0.0, 8.0]
    session.handle(HungUp())
    assert session.done


def test_playback_prefix_and_language() -> None:
    question = Question("q", {"en": "q-en", "ru": "q-ru"}, {"1": 1.0})
    definition = SurveyDefinition("lang", 1, (question,))
    assert SurveySession(definition, language="ru", playback_prefix="chan-7:").handle(Start())[0] == Play(
        "chan-7:1", "q-ru"
    )
    assert SurveySession(definition, language="de").handle(Start())[0] == Play("pb-1", "q-en")
    assert SurveySession(definition).language == "en"


def test_prompt_for_falls_back() -> None:
    question = Question("q", {"ru": "q-ru", "kk": "q-kk"}, {"1": 1.0})
    assert question.prompt_for("kk", "ru") == "q-kk"
    assert question.prompt_for("de", "ru") == "q-ru"
    assert question.prompt_for("de", "en") == "q-ru"  # the first one


def test_statuses() -> None:
    assert set(STATUSES) == {"completed", "partial", "no_input", "abandoned", "failed"}
    assert Finish(Status.COMPLETED) == Finish("completed")


# -- definitions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("definition", [DEFAULT_SURVEY, EXAMPLE_CSAT_SOLVED_NPS], ids=["default", "example"])
def test_definition_round_trips_through_json(definition: SurveyDefinition) -> None:
    data = json.loads(json.dumps(definition.to_dict()))
    assert data == definition.to_dict()
    again = SurveyDefinition.from_dict(data)
    assert again == definition
    assert hash(again) == hash(definition)


def test_default_survey() -> None:
    assert (DEFAULT_SURVEY.name, DEFAULT_SURVEY.version, DEFAULT_SURVEY.default_language) == (
        "default",
        1,
        "en",
    )
    (question,) = DEFAULT_SURVEY.questions
    assert question.key == "rating"
    assert dict(question.prompts) == {"en": "survey-rate", "ru": "survey-rate"}
    assert dict(question.scores) == {"1": 1.0, "2": 2.0, "3": 3.0, "4": 4.0, "5": 5.0}
    assert question.text["en"] == "Please rate the conversation from 1 to 5"
    assert [q.key for q in EXAMPLE_CSAT_SOLVED_NPS.questions] == ["rating", "solved", "nps"]


def test_from_dict_fills_defaults_and_normalises() -> None:
    definition = SurveyDefinition.from_dict(
        {"name": "s", "version": 2, "questions": [{"key": "q", "prompts": {"en": "p"}, "scores": {"1": 1}}]}
    )
    (question,) = definition.questions
    assert question.scores == {"1": 1.0} and isinstance(question.scores["1"], float)
    assert question.max_digits == 1 and dict(question.text) == {}
    assert definition.invalid_prompt == "survey-invalid"
    assert definition.to_dict()["questions"][0]["scores"] == {"1": 1.0}


def _question(scores: dict[str, float], **fields: Any) -> Question:
    return Question.from_dict({"key": "q", "prompts": {"en": "p"}, "scores": scores, "max_digits": 2, **fields})


ONE_TO_FIVE = {str(n): float(n) for n in range(1, 6)}
ZERO_TO_TEN = {str(n): float(n) for n in range(11)}


@pytest.mark.parametrize(
    ("scores", "fields", "kind", "satisfied"),
    [
        (ONE_TO_FIVE, {}, "scale", {4.0, 5.0}),  # the default: the top two points of a 1-5 scale
        (ONE_TO_FIVE, {"satisfied": [5]}, "scale", {5.0}),
        (ZERO_TO_TEN, {}, "nps", None),  # not 1-5 and no satisfied scores named: no CSAT
        (ZERO_TO_TEN, {"kind": "scale", "satisfied": [9, 10]}, "scale", {9.0, 10.0}),
        ({"1": 1.0, "2": 0.0}, {}, "yes_no", None),
        ({"1": 1.0, "2": 0.0, "3": 0.0}, {}, "scale", None),  # three answers are no yes/no question
        ({"1": 1.0, "2": 0.0, "3": 0.0}, {"kind": "yes_no"}, "yes_no", None),
        ({str(n): float(n) for n in range(1, 11)}, {"kind": "nps"}, "nps", None),
        ({"1": 0.0, "2": 50.0, "3": 100.0}, {"satisfied": [100, 50]}, "scale", {50.0, 100.0}),
    ],
)
def test_kind_and_satisfied_scores(
    scores: dict[str, float], fields: dict[str, Any], kind: str, satisfied: set[float] | None
) -> None:
    question = _question(scores, **fields)
    assert (question.summary_kind, question.satisfied_scores) == (kind, satisfied)
    assert Question.from_dict(question.to_dict()) == question
    assert hash(Question.from_dict(question.to_dict())) == hash(question)


def test_kind_and_satisfied_are_stored_only_when_given() -> None:
    """Versions stored before the fields existed read back equal, and mean what the defaults say."""
    assert set(DEFAULT_SURVEY.questions[0].to_dict()) == {"key", "prompts", "scores", "max_digits", "text"}
    question = _question(ONE_TO_FIVE, kind="scale", satisfied=[5, 4])
    assert (question.to_dict()["kind"], question.to_dict()["satisfied"]) == ("scale", [4.0, 5.0])
    assert question != _question(ONE_TO_FIVE)


def test_opted_out_prompt_is_stored_only_when_not_the_default() -> None:
    """Versions stored before the field existed read back equal, so adding them again stores nothing new."""
    assert DEFAULT_SURVEY.opted_out_prompt == "survey-opted-out"
    assert "opted_out_prompt" not in DEFAULT_SURVEY.to_dict()
    assert SurveyDefinition.from_dict(DEFAULT_SURVEY.to_dict()) == DEFAULT_SURVEY
    own = SurveyDefinition.from_dict({**_survey(), "opted_out_prompt": "campaign-bye"})
    assert (own.opted_out_prompt, own.to_dict()["opted_out_prompt"]) == ("campaign-bye", "campaign-bye")
    assert SurveyDefinition.from_dict(own.to_dict()) == own


TENS = SurveyDefinition("tens", 1, (Question("tens", {"en": "p"}, {"10": 1.0, "20": 2.0, "*1": 3.0}, max_digits=2),))


@pytest.mark.parametrize(
    ("definition", "key", "conflict"),
    [
        (DEFAULT_SURVEY, "9", None),
        (DEFAULT_SURVEY, "5", "rating"),
        (EXAMPLE_CSAT_SOLVED_NPS, "9", "nps"),  # 0-10 in two digits: 9 is an answer
        (EXAMPLE_CSAT_SOLVED_NPS, "2", "rating"),  # the first question that takes it, not "solved"
        (EXAMPLE_CSAT_SOLVED_NPS, "0", "nps"),
        (EXAMPLE_CSAT_SOLVED_NPS, "#", None),  # never part of an answer
        (EXAMPLE_CSAT_SOLVED_NPS, "A", None),
        (TENS, "1", "tens"),  # the start of 10
        (TENS, "0", None),  # only ever a second key, and the opt-out key counts only as the first
        (TENS, "*", "tens"),
    ],
)
def test_opt_out_conflict(definition: SurveyDefinition, key: str, conflict: str | None) -> None:
    assert opt_out_conflict(definition, key) == conflict


@pytest.mark.parametrize("key", ["99", "", "x"])
def test_opt_out_conflict_needs_one_dtmf_key(key: str) -> None:
    with pytest.raises(ValueError, match="the opt-out key must be one of the keys 0-9"):
        opt_out_conflict(DEFAULT_SURVEY, key)


def test_definitions_are_read_only() -> None:
    with pytest.raises(TypeError):
        DEFAULT_SURVEY.questions[0].scores["6"] = 6.0  # type: ignore[index]
    source = {"1": 1.0}
    question = Question("q", {"en": "p"}, source)
    source["2"] = 2.0
    assert "2" not in question.scores


def _survey(**question: Any) -> dict[str, Any]:
    base = {"key": "q", "prompts": {"en": "p"}, "scores": {"1": 1.0}}
    return {"name": "s", "version": 1, "questions": [{**base, **question}]}


INVALID = [
    pytest.param([], "must be a JSON object", id="not-an-object"),
    pytest.param({"version": 1, "questions": []}, "missing field(s) 'name'", id="no-name"),
    pytest.param({**_survey(), "colour": "red"}, "unknown field(s) 'colour'", id="unknown-field"),
    pytest.param({**_survey(), "name": ""}, "survey name must be a non-empty string", id="empty-name"),
    pytest.param({**_survey(), "version": 0}, "version must be an integer >= 1", id="version-0"),
    pytest.param({**_survey(), "version": "1"}, "version must be an integer >= 1", id="version-str"),
    pytest.param({**_survey(), "questions": []}, "survey 's' has no questions", id="no-questions"),
    pytest.param({**_survey(), "questions": {"key": "q"}}, "questions must be a list", id="questions-object"),
    pytest.param({**_survey(), "questions": ["q"]}, "questions[0] must be an object", id="question-not-object"),
    pytest.param(
        {**_survey(), "questions": [{"key": "q", "prompts": {"en": "p"}}]},
        "questions[0]: missing field(s) 'scores'",
        id="no-scores-field",
    ),
    pytest.param(_survey(max_digit=2), "questions[0]: unknown field(s) 'max_digit'", id="typo-in-question"),
    pytest.param(_survey(key=""), "questions[0]: key must be a non-empty string", id="empty-key"),
    pytest.param(_survey(scores={}), "question 'q': scores is empty", id="empty-scores"),
    pytest.param(_survey(scores=[1]), "question 'q': scores must be an object", id="scores-list"),
    pytest.param(_survey(scores={"#": 1}), "answer '#' must be made of the keys 0-9 and *", id="hash-key"),
    pytest.param(_survey(scores={"a": 1}), "answer 'a' must be made of the keys 0-9 and *", id="letter-key"),
    pytest.param(_survey(scores={"": 1}), "answer '' must be made of the keys 0-9 and *", id="empty-answer"),
    pytest.param(_survey(scores={"1": "one"}), "score of answer '1' must be a finite number", id="score-str"),
    pytest.param(_survey(scores={"1": math.nan}), "score of answer '1' must be a finite number", id="nan"),
    pytest.param(_survey(scores={"1": True}), "score of answer '1' must be a finite number", id="score-bool"),
    pytest.param(_survey(max_digits=0), "max_digits must be an integer >= 1", id="max-digits-0"),
    pytest.param(_survey(max_digits=True), "max_digits must be an integer >= 1", id="max-digits-bool"),
    pytest.param(
        _survey(scores={"10": 10}),
        "answer '10' is longer than max_digits=1",
        id="answer-longer-than-max-digits",
    ),
    pytest.param(_survey(prompts={}), "prompts must name a sound for at least one language", id="no-prompts"),
    pytest.param(_survey(prompts={"en": ""}), "prompts['en'] must be a non-empty string", id="empty-prompt"),
    pytest.param(_survey(prompts="survey-rate"), "prompts must be an object", id="prompts-str"),
    pytest.param(_survey(text={"en": 5}), "text['en'] must be a string", id="text-not-str"),
    pytest.param(
        {**_survey(), "questions": [_survey()["questions"][0], _survey()["questions"][0]]},
        "survey 's': duplicate question key 'q'",
        id="duplicate-keys",
    ),
    pytest.param(_survey(kind="stars"), "kind must be one of scale, nps, yes_no, got 'stars'", id="unknown-kind"),
    pytest.param(
        _survey(kind="nps", scores={"1": 11}), "kind 'nps' needs whole-number scores from 0 to 10", id="nps-beyond-10"
    ),
    pytest.param(_survey(kind="nps", scores={"1": 0.5}), "kind 'nps' needs whole-number scores", id="nps-half"),
    pytest.param(
        _survey(kind="yes_no", scores={"1": 1, "2": 2}),
        "kind 'yes_no' needs answers scored 1 (yes) and 0",
        id="yes-no-scored-2",
    ),
    pytest.param(_survey(kind="yes_no"), "kind 'yes_no' needs answers scored 1 (yes) and 0", id="yes-no-without-no"),
    pytest.param(_survey(satisfied=[2]), "satisfied names 2, which is not a score of an answer", id="satisfied-off"),
    pytest.param(_survey(satisfied=[True]), "satisfied names True, which is not a score", id="satisfied-bool"),
    pytest.param(_survey(satisfied="1"), "satisfied must be a list of scores", id="satisfied-str"),
    pytest.param(_survey(satisfied=[]), "satisfied must name at least one score", id="satisfied-empty"),
    pytest.param(_survey(satisfied=[1, 1.0]), "satisfied names a score twice", id="satisfied-twice"),
    pytest.param({**_survey(), "thanks_prompt": ""}, "thanks_prompt must be a non-empty string", id="empty-thanks"),
    pytest.param(
        {**_survey(), "opted_out_prompt": 9}, "opted_out_prompt must be a non-empty string", id="opted-out-not-str"
    ),
    pytest.param({**_survey(), "default_language": None}, "default_language must be", id="no-default-language"),
]


@pytest.mark.parametrize(("data", "message"), INVALID)
def test_from_dict_rejects(data: Any, message: str) -> None:
    with pytest.raises(SurveyDefinitionError) as raised:
        SurveyDefinition.from_dict(data)
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_constructors_validate_too() -> None:
    with pytest.raises(SurveyDefinitionError, match="has no questions"):
        SurveyDefinition("s", 1, ())
    with pytest.raises(SurveyDefinitionError, match="longer than max_digits=1"):
        Question("nps", {"en": "survey-nps"}, {"10": 10.0})
    with pytest.raises(SurveyDefinitionError, match="language '' must be a non-empty string"):
        Question("q", {"": "survey-rate"}, {"1": 1.0})
    with pytest.raises(SurveyDefinitionError, match="questions must be a list"):
        SurveyDefinition("s", 1, "rating")  # type: ignore[arg-type]
    with pytest.raises(SurveyDefinitionError, match="is not a Question"):
        SurveyDefinition("s", 1, ({"key": "q"},))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"no_input_timeout": 0}, "no_input_timeout must be a positive number"),
        ({"inter_digit_timeout": -1.0}, "inter_digit_timeout must be a positive number"),
        ({"playback_guard": math.inf}, "playback_guard must be a positive number"),
        ({"max_retries": -1}, "max_retries must be an integer >= 0"),
    ],
)
def test_timing_rejects(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Timing(**kwargs)


def test_timing_attempts() -> None:
    assert Timing().max_attempts == 3
    assert Timing(max_retries=0).max_attempts == 1


# -- resumed after a crash: the answers another run stored are given, Start asks the next question ------------

RATED_5 = SaveAnswer(0, "rating", "5", 5.0, 1)
SOLVED_1 = SaveAnswer(1, "solved", "1", 1.0, 2)
SOLVED_NONE = SaveAnswer(1, "solved", None, None, 3)
NPS_9 = SaveAnswer(2, "nps", "9", 9.0, 1)
EXAMPLE = EXAMPLE_CSAT_SOLVED_NPS

RESUMED = [
    pytest.param(
        EXAMPLE,
        (),
        None,
        [
            (Start(), [Play("pb-1", "survey-rate"), guard(1)]),
            (
                Digit("4"),
                [
                    StopPlayback("pb-1"),
                    SaveAnswer(0, "rating", "4", 4.0, 1),
                    Play("pb-2", "survey-accepted"),
                    Play("pb-3", "survey-solved"),
                    guard(2),
                ],
            ),
        ],
        None,
        id="nothing-stored-is-a-fresh-start",
    ),
    pytest.param(
        EXAMPLE,
        (RATED_5,),
        None,
        [
            (Start(), [Play("pb-1", "survey-solved"), guard(1)]),
            (PlaybackFinished("pb-1"), [silence(2)]),
            (
                Digit("2"),
                [
                    SaveAnswer(1, "solved", "2", 0.0, 1),
                    Play("pb-2", "survey-accepted"),
                    Play("pb-3", "survey-nps"),
                    guard(3),
                ],
            ),
            (Digit("1"), [StopPlayback("pb-2"), StopPlayback("pb-3"), between_keys(4)]),
            (Digit("0"), [SaveAnswer(2, "nps", "10", 10.0, 1), Finish("completed"), thanks("pb-4"), guard(5)]),
            (PlaybackFinished("pb-4"), [Hangup()]),
        ],
        Status.COMPLETED,
        id="between-questions-asks-the-next-and-counts-the-stored",
    ),
    pytest.param(
        EXAMPLE,
        (RATED_5, SOLVED_NONE),
        None,
        [
            (Start(), [Play("pb-1", "survey-nps"), guard(1)]),
            (Digit("9"), [StopPlayback("pb-1"), between_keys(2)]),
            (Digit("#"), [NPS_9, Finish("partial"), thanks("pb-2"), guard(3)]),
        ],
        Status.PARTIAL,
        id="a-stored-unanswered-question-makes-it-partial",
    ),
    pytest.param(
        EXAMPLE,
        (SaveAnswer(0, "rating", None, None, 3), SaveAnswer(1, "solved", None, None, 3)),
        None,
        [
            (Start(), [Play("pb-1", "survey-nps"), guard(1)]),
            (TimerFired(1), [silence(2)]),
            (TimerFired(2), [Play("pb-2", "survey-nps"), guard(3)]),
            (HungUp(), [CancelTimer(), Finish("abandoned")]),
        ],
        Status.ABANDONED,
        id="hung-up-after-resuming",
    ),
    pytest.param(
        EXAMPLE,
        (RATED_5, SOLVED_1, NPS_9),
        None,
        [(Start(), [Finish("completed"), thanks("pb-1"), guard(1)]), (PlaybackFinished("pb-1"), [Hangup()])],
        Status.COMPLETED,
        id="every-answer-stored-but-not-the-end",
    ),
    pytest.param(
        EXAMPLE,
        (RATED_5, SOLVED_1, NPS_9),
        Status.COMPLETED,
        [
            (Start(), [thanks("pb-1"), guard(1)]),
            (Digit("3"), []),
            (PlaybackFinished("pb-1"), [Hangup()]),
        ],
        Status.COMPLETED,
        id="during-the-thanks-prompt-plays-it-again",
    ),
    pytest.param(
        EXAMPLE,
        (RATED_5,),
        Status.ABANDONED,
        [(Start(), [Hangup()]), (Digit("3"), [])],
        Status.ABANDONED,
        id="over-and-abandoned-hangs-up",
    ),
]


@pytest.mark.parametrize(("definition", "answered", "stored_status", "steps", "status"), RESUMED)
def test_resumed_call_flow(
    definition: SurveyDefinition,
    answered: tuple[SaveAnswer, ...],
    stored_status: Status | None,
    steps: Steps,
    status: Status | None,
) -> None:
    session = SurveySession.resume(definition, answered, status=stored_status)
    assert session.position == len(answered)
    emitted: list[Action] = []
    for number, (event, expected) in enumerate(steps, 1):
        actions = session.handle(event)
        assert actions == expected, f"step {number}: {event}"
        emitted += actions
    assert session.status == status
    assert session.answers == (*answered, *(a for a in emitted if isinstance(a, SaveAnswer)))


@pytest.mark.parametrize(
    ("answered", "message"),
    [
        ((SOLVED_1,), "one per question, in order from the first"),
        ((RATED_5, RATED_5), "one per question, in order from the first"),
        ((SaveAnswer(0, "nps", "9", 9.0, 1),), "do not match the questions of survey 'csat-solved-nps'"),
        ((RATED_5, SOLVED_1, NPS_9, SaveAnswer(3, "extra", "1", 1.0, 1)), "do not match the questions"),
    ],
)
def test_resume_rejects_answers_that_do_not_fit(answered: tuple[SaveAnswer, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SurveySession.resume(EXAMPLE, answered)


def test_resume_keeps_language_prefix_and_opt_out_key() -> None:
    session = SurveySession.resume(EXAMPLE, (RATED_5,), language="ru", playback_prefix="ch-r1-pb-", opt_out_key="*")
    assert session.language == "ru"
    assert session.handle(Start())[0] == Play("ch-r1-pb-1", "survey-solved")
    assert session.handle(Digit("*")) == [
        StopPlayback("ch-r1-pb-1"),
        CancelTimer(),
        OptOut(1),
        Finish("abandoned"),
        opted_out("ch-r1-pb-2"),
        guard(2),
    ]
