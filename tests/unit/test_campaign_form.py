"""The Campaigns pages' pure parts: the New campaign form as the API's body and its refusals in words, the
commands a state takes, and the progress bar."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from multidict import MultiDict

from ivr_survey.service.refusals import Refused
from ivr_survey.web import campaign_form, charts
from ivr_survey.web.campaigns import commands
from ivr_survey.web.i18n import Translator

EN = Translator("en", ZoneInfo("UTC"))
RU = Translator("ru", ZoneInfo("UTC"))
FILLED = {
    "name": " Weekend ",
    "survey": "default",
    "endpoint": "Local/{number}@customers",
    "caller_id": "",
    "concurrency": "10",
    "calls_per_minute": "",
    "ring_timeout": "25",
    "max_attempts": "2",
    "retry_delay": "90",
    "hours_from": "10:00",
    "hours_to": "18:30",
    "hours_timezone": "Asia/Yekaterinburg",
    "opt_out_key": "#",
}


def posted(**fields: str) -> campaign_form.CampaignForm:
    data = MultiDict({**FILLED, **fields})
    for day in ("6", "7", "8", "x"):  # a day that is none is dropped
        data.add("weekdays", day)
    return campaign_form.posted(data)


def test_the_defaults_are_the_apis() -> None:
    form = campaign_form.defaults()
    assert form.values == {
        "name": "",
        "endpoint": "",
        "survey": "default",
        "caller_id": "",
        "concurrency": "5",
        "calls_per_minute": "",
        "ring_timeout": "30",
        "max_attempts": "3",
        "opt_out_key": "9",
        "retry_delay": "30",  # 1800 s
        "hours_from": "09:00",
        "hours_to": "20:00",
        "hours_timezone": "Europe/Moscow",
    }
    assert form.weekdays == {1, 2, 3, 4, 5}


def test_a_posted_form_is_the_body_post_campaigns_takes() -> None:
    form = posted()
    assert campaign_form.body(form) == {
        "name": "Weekend",
        "survey": "default",
        "endpoint": "Local/{number}@customers",
        "caller_id": None,
        "concurrency": 10,
        "calls_per_minute": None,
        "ring_timeout": 25,
        "max_attempts": 2,
        "retry_delay": 5400,
        "calling_hours": {"from": "10:00", "to": "18:30", "timezone": "Asia/Yekaterinburg", "weekdays": [6, 7]},
        "opt_out_key": "#",
    }
    request = campaign_form.request_of(form, EN)
    assert request is not None and not form.errors
    assert request.new_campaign().calling_hours == {
        "from": "10:00",
        "to": "18:30",
        "timezone": "Asia/Yekaterinburg",
        "weekdays": [6, 7],
    }


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"name": ""}, {"name": "Required: one line of at most 200 characters."}),
        ({"caller_id": "x" * 201}, {"caller_id": "One line of at most 200 characters, or empty."}),
        ({"concurrency": "201"}, {"concurrency": "A whole number from 1 to 200."}),
        ({"concurrency": "1e3"}, {"concurrency": "A whole number from 1 to 200."}),
        ({"calls_per_minute": "0"}, {"calls_per_minute": "A whole number from 1 to 600, or empty for no limit."}),
        ({"ring_timeout": ""}, {"ring_timeout": "A whole number from 5 to 300."}),
        ({"max_attempts": "-1"}, {"max_attempts": "A whole number from 1 to 20."}),
        ({"retry_delay": "10081"}, {"retry_delay": "A whole number from 0 to 10080."}),
        ({"hours_to": "8 pm"}, {"hours_to": "A time of day, 00:00 to 23:59."}),
        (
            {"hours_from": "", "hours_timezone": "Moscow"},
            {
                "hours_from": "A time of day, 00:00 to 23:59.",
                "hours_timezone": "Not a time zone name the service knows, e.g. Europe/Moscow.",
            },
        ),
        ({"hours_from": "18:30"}, {"hours_to": "From and to are the same time: the calling window would be empty."}),
        ({"opt_out_key": "A"}, {"opt_out_key": "One key of 0-9, * or #, or none."}),
    ],
)
def test_each_refused_field_is_said_under_it(fields: dict[str, str], errors: dict[str, str]) -> None:
    form = posted(**fields)
    assert campaign_form.request_of(form, EN) is None
    assert (form.errors, form.problem) == (errors, None)


def test_no_day_ticked_in_russian() -> None:
    form = campaign_form.posted(MultiDict(FILLED))
    assert campaign_form.request_of(form, RU) is None
    assert form.errors == {"weekdays": "Отметьте хотя бы один день."}


@pytest.mark.parametrize(
    ("refusal", "errors", "problem"),
    [
        (
            Refused("invalid_parameter", "no survey 'x' is stored", {"parameter": "survey"}),
            {"survey": "No survey default is stored; an administrator adds it (ivr-survey survey add FILE)."},
            None,
        ),
        (
            Refused("invalid_parameter", "...", {"parameter": "opt_out_key", "question": "nps"}),
            {"opt_out_key": "Key # starts an answer to the question «nps» of this survey: choose another key or none."},
            None,
        ),
        (Refused("invalid_parameter", "something new", {"parameter": "other"}), {}, "something new"),
    ],
)
def test_the_services_refusals_under_their_field(refusal: Refused, errors: dict[str, str], problem: str | None) -> None:
    form = posted()
    campaign_form.refused(form, refusal, EN)
    assert (form.errors, form.problem) == (errors, problem)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("draft", ["start", "cancel"]),
        ("running", ["pause", "cancel"]),
        ("paused", ["resume", "cancel"]),
        ("finished", []),
        ("cancelled", []),
    ],
)
def test_the_commands_each_state_takes(state: str, expected: list[str]) -> None:
    assert commands(state) == expected


def test_the_progress_bar_fills_its_parts_in_order() -> None:
    parts = [charts.Part("done", 3, "o-a"), charts.Part("none", 0, "o-b"), charts.Part("<line>", 1, "o-c")]
    svg = charts.progress_bar(parts, 8, label="4 of 8", fmt=lambda v: f"{v:.0f}")
    assert svg == (
        '<svg class="progress" viewBox="0 0 1000 10" preserveAspectRatio="none" role="img" aria-label="4 of 8">'
        '<rect class="track" x="0" y="0" width="1000" height="10"/>'
        '<rect class="o-a" x="0.0" y="0" width="375.0" height="10"><title>done: 3</title></rect>'
        '<rect class="o-c" x="375.0" y="0" width="125.0" height="10"><title>&lt;line&gt;: 1</title></rect></svg>'
    )
    empty = charts.progress_bar(parts, 0, label="0 of 0", fmt=str)
    assert empty.count("<rect") == 1  # the track alone


def test_a_bar_chart_of_ones_has_whole_grid_lines() -> None:
    svg = charts.bar_chart(["4", "5"], [charts.Series("n", [0, 1], "s1")], fmt=lambda v: f"{v:g}", empty="none")
    assert [label for label in ("0", "0.2", "0.5", "1") if f">{label}</text>" in svg] == ["0", "1"]
