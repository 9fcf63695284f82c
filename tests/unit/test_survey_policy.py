"""The survey policy's decision as a pure function: tables of facts and the decision each gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ivr_survey.service.policy import (
    CallFacts,
    Decision,
    SurveyPolicy,
    consent_choice,
    decide,
    share_draw,
)
from ivr_survey.survey.actions import CancelTimer, Play, StartTimer, StopPlayback
from ivr_survey.survey.consent import ConsentSession, ContinueDialplan, RecordConsent
from ivr_survey.survey.events import Digit, Failed, HungUp, PlaybackFinished, Start, TimerFired

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
IN = "L-in"  # share_draw(IN) < 0.5
OUT = "L-c"  # share_draw(OUT) >= 0.5


def test_the_two_linkedids_fall_each_side_of_one_half() -> None:
    assert share_draw(IN) < 0.5 <= share_draw(OUT)


ASK = SurveyPolicy(consent="ask")
COOL = SurveyPolicy(cooldown_days=7)
HALF = SurveyPolicy(share=0.5)
ALL = SurveyPolicy(consent="ask", cooldown_days=7, share=0.5)


@pytest.mark.parametrize(
    ("policy", "facts", "decision"),
    [
        (SurveyPolicy(), CallFacts(OUT, NOW), Decision(True)),
        (SurveyPolicy(), CallFacts(IN, NOW, has_operator=False), Decision(False, "no_operator")),
        (ASK, CallFacts(IN, NOW, consent=True), Decision(True)),
        (ASK, CallFacts(IN, NOW, consent=False), Decision(False, "no_consent")),
        (ASK, CallFacts(IN, NOW, consent=None), Decision(False, "no_consent")),  # never asked
        (SurveyPolicy(), CallFacts(IN, NOW, consent=False), Decision(True)),  # consent not asked for
        (COOL, CallFacts(IN, NOW, last_offered_at=NOW - DAY), Decision(False, "cooldown")),
        (COOL, CallFacts(IN, NOW, last_offered_at=NOW - 7 * DAY + timedelta(seconds=1)), Decision(False, "cooldown")),
        (COOL, CallFacts(IN, NOW, last_offered_at=NOW - 7 * DAY), Decision(True)),  # exactly 7 days: offered again
        (COOL, CallFacts(IN, NOW, last_offered_at=None), Decision(True)),
        (SurveyPolicy(), CallFacts(IN, NOW, last_offered_at=NOW), Decision(True)),  # no cooldown
        (HALF, CallFacts(IN, NOW), Decision(True)),
        (HALF, CallFacts(OUT, NOW), Decision(False, "sampled_out")),
        (SurveyPolicy(share=0.0), CallFacts(IN, NOW), Decision(False, "sampled_out")),
        # the order: operator, consent, cooldown, share — the first that fails is the reason
        (
            ALL,
            CallFacts(OUT, NOW, has_operator=False, consent=False, last_offered_at=NOW),
            Decision(False, "no_operator"),
        ),
        (ALL, CallFacts(OUT, NOW, consent=False, last_offered_at=NOW), Decision(False, "no_consent")),
        (ALL, CallFacts(OUT, NOW, consent=True, last_offered_at=NOW), Decision(False, "cooldown")),
        (ALL, CallFacts(OUT, NOW, consent=True, last_offered_at=NOW - 8 * DAY), Decision(False, "sampled_out")),
        (ALL, CallFacts(IN, NOW, consent=True, last_offered_at=NOW - 8 * DAY), Decision(True)),
    ],
)
def test_decide(policy: SurveyPolicy, facts: CallFacts, decision: Decision) -> None:
    assert decide(policy, facts) == decision


def test_the_share_draw_is_reproducible_and_close_to_the_share_over_10000_linkedids() -> None:
    linkedids = [f"1764000000.{n}" for n in range(10_000)]
    assert [share_draw(x) for x in linkedids] == [share_draw(x) for x in linkedids]
    for share in (0.1, 0.3, 0.5):
        offered = sum(decide(SurveyPolicy(share=share), CallFacts(x, NOW)).offered for x in linkedids)
        assert abs(offered / 10_000 - share) < 0.02, (share, offered)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"share": 1.5}, "share must be a number from 0 to 1, got 1.5"),
        ({"share": True}, "share must be a number from 0 to 1, got True"),
        ({"cooldown_days": -1}, "cooldown_days must be a whole number of days from 0 to 3650, got -1"),
        ({"consent": "maybe"}, "consent must be one of none, ask, got 'maybe'"),
        ({"not_offered": "drop"}, "not_offered must be one of continue, hangup, got 'drop'"),
        ({"languages": "ru"}, 'languages must be a list of language codes, e.g. ["ru", "en"]'),
        (
            {"colour": 1},
            "unknown field 'colour'; a policy has survey, share, cooldown_days, consent, consent_default, "
            "languages, not_offered",
        ),
    ],
)
def test_a_policy_that_does_not_fit_is_refused_naming_its_field(data: dict, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        SurveyPolicy.from_dict(data)
    assert str(refused.value) == message


def test_a_policy_round_trips_and_picks_the_language() -> None:
    data = {
        "survey": "csat3",
        "share": 0.3,
        "cooldown_days": 7,
        "consent": "ask",
        "consent_default": "yes",
        "languages": ["ru", "en"],
        "not_offered": "hangup",
    }
    policy = SurveyPolicy.from_dict(data)
    assert policy.to_dict() == data
    assert (policy.language("en"), policy.language("de")) == ("en", "ru")
    assert SurveyPolicy().language("de") == "de"


@pytest.mark.parametrize(
    ("default", "digit", "choice"),
    [("no", "1", (True, False)), ("no", "2", (False, False)), ("no", None, (False, True)), ("yes", None, (True, True))],
)
def test_consent_choice(default: str, digit: str | None, choice: tuple[bool, bool]) -> None:
    assert consent_choice(SurveyPolicy(consent="ask", consent_default=default), digit) == choice  # type: ignore[arg-type]


def _run(*events: object) -> list[object]:
    session = ConsentSession(wait=5.0, guard=60.0, playback_id="pb")
    actions: list[object] = []
    for event in events:
        actions.extend(session.handle(event))  # type: ignore[arg-type]
    return actions


@pytest.mark.parametrize(
    ("events", "actions"),
    [
        # a key during the prompt stops it, is recorded, and the caller goes on
        (
            (Start(), Digit("1")),
            [
                Play("pb", "survey-consent"),
                StartTimer(1, 60.0),
                CancelTimer(),
                StopPlayback("pb"),
                RecordConsent("1"),
                ContinueDialplan(),
            ],
        ),
        # after the prompt, within the wait
        (
            (Start(), PlaybackFinished("pb"), Digit("2")),
            [
                Play("pb", "survey-consent"),
                StartTimer(1, 60.0),
                StartTimer(2, 5.0),
                CancelTimer(),
                RecordConsent("2"),
                ContinueDialplan(),
            ],
        ),
        # silence: no key, recorded as none (the policy's default decides)
        (
            (Start(), PlaybackFinished("pb"), TimerFired(2)),
            [
                Play("pb", "survey-consent"),
                StartTimer(1, 60.0),
                StartTimer(2, 5.0),
                CancelTimer(),
                RecordConsent(None),
                ContinueDialplan(),
            ],
        ),
        # other keys and a stale timer are ignored
        (
            (Start(), Digit("5"), PlaybackFinished("pb"), TimerFired(1), Digit("1")),
            [
                Play("pb", "survey-consent"),
                StartTimer(1, 60.0),
                StartTimer(2, 5.0),
                CancelTimer(),
                RecordConsent("1"),
                ContinueDialplan(),
            ],
        ),
        # the prompt's end never reported: the guard, then the wait
        (
            (Start(), TimerFired(1), TimerFired(2)),
            [
                Play("pb", "survey-consent"),
                StartTimer(1, 60.0),
                StartTimer(2, 5.0),
                CancelTimer(),
                RecordConsent(None),
                ContinueDialplan(),
            ],
        ),
        # a hang-up during the prompt records nothing; nothing after it counts
        ((Start(), HungUp(), Digit("1")), [Play("pb", "survey-consent"), StartTimer(1, 60.0), CancelTimer()]),
        # a failure sends the caller on, recording nothing
        (
            (Start(), Failed("boom")),
            [Play("pb", "survey-consent"), StartTimer(1, 60.0), CancelTimer(), ContinueDialplan()],
        ),
        # nothing before Start
        ((Digit("1"), HungUp()), []),
    ],
)
def test_the_consent_prompt(events: tuple, actions: list) -> None:
    assert _run(*events) == actions
