"""SQLite's plans for the summaries: each reads one covering index and no table row, whatever the filters.

SQLite has no statistics here, so its plan depends on the query and the indexes only, never on the rows:
these plans are the ones a million responses get (bench/api_load.py). Run on a SQLite file of its own in
both passes of the suite, as the plans are SQLite's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr_survey.db.engine import create_engine, create_sessionmaker
from ivr_survey.db.migrate import upgrade
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


OPERATOR_SEEK = "SEARCH survey_responses USING COVERING INDEX ix_survey_responses_summary_by_operator (operator_id=?)"
EDGE_SEEK = "SEARCH survey_responses USING COVERING INDEX ix_survey_responses_summary_by_slot (started_slot=?)"


@pytest.mark.parametrize(
    ("group_by", "tz", "filters", "read"),
    [
        ("operator", "UTC", {}, _scan("operator")),
        ("queue", "UTC", {}, _scan("queue")),
        ("survey", "UTC", {}, _scan("survey")),
        # only a period: the tallies, and the slot the period's start cuts
        ("hour", "UTC", {}, EDGE_SEEK),
        ("day", "Asia/Kolkata", {}, EDGE_SEEK),
        ("operator", "UTC", {"queue": "sales", "score_max": 2.0}, _scan("operator")),
        ("operator", "UTC", {"survey": "default", "status": "completed"}, _scan("operator")),
        ("queue", "UTC", {"survey": "default"}, _scan("queue")),
        ("survey", "UTC", {"queue": "sales", "score_min": 4.0}, _scan("survey")),
        ("hour", "UTC", {"survey": "default"}, _scan("hour")),
        ("day", "Europe/Berlin", {"queue": "sales"}, _scan("hour")),
        ("day", "Asia/Kolkata", {"status": "completed"}, _scan("slot")),
        ("month", "UTC", {"score_min": 4.0}, _scan("hour")),
        # an operator: a seek to their entries, for any grouping
        ("queue", "UTC", {"operator": "7001"}, OPERATOR_SEEK),
        ("week", "UTC", {"operator": "7001", "queue": "sales"}, OPERATOR_SEEK),
        ("operator", "UTC", {"operator": "7001"}, OPERATOR_SEEK),
    ],
)
async def test_each_summary_reads_one_covering_index(
    sqlite_engine: AsyncEngine, group_by: str, tz: str, filters: dict[str, Any], read: str
) -> None:
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM survey_responses" in statement:
            statements.append((statement, parameters))

    event.listen(sqlite_engine.sync_engine, "before_cursor_execute", capture)
    async with create_sessionmaker(sqlite_engine)() as session:
        await ratings_summary(session, group_by=group_by, filters=RatingFilter(**YEAR, **filters), tz=ZoneInfo(tz))
        [(statement, parameters)] = statements
        conn = await session.connection()
        plan = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)).all()
    reads = [row[3] for row in plan if "survey_responses" in row[3]]
    assert reads == [read]
