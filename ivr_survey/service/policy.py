"""Who is offered the survey: a queue's survey policy and the decision it makes for one call, as pure functions
(no I/O, no clock: what the call's facts are is read by the caller and given here), so that every combination of
consent, cooldown and share is a row of a table in the tests.

The checks run in a fixed order and the first that fails is the call's reason: an operator (a call no operator
took has no conversation to rate), consent (when the policy asks for it before the queue), cooldown (the same
caller number was offered a survey within cooldown_days, on any queue), share (a draw from the linkedid, so that
deciding the same call again decides the same)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

DEFAULT_POLICY_QUEUE = "_default"  # the policy of calls with no queue, and of queues with none of their own

Consent = Literal["none", "ask"]
ConsentDefault = Literal["yes", "no"]
Otherwise = Literal["continue", "hangup"]
_FIELDS = ("survey", "share", "cooldown_days", "consent", "consent_default", "languages", "not_offered")


@dataclass(frozen=True, slots=True)
class SurveyPolicy:
    """survey: the survey to ask (None: the service's default; the dialplan's survey= wins over both).
    share: the part of the calls offered it, 0-1. cooldown_days: a caller number offered a survey is not offered
    another for that many days (0: no cooldown). consent: "ask" surveys only callers who agreed before the queue,
    consent_default deciding for a caller who pressed no key there. languages: the languages the survey is asked
    in, the first when the caller's is not among them (empty: any). not_offered: what becomes of a caller who is
    not surveyed: back to the dialplan ("continue") or hung up."""

    survey: str | None = None
    share: float = 1.0
    cooldown_days: int = 0
    consent: Consent = "none"
    consent_default: ConsentDefault = "no"
    languages: tuple[str, ...] = field(default=())
    not_offered: Otherwise = "continue"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SurveyPolicy:
        """A policy from its JSON form; ValueError naming the field for anything else."""
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r}; a policy has {', '.join(_FIELDS)}")
        survey = data.get("survey")
        if survey is not None and (not isinstance(survey, str) or not survey.strip()):
            raise ValueError("survey must be a survey's name, or null for the default one")
        share = data.get("share", 1.0)
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise ValueError(f"share must be a number from 0 to 1, got {share!r}")
        cooldown = data.get("cooldown_days", 0)
        if isinstance(cooldown, bool) or not isinstance(cooldown, int) or not 0 <= cooldown <= 3650:
            raise ValueError(f"cooldown_days must be a whole number of days from 0 to 3650, got {cooldown!r}")
        languages = data.get("languages", [])
        if not isinstance(languages, list) or not all(isinstance(code, str) and code.strip() for code in languages):
            raise ValueError('languages must be a list of language codes, e.g. ["ru", "en"]')
        return cls(
            survey=survey.strip() if survey is not None else None,
            share=float(share),
            cooldown_days=cooldown,
            consent=_one_of("consent", data.get("consent", "none"), ("none", "ask")),
            consent_default=_one_of("consent_default", data.get("consent_default", "no"), ("yes", "no")),
            languages=tuple(dict.fromkeys(code.strip() for code in languages)),
            not_offered=_one_of("not_offered", data.get("not_offered", "continue"), ("continue", "hangup")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "languages": list(self.languages)}

    def language(self, wanted: str) -> str:
        """The language to ask in: the caller's when the policy allows it, else the policy's first."""
        return wanted if not self.languages or wanted in self.languages else self.languages[0]


def _one_of(name: str, value: Any, allowed: tuple[str, ...]) -> Any:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What the decision needs to know of a call. consent: the caller's stored answer before the queue (None:
    never asked). last_offered_at: when the caller's number was last offered a survey (None: never, or the
    number is unknown)."""

    linkedid: str
    now: datetime
    has_operator: bool = True
    consent: bool | None = None
    last_offered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    offered: bool
    reason: str | None = None  # NOT_OFFERED_REASONS, when not offered


OFFER = Decision(offered=True)


def share_draw(linkedid: str) -> float:
    """A number in [0, 1) that only the linkedid decides, spread evenly over linkedids."""
    digest = hashlib.sha256(linkedid.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def in_cooldown(policy: SurveyPolicy, facts: CallFacts) -> bool:
    """Offered within the last cooldown_days: a survey offered exactly that many days ago no longer counts."""
    if not policy.cooldown_days or facts.last_offered_at is None:
        return False
    return facts.now - facts.last_offered_at < timedelta(days=policy.cooldown_days)


def decide(policy: SurveyPolicy, facts: CallFacts) -> Decision:
    if not facts.has_operator:
        return Decision(offered=False, reason="no_operator")
    if policy.consent == "ask" and facts.consent is not True:
        return Decision(offered=False, reason="no_consent")
    if in_cooldown(policy, facts):
        return Decision(offered=False, reason="cooldown")
    if policy.share < 1 and not share_draw(facts.linkedid) < policy.share:
        return Decision(offered=False, reason="sampled_out")
    return OFFER


def cooldown_since(policy: SurveyPolicy, now: datetime) -> datetime | None:
    """From when a caller's earlier surveys count against this call; None: the policy has no cooldown."""
    return now - timedelta(days=policy.cooldown_days) if policy.cooldown_days else None


def consent_choice(policy: SurveyPolicy, digit: str | None) -> tuple[bool, bool]:
    """(agreed, defaulted) for the key pressed at the consent prompt: 1 agrees, 2 refuses, None (no key before
    the time ran out) takes the policy's consent_default."""
    if digit == "1":
        return True, False
    if digit == "2":
        return False, False
    return policy.consent_default == "yes", True
