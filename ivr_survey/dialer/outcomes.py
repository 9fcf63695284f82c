"""How an attempt ended and whether its contact is called again: pure decisions from what is known when the
call is over."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .schedule import RETRIED, classify

# Outcomes that say the calls cannot get through (a wrong trunk, a refused endpoint): enough of them in a row
# pause the campaign. Busy and unanswered calls are the customers' doing and never count.
FAILURES = frozenset({"failed", "congestion"})


@dataclass(frozen=True, slots=True)
class Fate:
    """What is known of an attempt once its call is over."""

    answered: bool  # the far end answered and the survey began
    opted_out: bool = False  # the customer pressed the opt-out key
    response_status: str | None = None  # the survey's status (in_progress: it never finished)
    answered_questions: int = 0  # answers with a score
    cause: int | None = None  # the originated channel's hang-up cause (a Local channel's ;1 half)
    other_cause: int | None = None  # a Local channel's ;2 half's
    refused: bool = False  # the PBX would not place the call (an endpoint that does not exist, a 4xx)
    # Its fate was lost (a crash, the PBX unreachable): one failed attempt, retried, unless the customer had
    # answered questions already (then it counts as partial).
    lost: bool = False
    interrupted: bool = False  # hung up by us before it was answered (the service stopping)


def attempt_outcome(fate: Fate) -> str:
    """The attempt's outcome (models.ATTEMPT_OUTCOMES)."""
    if fate.opted_out:
        return "opted_out"
    if fate.answered:
        status = fate.response_status
        if status in ("completed", "partial", "no_input", "failed"):
            return status
        # Abandoned (hung up mid-survey) or never finished (a crash): what was answered counts.
        return "partial" if fate.answered_questions else ("no_input" if status == "abandoned" else "failed")
    if fate.refused or fate.lost:
        return "failed"
    if fate.interrupted:
        return "no_answer"
    return str(classify(fate.cause, fate.other_cause))


def retry_at(
    fate: Fate, outcome: str, *, number: int, max_attempts: int, retry_delay: int, now: datetime
) -> datetime | None:
    """When the contact is called again, or None when this attempt was its last. A call we cut short
    ourselves is tried again at once, even after its last attempt (it was not the customer's doing); one whose
    fate was lost after the usual delay."""
    if fate.interrupted:
        return now
    retried = outcome in RETRIED or (fate.lost and outcome == "failed")
    if not retried or number >= max_attempts:
        return None
    return now + timedelta(seconds=retry_delay)
