"""Prompt names and their playing time, for the simulated PBX.

The fake Asterisk needs to know which sounds "exist" (a playback of a missing sound fails
at once, as on a real Asterisk) and how long each one plays. Durations are seconds of call
time; the fake divides them by its ``speed`` factor.

Measured in the real traces (../shared/asterisk-ari/traces):

* ``survey-rate``: PlaybackStarted 3.314 -> PlaybackFinished "done" 5.802 in
  ``no-input-timeout.jsonl``: 2.49 s.
* ``survey-invalid``: 5.523 -> 6.691 in ``invalid-then-5.jsonl``: 1.17 s.
* ``survey-thanks``: still playing 1.618 s after it started when the app hung up
  (``rated-4.jsonl``, ``invalid-then-5.jsonl``: PlaybackFinished came *after* the DELETE),
  so it is a little longer than 1.6 s.

In no trace: ``survey-opted-out`` takes the length of the shipped ``prompts/en`` file
(``soxi -D``: 2.83 s).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = ["DEFAULT_DURATION", "PROMPT_DURATIONS", "SURVEY_PROMPTS", "duration_of"]

#: Playing time of the survey prompts, in seconds.
PROMPT_DURATIONS: Final = MappingProxyType(
    {
        "survey-rate": 2.5,
        "survey-invalid": 1.2,
        "survey-accepted": 0.6,
        "survey-thanks": 1.7,
        "survey-opted-out": 2.8,
        "survey-solved": 3.0,
        "survey-nps": 3.0,
        "survey-consent": 6.4,
    }
)

#: The sounds a fresh fake Asterisk knows.
SURVEY_PROMPTS: Final = frozenset(PROMPT_DURATIONS)

#: Playing time of a known sound without an entry in the durations table.
DEFAULT_DURATION: Final = 3.0


def duration_of(sound: str) -> float:
    """Playing time of ``sound`` (a name, without ``sound:``) in seconds."""
    return PROMPT_DURATIONS.get(sound, DEFAULT_DURATION)
