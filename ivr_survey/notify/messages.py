"""The Telegram alert's text, in English or Russian: short, for a phone's lock screen."""

from __future__ import annotations

from typing import Any

_WORDS = {
    "en": {
        "low_score": "Low rating",
        "bad_answer": "Unhappy caller",
        "operator": "Operator",
        "score": "Rating",
        "caller": "Caller",
        "queue": "Queue",
        "answers": "Answered",
        "unknown": "unknown",
        "call": "Call",
    },
    "ru": {
        "low_score": "Низкая оценка",
        "bad_answer": "Недовольный клиент",
        "operator": "Оператор",
        "score": "Оценка",
        "caller": "Звонивший",
        "queue": "Очередь",
        "answers": "Ответы",
        "unknown": "неизвестен",
        "call": "Звонок",
    },
}


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def alert_text(alert: dict[str, Any], language: str) -> str:
    w = _WORDS.get(language, _WORDS["en"])
    operator = alert.get("operator")
    name = alert.get("operator_name")
    who = f"{name} ({operator})" if name and operator else (operator or w["unknown"])
    lines = [f"⚠️ {w[alert['reason']]}", f"{w['operator']}: {who}", f"{w['score']}: {_number(alert.get('score'))}"]
    if alert.get("bad_answers"):
        answered = {a["question"]: a["digits"] for a in alert.get("answers", [])}
        given = ", ".join(f"{q} = {answered.get(q)}" for q in alert["bad_answers"])
        lines.append(f"{w['answers']}: {given}")
    lines.append(f"{w['caller']}: {alert.get('caller') or w['unknown']}")
    if alert.get("queue"):
        lines.append(f"{w['queue']}: {alert['queue']}")
    lines.append(f"{w['call']}: {alert['url']}")
    return "\n".join(lines)
