"""The dialplan contract: Stasis(ivr-survey,operator=<id>[,queue=<name>][,survey=<name>][,lang=<code>])."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SurveyArgs:
    operator: str | None = None
    queue: str | None = None
    survey: str | None = None
    lang: str | None = None
    # Everything as given, unknown keys included, so that nothing the dialplan said is lost.
    raw: dict[str, str] = field(default_factory=dict)


def parse_args(args: list[str]) -> SurveyArgs:
    """key=value in any order; unknown keys are kept. A bare argument is kept as `argN`; the older
    traced form `Stasis(ivr-survey,post-call,7001)` names the operator by a bare all-digit argument."""
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
    return SurveyArgs(
        operator=operator or None,
        queue=raw.get("queue") or None,
        survey=raw.get("survey") or None,
        lang=raw.get("lang") or None,
        raw=raw,
    )
