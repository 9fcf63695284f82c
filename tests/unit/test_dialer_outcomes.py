"""What an attempt's end means for it and for its contact: a table of fates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ivr_survey.dialer.outcomes import Fate, attempt_outcome, counts_as_failure, retry_at

NOW = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=1800)


@pytest.mark.parametrize(
    ("fate", "outcome", "again_at_1", "again_at_3", "failure"),
    [
        # answered: the survey's result
        (Fate(answered=True, response_status="completed", answered_questions=3), "completed", None, None, False),
        (Fate(answered=True, response_status="partial", answered_questions=1), "partial", None, None, False),
        (Fate(answered=True, response_status="no_input"), "no_input", None, None, False),
        (Fate(answered=True, response_status="abandoned", answered_questions=2), "partial", None, None, False),
        (Fate(answered=True, response_status="abandoned"), "no_input", None, None, False),
        (Fate(answered=True, opted_out=True, response_status="abandoned"), "opted_out", None, None, False),
        # answered, but the survey never began (hung up as it answered)
        (Fate(answered=True, cause=16), "no_input", None, None, False),
        # our survey failed before any answer: tried again, never a reason to pause
        (Fate(answered=True, response_status="failed"), "failed", LATER, None, False),
        (Fate(answered=True, response_status="failed", answered_questions=1), "partial", None, None, False),
        # a crash mid-survey
        (Fate(answered=True, response_status="in_progress", lost=True), "failed", LATER, None, False),
        (
            Fate(answered=True, response_status="in_progress", answered_questions=1, lost=True),
            "partial",
            None,
            None,
            False,
        ),
        # unanswered: Asterisk's cause (a Local ;1 half says 0, its ;2 half the real one)
        (Fate(answered=False, cause=17), "busy", LATER, None, False),
        (Fate(answered=False, cause=0, other_cause=17), "busy", LATER, None, False),
        (Fate(answered=False, cause=19, other_cause=19), "no_answer", LATER, None, False),
        (Fate(answered=False, cause=0, other_cause=34), "congestion", LATER, None, True),
        (Fate(answered=False, cause=1), "failed", None, None, True),
        (Fate(answered=False, refused=True), "failed", None, None, True),
        # lost in a restart: one failed attempt, tried again, not a reason to pause
        (Fate(answered=False, lost=True), "failed", LATER, None, False),
        # cut short by us: again at once, even after the last attempt
        (Fate(answered=False, cause=16, interrupted=True), "no_answer", NOW, NOW, False),
    ],
)
def test_fates(
    fate: Fate, outcome: str, again_at_1: datetime | None, again_at_3: datetime | None, failure: bool
) -> None:
    assert attempt_outcome(fate) == outcome
    options = {"max_attempts": 3, "retry_delay": 1800, "now": NOW}
    assert retry_at(fate, outcome, number=1, **options) == again_at_1  # type: ignore[arg-type]
    assert retry_at(fate, outcome, number=3, **options) == again_at_3  # type: ignore[arg-type]
    assert counts_as_failure(fate, outcome) is failure
