"""The migrations build exactly the models' schema, seed the default survey, and round-trip."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from ivr_survey.db.engine import create_engine
from ivr_survey.db.migrate import current_revision, downgrade, upgrade
from ivr_survey.db.models import Base, Survey, SurveyVersion
from ivr_survey.survey.definition import DEFAULT_SURVEY

# Every table the models declare; test_models_match_migrations checks their columns.
TABLES = set(Base.metadata.tables)


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names())) - {"alembic_version"}
    finally:
        await engine.dispose()


async def test_downgrade_base_then_upgrade_head_round_trips(empty_database_url: str) -> None:
    await upgrade(empty_database_url)
    assert await _tables(empty_database_url) == TABLES
    assert {"operators", "calls", "survey_versions", "survey_responses", "survey_answers", "api_tokens"} <= TABLES
    head = await current_revision(empty_database_url)
    assert head is not None

    await downgrade(empty_database_url, "base")
    assert await _tables(empty_database_url) == set()
    assert await current_revision(empty_database_url) is None

    await upgrade(empty_database_url)
    assert await _tables(empty_database_url) == TABLES
    assert await current_revision(empty_database_url) == head


async def test_models_match_migrations(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_default_survey_is_seeded(sessions) -> None:
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Survey.name, SurveyVersion.version, SurveyVersion.definition).join(
                    SurveyVersion, SurveyVersion.survey_id == Survey.id
                )
            )
        ).all()
    assert [(r.name, r.version) for r in rows] == [("default", 1)]
    assert rows[0].definition == DEFAULT_SURVEY.to_dict()


async def _counts(url: str, tables: list[str]) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return {t: (await conn.exec_driver_sql(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
    finally:
        await engine.dispose()


async def test_upgrades_keep_every_stored_row(empty_database_url: str) -> None:
    """SQLite alters a table by copying it; with foreign keys on, dropping the old copy would cascade-delete the
    rows that refer to it (responses, answers, evaluations). Rows stored before 0004 to 0007 survive."""
    url = empty_database_url
    await upgrade(url, "0003")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            sql = conn.exec_driver_sql
            await sql("INSERT INTO operators (id, code, created_at) VALUES (1, '7001', '2026-11-20 10:00:00')")
            await sql("INSERT INTO calls (id, linkedid, operator_id, queue, started_at, created_at) "
                      "VALUES (1, '1795715876.40', 1, 'sales', '2026-11-20 10:00:00', '2026-11-20 10:00:00')")
            await sql("INSERT INTO survey_responses (id, call_id, survey_version_id, channel, language, status, args, "
                      "started_at) VALUES (1, 1, 1, 'ari', 'en', 'completed', '{}', '2026-11-20 10:00:03')")
            await sql("INSERT INTO survey_answers (response_id, position, question, digits, score, attempts, "
                      "answered_at) VALUES (1, 0, 'rating', '4', 4.0, 1, '2026-11-20 10:00:05')")
            await sql("INSERT INTO cqr_evaluations (call_id, call_type, scorecard_id, supervisor, scores, cqr, "
                      "created_at) VALUES (1, 'spam', 1, 'sue', '{}', 80.0, '2026-11-20 11:00:00')")
    finally:
        await engine.dispose()
    tables = ["calls", "survey_responses", "survey_answers", "cqr_evaluations"]
    await upgrade(url)
    assert await _counts(url, tables) == dict.fromkeys(tables, 1)
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            copied = (await conn.exec_driver_sql(
                "SELECT operator_id, queue, score, started_slot, started_hour FROM survey_responses")).one()
            tallied = (await conn.exec_driver_sql("SELECT * FROM response_slot_tallies")).all()
    finally:
        await engine.dispose()
    epoch = int(datetime(2026, 11, 20, 10, 0, 3, tzinfo=UTC).timestamp())
    assert tuple(copied) == (1, "sales", 4.0, epoch // 900, epoch // 3600)
    # 0007 counted the response in its quarter hour: offered, responded, score total 4, one 4
    assert [tuple(row) for row in tallied] == [(epoch // 900, 1, 1, 4.0, 0, 0, 0, 1, 0)]
    await downgrade(url, "0005")
    assert await _counts(url, tables) == dict.fromkeys(tables, 1)
