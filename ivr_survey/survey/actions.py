"""What a survey session asks the ARI adapter to do, in the order it must be done."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias


class Status(StrEnum):
    """How a survey ended (the same words as survey_responses.status)."""

    COMPLETED = "completed"  # every question got a valid answer
    PARTIAL = "partial"  # reached the end; some questions answered, some not
    NO_INPUT = "no_input"  # reached the end without a single valid answer
    ABANDONED = "abandoned"  # the caller hung up before every question was handled
    FAILED = "failed"  # the adapter reported an error (Failed event)


COMPLETED = Status.COMPLETED
PARTIAL = Status.PARTIAL
NO_INPUT = Status.NO_INPUT
ABANDONED = Status.ABANDONED
FAILED = Status.FAILED
STATUSES: frozenset[str] = frozenset(Status)


@dataclass(frozen=True, slots=True)
class Play:
    playback_id: str  # unique per session; the adapter creates the playback under this id
    sound: str  # sound name without "sound:" and extension


@dataclass(frozen=True, slots=True)
class StopPlayback:
    playback_id: str  # a playback that may still be playing or queued; a 404 is fine


@dataclass(frozen=True, slots=True)
class StartTimer:
    token: int  # echo it in TimerFired
    seconds: float  # replaces any running timer


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Stop the running timer, if any."""


@dataclass(frozen=True, slots=True)
class SaveAnswer:
    position: int  # index of the question in the definition
    question: str  # the question's key
    digits: str | None  # None: unanswered after every attempt
    score: float | None
    attempts: int  # attempts used, the accepted one included


@dataclass(frozen=True, slots=True)
class OptOut:
    """The caller pressed the opt-out key: the number must never be called again."""

    position: int  # index of the question at which it was pressed


@dataclass(frozen=True, slots=True)
class Finish:
    status: str  # a Status; the response's final status


@dataclass(frozen=True, slots=True)
class Hangup:
    """Hang the channel up: the survey is over."""


Action: TypeAlias = Play | StopPlayback | StartTimer | CancelTimer | SaveAnswer | OptOut | Finish | Hangup
