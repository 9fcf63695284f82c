"""The Stasis arguments: the dialplan's Stasis(ivr-survey,operator=<id>[,queue=<name>][,survey=<name>][,lang=<code>]),
Stasis(ivr-survey,consent[,queue=<name>][,lang=<code>]) before the queue,
and a campaign call's appArgs, campaign=<id>,contact=<id>,attempt=<n>,survey=<name>[,operator=<id>][,optout=<key>]."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..survey.events import DTMF_KEYS

# What Asterisk's argument splitter (AST_STANDARD_APP_ARGS, which Stasis uses) acts on: ',' ends an argument,
# '"' and '\' are removed, and a ',' inside () or [] does not split. '=' would make key=value ambiguous.
_UNSAFE = ',="\\()[]'


@dataclass(frozen=True, slots=True)
class SurveyArgs:
    operator: str | None = None
    queue: str | None = None
    survey: str | None = None
    lang: str | None = None
    # A campaign call's: the campaign and contact ids, which attempt this is, and the opt-out key.
    campaign: int | None = None
    contact: int | None = None
    attempt: int | None = None
    optout: str | None = None
    # Stasis(ivr-survey,consent[,queue=...]) before the queue: ask for consent to a survey after the call.
    consent: bool = False
    # Everything as given, unknown keys included, so that nothing the dialplan said is lost.
    raw: dict[str, str] = field(default_factory=dict)


def parse_args(args: list[str]) -> SurveyArgs:
    """key=value in any order; unknown keys are kept. A bare argument is kept as `argN`; the older
    traced form `Stasis(ivr-survey,post-call,7001)` names the operator by a bare all-digit argument.
    A campaign, contact or attempt that is not a whole number, or an optout that is not one DTMF key,
    is kept only in raw: the call then runs as if it had not been given."""
    raw: dict[str, str] = {}
    bare: list[str] = []
    for n, arg in enumerate(args, start=1):
        key, sep, value = arg.partition("=")
        key = key.strip()
        if sep and key:
            raw[key] = value.strip()
        elif arg.strip():
            raw[f"arg{n}"] = arg.strip()
            bare.append(arg.strip())
    operator = raw.get("operator") or next((b for b in bare if b.isdigit()), None)
    optout = raw.get("optout")
    return SurveyArgs(
        operator=operator or None,
        queue=raw.get("queue") or None,
        survey=raw.get("survey") or None,
        lang=raw.get("lang") or None,
        campaign=_whole_number(raw.get("campaign")),
        contact=_whole_number(raw.get("contact")),
        attempt=_whole_number(raw.get("attempt")),
        optout=optout if optout in DTMF_KEYS else None,
        consent="consent" in bare,
        raw=raw,
    )


def _whole_number(value: str | None) -> int | None:
    # ASCII digits only: int() would also take "+7", "1_000" and other scripts' digits.
    return int(value) if value and value.isascii() and value.isdigit() else None


def arg_problem(text: str) -> str | None:
    """Why a value cannot travel as one Stasis argument, or None."""
    if not text or text != text.strip():
        return "empty, or spaces around it"
    if any(char in _UNSAFE for char in text):
        return f"it holds one of {_UNSAFE}"
    return None


def campaign_args(
    *,
    campaign: int,
    contact: int,
    attempt: int,
    survey: str,
    operator: str | None,
    optout: str | None,
    lang: str | None = None,
) -> str:
    """The appArgs of a campaign call's POST /channels, which parse_args reads back from its StasisStart.

    Raises ValueError for an id or attempt that is not a positive integer, an optout that is not one DTMF
    key, or a text that would not come back as given (empty, surrounded by spaces, or holding one of
    , = " \\ ( ) [ ] — a ',' would split it into two arguments)."""
    for key, number in (("campaign", campaign), ("contact", contact), ("attempt", attempt)):
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ValueError(f"{key} must be a positive integer, got {number!r}")
    if optout is not None and optout not in DTMF_KEYS:
        raise ValueError(f"optout must be one of the keys 0-9, *, #, A-D, got {optout!r}")
    texts = {"survey": survey, "operator": operator, "optout": optout, "lang": lang}
    for key, text in texts.items():
        if text is not None and (problem := arg_problem(text)) is not None:
            raise ValueError(f"{key} {text!r} cannot be a Stasis argument: {problem}")
    given = {"campaign": str(campaign), "contact": str(contact), "attempt": str(attempt), **texts}
    return ",".join(f"{key}={value}" for key, value in given.items() if value is not None)
