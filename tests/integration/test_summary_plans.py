"""SQLite's plans for the summaries: each reads one covering index and no table row, whatever the filters.

SQLite has no statistics here, so its plan depends on the query and the indexes only, never on the rows:
these plans are the ones a million responses get (bench/api_load.py). Run on a SQLite file of its own in
both passes of the suite, as the plans are SQLite's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr_survey.db.engine import create_engine, create_sessionmaker
from ivr_survey.db.migrate import upgrade
from ivr_survey.db.models import ResponseSlotTally
from ivr_survey.db.ratings import RatingFilter
from ivr_survey.db.summary import ratings_summary

YEAR = {"date_from": datetime(2025, 12, 1, 0, 7, tzinfo=UTC), "date_to": datetime(2026, 12, 1, tzinfo=UTC)}


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'plans.db'}"
    await upgrade(url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


def _scan(lead: str) -> str:
    return f"SCAN survey_responses USING COVERING INDEX ix_survey_responses_summary_by_{lead}"


def _range(lead: str, column: str) -> str:
    return (
        f"SEARCH survey_responses USING COVERING INDEX ix_survey_responses_summary_by_{lead} "
        f"({column}>? AND {column}<?)"
    )


OPERATOR_SEEK = "SEARCH survey_responses USING COVERING INDEX ix_survey_responses_summary_by_operator (operator_id=?)"
EDGE_SEEK = "SEARCH survey_responses USING COVERING INDEX ix_survey_responses_summary_by_slot (started_slot=?)"


@pytest.mark.parametrize(
    ("group_by", "tz", "filters", "read"),
    [
        ("operator", "UTC", {"status": "completed"}, _scan("operator")),
        ("queue", "UTC", {"score_min": 1.0}, _scan("queue")),
        ("survey", "UTC", {"status": "completed"}, _scan("survey")),
        # only a period: the tallies, and the slot the period's start cuts
        ("hour", "UTC", {}, EDGE_SEEK),
        ("day", "Asia/Kolkata", {}, EDGE_SEEK),
        ("operator", "UTC", {"queue": "sales", "score_max": 2.0}, _scan("operator")),
        ("operator", "UTC", {"survey": "default", "status": "completed"}, _scan("operator")),
        ("queue", "UTC", {"survey": "default"}, _scan("queue")),
        ("survey", "UTC", {"queue": "sales", "score_min": 4.0}, _scan("survey")),
        # filtered time groupings: the period's range of the time index
        ("hour", "UTC", {"survey": "default"}, _range("hour", "started_hour")),
        ("day", "Europe/Berlin", {"queue": "sales"}, _range("hour", "started_hour")),
        ("day", "Asia/Kolkata", {"status": "completed"}, _range("slot", "started_slot")),
        ("month", "UTC", {"score_min": 4.0}, _range("hour", "started_hour")),
        # an operator: a seek to their entries, for any grouping
        ("queue", "UTC", {"operator": "7001"}, OPERATOR_SEEK),
        ("week", "UTC", {"operator": "7001", "queue": "sales"}, OPERATOR_SEEK),
        ("operator", "UTC", {"operator": "7001"}, OPERATOR_SEEK),
        # the whole period, read as the time groupings read it: the tallies, else the period's hours
        ("all", "UTC", {}, EDGE_SEEK),
        ("all", "Asia/Kolkata", {"survey": "default"}, _range("hour", "started_hour")),
        ("all", "UTC", {"queue": "sales", "score_max": 2.0}, _range("hour", "started_hour")),
        ("all", "UTC", {"operator": "7001"}, OPERATOR_SEEK),
    ],
)
async def test_each_summary_reads_one_covering_index(
    sqlite_engine: AsyncEngine, group_by: str, tz: str, filters: dict[str, Any], read: str
) -> None:
    assert await _reads(sqlite_engine, group_by, tz, RatingFilter(**YEAR, **filters)) == [read]


@pytest.mark.parametrize("group_by", ["operator", "queue", "survey"])
async def test_a_grouping_over_only_a_period_reads_the_days_its_bounds_cut(
    sqlite_engine: AsyncEngine, group_by: str
) -> None:
    """The group tallies, and the quarter hours of the two days the period's bounds cut (the first is cut at
    00:07; the day its end falls on is read too, however little of it the period holds)."""
    day = _range("slot", "started_slot")
    assert await _reads(sqlite_engine, group_by, "UTC", RatingFilter(**YEAR)) == [day, day]


@pytest.mark.parametrize(
    ("group_by", "filters", "read"),
    [
        ("operator", {"score_min": 1.0}, _range("hour", "started_hour")),
        ("queue", {"survey": "default"}, _range("hour", "started_hour")),
        ("survey", {"status": "completed", "score_max": 2.0}, _range("hour", "started_hour")),
        ("queue", {"operator": "7001"}, OPERATOR_SEEK),
    ],
)
async def test_a_short_period_of_a_long_history_reads_the_time_index(
    sqlite_engine: AsyncEngine, group_by: str, filters: dict[str, Any], read: str
) -> None:
    """A week that holds 1 % of the responses (by the tallies) is read from the hour index, not the
    grouping's."""
    week = datetime(2026, 11, 2, tzinfo=UTC)
    async with sqlite_engine.begin() as conn:
        await conn.execute(
            insert(ResponseSlotTally),
            [
                {
                    "slot": int(at.timestamp()) // 900,
                    "offered": offered,
                    "responses": 0,
                    "score_total": 0.0,
                    "score_1": 0,
                    "score_2": 0,
                    "score_3": 0,
                    "score_4": 0,
                    "score_5": 0,
                }
                for at, offered in ((week + timedelta(days=1), 1), (week - timedelta(days=200), 99))
            ],
        )
    period = RatingFilter(date_from=week, date_to=week + timedelta(days=7), **filters)
    assert await _reads(sqlite_engine, group_by, "UTC", period) == [read]


async def _reads(engine: AsyncEngine, group_by: str, tz: str, filters: RatingFilter) -> list[str]:
    """How the plan of the summary's one statement on survey_responses reads that table."""
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM survey_responses" in statement:
            statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with create_sessionmaker(engine)() as session:
            await ratings_summary(session, group_by=group_by, filters=filters, tz=ZoneInfo(tz))
            [(statement, parameters)] = statements
            conn = await session.connection()
            plan = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)).all()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    return [row[3] for row in plan if "survey_responses" in row[3]]
