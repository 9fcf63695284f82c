"""The CQR method as data and arithmetic; see the package docstring and docs/cqr.md."""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

GOOD_THRESHOLD = 80.0
# 1: done; 0.5: tried but not finished; 0: not done.
SCORE_VALUES = (0.0, 0.5, 1.0)

# Each call type and criterion in English and in Russian (name_ru, description_ru), as supervisors read them.
CALL_TYPES: dict[str, dict[str, str]] = {
    "qualification": {
        "name": "Qualification",
        "description": "Getting to know the client and finding the problem the client has.",
        "name_ru": "Квалификация",
        "description_ru": "Знакомство с клиентом и выявление его задачи или проблемы.",
    },
    "objection": {
        "name": "Objection handling",
        "description": "The client doubts or refuses; the operator works through the objections.",
        "name_ru": "Работа с возражениями",
        "description_ru": "Клиент сомневается или отказывается; оператор отрабатывает возражения.",
    },
    "spam": {
        "name": "Spam",
        "description": "A wrong number, or a request for services the company does not offer.",
        "name_ru": "Спам",
        "description_ru": "Ошибочный звонок или запрос услуг, которых компания не оказывает.",
    },
    "transactional": {
        "name": "Transactional (accelerating)",
        "description": "Moving a deal forward: the client is interested and the next step is agreed.",
        "name_ru": "Транзакционный (ускоряющий)",
        "description_ru": "Продвижение сделки: клиент заинтересован, следующий шаг согласован.",
    },
    "reanimation": {
        "name": "Reanimation",
        "description": "Calling back, a few months later, a client who had said a final no.",
        "name_ru": "Реанимация",
        "description_ru": "Повторный звонок клиенту, который несколько месяцев назад окончательно отказался.",
    },
}

CRITERIA: dict[str, dict[str, str]] = {
    "greeting": {
        "name": "Greeting",
        "description": "Greets the client, introduces self and the company.",
        "name_ru": "Приветствие",
        "description_ru": "Здоровается, представляется и называет компанию.",
    },
    "identifying_problem": {
        "name": "Identifying the problem",
        "description": "Asks questions until the client's need or problem is clear.",
        "name_ru": "Выявление потребности",
        "description_ru": "Задаёт вопросы, пока потребность или проблема клиента не станет ясна.",
    },
    "presenting_product": {
        "name": "Presenting the product",
        "description": "Presents the product as the answer to the client's problem.",
        "name_ru": "Презентация продукта",
        "description_ru": "Представляет продукт как решение задачи клиента.",
    },
    "handling_objections": {
        "name": "Handling objections",
        "description": "Hears the objection out, clarifies it and answers it.",
        "name_ru": "Работа с возражениями",
        "description_ru": "Выслушивает возражение, уточняет его и отвечает на него.",
    },
    "related_offer": {
        "name": "Related offer",
        "description": "Offers related products or services.",
        "name_ru": "Допродажа",
        "description_ru": "Предлагает сопутствующие товары или услуги.",
    },
    "initiative": {
        "name": "Initiative",
        "description": "Leads the conversation and proposes the next move rather than waiting for the client.",
        "name_ru": "Инициатива",
        "description_ru": "Ведёт разговор и сам предлагает следующий шаг, не дожидаясь клиента.",
    },
    "closing": {
        "name": "Closing",
        "description": "Closes the call with a next step agreed (a meeting, an offer, a payment, a call back).",
        "name_ru": "Закрытие",
        "description_ru": "Завершает звонок согласованным следующим шагом (встреча, предложение, оплата, перезвон).",
    },
    "tone": {
        "name": "Tone and politeness",
        "description": "Friendly, polite and calm throughout.",
        "name_ru": "Тон и вежливость",
        "description_ru": "Доброжелателен, вежлив и спокоен на протяжении всего разговора.",
    },
    "difficult_client": {
        "name": "Difficult client",
        "description": "Handles a dissatisfied or rude client without escalating.",
        "name_ru": "Трудный клиент",
        "description_ru": "Спокойно работает с недовольным или грубым клиентом, не обостряя конфликт.",
    },
    "script": {
        "name": "Following the script",
        "description": "Follows the company's script for this kind of call.",
        "name_ru": "Следование скрипту",
        "description_ru": "Придерживается скрипта компании для звонков этого типа.",
    },
}

