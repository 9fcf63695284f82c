"""The CQR method: default scorecards, hand-computed CQRs for every call type, validation."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr_survey.cqr import (
    CALL_TYPES,
    CRITERIA,
    DEFAULT_SCORECARDS,
    GOOD_THRESHOLD,
    CqrError,
    compute_cqr,
    is_good,
    validate_call_type,
    validate_scorecard,
    validate_scores,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cqr.md"


def test_five_call_types_and_ten_criteria() -> None:
    assert list(CALL_TYPES) == ["qualification", "objection", "spam", "transactional", "reanimation"]
    assert list(CRITERIA) == [
        "greeting",
        "identifying_problem",
        "presenting_product",
        "handling_objections",
        "related_offer",
        "initiative",
        "closing",
        "tone",
        "difficult_client",
        "script",
    ]
    assert set(DEFAULT_SCORECARDS) == set(CALL_TYPES)
    for info in [*CALL_TYPES.values(), *CRITERIA.values()]:
        assert set(info) == {"name", "description", "name_ru", "description_ru"} and all(info.values())
    assert GOOD_THRESHOLD == 80


def test_default_scorecards_are_valid() -> None:
    for weights in DEFAULT_SCORECARDS.values():
        assert validate_scorecard(weights) == weights


def test_weights_the_method_requires() -> None:
    qualification = DEFAULT_SCORECARDS["qualification"]
    assert qualification["identifying_problem"] == 3
    assert max(qualification.values()) == 3
    assert [c for c, w in qualification.items() if w == 3] == ["identifying_problem"]

    objection = DEFAULT_SCORECARDS["objection"]
    assert objection["handling_objections"] == 4
    assert (objection["initiative"], objection["presenting_product"], objection["closing"]) == (3, 3, 3)

    reanimation = DEFAULT_SCORECARDS["reanimation"]
    assert all(w < reanimation["initiative"] for c, w in reanimation.items() if c != "initiative")

    required = {
        ("qualification", "identifying_problem"),
        ("objection", "handling_objections"),
        ("objection", "initiative"),
        ("objection", "presenting_product"),
        ("objection", "closing"),
        ("reanimation", "initiative"),
    }
    for call_type, weights in DEFAULT_SCORECARDS.items():
        for criterion, weight in weights.items():
            if (call_type, criterion) not in required:
                assert 1 <= weight <= 2, (call_type, criterion, weight)


def test_default_scorecards_exactly() -> None:
    assert DEFAULT_SCORECARDS == {
        "qualification": {
            "greeting": 1,
            "identifying_problem": 3,
            "presenting_product": 2,
            "initiative": 2,
            "closing": 2,
            "tone": 1,
            "script": 1,
        },
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
        "spam": {"greeting": 1, "identifying_problem": 2, "related_offer": 1, "tone": 2, "script": 1},
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


# The worked examples of docs/cqr.md, one per call type.
EXAMPLES = {
    # Σw = 1+3+2+2+2+1+1 = 12
    # Σ(s·w) = 1·1 + 0.5·3 + 1·2 + 0·2 + 0.5·2 + 1·1 + 1·1 = 1 + 1.5 + 2 + 0 + 1 + 1 + 1 = 7.5
    # CQR = 100 · 7.5 / 12 = 62.5
    "qualification": (
        {
            "greeting": 1,
            "identifying_problem": 0.5,
            "presenting_product": 1,
            "initiative": 0,
            "closing": 0.5,
            "tone": 1,
            "script": 1,
        },
        62.5,
    ),
    # Σw = 1+2+3+4+3+3+2+2 = 20
    # Σ(s·w) = 1·1 + 1·2 + 1·3 + 0.5·4 + 1·3 + 0.5·3 + 1·2 + 1·2 = 1 + 2 + 3 + 2 + 3 + 1.5 + 2 + 2 = 16.5
    # CQR = 100 · 16.5 / 20 = 82.5 (good)
    "objection": (
        {
            "greeting": 1,
            "identifying_problem": 1,
            "presenting_product": 1,
            "handling_objections": 0.5,
            "initiative": 1,
            "closing": 0.5,
            "tone": 1,
            "difficult_client": 1,
        },
        82.5,
    ),
    # Σw = 1+2+1+2+1 = 7
    # Σ(s·w) = 1·1 + 1·2 + 0·1 + 1·2 + 0.5·1 = 5.5
    # CQR = 100 · 5.5 / 7 = 78.5714… -> 78.57 (not good)
    "spam": (
        {"greeting": 1, "identifying_problem": 1, "related_offer": 0, "tone": 1, "script": 0.5},
        78.57,
    ),
    # Σw = 1+2+2+2+2+2+1+1 = 13
    # Σ(s·w) = 1 + 2 + 2 + 0.5·2 + 2 + 2 + 1 + 0·1 = 11
    # CQR = 100 · 11 / 13 = 84.6153… -> 84.62 (good)
    "transactional": (
        {
            "greeting": 1,
            "presenting_product": 1,
            "handling_objections": 1,
            "related_offer": 0.5,
            "initiative": 1,
            "closing": 1,
            "tone": 1,
            "script": 0,
        },
        84.62,
    ),
    # Σw = 1+2+2+2+3+2+1+1 = 14
    # Σ(s·w) = 1·1 + 0.5·2 + 1·2 + 0.5·2 + 1·3 + 0·2 + 1·1 + 1·1 = 1 + 1 + 2 + 1 + 3 + 0 + 1 + 1 = 10
    # CQR = 100 · 10 / 14 = 71.4285… -> 71.43
    "reanimation": (
        {
            "greeting": 1,
            "identifying_problem": 0.5,
            "presenting_product": 1,
            "handling_objections": 0.5,
            "initiative": 1,
            "closing": 0,
            "tone": 1,
            "difficult_client": 1,
        },
        71.43,
    ),
}


@pytest.mark.parametrize("call_type", list(EXAMPLES))
def test_worked_example(call_type: str) -> None:
    scores, expected = EXAMPLES[call_type]
    assert compute_cqr(scores, DEFAULT_SCORECARDS[call_type]) == expected


def test_good_is_80_and_above() -> None:
    assert [is_good(x) for x in (0.0, 79.99, 80.0, 100.0)] == [False, False, True, True]
    assert [is_good(EXAMPLES[t][1]) for t in EXAMPLES] == [False, True, False, True, False]


def test_extremes() -> None:
    for weights in DEFAULT_SCORECARDS.values():
        assert compute_cqr(dict.fromkeys(weights, 1), weights) == 100.0
        assert compute_cqr(dict.fromkeys(weights, 0), weights) == 0.0
        assert compute_cqr(dict.fromkeys(weights, 0.5), weights) == 50.0


def test_rounds_half_up_exactly() -> None:
    # 100 · 1 / 32 = 3.125 exactly: half up gives 3.13 (float round() would give 3.12).
    assert compute_cqr({"greeting": 0, "tone": 1}, {"greeting": 31, "tone": 1}) == 3.13
    # 100 · 2 / 3 = 66.666… -> 66.67; 100 · 1 / 3 -> 33.33
    assert compute_cqr({"greeting": 1, "tone": 1, "script": 0}, {"greeting": 1, "tone": 1, "script": 1}) == 66.67
    assert compute_cqr({"greeting": 1, "tone": 0, "script": 0}, {"greeting": 1, "tone": 1, "script": 1}) == 33.33
    # Decimal weights count as written: 100 · 0.1 / (0.1 + 0.2) = 33.33…, 100 · 0.7 / 1.4 = 50
    assert compute_cqr({"greeting": 1, "tone": 0}, {"greeting": 0.1, "tone": 0.2}) == 33.33
    assert compute_cqr({"greeting": 1, "tone": 0}, {"greeting": 0.7, "tone": 0.7}) == 50.0


@given(st.sampled_from(sorted(DEFAULT_SCORECARDS)), st.data())
def test_cqr_is_the_weighted_mean(call_type: str, data: st.DataObject) -> None:
    weights = DEFAULT_SCORECARDS[call_type]
    scores = {c: data.draw(st.sampled_from([0, 0.5, 1])) for c in weights}
    cqr = compute_cqr(scores, weights)
    exact = 100 * sum(scores[c] * w for c, w in weights.items()) / sum(weights.values())
    assert 0 <= cqr <= 100
    assert abs(cqr - exact) <= 0.005 + 1e-9
    assert cqr == round(cqr, 2)


@pytest.mark.parametrize(
    ("weights", "field"),
    [
        ({}, "weights"),
        ([("greeting", 1)], "weights"),
        (None, "weights"),
        ({"greeting": 1, "smile": 1}, "weights.smile"),
        ({"greeting": 0}, "weights.greeting"),
        ({"greeting": -1}, "weights.greeting"),
        ({"tone": math.nan}, "weights.tone"),
        ({"tone": math.inf}, "weights.tone"),
        ({"tone": True}, "weights.tone"),
        ({"tone": "2"}, "weights.tone"),
        ({"tone": None}, "weights.tone"),
        ({"tone": 10**400}, "weights.tone"),  # a JSON integer too big for a float
    ],
)
def test_bad_scorecards(weights: object, field: str) -> None:
    with pytest.raises(CqrError) as caught:
        validate_scorecard(weights)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


def test_scorecard_is_normalised_to_floats_in_criteria_order() -> None:
    assert list(validate_scorecard({"tone": 2, "greeting": 0.5}).items()) == [("greeting", 0.5), ("tone", 2.0)]


@pytest.mark.parametrize(
    ("scores", "field", "message"),
    [
        ({"greeting": 1}, "scores.tone", "tone is not scored"),
        (
            {"greeting": 1, "tone": 1, "script": 1},
            "scores.script",
            "'script' is not on this scorecard; it has: greeting, tone",
        ),
        ({"greeting": 0.7, "tone": 1}, "scores.greeting", "the score of greeting must be 0, 0.5 or 1"),
        ({"greeting": 1, "tone": 2}, "scores.tone", "the score of tone must be 0, 0.5 or 1"),
        ({"greeting": True, "tone": 1}, "scores.greeting", "the score of greeting must be 0, 0.5 or 1"),
        ({"greeting": "1", "tone": 1}, "scores.greeting", "the score of greeting must be 0, 0.5 or 1"),
        ({"greeting": None, "tone": 1}, "scores.greeting", "the score of greeting must be 0, 0.5 or 1"),
        ({"greeting": 10**400, "tone": 1}, "scores.greeting", "the score of greeting must be 0, 0.5 or 1"),
        ({"greeting": math.nan, "tone": 1}, "scores.greeting", "the score of greeting must be 0, 0.5 or 1"),
        ([1, 1], "scores", "scores must be an object of criterion: 0, 0.5 or 1"),
    ],
)
def test_bad_scores(scores: object, field: str, message: str) -> None:
    with pytest.raises(CqrError) as caught:
        validate_scores(scores, {"greeting": 1.0, "tone": 1.0})
    assert (caught.value.field, caught.value.message) == (field, message)
    with pytest.raises(CqrError):
        compute_cqr(scores, {"greeting": 1.0, "tone": 1.0})  # type: ignore[arg-type]


def test_scores_are_floats_in_scorecard_order() -> None:
    assert list(validate_scores({"tone": 1, "greeting": 0.5}, {"greeting": 1, "tone": 1}).items()) == [
        ("greeting", 0.5),
        ("tone", 1.0),
    ]


def test_call_type_validation() -> None:
    assert validate_call_type("spam") == "spam"
    with pytest.raises(CqrError) as caught:
        validate_call_type("sales")
    assert caught.value.field == "call_type"


def test_docs_tables_match_the_default_scorecards() -> None:
    """docs/cqr.md has one table per call type ("### `<id>`" then "| `criterion` | weight |" rows)."""
    text = DOCS.read_text()
    found: dict[str, dict[str, float]] = {}
    current = None
    for line in text.splitlines():
        heading = re.match(r"^### `(\w+)`", line)
        if heading:
            current = heading.group(1)
            found[current] = {}
        row = re.match(r"^\| `(\w+)` \| [^|]+ \| (\d+(?:\.\d+)?) \|", line)
        if row and current is not None:
            found[current][row.group(1)] = float(row.group(2))
    assert found == DEFAULT_SCORECARDS
