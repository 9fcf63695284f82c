"""The New campaign form: its fields filled with the API's defaults, a posted form turned into the API's own body
model (so the page refuses exactly what POST /campaigns refuses), and each refusal, the model's or the service's,
as a message in the viewer's language next to its field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from multidict import MultiMapping
from pydantic import ValidationError

from ..api.campaigns import CampaignRequest
from ..api.errors import Invalid
from ..db.campaigns import MAX_CALLER_ID, MAX_CAMPAIGN_NAME
from ..service.campaigns import BOUNDS, OPT_OUT_KEYS, calling_hours
from ..service.refusals import Refused
from .i18n import Translator

WEEKDAYS = range(1, 8)  # 1 is Monday, as calling hours number them
_DAYS = {str(day): day for day in WEEKDAYS}
# The time zones offered as you type (any IANA name is taken): Russia's, west to east, and UTC.
ZONES = (
    "Europe/Kaliningrad",
    "Europe/Moscow",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Omsk",
    "Asia/Novosibirsk",
    "Asia/Krasnoyarsk",
    "Asia/Irkutsk",
    "Asia/Yakutsk",
    "Asia/Vladivostok",
    "Asia/Magadan",
    "Asia/Kamchatka",
    "UTC",
)
_WHOLE = re.compile(r"-?[0-9]{1,9}")
# The body's fields within calling_hours, by the form's names
_HOURS = {"hours_from": "from", "hours_to": "to", "hours_timezone": "timezone"}


@dataclass(slots=True)
class CampaignForm:
    """The form as shown: each field's text, the days ticked, and the message under each refused field."""

    values: dict[str, str]
    weekdays: set[int]
    errors: dict[str, str] = field(default_factory=dict)
    problem: str | None = None  # a refusal no field of the form stands for


def _default(name: str) -> Any:
    return CampaignRequest.model_fields[name].get_default(call_default_factory=True)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def defaults() -> CampaignForm:
    """The form of a new campaign, filled with what POST /campaigns takes when a field is left out."""
    names = ("survey", "caller_id", "concurrency", "calls_per_minute", "ring_timeout", "max_attempts", "opt_out_key")
    values = {"name": "", "endpoint": "", **{name: _text(_default(name)) for name in names}}
    values["retry_delay"] = str(_default("retry_delay") // 60)
    hours = _default("calling_hours")
    values.update({name: str(hours[key]) for name, key in _HOURS.items()})
    return CampaignForm(values, set(hours["weekdays"]))


def posted(form: MultiMapping[Any]) -> CampaignForm:
    """The form as the browser sent it (text fields trimmed)."""
    shown = defaults()
    values = {name: str(form.get(name, "")).strip() for name in shown.values}
    days = {_DAYS[day] for day in form.getall("weekdays", []) if day in _DAYS}
    return CampaignForm(values, days)


def _whole(raw: str, *, scale: int = 1, empty: object = "") -> object:
    """A number field's value for the body: a whole number (times scale), else the text itself, which the body's
    parser refuses as the API would."""
    if not raw:
        return empty
    return int(raw) * scale if _WHOLE.fullmatch(raw) else raw


def body(form: CampaignForm) -> dict[str, Any]:
    """The form as the JSON body POST /campaigns takes."""
    v = form.values
    return {
        "name": v["name"],
        "survey": v["survey"],
        "endpoint": v["endpoint"],
        "caller_id": v["caller_id"] or None,
        "concurrency": _whole(v["concurrency"]),
        "calls_per_minute": _whole(v["calls_per_minute"], empty=None),
        "ring_timeout": _whole(v["ring_timeout"]),
        "max_attempts": _whole(v["max_attempts"]),
        "retry_delay": _whole(v["retry_delay"], scale=60),
        "calling_hours": {
            **{key: v[name] for name, key in _HOURS.items()},
            "weekdays": sorted(form.weekdays),
        },
        "opt_out_key": v["opt_out_key"] or None,
    }


def _bounds(name: str, scale: int = 1) -> dict[str, int]:
    low, high = BOUNDS[name]
    return {"low": low // scale, "high": high // scale}


def field_message(name: str, tr: Translator) -> str:
    """What a form field takes, said when it was refused."""
    if name == "name":
        return tr.t("bad.text", max=MAX_CAMPAIGN_NAME)
    if name == "caller_id":
        return tr.t("bad.optional_text", max=MAX_CALLER_ID)
    if name == "endpoint":
        return tr.t("bad.endpoint")
    if name == "calls_per_minute":
        return tr.t("bad.whole_or_empty", **_bounds(name))
    if name == "retry_delay":
        return tr.t("bad.whole", **_bounds(name, scale=60))
    if name in BOUNDS:
        return tr.t("bad.whole", **_bounds(name))
    if name in ("hours_from", "hours_to"):
        return tr.t("bad.time")
    if name == "hours_timezone":
        return tr.t("bad.timezone")
    if name == "weekdays":
        return tr.t("bad.weekdays")
    assert name == "opt_out_key", name
    return tr.t("bad.opt_out_key")


def _hours_errors(form: CampaignForm, tr: Translator) -> dict[str, str]:
    """Each refused field of the calling hours: the body's parser stops at the first, the form names them all."""
    hours = body(form)["calling_hours"]
    errors = {}
    for name, key in (*_HOURS.items(), ("weekdays", "weekdays")):
        try:
            calling_hours({key: hours[key]})
        except Refused as exc:
            if exc.details.get("parameter") == f"calling_hours.{key}":
                errors[name] = field_message(name, tr)
    return errors


def request_of(form: CampaignForm, tr: Translator) -> CampaignRequest | None:
    """The API's body model of the form, or None with the form's errors set."""
    try:
        return CampaignRequest.model_validate(body(form))
    except ValidationError as exc:
        for error in exc.errors():
            refused = error.get("ctx", {}).get("error")
            parameter = str(error["loc"][0])
            if isinstance(refused, Invalid) and refused.parameter:
                parameter = refused.parameter
            if parameter == "calling_hours":  # the window as a whole: from equal to to
                form.errors["hours_to"] = tr.t("bad.window")
            elif parameter.startswith("calling_hours."):
                form.errors.update(_hours_errors(form, tr))
            elif parameter in form.values:
                form.errors[parameter] = field_message(parameter, tr)
            else:  # no field of this form stands for it: the API's own words
                form.problem = refused.message.format(name=parameter) if isinstance(refused, Invalid) else str(exc)
        return None


def refused(form: CampaignForm, exc: Refused, tr: Translator) -> None:
    """The service's refusal of a campaign (what only the database can tell) under its field."""
    parameter = exc.details.get("parameter")
    if parameter == "survey":
        form.errors["survey"] = tr.t("bad.no_survey", survey=form.values["survey"])
    elif parameter == "opt_out_key" and "question" in exc.details:
        form.errors["opt_out_key"] = tr.t(
            "bad.opt_out_conflict", pressed=form.values["opt_out_key"], question=exc.details["question"]
        )
    else:
        form.problem = exc.message


def choices(surveys: list[str], form: CampaignForm) -> Mapping[str, Any]:
    """What the form's selects and lists offer: the stored surveys (and the one asked for, should it be gone),
    the opt-out keys, the days and the zones."""
    names = (
        surveys if not form.values["survey"] or form.values["survey"] in surveys else [*surveys, form.values["survey"]]
    )
    return {"surveys": names, "keys": OPT_OUT_KEYS, "weekdays": WEEKDAYS, "zones": ZONES}
