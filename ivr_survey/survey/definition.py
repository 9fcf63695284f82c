"""What a survey asks: its questions, their prompts and the scores of the valid answers.

Definitions live as JSON in survey_versions.definition and arrive through the API, so the
constructors validate everything the state machine relies on (a bad definition must fail when it
is saved, not in the middle of a call), and from_dict/to_dict are exact inverses.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .events import DTMF_KEYS

# A valid answer is what the caller keys in before '#': '#' ends an answer and A-D are missing
# from most phones, so neither may be part of one.
_ANSWER = re.compile(r"[0-9*]+")

# How summaries read a question's answers: a scale (distribution and average), a net promoter score (0-10:
# promoters 9-10, detractors 0-6) or a yes/no question (yes scores 1, no 0).
QUESTION_KINDS = ("scale", "nps", "yes_no")
_NPS_SCORES = frozenset(float(n) for n in range(11))
_YES_NO_SCORES = frozenset({0.0, 1.0})
_ONE_TO_FIVE = frozenset(float(n) for n in range(1, 6))
_TOP_TWO_OF_FIVE = frozenset({4.0, 5.0})
_OPTED_OUT_PROMPT = "survey-opted-out"


class SurveyDefinitionError(ValueError):
    """A survey definition that cannot be run; the message says what is wrong and where."""


def _frozen_str_map(value: object, where: str, *, allow_empty_values: bool) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise SurveyDefinitionError(f"{where} must be an object mapping a language to a string")
    for lang, text in value.items():
        if not isinstance(lang, str) or not lang:
            raise SurveyDefinitionError(f"{where}: language {lang!r} must be a non-empty string")
        if not isinstance(text, str) or (not text and not allow_empty_values):
            kind = "string" if allow_empty_values else "non-empty string"
            raise SurveyDefinitionError(f"{where}[{lang!r}] must be a {kind}")
    # A read-only copy: definitions are shared by every session (and cached), so nobody may edit one.
    return MappingProxyType(dict(value))


def _non_empty_str(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise SurveyDefinitionError(f"{where} must be a non-empty string")
    return value


def _positive_int(value: object, where: str) -> int:
    # bool is an int subclass; True as a version or max_digits is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SurveyDefinitionError(f"{where} must be an integer >= 1, got {value!r}")
    return value


def _listed(value: object, where: str, name: str, what: str) -> list[Any] | None:
    """A list field naming some of a question's answers or scores: None when not given, refused when empty."""
    if value is None:
        return None
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise SurveyDefinitionError(f"{where}: {name} must be a list of {what}")
    items = list(value)
    if not items:
        raise SurveyDefinitionError(f"{where}: {name} must name at least one {what[:-1]}")
    return items


def _satisfied(value: object, scores: frozenset[float], where: str) -> tuple[float, ...] | None:
    """The scores a question counts as satisfied (sorted), each one of its scores; None when not given."""
    items = _listed(value, where, "satisfied", "scores")
    if items is None:
        return None
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | float) or item not in scores:
            raise SurveyDefinitionError(f"{where}: satisfied names {item!r}, which is not a score of an answer")
    if len(set(items)) != len(items):
        raise SurveyDefinitionError(f"{where}: satisfied names a score twice")
    return tuple(sorted(float(item) for item in items))


def _alert(value: object, answers: Mapping[str, float], where: str) -> tuple[str, ...] | None:
    """The answers that alert a supervisor (e.g. "issue not solved"), each a valid answer; None when not given."""
    items = _listed(value, where, "alert", "answers")
    if items is None:
        return None
    for item in items:
        if not isinstance(item, str) or item not in answers:
            raise SurveyDefinitionError(f"{where}: alert names {item!r}, which is not one of its answers")
    if len(set(items)) != len(items):
        raise SurveyDefinitionError(f"{where}: alert names an answer twice")
    return tuple(sorted(items))


def _kind(value: object, scores: frozenset[float], where: str) -> str | None:
    if value is None:
        return None
    if value not in QUESTION_KINDS:
        raise SurveyDefinitionError(f"{where}: kind must be one of {', '.join(QUESTION_KINDS)}, got {value!r}")
    if value == "nps" and not scores <= _NPS_SCORES:
        raise SurveyDefinitionError(f"{where}: kind 'nps' needs whole-number scores from 0 to 10")
    if value == "yes_no" and scores != _YES_NO_SCORES:
        raise SurveyDefinitionError(f"{where}: kind 'yes_no' needs answers scored 1 (yes) and 0 (no)")
    return str(value)


