"""The survey itself: definitions, timing, and the pure state machine that runs one call."""

from .actions import (
    STATUSES,
    Action,
    CancelTimer,
    Finish,
    Hangup,
    OptOut,
    Play,
    SaveAnswer,
    StartTimer,
    Status,
    StopPlayback,
)
from .definition import (
    DEFAULT_SURVEY,
    EXAMPLE_CSAT_SOLVED_NPS,
    Question,
    SurveyDefinition,
    SurveyDefinitionError,
    opt_out_conflict,
)
from .events import (
    DTMF_KEYS,
    Digit,
    Event,
    Failed,
    HungUp,
    PlaybackFinished,
    PlaybackStarted,
    Start,
    TimerFired,
)
from .session import SurveySession
from .timing import DEFAULT_TIMING, Timing

__all__ = [
    "DEFAULT_SURVEY",
    "DEFAULT_TIMING",
    "DTMF_KEYS",
    "EXAMPLE_CSAT_SOLVED_NPS",
    "STATUSES",
    "Action",
    "CancelTimer",
    "Digit",
    "Event",
    "Failed",
    "Finish",
    "Hangup",
    "HungUp",
    "OptOut",
    "Play",
    "PlaybackFinished",
    "PlaybackStarted",
    "Question",
    "SaveAnswer",
    "Start",
    "StartTimer",
    "Status",
    "StopPlayback",
    "SurveyDefinition",
    "SurveyDefinitionError",
    "SurveySession",
    "TimerFired",
    "Timing",
    "opt_out_conflict",
]
