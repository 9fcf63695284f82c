"""When a campaign may call a customer: its calling hours, read in the customer's zone. Pure: the clock is an
argument. Shared by the API (which checks and shows a campaign's hours) and the dialer (which keeps them).

Calling hours are read on the wall clock of a zone: 09:00-20:00 Europe/Moscow is 09:00-20:00 on the clocks
there whatever their UTC offset that day, so a DST change moves the window in UTC, not on the customer's clock.
A window may cross midnight (from 20:00 to 02:00): the part after midnight belongs to the day it started on,
so with weekdays Monday-Friday, Friday night until 02:00 Saturday is allowed and Monday 00:00-02:00 is not.
A wall-clock time a DST change skips opens the window when the clocks jump past it; an hour the clocks repeat
is inside or outside the window both times, as the wall clock says.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_START = time(9)
DEFAULT_END = time(20)
DEFAULT_TIMEZONE = "Europe/Moscow"
DEFAULT_WEEKDAYS = frozenset({1, 2, 3, 4, 5})
_KEYS = ("from", "to", "timezone", "weekdays")
_HH_MM = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
# next_opening looks for an offset change a day at a time: no zone changes its offset twice in a day.
_STEP = timedelta(days=1)


class ScheduleError(ValueError):
    """Refused calling hours or pacing; `field` names what was wrong as the API spells it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def shown(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _zone(name: str, field: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(field, f"{shown(name)} is not a known time zone (e.g. Europe/Moscow)") from None


def _weekday_problem(day: object) -> str | None:
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 7:
        return f"{shown(day)} is not a weekday (1=Monday .. 7=Sunday)"
    return None


def aware(at: datetime) -> datetime:
    if at.utcoffset() is None:
        raise ValueError(f"{at.isoformat()} has no time zone; the dialer's clock is aware")
    return at.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class CallingHours:
    start: time = DEFAULT_START
    end: time = DEFAULT_END
    timezone: str = DEFAULT_TIMEZONE  # IANA
    weekdays: frozenset[int] = DEFAULT_WEEKDAYS  # ISO: 1=Monday .. 7=Sunday

    def __post_init__(self) -> None:
        for key, clock in (("from", self.start), ("to", self.end)):
            if clock.tzinfo is not None or clock.second or clock.microsecond:
                raise ScheduleError(f"calling_hours.{key}", "must be a wall-clock time in whole minutes")
        if self.start == self.end:
            raise ScheduleError("calling_hours", f"from and to are both {self.start:%H:%M}; the window would be empty")
        _zone(self.timezone, "calling_hours.timezone")
        if not self.weekdays:
            raise ScheduleError("calling_hours.weekdays", "must name at least one day (1=Monday .. 7=Sunday)")
        for day in sorted(self.weekdays, key=repr):
            problem = _weekday_problem(day)
            if problem is not None:
                raise ScheduleError("calling_hours.weekdays", problem)

    @classmethod
    def parse(cls, raw: Mapping[str, object] | None) -> CallingHours:
        """The API's {"from": "09:00", "to": "20:00", "timezone": "Europe/Moscow", "weekdays": [1, 2, 3, 4, 5]};
        a key left out or null takes its default. An unknown key is refused, so that a typo is not a default."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ScheduleError("calling_hours", f"must be an object with the keys {', '.join(_KEYS)}")
        unknown = sorted(str(key) for key in raw if key not in _KEYS)
        if unknown:
            raise ScheduleError("calling_hours", f'unknown key "{unknown[0]}"; the keys are {", ".join(_KEYS)}')
        timezone = raw.get("timezone")
        if timezone is not None and not isinstance(timezone, str):
            raise ScheduleError("calling_hours.timezone", f"{shown(timezone)} is not a time zone name")
        return cls(
            start=_clock(raw.get("from"), "from", DEFAULT_START),
            end=_clock(raw.get("to"), "to", DEFAULT_END),
            timezone=DEFAULT_TIMEZONE if timezone is None else timezone,
            weekdays=_weekdays(raw.get("weekdays")),
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "from": f"{self.start:%H:%M}",
            "to": f"{self.end:%H:%M}",
            "timezone": self.timezone,
            "weekdays": sorted(self.weekdays),
        }

    def allows(self, at: datetime, zone: str | None = None) -> bool:
        """Whether a call may be placed at `at` (aware), on the clock of `zone` (a contact's own time zone) or
        else of the campaign's."""
        return self._open(aware(at).astimezone(self._tz(zone)))

    def next_opening(self, at: datetime, zone: str | None = None) -> datetime:
        """The first moment >= `at` when a call is allowed, in UTC: `at` itself when it is allowed."""
        at = aware(at)
        tz = self._tz(zone)
        if self._open(at.astimezone(tz)):
            return at
        # The window opens only when the wall clock reaches `from` or when the offset changes (a DST jump into
        # the window); try those moments in order, one step of time at a time.
        low = at
        while True:
            high = low + _STEP
            candidates = sorted({*self._starts_within(tz, low, high), *_offset_change(tz, low, high)})
            for moment in candidates:
                if self._open(moment.astimezone(tz)):
                    return moment
            low = high

    def _tz(self, zone: str | None) -> ZoneInfo:
        return _zone(zone, "timezone") if zone else _zone(self.timezone, "calling_hours.timezone")

    def _open(self, local: datetime) -> bool:
        clock = local.time()
        weekday = local.isoweekday()
        if self.start < self.end:
            return self.start <= clock < self.end and weekday in self.weekdays
        if clock >= self.start:
            return weekday in self.weekdays
        # after midnight: the window belongs to the day before
        return clock < self.end and (weekday - 2) % 7 + 1 in self.weekdays

    def _starts_within(self, tz: ZoneInfo, low: datetime, high: datetime) -> Iterator[datetime]:
        """The moments in [low, high) when the wall clock shows `from`: twice in an hour the clocks repeat,
        never in one they skip."""
        first = low.astimezone(tz).date() - timedelta(days=1)
        last = high.astimezone(tz).date() + timedelta(days=1)
        for n in range((last - first).days + 1):
            day = first + timedelta(days=n)
            if day.isoweekday() not in self.weekdays:  # a window opens on its own day only
                continue
            for fold in (0, 1):
                wall = datetime.combine(day, self.start, tzinfo=tz).replace(fold=fold)
                moment = wall.astimezone(UTC)
                if moment.astimezone(tz).replace(tzinfo=None) == wall.replace(tzinfo=None) and low <= moment < high:
                    yield moment


def _clock(value: object, key: str, default: time) -> time:
    if value is None:
        return default
    match = _HH_MM.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ScheduleError(f"calling_hours.{key}", f"{shown(value)} is not a time of day HH:MM (00:00 to 23:59)")
    return time(int(match[1]), int(match[2]))


def _weekdays(value: object) -> frozenset[int]:
    if value is None:
        return DEFAULT_WEEKDAYS
    if not isinstance(value, list | tuple):
        raise ScheduleError("calling_hours.weekdays", "must be a list of days (1=Monday .. 7=Sunday)")
    for day in value:
        problem = _weekday_problem(day)
        if problem is not None:
            raise ScheduleError("calling_hours.weekdays", problem)
    return frozenset(value)


def _offset_change(tz: ZoneInfo, low: datetime, high: datetime) -> list[datetime]:
    """The moment in (low, high] when the zone's UTC offset changes, if it does (to the second: tzdata's
    changes fall on whole seconds)."""

    def offset(second: int) -> timedelta | None:
        return datetime.fromtimestamp(second, tz).utcoffset()

    before, after = math.floor(low.timestamp()), math.floor(high.timestamp())
    old = offset(before)
    if offset(after) == old:
        return []
    while after - before > 1:
        middle = (before + after) // 2
        if offset(middle) == old:
            before = middle
        else:
            after = middle
    return [datetime.fromtimestamp(after, UTC)]