def _check_fields(data: Mapping[str, Any], where: str, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    missing = [name for name in required if name not in data]
    if missing:
        raise SurveyDefinitionError(f"{where}: missing field(s) {', '.join(map(repr, missing))}")
    # Unknown fields are rejected: a typo such as "max_digit" would otherwise silently change the survey.
    unknown = [name for name in data if name not in required + optional]
    if unknown:
        raise SurveyDefinitionError(
            f"{where}: unknown field(s) {', '.join(map(repr, unknown))} (expected {', '.join(required + optional)})"
        )


@dataclass(frozen=True, slots=True)
class Question:
    key: str  # stable id, e.g. "rating"; answers are stored under it
    prompts: Mapping[str, str]  # language -> sound name
    scores: Mapping[str, float]  # valid answer (keys pressed) -> score
    max_digits: int = 1  # >1: multi-key answer ended by '#', max_digits keys or the inter-digit timeout
    text: Mapping[str, str] = field(default_factory=dict)  # wording per language, for docs and the API
    # How summaries read the answers (QUESTION_KINDS); None: inferred from the scores (see summary_kind).
    kind: str | None = None
    # The scores CSAT counts as satisfied; None: 4 and 5 of a 1-5 scale, no CSAT for any other scale.
    satisfied: tuple[float, ...] | None = None
    # Answers a supervisor is alerted of whatever the first question's score (e.g. "2" for "not solved").
    alert: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        key = _non_empty_str(self.key, "question key")
        where = f"question {key!r}"
        prompts = _frozen_str_map(self.prompts, f"{where}: prompts", allow_empty_values=False)
        if not prompts:
            raise SurveyDefinitionError(f"{where}: prompts must name a sound for at least one language")
        max_digits = _positive_int(self.max_digits, f"{where}: max_digits")
        if not isinstance(self.scores, Mapping):
            raise SurveyDefinitionError(f"{where}: scores must be an object mapping an answer to a score")
        if not self.scores:
            raise SurveyDefinitionError(f"{where}: scores is empty, so no answer would be valid")
        scores: dict[str, float] = {}
        for answer, score in self.scores.items():
            if not isinstance(answer, str) or not _ANSWER.fullmatch(answer):
                raise SurveyDefinitionError(f"{where}: answer {answer!r} must be made of the keys 0-9 and *")
            if len(answer) > max_digits:
                raise SurveyDefinitionError(f"{where}: answer {answer!r} is longer than max_digits={max_digits}")
            # NaN and infinities are not JSON and NaN != NaN would break equality; bool is not a score.
            if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
                raise SurveyDefinitionError(f"{where}: score of answer {answer!r} must be a finite number")
            scores[answer] = float(score)
        object.__setattr__(self, "prompts", prompts)
        object.__setattr__(self, "scores", MappingProxyType(scores))
        text = _frozen_str_map(self.text, f"{where}: text", allow_empty_values=True)
        object.__setattr__(self, "text", text)
        values = frozenset(scores.values())
        object.__setattr__(self, "kind", _kind(self.kind, values, where))
        object.__setattr__(self, "satisfied", _satisfied(self.satisfied, values, where))
        object.__setattr__(self, "alert", _alert(self.alert, scores, where))

    def __hash__(self) -> int:
        # Mappings are unhashable; hash their items (order-free, like their equality).
        return hash(
            (
                self.key,
                frozenset(self.prompts.items()),
                frozenset(self.scores.items()),
                self.max_digits,
                frozenset(self.text.items()),
                self.kind,
                self.satisfied,
                self.alert,
            )
        )

    @property
    def summary_kind(self) -> str:
        """The kind given, else nps for the scores 0-10, yes_no for two answers scored 1 and 0, else scale."""
        if self.kind is not None:
            return self.kind
        values = frozenset(self.scores.values())
        if values == _NPS_SCORES:
            return "nps"
        if len(self.scores) == 2 and values == _YES_NO_SCORES:
            return "yes_no"
        return "scale"

    @property
    def satisfied_scores(self) -> frozenset[float] | None:
        """The scores counted as satisfied: those given, else 4 and 5 of a 1-5 scale; None: no CSAT."""
        if self.satisfied is not None:
            return frozenset(self.satisfied)
        return _TOP_TWO_OF_FIVE if frozenset(self.scores.values()) == _ONE_TO_FIVE else None

    def prompt_for(self, language: str, default_language: str) -> str:
        """The sound to play: the caller's language, else the survey's default, else any prompt."""
        for lang in (language, default_language):
            sound = self.prompts.get(lang)
            if sound:
                return sound
        return next(iter(self.prompts.values()))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "question") -> Question:
        if not isinstance(data, Mapping):
            raise SurveyDefinitionError(f"{where} must be an object")
        _check_fields(data, where, ("key", "prompts", "scores"), ("max_digits", "text", "kind", "satisfied", "alert"))
        _non_empty_str(data["key"], f"{where}: key")  # later messages name the question by its key
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key": self.key,
            "prompts": dict(self.prompts),
            "scores": dict(self.scores),
            "max_digits": self.max_digits,
            "text": dict(self.text),
        }
        # Written only when given: versions stored before these fields existed then read back equal, and their
        # summaries keep the meaning the defaults give them.
        if self.kind is not None:
            data["kind"] = self.kind
        if self.satisfied is not None:
            data["satisfied"] = list(self.satisfied)
        if self.alert is not None:
            data["alert"] = list(self.alert)
        return data


