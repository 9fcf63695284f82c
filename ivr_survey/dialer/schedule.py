"""How fast a campaign may dial, and what an unanswered dial means. Pure: the clock is an argument."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from ..service.calling_hours import ScheduleError, aware, shown

# -- pacing ---------------------------------------------------------------------------------------------------


def dial_interval(calls_per_minute: int | None) -> timedelta | None:
    """The least time between two dials of a campaign; None: unpaced. Rounded up to the microsecond, so that
    no 60 seconds ever hold more than `calls_per_minute` dials (60/11 s rounded down would fit a twelfth)."""
    if calls_per_minute is None:
        return None
    if isinstance(calls_per_minute, bool) or not isinstance(calls_per_minute, int) or calls_per_minute < 1:
        raise ScheduleError("calls_per_minute", f"{shown(calls_per_minute)} is not a whole number of calls >= 1")
    return timedelta(microseconds=-(-60_000_000 // calls_per_minute))


def next_dial_after(now: datetime, previous_next: datetime | None, calls_per_minute: int | None) -> datetime | None:
    """The campaign's `next_dial_at` once a dial takes the slot it named: one interval after the later of
    `now` and that slot (a slot still ahead is the one taken, the dial waiting for it). Whichever instance
    takes a slot moves `next_dial_at` on in the same transaction, under the campaign row's lock, so the pace
    holds across instances; a campaign idle for an hour earns no burst. None when the campaign is unpaced."""
    interval = dial_interval(calls_per_minute)
    if interval is None:
        return None
    now = aware(now)
    return (now if previous_next is None else max(now, aware(previous_next))) + interval


# -- outcomes ---------------------------------------------------------------------------------------------------


class DialOutcome(StrEnum):
    """What became of a dial that was never answered."""

    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    FAILED = "failed"


RETRIED: frozenset[DialOutcome] = frozenset({DialOutcome.BUSY, DialOutcome.NO_ANSWER, DialOutcome.CONGESTION})

# Q.850 hang-up causes (Asterisk's `cause` in ChannelDestroyed) -> outcome; the SIP responses Asterisk maps to
# them in brackets. Every other cause is `failed`, not retried: 1 unallocated number (404), 3 no route to
# destination, 21 call rejected (403, 603), 22 number changed (410), 27 destination out of order (502),
# 28 invalid number format (484), 16 normal clearing and 31 normal, unspecified (the network gave no reason
# worth dialling again for), 0 unknown.
_OUTCOMES: dict[int, DialOutcome] = {
    17: DialOutcome.BUSY,  # user busy (486, 600)
    18: DialOutcome.NO_ANSWER,  # no user responding (408)
    19: DialOutcome.NO_ANSWER,  # user alerted, no answer (480; also the originate's ring timeout)
    20: DialOutcome.NO_ANSWER,  # subscriber absent (a mobile switched off or out of reach)
    34: DialOutcome.CONGESTION,  # no circuit/channel available (503)
    38: DialOutcome.CONGESTION,  # network out of order
    41: DialOutcome.CONGESTION,  # temporary failure
    42: DialOutcome.CONGESTION,  # switching equipment congestion
    44: DialOutcome.CONGESTION,  # requested circuit/channel not available
    47: DialOutcome.CONGESTION,  # resource unavailable, unspecified
}


def classify(cause: int | None, other_cause: int | None) -> DialOutcome:
    """The outcome of an unanswered dial from the originated channel's hang-up cause and, for a Local channel,
    its `;2` half's (None: not a Local channel, or not seen). A Local `;1` half reports cause 0 when the far
    end is busy or congested while its `;2` half carries the real cause, so an unknown (0 or None) `cause`
    gives way to `other_cause`."""
    return _OUTCOMES.get(cause or other_cause or 0, DialOutcome.FAILED)
