"""Asking for consent before the queue, as a pure state machine: events in, actions out.

The caller hears "press 1 if you agree to rate the conversation afterwards, 2 if not"; a 1 or a 2, during the
prompt or within `wait` seconds after it, is the answer; silence is no answer (the policy's default decides,
outside this machine). Either way the answer is recorded before the caller goes on in the dialplan (to the
queue). A caller who hangs up first gives no answer and nothing is recorded. Other keys are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto
from typing import TypeAlias

from .actions import CancelTimer, Play, StartTimer, StopPlayback
from .events import Digit, Event, Failed, HungUp, PlaybackFinished, Start, TimerFired

CONSENT_PROMPT = "survey-consent"
CONSENT_KEYS = frozenset("12")


@dataclass(frozen=True, slots=True)
class RecordConsent:
    digit: str | None  # "1" agrees, "2" refuses, None: no answer in time


@dataclass(frozen=True, slots=True)
class ContinueDialplan:
    """Send the caller on in the dialplan: the consent is asked."""


ConsentAction: TypeAlias = Play | StopPlayback | StartTimer | CancelTimer | RecordConsent | ContinueDialplan


class _Phase(Enum):
    IDLE = auto()
    PROMPT = auto()  # the prompt is playing
    WAITING = auto()  # the prompt ended; waiting for a key
    DONE = auto()


class ConsentSession:
    """Feed it events with handle(); carry out the actions it returns, in order."""

    def __init__(self, *, wait: float = 5.0, guard: float = 60.0, playback_id: str = "consent-pb") -> None:
        self._wait = wait
        self._guard = guard  # if Asterisk never reports the prompt's end
        self._playback_id = playback_id
        self._phase = _Phase.IDLE
        self._token = 0

    @property
    def done(self) -> bool:
        return self._phase is _Phase.DONE

    def _timer(self, seconds: float) -> StartTimer:
        self._token += 1
        return StartTimer(self._token, seconds)

    def handle(self, event: Event) -> list[ConsentAction]:
        phase = self._phase
        if phase is _Phase.DONE:
            return []
        if isinstance(event, HungUp):
            self._phase = _Phase.DONE
            return [CancelTimer()] if phase is not _Phase.IDLE else []
        if phase is _Phase.IDLE:
            if isinstance(event, Start):
                self._phase = _Phase.PROMPT
                return [Play(self._playback_id, CONSENT_PROMPT), self._timer(self._guard)]
            return []
        if isinstance(event, Digit) and event.digit in CONSENT_KEYS:
            return self._end(event.digit, stop=phase is _Phase.PROMPT)
        if isinstance(event, PlaybackFinished) and event.playback_id == self._playback_id and phase is _Phase.PROMPT:
            self._phase = _Phase.WAITING
            return [self._timer(self._wait)]
        if isinstance(event, TimerFired) and event.token == self._token:
            if phase is _Phase.PROMPT:  # the prompt's end was never reported: wait as if it had ended
                self._phase = _Phase.WAITING
                return [self._timer(self._wait)]
            return self._end(None, stop=False)
        if isinstance(event, Failed):  # no answer recorded; the caller must not be held
            self._phase = _Phase.DONE
            return [CancelTimer(), ContinueDialplan()]
        return []

    def _end(self, digit: str | None, *, stop: bool) -> list[ConsentAction]:
        self._phase = _Phase.DONE
        actions: list[ConsentAction] = [CancelTimer()]
        if stop:
            actions.append(StopPlayback(self._playback_id))
        return [*actions, RecordConsent(digit), ContinueDialplan()]