@dataclass(frozen=True, slots=True)
class SurveyDefinition:
    name: str
    version: int
    questions: tuple[Question, ...]
    default_language: str = "en"
    invalid_prompt: str = "survey-invalid"  # "that is not a valid choice"
    accepted_prompt: str = "survey-accepted"  # short confirmation between questions
    thanks_prompt: str = "survey-thanks"  # "thank you, goodbye"; also confirms the last answer
    opted_out_prompt: str = _OPTED_OUT_PROMPT  # "you will not be called again"; campaign calls only

    def __post_init__(self) -> None:
        name = _non_empty_str(self.name, "survey name")
        where = f"survey {name!r}"
        _positive_int(self.version, f"{where}: version")
        if isinstance(self.questions, str | bytes | Mapping) or not isinstance(self.questions, Iterable):
            raise SurveyDefinitionError(f"{where}: questions must be a list")
        questions = tuple(self.questions)
        if not questions:
            raise SurveyDefinitionError(f"{where} has no questions")
        seen: set[str] = set()
        for question in questions:
            if not isinstance(question, Question):
                raise SurveyDefinitionError(f"{where}: {question!r} is not a Question")
            if question.key in seen:
                raise SurveyDefinitionError(f"{where}: duplicate question key {question.key!r}")
            seen.add(question.key)
        object.__setattr__(self, "questions", questions)
        for attr in ("default_language", "invalid_prompt", "accepted_prompt", "thanks_prompt", "opted_out_prompt"):
            _non_empty_str(getattr(self, attr), f"{where}: {attr}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SurveyDefinition:
        """Build and validate a definition from its JSON form; raises SurveyDefinitionError."""
        if not isinstance(data, Mapping):
            raise SurveyDefinitionError("a survey definition must be a JSON object")
        optional = ("default_language", "invalid_prompt", "accepted_prompt", "thanks_prompt", "opted_out_prompt")
        _check_fields(data, "survey", ("name", "version", "questions"), optional)
        raw = data["questions"]
        if not isinstance(raw, list | tuple):
            raise SurveyDefinitionError(f"survey {data['name']!r}: questions must be a list")
        questions = tuple(Question.from_dict(q, where=f"questions[{i}]") for i, q in enumerate(raw))
        return cls(
            name=data["name"],
            version=data["version"],
            questions=questions,
            **{name: data[name] for name in optional if name in data},
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (every field spelled out, so stored versions never depend on defaults; one exception)."""
        data: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "default_language": self.default_language,
            "invalid_prompt": self.invalid_prompt,
            "accepted_prompt": self.accepted_prompt,
            "thanks_prompt": self.thanks_prompt,
            "questions": [q.to_dict() for q in self.questions],
        }
        # The exception, written only when not the default: versions stored before it existed then read back equal,
        # so adding the same file again stores no new version (add_survey_version compares the JSON).
        if self.opted_out_prompt != _OPTED_OUT_PROMPT:
            data["opted_out_prompt"] = self.opted_out_prompt
        return data


def opt_out_conflict(definition: SurveyDefinition, key: str) -> str | None:
    """The key of the first question that `key` would start a valid answer to, else None.

    The opt-out key wins over an answer when pressed first, so such a question could never get that answer
    (the 9 and 10 of a 0-10 question with the opt-out key 9)."""
    if key not in DTMF_KEYS:
        raise ValueError(f"the opt-out key must be one of the keys 0-9, *, #, A-D, got {key!r}")
    return next(
        (
            question.key
            for question in definition.questions
            if any(answer.startswith(key) for answer in question.scores)
        ),
        None,
    )


_RATING = Question(
    key="rating",
    prompts={"en": "survey-rate", "ru": "survey-rate"},
    scores={str(n): float(n) for n in range(1, 6)},
    text={"en": "Please rate the conversation from 1 to 5", "ru": "Пожалуйста, оцените разговор от 1 до 5"},
)

DEFAULT_SURVEY = SurveyDefinition(name="default", version=1, questions=(_RATING,))

# Customer satisfaction, first-contact resolution and net promoter score in one call.
EXAMPLE_CSAT_SOLVED_NPS = SurveyDefinition(
    name="csat-solved-nps",
    version=1,
    questions=(
        _RATING,
        Question(
            key="solved",
            prompts={"en": "survey-solved", "ru": "survey-solved"},
            scores={"1": 1.0, "2": 0.0},
            text={
                "en": "Was your issue solved? Press 1 for yes, 2 for no",
                "ru": "Ваш вопрос решён? Нажмите 1, если да, или 2, если нет",
            },
        ),
        Question(
            key="nps",
            prompts={"en": "survey-nps", "ru": "survey-nps"},
            scores={str(n): float(n) for n in range(11)},
            max_digits=2,
            text={
                "en": "How likely are you to recommend us to a friend, from 0 to 10? Press it, then hash",
                "ru": "Насколько вероятно, что вы порекомендуете нас другу, от 0 до 10? Наберите число и #",
            },
        ),
    ),
)
