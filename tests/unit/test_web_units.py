"""The workstation's pure parts: languages, formats, periods, charts, the operator table's order."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr_survey.cqr import CALL_TYPES, CRITERIA
from ivr_survey.db.campaigns import PROGRESS_KEYS, TRANSITIONS
from ivr_survey.db.models import CAMPAIGN_STATES
from ivr_survey.web import charts
from ivr_survey.web.catalog import MESSAGES
from ivr_survey.web.i18n import LANGUAGES, Translator, accepted_language, choose_language
from ivr_survey.web.period import PeriodError, resolve_period
from ivr_survey.web.session import SessionCodec, csrf_ok
from ivr_survey.web.views import OperatorLine, worst_first

WEB = Path(__file__).resolve().parents[2] / "ivr_survey" / "web"
MOSCOW = ZoneInfo("Europe/Moscow")


def test_every_label_has_both_languages_and_the_same_placeholders() -> None:
    for key, entry in MESSAGES.items():
        assert set(entry) == set(LANGUAGES), key
        assert all(entry[lang].strip() for lang in LANGUAGES), key
        holes = {lang: set(re.findall(r"{(\w+)}", entry[lang])) for lang in LANGUAGES}
        assert holes["en"] == holes["ru"], key


def test_every_key_the_templates_and_pages_use_is_in_the_catalogue() -> None:
    used: set[str] = set()
    for path in [*WEB.glob("templates/*.html"), *WEB.glob("*.py")]:
        used |= set(re.findall(r"""\bt\(["']([a-z_]+\.[a-z_0-9]+)["']""", path.read_text()))
        used |= set(re.findall(r"""PageRefusal\(\d+, "([a-z_]+\.[a-z_]+)\"""", path.read_text()))
        used |= set(re.findall(r"""PeriodError\("([a-z_]+\.[a-z_]+)"\)""", path.read_text()))
    # keys made from a prefix and a value: every value of each prefix
    prefixed = {"period.": ("today", "7d", "30d", "custom"), "unit.": ("day", "week")}
    prefixed |= {"reason.": ("low_score", "sample")}
    prefixed |= {"role.": ("analyst", "supervisor", "admin")}
    prefixed |= {"direction.": ("inbound", "outbound", "internal")}
    prefixed |= {"disposition.": ("answered", "missed", "busy", "failed", "abandoned_in_queue")}
    prefixed |= {"state.": CAMPAIGN_STATES, "progress.": PROGRESS_KEYS}
    prefixed |= {"command.": tuple(TRANSITIONS), "done.": tuple(TRANSITIONS)}
    for prefix, values in prefixed.items():
        used |= {prefix + v for v in values}
    assert len(used) > 100
    assert sorted(used - MESSAGES.keys()) == []


def test_call_types_and_criteria_have_russian_names() -> None:
    ru, en = Translator("ru", MOSCOW), Translator("en", MOSCOW)
    for key in CALL_TYPES:
        assert ru.call_type(key) != en.call_type(key), key
        assert re.search("[а-яё]", ru.call_type(key).lower()), key
    for key in CRITERIA:
        assert re.search("[а-яё]", ru.criterion(key).lower()), key
        assert re.search("[а-яё]", ru.criterion_description(key).lower()), key
    assert ru.criterion("greeting") == "Приветствие"
    assert en.criterion("greeting") == "Greeting"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"),
        ("en-GB,en;q=0.9,ru;q=0.8", "en"),
        ("de-DE,de;q=0.9,ru;q=0.5,en;q=0.4", "ru"),
        ("en;q=0.2, ru;q=0.9", "ru"),
        ("fr-FR", None),
        ("ru;q=0", None),
        ("", None),
        ("ru;q=abc, en", "en"),
    ],
)
def test_accept_language(header: str, expected: str | None) -> None:
    assert accepted_language(header) == expected


def test_the_remembered_switch_wins_over_the_browser() -> None:
    assert choose_language("en", "ru-RU,ru") == "en"
    assert choose_language("ru", "en-US") == "ru"
    assert choose_language("xx", "ru-RU") == "ru"
    assert choose_language(None, "fr") == "en"


