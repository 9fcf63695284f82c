"""One caller's pass through a survey, as a pure state machine: events in, actions out.

No I/O, clock or randomness here, so every call flow (including the odd ones Asterisk produces:
late, duplicated or missing events) can be replayed exactly in tests. The ARI adapter feeds
events to handle() and carries out the returned actions in order.

A campaign call gives the session an opt-out key: pressed at any question before a key of the
answer, it ends the survey with OptOut(position) and then Finish("abandoned") (what was answered
is kept), plays the opted-out prompt and hangs up. OptOut comes before Finish for the reason
SaveAnswer does: the adapter commits each action before carrying out the next, so the request
never to be called again is stored before anything else can go wrong: a keypress is never lost.

A survey another run began (an instance that crashed with the caller left in Stasis) goes on with
SurveySession.resume(): the answers that run stored are taken as given and Start asks the next
unanswered question again, from its prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum, auto

from .actions import (
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
from .definition import Question, SurveyDefinition
from .events import DTMF_KEYS, Digit, Event, Failed, HungUp, PlaybackFinished, Start, TimerFired
from .timing import DEFAULT_TIMING, Timing

_DIGITS = frozenset("0123456789")


class _Phase(Enum):
    IDLE = auto()  # before Start: everything is ignored
    ASKING = auto()  # a question is being asked or answered
    CLOSING = auto()  # Finish emitted, the thanks or opted-out prompt is playing; keys no longer count
    DONE = auto()  # hung up or Hangup emitted: nothing more will happen


class _Timer(Enum):
    GUARD = auto()  # playbacks were started; fires only if Asterisk never reports their end
    NO_INPUT = auto()  # the prompt ended, waiting for the first key
    INTER_DIGIT = auto()  # waiting for the next key of a multi-key answer


class SurveySession:
    """Feed it events with handle(); carry out the actions it returns, in order."""

    __slots__ = (
        "_active",
        "_answers",
        "_collected",
        "_definition",
        "_failed_attempts",
        "_language",
        "_opt_out_key",
        "_phase",
        "_played",
        "_position",
        "_prefix",
        "_status",
        "_timer",
        "_timing",
        "_token",
    )

    def __init__(
        self,
        definition: SurveyDefinition,
        *,
        language: str | None = None,
        timing: Timing = DEFAULT_TIMING,
        playback_prefix: str = "pb-",
        opt_out_key: str | None = None,
    ) -> None:
        """opt_out_key: the key that ends a campaign call for good; None (post-call surveys): no such key."""
        if opt_out_key is not None and opt_out_key not in DTMF_KEYS:
            raise ValueError(f"opt_out_key must be one of the keys 0-9, *, #, A-D, got {opt_out_key!r}")
        self._definition = definition
        self._opt_out_key = opt_out_key
        self._language = language or definition.default_language
        self._timing = timing
        self._prefix = playback_prefix
        self._phase = _Phase.IDLE
        self._position = 0  # index of the question being asked; len(questions) once past the last
        self._failed_attempts = 0  # at the current question
        self._collected = ""  # keys of a multi-key answer so far
        self._active: list[str] = []  # played, neither finished nor stopped; in play order
        self._played = 0  # Play actions emitted; numbers the playback ids
        self._token = 0  # token of the last StartTimer
        self._timer: _Timer | None = None  # what the timer with self._token means; None: none running
        self._answers: list[SaveAnswer] = []
        self._status: Status | None = None

    @classmethod
    def resume(
        cls,
        definition: SurveyDefinition,
        answered: Sequence[SaveAnswer],
        *,
        status: Status | None = None,
        language: str | None = None,
        timing: Timing = DEFAULT_TIMING,
        playback_prefix: str = "pb-",
        opt_out_key: str | None = None,
    ) -> SurveySession:
        """The session of a survey begun elsewhere. `answered`: the answers stored, one per question from the
        first, in order; they are not emitted again and the final status counts them. Start asks the next
        question from its prompt, or, with every question answered, ends the survey as the last answer would
        have. `status`: the stored final status when the survey had already ended; Start then only plays the
        thanks prompt again and hangs up, or for abandoned/failed (nothing more to say) hangs up at once."""
        if [answer.position for answer in answered] != list(range(len(answered))):
            raise ValueError("the answers must be one per question, in order from the first")
        keys = [question.key for question in definition.questions]
        if [answer.question for answer in answered] != keys[: len(answered)]:
            raise ValueError(f"the answers do not match the questions of survey {definition.name!r}")
        session = cls(
            definition, language=language, timing=timing, playback_prefix=playback_prefix, opt_out_key=opt_out_key
        )
        session._answers = list(answered)
        session._position = len(answered)
        session._status = status
        return session

    # -- read-only state --------------------------------------------------------------------------

    @property
    def definition(self) -> SurveyDefinition:
        return self._definition

    @property
    def language(self) -> str:
        return self._language

    @property
    def status(self) -> Status | None:
        """The final status once Finish was emitted, else None."""
        return self._status

    @property
    def finished(self) -> bool:
        return self._status is not None

    @property
    def done(self) -> bool:
        """Nothing more will happen: the caller hung up or Hangup was emitted."""
        return self._phase is _Phase.DONE

    @property
    def answers(self) -> tuple[SaveAnswer, ...]:
        return tuple(self._answers)

    @property
    def position(self) -> int:
        return self._position

    # -- events -----------------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Action]:
        """The actions for one event; unexpected, late or duplicate events give [] and never raise."""
        if self._phase is _Phase.DONE:
            return []
        if self._phase is _Phase.IDLE:
            return self._start() if isinstance(event, Start) else []
        match event:
            case Digit(digit=digit):
                return self._on_digit(digit)
            case PlaybackFinished(playback_id=playback_id):
                return self._on_playback_finished(playback_id)
            case TimerFired(token=token):
                return self._on_timer(token)
            case HungUp():
                return self._on_hung_up()
            case Failed():
                return self._on_failed()
            case _:  # a second Start; PlaybackStarted changes nothing (queued or playing, it is active)
                return []

    def _start(self) -> list[Action]:
        if self._status in (Status.ABANDONED, Status.FAILED):  # resumed once over: nothing to play
            self._phase = _Phase.DONE
            return [Hangup()]
        if self._status is not None:  # resumed during the thanks prompt
            self._phase = _Phase.CLOSING
            return [self._play(self._definition.thanks_prompt), self._start_timer(_Timer.GUARD)]
        self._phase = _Phase.ASKING
        if self._position == len(self._definition.questions):  # resumed after the last answer was stored
            return self._end()
        return [self._play(self._prompt()), self._start_timer(_Timer.GUARD)]

    def _on_digit(self, digit: str) -> list[Action]:
        if self._phase is not _Phase.ASKING or digit not in DTMF_KEYS:
            return []
        # Barge-in: the caller knows the answer, so stop everything still playing or queued.
        actions: list[Action] = [StopPlayback(playback_id) for playback_id in self._active]
        self._active.clear()
        if digit == self._opt_out_key and not self._collected:  # mid-answer it is just a key of the answer
            return [*actions, *self._opt_out()]
        question = self._question()
        if question.max_digits == 1:
            actions += self._answer(digit)
        elif digit == "#":
            actions += self._answer(self._collected)  # "" is never a valid answer: an invalid attempt
        elif digit in _DIGITS or any(digit in answer for answer in question.scores):
            self._collected += digit
            if len(self._collected) >= question.max_digits:
                actions += self._answer(self._collected)
            else:
                actions.append(self._start_timer(_Timer.INTER_DIGIT))
        else:
            # '*' (unless a valid answer uses it) or A-D: no answer can contain it, so don't wait.
            actions += self._invalid()
        return actions

    def _on_playback_finished(self, playback_id: str) -> list[Action]:
        if playback_id not in self._active:  # unknown, stopped, or already finished
            return []
        self._active.remove(playback_id)
        return [] if self._active else self._all_played()

    def _on_timer(self, token: int) -> list[Action]:
        if token != self._token or self._timer is None:  # stale, cancelled, or already fired
            return []
        kind, self._timer = self._timer, None
        if kind is _Timer.GUARD:
            self._active.clear()  # Asterisk lost track of them; carry on as if they had ended
            return self._all_played()
        if kind is _Timer.NO_INPUT:
            return self._failed_attempt(invalid=False)
        return self._answer(self._collected)  # inter-digit timeout ends a multi-key answer

    def _on_hung_up(self) -> list[Action]:
        timer_running = self._timer is not None
        self._timer = None
        if self._phase is _Phase.ASKING:
            self._phase = _Phase.DONE
            return [CancelTimer(), self._finish(Status.ABANDONED)]
        self._phase = _Phase.DONE
        return [CancelTimer()] if timer_running else []

    def _on_failed(self) -> list[Action]:
        self._timer = None
        actions: list[Action] = [CancelTimer()]
        if self._phase is _Phase.ASKING:
            actions.append(self._finish(Status.FAILED))
        self._phase = _Phase.DONE
        actions.append(Hangup())
        return actions

    # -- steps ------------------------------------------------------------------------------------

    def _all_played(self) -> list[Action]:
        """Nothing is playing any more: the caller's turn, or the end of the call."""
        if self._phase is _Phase.CLOSING:
            self._phase = _Phase.DONE
            return [Hangup()]
        return [self._start_timer(_Timer.NO_INPUT)]

    def _opt_out(self) -> list[Action]:
        """Never to be called again: keep what was answered, say goodbye, then hang up as after the thanks."""
        self._phase = _Phase.CLOSING
        # CancelTimer: the wait for a key is over now, not once OptOut and Finish are committed.
        return [
            CancelTimer(),
            OptOut(self._position),
            self._finish(Status.ABANDONED),
            self._play(self._definition.opted_out_prompt),
            self._start_timer(_Timer.GUARD),
        ]

    def _answer(self, digits: str) -> list[Action]:
        """A complete answer: accept it, or count an invalid attempt."""
        self._collected = ""
        question = self._question()
        score = question.scores.get(digits)
        if score is None:
            return self._failed_attempt(invalid=True)
        # SaveAnswer first: the adapter commits it before anything else can go wrong.
        save = self._save(question, digits, score, self._failed_attempts + 1)
        return [save, *self._next_question(confirm=True)]

    def _invalid(self) -> list[Action]:
        self._collected = ""
        return self._failed_attempt(invalid=True)

    def _failed_attempt(self, *, invalid: bool) -> list[Action]:
        """An invalid answer or silence: ask again while attempts remain, else record it unanswered."""
        self._failed_attempts += 1
        if self._failed_attempts < self._timing.max_attempts:
            actions = [self._play(self._definition.invalid_prompt)] if invalid else []
            return [*actions, self._play(self._prompt()), self._start_timer(_Timer.GUARD)]
        save = self._save(self._question(), None, None, self._failed_attempts)
        return [save, *self._next_question(confirm=False)]

    def _next_question(self, *, confirm: bool) -> list[Action]:
        self._position += 1
        self._failed_attempts = 0
        self._collected = ""
        if self._position < len(self._definition.questions):
            actions = [self._play(self._definition.accepted_prompt)] if confirm else []
            return [*actions, self._play(self._prompt()), self._start_timer(_Timer.GUARD)]
        # The end: the thanks prompt also confirms the last answer, so no accepted prompt before it.
        return self._end()

    def _end(self) -> list[Action]:
        """Past the last question: the final status, then the thanks prompt."""
        answered = sum(answer.score is not None for answer in self._answers)
        if answered == len(self._definition.questions):
            status = Status.COMPLETED
        else:
            status = Status.PARTIAL if answered else Status.NO_INPUT
        self._phase = _Phase.CLOSING
        finish = self._finish(status)
        return [finish, self._play(self._definition.thanks_prompt), self._start_timer(_Timer.GUARD)]

    # -- helpers ----------------------------------------------------------------------------------

    def _question(self) -> Question:
        return self._definition.questions[self._position]

    def _prompt(self) -> str:
        return self._question().prompt_for(self._language, self._definition.default_language)

    def _play(self, sound: str) -> Play:
        self._played += 1
        playback_id = f"{self._prefix}{self._played}"
        self._active.append(playback_id)
        return Play(playback_id, sound)

    def _start_timer(self, kind: _Timer) -> StartTimer:
        self._token += 1
        self._timer = kind
        seconds = {
            _Timer.GUARD: self._timing.playback_guard,
            _Timer.NO_INPUT: self._timing.no_input_timeout,
            _Timer.INTER_DIGIT: self._timing.inter_digit_timeout,
        }[kind]
        return StartTimer(self._token, seconds)

    def _save(self, question: Question, digits: str | None, score: float | None, attempts: int) -> SaveAnswer:
        save = SaveAnswer(self._position, question.key, digits, score, attempts)
        self._answers.append(save)
        return save

    def _finish(self, status: Status) -> Finish:
        self._status = status
        return Finish(status)
