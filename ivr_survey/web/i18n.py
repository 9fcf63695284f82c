"""The pages' two languages: every label in English and Russian, numbers and dates in the language's own way
(Babel's CLDR data: `1 234,5` in Russian), and the choice of language: a remembered switch, else the browser's
Accept-Language, else English."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, get_day_names
from babel.numbers import format_decimal

from ..cqr import CALL_TYPES, CRITERIA
from .catalog import MESSAGES

LANGUAGES = ("en", "ru")
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "ivr_lang"


def accepted_language(header: str | None) -> str | None:
    """The first of our languages in an Accept-Language header, by the header's quality values."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else None


def choose_language(cookie: str | None, accept_language: str | None) -> str:
    if cookie in LANGUAGES:
        return cookie
    return accepted_language(accept_language) or DEFAULT_LANGUAGE


class Translator:
    """Labels and formats of one language, as the templates use them (`t(...)`, `fmt.num(...)`)."""

    def __init__(self, lang: str, tz: ZoneInfo) -> None:
        assert lang in LANGUAGES
        self.lang = lang
        self.tz = tz

    def t(self, key: str, **values: object) -> str:
        entry = MESSAGES.get(key)
        text = entry[self.lang] if entry is not None else key
        return text.format(**values) if values else text

    def num(self, value: float, digits: int = 1) -> str:
        """Rounded half up, as the CQR arithmetic and the page's script round (Babel alone rounds half to even)."""
        exact = Decimal(str(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(exact, format=pattern, locale=self.lang)

    def pct(self, share: float, digits: int = 1) -> str:
        """A share 0..1 as a percentage."""
        sign = "\u00a0%" if self.lang == "ru" else "%"
        return self.num(share * 100, digits) + sign

    def date(self, day: dt.date) -> str:
        return format_date(day, format="medium", locale=self.lang)

    def short_date(self, day: dt.date) -> str:
        return format_date(day, format="d MMM" if self.lang == "ru" else "MMM d", locale=self.lang)

    def moment(self, at: dt.datetime | None) -> str:
        """A stored instant in the viewer's time zone."""
        if at is None:
            return ""
        return format_datetime(at, format="short", tzinfo=self.tz, locale=self.lang)

    def weekday(self, iso: int) -> str:
        """A weekday's short name; 1 is Monday, as calling hours number them."""
        return str(get_day_names("abbreviated", locale=self.lang)[iso - 1])

    def call_type(self, key: str) -> str:
        return _label(CALL_TYPES, key, self.lang)

    def call_type_description(self, key: str) -> str:
        return _label(CALL_TYPES, key, self.lang, "description")

    def criterion(self, key: str) -> str:
        return _label(CRITERIA, key, self.lang)

    def criterion_description(self, key: str) -> str:
        return _label(CRITERIA, key, self.lang, "description")


def _label(table: Mapping[str, Mapping[str, str]], key: str, lang: str, field: str = "name") -> str:
    entry = table.get(key)
    if entry is None:
        return key
    return entry.get(f"{field}_{lang}") or entry[field]
