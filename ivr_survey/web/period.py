"""The pages' period: a preset (today, the last 7 or 30 days) or a custom range of whole days, in the viewer's time
zone, turned into the half-open UTC interval the storage functions take."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PRESETS = ("today", "7d", "30d", "custom")
_PRESET_DAYS = {"today": 1, "7d": 7, "30d": 30}
MAX_DAYS = 366  # a page longer than a year is a report: the API serves those
WEEKLY_FROM_DAYS = 32  # a trend over more days than this is drawn by week


class PeriodError(ValueError):
    """A period the pages refuse: `key` names the message in the catalogue."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True, slots=True)
class PagePeriod:
    preset: str
    first_day: date  # inclusive, local
    last_day: date  # inclusive, local
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(0), self.tz).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time(0), self.tz).astimezone(UTC)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def default_unit(self) -> str:
        return "week" if self.days > WEEKLY_FROM_DAYS else "day"


FIRST_YEAR, LAST_YEAR = 1970, 9000  # beyond these a day's bounds overflow in some time zone, and no call is there


def parse_day(raw: str | None, key: str) -> date | None:
    """A YYYY-MM-DD day of the pages, or PeriodError(key)."""
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise PeriodError(key) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise PeriodError(key)
    return day


def resolve_period(
    preset: str | None, from_day: str | None, to_day: str | None, tz: ZoneInfo, now: datetime
) -> PagePeriod:
    """The period a page shows. A preset ends today (local); custom days are both inclusive."""
    today = now.astimezone(tz).date()
    given_from, given_to = parse_day(from_day, "error.bad_from"), parse_day(to_day, "error.bad_to")
    if preset is None:
        preset = "custom" if given_from or given_to else "7d"
    if preset not in PRESETS:
        raise PeriodError("error.bad_period")
    if preset != "custom":
        return PagePeriod(preset, today - timedelta(days=_PRESET_DAYS[preset] - 1), today, tz)
    first = given_from or today - timedelta(days=6)
    last = given_to or today
    if last < first:
        raise PeriodError("error.to_before_from")
    if (last - first).days + 1 > MAX_DAYS:
        raise PeriodError("error.period_too_long")
    return PagePeriod("custom", first, last, tz)
