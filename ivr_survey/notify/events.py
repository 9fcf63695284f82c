"""What the outbox says of a finished response: its result event (one per response, any status) and, when the
caller was unhappy, an alert. Pure: facts in, payloads out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ..db.outbox import ResponseFacts
from ..service.phones import mask_phone_for_people
from ..survey.definition import Question

WEBHOOK = "webhook"
ALERT_WEBHOOK = "alert_webhook"
TELEGRAM = "telegram"
TARGETS = (WEBHOOK, ALERT_WEBHOOK, TELEGRAM)
LOW_SCORE = "alert.low_score"


@dataclass(frozen=True, slots=True)
class Policy:
    """Which targets are configured, and what makes an alert."""

    result_targets: tuple[str, ...]  # take every survey.* event
    alert_targets: tuple[str, ...]  # take alert.low_score
    alert_max_score: float
    link_base: str
    country: str | None = None  # a caller's number without + is read in this country


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def result_event(facts: ResponseFacts, link_base: str) -> dict[str, Any]:
    return {
        "type": f"survey.{facts.status}",
        "call_id": facts.linkedid,
        "operator": facts.operator,
        "operator_name": facts.operator_name,
        "queue": facts.queue,
        "survey": facts.survey,
        "campaign": facts.campaign_id,
        "status": facts.status,
        "score": facts.score,
        "answers": [{"question": a.question, "digits": a.digits, "score": a.score} for a in facts.answers],
        "started_at": _time(facts.started_at),
        "ended_at": _time(facts.ended_at),
        "url": f"{link_base}/ui/review?call={quote(facts.linkedid, safe='')}",
    }


def alert_reasons(facts: ResponseFacts, max_score: float) -> tuple[bool, tuple[str, ...]]:
    """(the first question's score is at or below max_score, the keys of questions answered with an answer the
    survey marks with "alert")."""
    low = facts.score is not None and facts.score <= max_score  # the response's score is its first question's
    questions = {q["key"]: Question.from_dict(q) for q in facts.definition.get("questions", [])}
    bad = tuple(
        a.question
        for a in facts.answers
        if a.digits is not None
        and (q := questions.get(a.question)) is not None
        and q.alert is not None
        and a.digits in q.alert
    )
    return low, bad


def alert_event(
    result: dict[str, Any], facts: ResponseFacts, *, low: bool, bad: tuple[str, ...], country: str | None = None
) -> dict[str, Any]:
    return {
        **result,
        "type": LOW_SCORE,
        "reason": "low_score" if low else "bad_answer",
        "bad_answers": list(bad),
        "caller": mask_phone_for_people(facts.caller_number, country) if facts.caller_number else None,
    }


def events_of(facts: ResponseFacts, policy: Policy) -> list[tuple[dict[str, Any], tuple[str, ...]]]:
    """The events a finished response makes, each with the targets it goes to (none when nothing is set)."""
    made: list[tuple[dict[str, Any], tuple[str, ...]]] = []
    result = result_event(facts, policy.link_base)
    if policy.result_targets:
        made.append((result, policy.result_targets))
    if policy.alert_targets:
        low, bad = alert_reasons(facts, policy.alert_max_score)
        if low or bad:
            alert = alert_event(result, facts, low=low, bad=bad, country=policy.country)
            made.append((alert, policy.alert_targets))
    return made
