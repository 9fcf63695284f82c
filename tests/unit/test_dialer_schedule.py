"""The dialer's pure rules: calling hours on the customer's wall clock (DST changes included), pacing, and the
outcome of an unanswered dial from its hang-up causes (checked against the real originate trace)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from ivr_survey.dialer.schedule import RETRIED, DialOutcome, classify, dial_interval, next_dial_after
from ivr_survey.service.calling_hours import CallingHours, ScheduleError
from tests.support.reference import TRACES


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


WEEKDAYS = frozenset({1, 2, 3, 4, 5})
MOSCOW = CallingHours()
NEW_YORK = CallingHours(timezone="America/New_York")
BERLIN = CallingHours(timezone="Europe/Berlin")
# 20:00 to 02:00: the hours after midnight belong to the evening they follow
NIGHTS = CallingHours(time(20), time(2))
# Sunday 2025-03-09 02:00 EST the clocks jump to 03:00 EDT (07:00Z): 02:30 is skipped
NY_SKIPPED = CallingHours(time(2, 30), time(5), "America/New_York", frozenset({7}))
# Sunday 2025-11-02 02:00 EDT the clocks go back to 01:00 EST (06:00Z): 01:30 is shown twice
NY_REPEATED = CallingHours(time(1, 30), time(5), "America/New_York", frozenset({7}))
# Chile moves its clocks at midnight: Sunday 2025-09-07 00:00 -04 becomes 01:00 -03 (04:00Z)
SANTIAGO_MIDNIGHT = CallingHours(time(0), time(6), "America/Santiago", frozenset({7}))


# -- parsing ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, CallingHours(time(9), time(20), "Europe/Moscow", WEEKDAYS)),
        ({}, CallingHours(time(9), time(20), "Europe/Moscow", WEEKDAYS)),
        (
            {"from": "08:30", "to": "21:15", "timezone": "Asia/Vladivostok", "weekdays": [6, 7]},
            CallingHours(time(8, 30), time(21, 15), "Asia/Vladivostok", frozenset({6, 7})),
        ),
        ({"from": "9:05"}, CallingHours(time(9, 5), time(20), "Europe/Moscow", WEEKDAYS)),
        ({"from": "20:00", "to": "00:00"}, CallingHours(time(20), time(0), "Europe/Moscow", WEEKDAYS)),
        ({"weekdays": [7, 1, 1]}, CallingHours(time(9), time(20), "Europe/Moscow", frozenset({1, 7}))),
        (
            {"from": None, "to": None, "timezone": None, "weekdays": None},
            CallingHours(time(9), time(20), "Europe/Moscow", WEEKDAYS),
        ),
        ({"timezone": "UTC", "weekdays": (1,)}, CallingHours(time(9), time(20), "UTC", frozenset({1}))),
    ],
)
def test_parse(raw: dict[str, object] | None, expected: CallingHours) -> None:
    assert CallingHours.parse(raw) == expected


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        (
            {"from": "25:00"},
            "calling_hours.from",
            'calling_hours.from: "25:00" is not a time of day HH:MM (00:00 to 23:59)',
        ),
        ({"to": "09:60"}, "calling_hours.to", 'calling_hours.to: "09:60" is not a time of day HH:MM (00:00 to 23:59)'),
        ({"to": "9"}, "calling_hours.to", 'calling_hours.to: "9" is not a time of day HH:MM (00:00 to 23:59)'),
        (
            {"from": "09:00:00"},
            "calling_hours.from",
            'calling_hours.from: "09:00:00" is not a time of day HH:MM (00:00 to 23:59)',
        ),
        (
            {"from": " 09:00"},
            "calling_hours.from",
            'calling_hours.from: " 09:00" is not a time of day HH:MM (00:00 to 23:59)',
        ),
        ({"to": 900}, "calling_hours.to", "calling_hours.to: 900 is not a time of day HH:MM (00:00 to 23:59)"),
        (
            {"timezone": "Mars/Base"},
            "calling_hours.timezone",
            'calling_hours.timezone: "Mars/Base" is not a known time zone (e.g. Europe/Moscow)',
        ),
        (
            {"timezone": "../etc/passwd"},
            "calling_hours.timezone",
            'calling_hours.timezone: "../etc/passwd" is not a known time zone (e.g. Europe/Moscow)',
        ),
        (
            {"timezone": ""},
            "calling_hours.timezone",
            'calling_hours.timezone: "" is not a known time zone (e.g. Europe/Moscow)',
        ),
        ({"timezone": 3}, "calling_hours.timezone", "calling_hours.timezone: 3 is not a time zone name"),
        (
            {"weekdays": []},
            "calling_hours.weekdays",
            "calling_hours.weekdays: must name at least one day (1=Monday .. 7=Sunday)",
        ),
        (
            {"weekdays": [1, 0]},
            "calling_hours.weekdays",
            "calling_hours.weekdays: 0 is not a weekday (1=Monday .. 7=Sunday)",
        ),
        (
            {"weekdays": [8]},
            "calling_hours.weekdays",
            "calling_hours.weekdays: 8 is not a weekday (1=Monday .. 7=Sunday)",
        ),
        (
            {"weekdays": [True]},
            "calling_hours.weekdays",
            "calling_hours.weekdays: True is not a weekday (1=Monday .. 7=Sunday)",
        ),
        (
            {"weekdays": ["1"]},
            "calling_hours.weekdays",
            'calling_hours.weekdays: "1" is not a weekday (1=Monday .. 7=Sunday)',
        ),
        (
            {"weekdays": [[1]]},
            "calling_hours.weekdays",
            "calling_hours.weekdays: [1] is not a weekday (1=Monday .. 7=Sunday)",
        ),
        (
            {"weekdays": "12345"},
            "calling_hours.weekdays",
            "calling_hours.weekdays: must be a list of days (1=Monday .. 7=Sunday)",
        ),
        (
            {"from": "10:00", "to": "10:00"},
            "calling_hours",
            "calling_hours: from and to are both 10:00; the window would be empty",
        ),
        ({"to": "09:00"}, "calling_hours", "calling_hours: from and to are both 09:00; the window would be empty"),
        (
            {"form": "10:00"},
            "calling_hours",
            'calling_hours: unknown key "form"; the keys are from, to, timezone, weekdays',
        ),
        (
            ["from", "to"],
            "calling_hours",
            "calling_hours: must be an object with the keys from, to, timezone, weekdays",
        ),
    ],
)
def test_parse_refuses(raw: object, field: str, message: str) -> None:
    with pytest.raises(ScheduleError) as refused:
        CallingHours.parse(raw)  # type: ignore[arg-type]
    assert (refused.value.field, str(refused.value)) == (field, message)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"start": time(9, 0, 30)}, "calling_hours.from: must be a wall-clock time in whole minutes"),
        ({"end": time(20, tzinfo=UTC)}, "calling_hours.to: must be a wall-clock time in whole minutes"),
        ({"weekdays": frozenset({1, 8})}, "calling_hours.weekdays: 8 is not a weekday (1=Monday .. 7=Sunday)"),
        ({"weekdays": frozenset()}, "calling_hours.weekdays: must name at least one day (1=Monday .. 7=Sunday)"),
        (
            {"timezone": "Europe/Moskow"},
            'calling_hours.timezone: "Europe/Moskow" is not a known time zone (e.g. Europe/Moscow)',
        ),
    ],
)
def test_construction_refuses(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ScheduleError) as refused:
        CallingHours(**fields)  # type: ignore[arg-type]
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("hours", "shape"),
    [
        (MOSCOW, {"from": "09:00", "to": "20:00", "timezone": "Europe/Moscow", "weekdays": [1, 2, 3, 4, 5]}),
        (NIGHTS, {"from": "20:00", "to": "02:00", "timezone": "Europe/Moscow", "weekdays": [1, 2, 3, 4, 5]}),
        (NY_SKIPPED, {"from": "02:30", "to": "05:00", "timezone": "America/New_York", "weekdays": [7]}),
        (
            CallingHours(time(8, 5), time(17), "UTC", frozenset({7, 3, 5})),
            {"from": "08:05", "to": "17:00", "timezone": "UTC", "weekdays": [3, 5, 7]},
        ),
    ],
)
def test_as_dict_is_the_api_shape_and_parses_back(hours: CallingHours, shape: dict[str, object]) -> None:
    assert hours.as_dict() == shape
    assert CallingHours.parse(shape) == hours


# -- allows -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "at", "zone", "expected"),
    [
        # Moscow is UTC+3 all year; 2025-01-03 is a Friday
        (MOSCOW, "2025-01-03 05:59:59", None, False),
        (MOSCOW, "2025-01-03 06:00", None, True),
        (MOSCOW, "2025-01-03 16:59:59.999999", None, True),
        (MOSCOW, "2025-01-03 17:00", None, False),
        (MOSCOW, "2025-01-04 10:00", None, False),  # Saturday
        (MOSCOW, "2025-01-05 10:00", None, False),  # Sunday
        (MOSCOW, "2025-01-06 10:00", None, True),  # Monday
        # the contact's own zone: Monday 16:00 in Vladivostok (UTC+10) is allowed, 20:00 there is not
        (MOSCOW, "2025-01-06 06:00", "Asia/Vladivostok", True),
        (MOSCOW, "2025-01-06 10:00", "Asia/Vladivostok", False),
        (MOSCOW, "2025-01-05 23:00", "Asia/Vladivostok", True),  # Monday 09:00 there, 02:00 in Moscow
        (MOSCOW, "2025-01-06 05:00", "", False),  # an empty zone is no zone: the campaign's (08:00)
        # New York, DST begins Sunday 2025-03-09: 09:00 is 14:00Z the Friday before, 13:00Z the Monday after
        (NEW_YORK, "2025-03-07 13:59", None, False),
        (NEW_YORK, "2025-03-07 14:00", None, True),
        (NEW_YORK, "2025-03-10 12:59", None, False),
        (NEW_YORK, "2025-03-10 13:00", None, True),
        (NEW_YORK, "2025-03-10 23:59", None, True),
        (NEW_YORK, "2025-03-11 00:00", None, False),
        # ... and ends Sunday 2025-11-02: 09:00 is 13:00Z the Friday before, 14:00Z the Monday after
        (NEW_YORK, "2025-10-31 13:00", None, True),
        (NEW_YORK, "2025-11-03 13:00", None, False),
        (NEW_YORK, "2025-11-03 14:00", None, True),
        (NEW_YORK, "2025-11-04 00:59", None, True),
        (NEW_YORK, "2025-11-04 01:00", None, False),
        # Berlin: summer time from Sunday 2025-03-30, winter time from Sunday 2025-10-26
        (BERLIN, "2025-03-28 07:59", None, False),
        (BERLIN, "2025-03-28 08:00", None, True),
        (BERLIN, "2025-03-31 06:59", None, False),
        (BERLIN, "2025-03-31 07:00", None, True),
        (BERLIN, "2025-10-24 07:00", None, True),
        (BERLIN, "2025-10-27 07:00", None, False),
        (BERLIN, "2025-10-27 08:00", None, True),
        # a campaign in Moscow calling a customer in Berlin across its change
        (MOSCOW, "2025-03-28 07:00", "Europe/Berlin", False),
        (MOSCOW, "2025-03-31 07:00", "Europe/Berlin", True),
        # across midnight: Friday 20:00 until Saturday 02:00 is Friday's; Monday 00:00-02:00 is Sunday's
        (NIGHTS, "2025-01-03 16:59", None, False),  # Friday 19:59
        (NIGHTS, "2025-01-03 17:00", None, True),  # Friday 20:00
        (NIGHTS, "2025-01-03 22:59", None, True),  # Saturday 01:59
        (NIGHTS, "2025-01-03 23:00", None, False),  # Saturday 02:00
        (NIGHTS, "2025-01-04 17:00", None, False),  # Saturday 20:00
        (NIGHTS, "2025-01-05 21:30", None, False),  # Monday 00:30
        (NIGHTS, "2025-01-06 17:00", None, True),  # Monday 20:00
        (NIGHTS, "2025-01-06 21:30", None, True),  # Tuesday 00:30
        (CallingHours(time(20), time(0)), "2025-01-03 20:59", None, True),  # Friday 23:59: until midnight
        (CallingHours(time(20), time(0)), "2025-01-03 21:00", None, False),  # Saturday 00:00
        # a skipped hour: 02:30-05:00 opens when the clocks jump from 01:59:59 EST to 03:00 EDT
        (NY_SKIPPED, "2025-03-09 06:59:59", None, False),
        (NY_SKIPPED, "2025-03-09 07:00", None, True),
        (NY_SKIPPED, "2025-03-09 08:59", None, True),  # 04:59 EDT
        (NY_SKIPPED, "2025-03-09 09:00", None, False),
        # a repeated hour: 01:30 EDT opens, 01:00 EST (the clocks went back) closes, 01:30 EST opens again
        (NY_REPEATED, "2025-11-02 05:29", None, False),
        (NY_REPEATED, "2025-11-02 05:30", None, True),
        (NY_REPEATED, "2025-11-02 06:00", None, False),
        (NY_REPEATED, "2025-11-02 06:30", None, True),
        (NY_REPEATED, "2025-11-02 09:59", None, True),  # 04:59 EST
        (NY_REPEATED, "2025-11-02 10:00", None, False),
    ],
)
def test_allows(hours: CallingHours, at: str, zone: str | None, expected: bool) -> None:
    assert hours.allows(utc(at), zone) is expected


def test_allows_reads_any_aware_datetime() -> None:
    moscow_morning = datetime(2025, 1, 3, 9, 0, tzinfo=timezone(timedelta(hours=3)))
    assert MOSCOW.allows(moscow_morning)
    assert not MOSCOW.allows(moscow_morning - timedelta(microseconds=1))


def test_a_naive_datetime_or_an_unknown_contact_zone_is_refused() -> None:
    naive = "2025-01-03T10:00:00 has no time zone; the dialer's clock is aware"
    with pytest.raises(ValueError) as refused_naive:
        MOSCOW.allows(datetime(2025, 1, 3, 10))
    assert str(refused_naive.value) == naive
    with pytest.raises(ValueError) as refused_naive:
        MOSCOW.next_opening(datetime(2025, 1, 3, 10))
    assert str(refused_naive.value) == naive
    with pytest.raises(ScheduleError) as refused:
        MOSCOW.next_opening(utc("2025-01-03 10:00"), "Mars/Base")
    assert (refused.value.field, str(refused.value)) == (
        "timezone",
        'timezone: "Mars/Base" is not a known time zone (e.g. Europe/Moscow)',
    )


# -- next_opening -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "at", "zone", "expected"),
    [
        (MOSCOW, "2025-01-03 10:00:00.250000", None, "2025-01-03 10:00:00.250000"),  # allowed: at itself
        (MOSCOW, "2025-01-03 03:00", None, "2025-01-03 06:00"),
        (MOSCOW, "2025-01-03 17:00", None, "2025-01-06 06:00"),  # Friday 20:00 -> Monday 09:00
        (MOSCOW, "2025-01-03 17:00:00.000001", None, "2025-01-06 06:00"),
        (MOSCOW, "2025-01-06 10:00", "Asia/Vladivostok", "2025-01-06 23:00"),  # Tuesday 09:00 there
        (MOSCOW, "2025-01-06 10:00", "America/New_York", "2025-01-06 14:00"),  # Monday 09:00 there
        (CallingHours(weekdays=frozenset({3})), "2025-01-02 06:00", None, "2025-01-08 06:00"),  # Thu -> Wed
        (NEW_YORK, "2025-03-08 01:00", None, "2025-03-10 13:00"),  # Friday 20:00 EST -> Monday 09:00 EDT
        (NEW_YORK, "2025-03-09 14:00", None, "2025-03-10 13:00"),  # Sunday, the day of the change
        (NEW_YORK, "2025-11-01 00:00", None, "2025-11-03 14:00"),  # Friday 20:00 EDT -> Monday 09:00 EST
        (BERLIN, "2025-03-28 19:00", None, "2025-03-31 07:00"),  # Friday 20:00 CET -> Monday 09:00 CEST
        (BERLIN, "2025-10-24 18:00", None, "2025-10-27 08:00"),  # Friday 20:00 CEST -> Monday 09:00 CET
        (NIGHTS, "2025-01-03 21:00", None, "2025-01-03 21:00"),  # Saturday 00:00 is Friday's night
        (NIGHTS, "2025-01-03 23:00", None, "2025-01-06 17:00"),  # Saturday 02:00 -> Monday 20:00
        (NIGHTS, "2025-01-05 22:00", None, "2025-01-06 17:00"),  # Monday 01:00 is Sunday's -> Monday 20:00
        (NY_SKIPPED, "2025-03-09 00:00", None, "2025-03-09 07:00"),  # 02:30 skipped: open at 03:00 EDT
        (NY_SKIPPED, "2025-03-09 06:59:59.500000", None, "2025-03-09 07:00"),
        (NY_SKIPPED, "2025-03-09 09:00", None, "2025-03-16 06:30"),  # the next Sunday, 02:30 EDT
        (NY_SKIPPED, "2025-03-02 00:00", None, "2025-03-02 07:30"),  # the Sunday before, 02:30 EST
        (NY_REPEATED, "2025-11-02 05:00", None, "2025-11-02 05:30"),  # 01:30 EDT
        (NY_REPEATED, "2025-11-02 06:00", None, "2025-11-02 06:30"),  # back at 01:00 EST: 01:30 EST
        (SANTIAGO_MIDNIGHT, "2025-09-06 12:00", None, "2025-09-07 04:00"),  # 00:00 skipped: open at 01:00
        (SANTIAGO_MIDNIGHT, "2025-09-01 12:00", None, "2025-09-07 04:00"),
    ],
)
def test_next_opening(hours: CallingHours, at: str, zone: str | None, expected: str) -> None:
    opening = hours.next_opening(utc(at), zone)
    assert (opening, opening.tzinfo) == (utc(expected), UTC)


def test_next_opening_of_an_allowed_moment_is_that_moment_in_utc() -> None:
    at = datetime(2025, 1, 3, 12, 30, 15, 7, tzinfo=timezone(timedelta(hours=3)))
    opening = MOSCOW.next_opening(at)
    assert (opening, opening.tzinfo) == (utc("2025-01-03 09:30:15.000007"), UTC)


@pytest.mark.parametrize(
    ("hours", "first"),
    [
        (NEW_YORK, "2025-03-05 00:00"),
        (NEW_YORK, "2025-10-29 00:00"),
        (BERLIN, "2025-03-26 00:00"),
        (BERLIN, "2025-10-22 00:00"),
        (NY_SKIPPED, "2025-03-06 00:00"),
        (NY_REPEATED, "2025-10-30 00:00"),
        (CallingHours(time(22), time(2, 30), "America/New_York", frozenset(range(1, 8))), "2025-03-06 00:00"),
        (CallingHours(time(22), time(1, 30), "America/New_York", frozenset(range(1, 8))), "2025-10-30 00:00"),
        (CallingHours(time(21), time(2, 30), "Europe/Berlin", frozenset({6, 7})), "2025-03-26 00:00"),
        (CallingHours(time(0), time(0, 30), "Europe/Berlin", frozenset({1})), "2025-10-22 00:00"),
        (SANTIAGO_MIDNIGHT, "2025-09-03 00:00"),
    ],
)
def test_next_opening_is_the_first_allowed_minute_around_a_change(hours: CallingHours, first: str) -> None:
    """Against a minute-by-minute scan of the 16 days around a change (every opening in these zones falls on a
    whole minute)."""
    minutes = [utc(first) + timedelta(minutes=n) for n in range(16 * 24 * 60)]
    upcoming: list[datetime | None] = []
    following: datetime | None = None
    for minute in reversed(minutes):
        following = minute if hours.allows(minute) else following
        upcoming.append(following)
    upcoming.reverse()
    sampled = range(0, 9 * 24 * 60, 7)  # the first 9 days, so that the next opening is within the scan
    assert [hours.next_opening(minutes[n]) for n in sampled] == [upcoming[n] for n in sampled]
    assert None not in [upcoming[n] for n in sampled]


# -- pacing -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("calls_per_minute", "expected"),
    [
        (None, None),
        (1, timedelta(seconds=60)),
        (60, timedelta(seconds=1)),
        (7, timedelta(seconds=8, microseconds=571429)),
        (11, timedelta(seconds=5, microseconds=454546)),  # rounded up: 11 of them fill the minute
        (600, timedelta(microseconds=100000)),
        (70_000_000, timedelta(microseconds=1)),
    ],
)
def test_dial_interval(calls_per_minute: int | None, expected: timedelta | None) -> None:
    assert dial_interval(calls_per_minute) == expected


@pytest.mark.parametrize("calls_per_minute", [1, 7, 11, 13, 60, 97])
def test_no_minute_holds_more_dials_than_allowed(calls_per_minute: int) -> None:
    interval = dial_interval(calls_per_minute)
    assert interval is not None
    assert timedelta(0) <= interval * calls_per_minute - timedelta(minutes=1) < timedelta(microseconds=calls_per_minute)


@pytest.mark.parametrize(
    ("calls_per_minute", "message"),
    [
        (0, "calls_per_minute: 0 is not a whole number of calls >= 1"),
        (-5, "calls_per_minute: -5 is not a whole number of calls >= 1"),
        (True, "calls_per_minute: True is not a whole number of calls >= 1"),
        (2.5, "calls_per_minute: 2.5 is not a whole number of calls >= 1"),
        ("10", 'calls_per_minute: "10" is not a whole number of calls >= 1'),
    ],
)
def test_dial_interval_refuses(calls_per_minute: object, message: str) -> None:
    with pytest.raises(ScheduleError) as refused:
        dial_interval(calls_per_minute)  # type: ignore[arg-type]
    assert (refused.value.field, str(refused.value)) == ("calls_per_minute", message)


@pytest.mark.parametrize(
    ("now", "previous_next", "calls_per_minute", "expected"),
    [
        ("2025-01-03 10:00", None, None, None),  # unpaced
        ("2025-01-03 10:00", "2025-01-03 09:00", None, None),
        ("2025-01-03 10:00", None, 30, "2025-01-03 10:00:02"),  # the campaign's first dial
        ("2025-01-03 10:00", "2025-01-03 09:00", 30, "2025-01-03 10:00:02"),  # idle for an hour: no burst
        ("2025-01-03 10:00", "2025-01-03 10:00", 30, "2025-01-03 10:00:02"),
        # a slot still ahead (10:00:05) is the one this dial takes; the next is an interval after it
        ("2025-01-03 10:00", "2025-01-03 10:00:05", 30, "2025-01-03 10:00:07"),
        ("2025-01-03 10:00", "2025-01-03 10:00", 11, "2025-01-03 10:00:05.454546"),
    ],
)
def test_next_dial_after(
    now: str, previous_next: str | None, calls_per_minute: int | None, expected: str | None
) -> None:
    previous = None if previous_next is None else utc(previous_next)
    assert next_dial_after(utc(now), previous, calls_per_minute) == (None if expected is None else utc(expected))


def test_a_dialer_waking_now_and_then_keeps_the_pace() -> None:
    now, next_at, dials = utc("2025-01-03 10:00"), None, []
    while now < utc("2025-01-03 10:02"):
        if next_at is None or next_at <= now:
            dials.append(now)
            next_at = next_dial_after(now, next_at, 7)
        now += timedelta(milliseconds=250)
    assert len(dials) == 14
    assert min(b - a for a, b in itertools.pairwise(dials)) == timedelta(seconds=8, milliseconds=750)


def test_next_dial_after_takes_aware_times_in_any_zone() -> None:
    moscow = timezone(timedelta(hours=3))
    following = next_dial_after(datetime(2025, 1, 3, 13, 0, tzinfo=moscow), utc("2025-01-03 10:00:05"), 30)
    assert following is not None
    assert (following, following.tzinfo) == (utc("2025-01-03 10:00:07"), UTC)
    with pytest.raises(ValueError) as refused:
        next_dial_after(datetime(2025, 1, 3, 10), None, 30)
    assert str(refused.value) == "2025-01-03T10:00:00 has no time zone; the dialer's clock is aware"


# -- outcomes ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cause", "other_cause", "expected"),
    [
        (17, None, DialOutcome.BUSY),
        (18, None, DialOutcome.NO_ANSWER),
        (19, None, DialOutcome.NO_ANSWER),
        (20, None, DialOutcome.NO_ANSWER),
        (34, None, DialOutcome.CONGESTION),
        (38, None, DialOutcome.CONGESTION),
        (41, None, DialOutcome.CONGESTION),
        (42, None, DialOutcome.CONGESTION),
        (44, None, DialOutcome.CONGESTION),
        (47, None, DialOutcome.CONGESTION),
        (1, None, DialOutcome.FAILED),  # unallocated number
        (3, None, DialOutcome.FAILED),  # no route to destination
        (16, None, DialOutcome.FAILED),  # normal clearing, never answered
        (21, None, DialOutcome.FAILED),  # call rejected
        (22, None, DialOutcome.FAILED),  # number changed
        (27, None, DialOutcome.FAILED),  # destination out of order
        (28, None, DialOutcome.FAILED),  # invalid number format
        (31, None, DialOutcome.FAILED),  # normal, unspecified
        (127, None, DialOutcome.FAILED),  # interworking
        (999, None, DialOutcome.FAILED),
        # Local channels: the ;1 half may say 0 while the ;2 half carries the real cause
        (0, 17, DialOutcome.BUSY),
        (0, 34, DialOutcome.CONGESTION),
        (None, 19, DialOutcome.NO_ANSWER),
        (19, 19, DialOutcome.NO_ANSWER),
        (17, 16, DialOutcome.BUSY),  # a known ;1 cause is the one
        (0, 0, DialOutcome.FAILED),
        (0, None, DialOutcome.FAILED),
        (None, None, DialOutcome.FAILED),
    ],
)
def test_classify(cause: int | None, other_cause: int | None, expected: DialOutcome) -> None:
    assert classify(cause, other_cause) is expected


def test_retried_outcomes() -> None:
    assert sorted(RETRIED) == ["busy", "congestion", "no_answer"]


def test_classify_the_real_originate_trace() -> None:
    """A real Asterisk 22 dialling Local/<exten>@customers: the causes ChannelDestroyed gave for the originated
    (;1) and the far (;2) half of each call, and the outcome of each call that never reached StasisStart."""
    causes: dict[str, dict[str, int]] = {}
    answered: set[str] = set()
    for line in (TRACES / "originate-outcomes.jsonl").read_text(encoding="utf-8").splitlines():
        event = json.loads(line).get("event", {})
        name = event.get("channel", {}).get("name", "")  # Local/busy@customers-00000068;1
        exten, half = name.removeprefix("Local/").partition("@")[0], name.rpartition(";")[2]
        if event.get("type") == "StasisStart":
            answered.add(exten)
        elif event.get("type") == "ChannelDestroyed":
            causes.setdefault(exten, {})[half] = event["cause"]
    assert causes == {
        "answer": {"1": 16, "2": 16},
        "busy": {"1": 0, "2": 17},
        "noanswer": {"1": 19, "2": 19},
        "congestion": {"1": 0, "2": 34},
    }
    assert answered == {"answer"}
    outcomes = {exten: classify(halves["1"], halves["2"]) for exten, halves in causes.items() if exten not in answered}
    assert outcomes == {
        "busy": DialOutcome.BUSY,
        "noanswer": DialOutcome.NO_ANSWER,
        "congestion": DialOutcome.CONGESTION,
    }