def test_numbers_dates_and_shares_in_each_language() -> None:
    ru, en = Translator("ru", MOSCOW), Translator("en", MOSCOW)
    assert ru.num(1234.5) == "1\u00a0234,5"
    assert en.num(1234.5) == "1,234.5"
    assert ru.num(1234567, 0) == "1\u00a0234\u00a0567"
    assert ru.pct(0.8534) == "85,3\u00a0%"
    assert en.pct(0.8534) == "85.3%"
    # half up, as compute_cqr and the page's script round (Babel alone would give 62,2)
    assert ru.num(62.25, 1) == "62,3"
    assert en.num(0.125, 2) == "0.13"
    assert ru.date(date(2026, 12, 1)) == "1 дек. 2026\u202fг."
    assert en.date(date(2026, 12, 1)) == "Dec 1, 2026"
    assert ru.moment(datetime(2026, 12, 1, 9, 5, tzinfo=UTC)) == "01.12.2026, 12:05"


def test_periods_in_the_viewers_time_zone() -> None:
    now = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)  # already 2 December in Moscow
    today = resolve_period("today", None, None, MOSCOW, now)
    assert (today.first_day, today.last_day) == (date(2026, 12, 2), date(2026, 12, 2))
    assert today.start == datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
    assert today.end == datetime(2026, 12, 2, 21, 0, tzinfo=UTC)
    week = resolve_period(None, None, None, MOSCOW, now)
    assert (week.preset, week.first_day, week.days) == ("7d", date(2026, 11, 26), 7)
    month = resolve_period("30d", None, None, MOSCOW, now)
    assert (month.first_day, month.default_unit) == (date(2026, 11, 3), "day")
    custom = resolve_period(None, "2026-01-01", "2026-03-31", MOSCOW, now)
    assert (custom.preset, custom.days, custom.default_unit) == ("custom", 90, "week")


@pytest.mark.parametrize(
    ("preset", "start", "end", "key"),
    [
        ("week", None, None, "error.bad_period"),
        ("custom", "2026-13-01", None, "error.bad_from"),
        ("custom", None, "yesterday", "error.bad_to"),
        ("custom", "2026-02-01", "2026-01-01", "error.to_before_from"),
        ("custom", "2024-01-01", "2026-01-01", "error.period_too_long"),
    ],
)
def test_refused_periods_name_their_message(preset: str, start: str | None, end: str | None, key: str) -> None:
    with pytest.raises(PeriodError) as refused:
        resolve_period(preset, start, end, MOSCOW, datetime(2026, 12, 1, tzinfo=UTC))
    assert refused.value.key == key
    assert key in MESSAGES


def _line(code: str, csat: float | None) -> OperatorLine:
    return OperatorLine(code, None, None, 40, csat, 40, None, None, None, 0, 0, 0)


def test_operator_table_worst_csat_first_none_last() -> None:
    lines = [_line("7003", 0.9), _line("7001", None), _line("7002", 0.5), _line("7004", 0.5)]
    assert [o.code for o in worst_first(lines)] == ["7002", "7004", "7003", "7001"]


def test_session_cookie_is_signed_and_carries_no_token() -> None:
    codec = SessionCodec("x" * 48)
    session = codec.new("abc123hash")
    cookie = codec.dump(session)
    assert codec.load(cookie) == session
    assert codec.load(cookie[:-2] + "xx") is None
    assert SessionCodec("y" * 48).load(cookie) is None
    assert codec.load("garbage") is None and codec.load(None) is None
    assert csrf_ok(session, session.csrf)
    assert not csrf_ok(session, "other") and not csrf_ok(None, session.csrf) and not csrf_ok(session, None)


def test_charts_draw_every_value_and_escape_labels() -> None:
    svg = charts.bar_chart(
        ["1", "2", "<5>"], [charts.Series("n", [3, 0, 7], "s1")], fmt=lambda v: f"{v:.0f}", empty="none"
    )
    assert svg.count("<rect") == 3
    assert "&lt;5&gt;: 7" in svg and "<5>" not in svg
    line = charts.line_chart(
        ["a", "b", "c"], [charts.Series("csat", [50, None, 70], "s1")], top=100, fmt=str, empty="none"
    )
    assert line.count("<circle") == 2 and "<polyline" not in line  # a gap: no line across the missing value
    assert charts.line_chart([], [], top=100, fmt=str, empty="nothing") == '<p class="empty">nothing</p>'
    points = charts.scatter(
        [charts.Point("Анна", 90, 70, False), charts.Point("Bob", 40, 85, True)],
        x_name="CSAT",
        y_name="CQR",
        good=80,
        fmt=lambda v: f"{v:.0f}",
        empty="none",
    )
    assert points.count('class="point"') == 1 and points.count('class="point thin"') == 1
    assert "Анна: CSAT 90, CQR 70" in points
