"""What the ARI adapter tells a survey session: things that happened on the channel or its timers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

# The keys a caller can send (RFC 4733); anything else in a Digit is not from a caller and is ignored.
DTMF_KEYS = frozenset("0123456789*#ABCD")


@dataclass(frozen=True, slots=True)
class Start:
    """The channel is answered and ours: ask the first question."""


@dataclass(frozen=True, slots=True)
class PlaybackStarted:
    playback_id: str


@dataclass(frozen=True, slots=True)
class PlaybackFinished:
    playback_id: str
    ok: bool = True  # False: Asterisk's state "failed" (e.g. a missing sound file); the survey goes on


@dataclass(frozen=True, slots=True)
class Digit:
    digit: str  # one of 0-9 * # A-D


@dataclass(frozen=True, slots=True)
class TimerFired:
    token: int  # the token of the StartTimer that fired; only the last one started counts


@dataclass(frozen=True, slots=True)
class HungUp:
    """The caller left (ChannelHangupRequest / StasisEnd)."""


@dataclass(frozen=True, slots=True)
class Failed:
    """The adapter hit an error it cannot recover from and must end the survey."""

    reason: str


Event: TypeAlias = Start | PlaybackStarted | PlaybackFinished | Digit | TimerFired | HungUp | Failed