# Version 1 of every call type's scorecard (migration 0003 seeds a literal copy of these).
DEFAULT_SCORECARDS: dict[str, dict[str, float]] = {
    # Σ weights 12; finding the problem is the point of the call.
    "qualification": {
        "greeting": 1,
        "identifying_problem": 3,
        "presenting_product": 2,
        "initiative": 2,
        "closing": 2,
        "tone": 1,
        "script": 1,
    },
    # Σ weights 20; the objection itself weighs most, then moving the client on.
    "objection": {
        "greeting": 1,
        "identifying_problem": 2,
        "presenting_product": 3,
        "handling_objections": 4,
        "initiative": 3,
        "closing": 3,
        "tone": 2,
        "difficult_client": 2,
    },
    # Σ weights 7; recognise quickly that it is not our business, stay polite, offer what we do have.
    "spam": {
        "greeting": 1,
        "identifying_problem": 2,
        "related_offer": 1,
        "tone": 2,
        "script": 1,
    },
    # Σ weights 13; an interested client: present, answer, upsell, agree the next step.
    "transactional": {
        "greeting": 1,
        "presenting_product": 2,
        "handling_objections": 2,
        "related_offer": 2,
        "initiative": 2,
        "closing": 2,
        "tone": 1,
        "script": 1,
    },
    # Σ weights 14; the client said no, so the call lives or dies on the operator's initiative.
    "reanimation": {
        "greeting": 1,
        "identifying_problem": 2,
        "presenting_product": 2,
        "handling_objections": 2,
        "initiative": 3,
        "closing": 2,
        "tone": 1,
        "difficult_client": 1,
    },
}


class CqrError(ValueError):
    """Invalid CQR input. `field` names what is wrong as the API's body names it, e.g. "weights.greeting"
    or "scores.tone"; `criterion` is the criterion concerned, if any."""

    def __init__(self, field: str, message: str, *, criterion: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.criterion = criterion


def _as_float(value: Any) -> float | None:
    """A JSON number as a finite float; None for anything else (bools, strings, NaN, ±inf, huge ints)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def validate_call_type(call_type: Any, *, field: str = "call_type") -> str:
    if not isinstance(call_type, str) or call_type not in CALL_TYPES:
        raise CqrError(field, f"{field} must be one of: {', '.join(CALL_TYPES)}")
    return call_type


def validate_scorecard(weights: Any) -> dict[str, float]:
    """A scorecard's weights: at least one known criterion, every weight a finite number above 0.
    Returned as floats in the order of CRITERIA."""
    if not isinstance(weights, Mapping):
        raise CqrError("weights", "weights must be an object of criterion: weight")
    if not weights:
        raise CqrError("weights", "weights must name at least one criterion")
    for criterion, weight in weights.items():
        if not isinstance(criterion, str) or criterion not in CRITERIA:
            raise CqrError(
                f"weights.{criterion}",
                f"unknown criterion {criterion!r}; the criteria are: {', '.join(CRITERIA)}",
                criterion=str(criterion),
            )
        number = _as_float(weight)
        if number is None or number <= 0:
            raise CqrError(
                f"weights.{criterion}", f"the weight of {criterion} must be a number above 0", criterion=criterion
            )
    return {c: float(weights[c]) for c in CRITERIA if c in weights}  # each checked above


def validate_scores(scores: Any, weights: Mapping[str, float]) -> dict[str, float]:
    """Scores for exactly the criteria of the scorecard `weights`, each 0, 0.5 or 1. Returned as floats in
    the order of the scorecard."""
    if not isinstance(scores, Mapping):
        raise CqrError("scores", "scores must be an object of criterion: 0, 0.5 or 1")
    for criterion in scores:
        if criterion not in weights:
            raise CqrError(
                f"scores.{criterion}",
                f"{criterion!r} is not on this scorecard; it has: {', '.join(weights)}",
                criterion=str(criterion),
            )
    result = {}
    for criterion in weights:
        if criterion not in scores:
            raise CqrError(f"scores.{criterion}", f"{criterion} is not scored", criterion=criterion)
        score = scores[criterion]
        if _as_float(score) not in SCORE_VALUES:
            raise CqrError(f"scores.{criterion}", f"the score of {criterion} must be 0, 0.5 or 1", criterion=criterion)
        result[criterion] = float(score)
    return result


def _exact(value: float) -> Fraction:
    # The shortest decimal that reads back as the float: a weight of 0.1 counts as exactly 1/10.
    return Fraction(repr(float(value)))


def compute_cqr(scores: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """100 × Σ(score × weight) / Σ(weight), rounded half up to 2 decimals. The scores must cover exactly the
    scorecard's criteria (CqrError otherwise). Exact arithmetic, so equal inputs always give equal CQRs."""
    weights = validate_scorecard(weights)
    scores = validate_scores(scores, weights)
    total = sum((_exact(w) for w in weights.values()), Fraction(0))
    earned = sum((_exact(scores[c]) * _exact(w) for c, w in weights.items()), Fraction(0))
    hundredths = 10_000 * earned / total  # CQR × 100
    return float(math.floor(hundredths + Fraction(1, 2))) / 100


def is_good(cqr: float) -> bool:
    return cqr >= GOOD_THRESHOLD
