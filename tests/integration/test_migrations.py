"""The migrations build exactly the models' schema, seed the default survey, and round-trip."""

from __future__ import annotations

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
