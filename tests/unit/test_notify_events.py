"""What the outbox says of a finished response (tables of facts -> events), the Telegram text in both languages,
the masked number, the signature, and a question's "alert" answers."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import pytest

from ivr_survey.db.outbox import AnswerFact, Delivery, ResponseFacts
from ivr_survey.notify.events import ALERT_WEBHOOK, TELEGRAM, WEBHOOK, Policy, events_of
from ivr_survey.notify.messages import alert_text
from ivr_survey.notify.targets import _retry_after, body_of, signature
from ivr_survey.service.phones import mask_phone_for_people
from ivr_survey.survey.definition import Question, SurveyDefinitionError

T0 = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
RATING = {"key": "rating", "prompts": {"en": "r"}, "scores": {str(n): float(n) for n in range(1, 6)}}
SOLVED = {"key": "solved", "prompts": {"en": "s"}, "scores": {"1": 1.0, "2": 0.0}, "alert": ["2"]}
POLICY = Policy((WEBHOOK,), (ALERT_WEBHOOK, TELEGRAM), 2.0, "https://q.example")


def facts(*answers: tuple[str, str | None, float | None], status: str = "completed", **extra: Any) -> ResponseFacts:
    values: dict[str, Any] = dict(
        linkedid="1764667800.42",
        status=status,
        survey="csat",
        definition={"questions": [RATING, SOLVED]},
        operator="7001",
        operator_name="Анна Петрова",
        queue="sales",
        caller_number="+79161234567",
        campaign_id=None,
        score=answers[0][2] if answers else None,
        started_at=T0,
        ended_at=T0.replace(minute=31),
        answers=tuple(AnswerFact(n, q, d, s) for n, (q, d, s) in enumerate(answers)),
    )
    return ResponseFacts(**(values | extra))


def test_a_result_event_carries_the_call_and_its_answers() -> None:
    [(event, targets)] = events_of(facts(("rating", "4", 4.0), ("solved", "1", 1.0)), POLICY)
    assert targets == (WEBHOOK,)
    assert event == {
        "type": "survey.completed",
        "call_id": "1764667800.42",
        "operator": "7001",
        "operator_name": "Анна Петрова",
        "queue": "sales",
        "survey": "csat",
        "campaign": None,
        "status": "completed",
        "score": 4.0,
        "answers": [
            {"question": "rating", "digits": "4", "score": 4.0},
            {"question": "solved", "digits": "1", "score": 1.0},
        ],
        "started_at": "2026-12-02T09:30:00Z",
        "ended_at": "2026-12-02T09:31:00Z",
        "url": "https://q.example/ui/review?call=1764667800.42",
    }


@pytest.mark.parametrize(
    ("answers", "status", "alert"),
    [
        ((("rating", "2", 2.0),), "partial", ("low_score", [])),  # at the limit
        ((("rating", "3", 3.0), ("solved", "2", 0.0)), "completed", ("bad_answer", ["solved"])),
        ((("rating", "1", 1.0), ("solved", "2", 0.0)), "completed", ("low_score", ["solved"])),
        ((("rating", "3", 3.0), ("solved", "1", 1.0)), "completed", None),
        ((("rating", None, None),), "no_input", None),
        ((), "abandoned", None),
    ],
)
def test_what_alerts(answers: tuple[Any, ...], status: str, alert: tuple[str, list[str]] | None) -> None:
    made = events_of(facts(*answers, status=status), POLICY)
    assert made[0][0]["type"] == f"survey.{status}"
    if alert is None:
        assert len(made) == 1
        return
    event, targets = made[1]
    assert targets == (ALERT_WEBHOOK, TELEGRAM)
    assert (event["type"], event["reason"], event["bad_answers"]) == ("alert.low_score", *alert)
    assert event["caller"] == "+7 916 ***-**-67"
    own = ("type", "reason", "bad_answers", "caller")
    assert {k: v for k, v in event.items() if k not in own} == {k: v for k, v in made[0][0].items() if k != "type"}


def test_nothing_is_made_for_targets_not_configured() -> None:
    low = facts(("rating", "1", 1.0))
    assert events_of(low, Policy((), (), 2.0, "http://x")) == []
    [(event, _)] = events_of(low, Policy((), (TELEGRAM,), 2.0, "http://x"))
    assert event["type"] == "alert.low_score"
    assert [e["type"] for e, _ in events_of(facts(("rating", "3", 3.0)), Policy((), (TELEGRAM,), 3.0, "x"))] == [
        "alert.low_score"
    ]


def test_the_telegram_text_in_english_and_russian() -> None:
    [_, (alert, _)] = events_of(facts(("rating", "1", 1.0), ("solved", "2", 0.0)), POLICY)
    assert alert_text(alert, "en") == (
        "⚠️ Low rating\n"
        "Operator: Анна Петрова (7001)\n"
        "Rating: 1\n"
        "Answered: solved = 2\n"
        "Caller: +7 916 ***-**-67\n"
        "Queue: sales\n"
        "Call: https://q.example/ui/review?call=1764667800.42"
    )
    unknown = events_of(facts(("rating", "3", 3.0), ("solved", "2", 0.0), operator=None, operator_name=None,
                              caller_number=None, queue=None), POLICY)[1][0]  # fmt: skip
    assert alert_text(unknown, "ru") == (
        "⚠️ Недовольный клиент\n"
        "Оператор: неизвестен\n"
        "Оценка: 3\n"
        "Ответы: solved = 2\n"
        "Звонивший: неизвестен\n"
        "Звонок: https://q.example/ui/review?call=1764667800.42"
    )


@pytest.mark.parametrize(
    ("phone", "country", "shown"),
    [
        ("+79161234567", None, "+7 916 ***-**-67"),
        ("89161234567", "RU", "+7 916 ***-**-67"),
        ("+4915112345678", None, "+49 1511 *****78"),
        ("7001", None, "**01"),  # an extension: only its last two digits
        ("79161234567", None, "*********67"),  # no + and no country: not read as a number of any country
    ],
)
def test_the_masked_number_of_an_alert(phone: str, country: str | None, shown: str) -> None:
    assert mask_phone_for_people(phone, country) == shown


def test_the_signature_is_the_hmac_of_the_body_sent() -> None:
    delivery = Delivery(1, "e-1", "survey.completed", "L", {"type": "survey.completed", "score": 1.0}, WEBHOOK,
                        "pending", 0, T0, T0, T0, None, None)  # fmt: skip
    body = body_of(delivery)
    assert body == b'{"event_id": "e-1", "type": "survey.completed", "score": 1.0}'
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert signature("s3cret", body) == f"sha256={expected}"


@pytest.mark.parametrize(
    ("answer", "seconds"),
    [('{"ok": false, "parameters": {"retry_after": 7}}', 7.0), ('{"ok": false}', None), ("<html>", None)],
)
def test_telegram_says_how_long_to_wait(answer: str, seconds: float | None) -> None:
    assert _retry_after(answer) == seconds


def test_a_question_names_its_alerting_answers() -> None:
    question = Question.from_dict(SOLVED)
    assert question.alert == ("2",)
    assert question.to_dict()["alert"] == ["2"]
    assert Question.from_dict(question.to_dict()) == question
    assert "alert" not in Question.from_dict(RATING).to_dict()  # stored only when given
    with pytest.raises(SurveyDefinitionError, match="alert names '3', which is not one of its answers"):
        Question.from_dict({**SOLVED, "alert": ["3"]})
    with pytest.raises(SurveyDefinitionError, match="alert must be a list of answers"):
        Question.from_dict({**SOLVED, "alert": "2"})
    with pytest.raises(SurveyDefinitionError, match="alert names an answer twice"):
        Question.from_dict({**SOLVED, "alert": ["2", "2"]})
