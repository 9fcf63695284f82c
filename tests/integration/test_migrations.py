"""The migrations build exactly the models' schema, seed the default survey, and round-trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from ivr_survey.db.engine import create_engine
from ivr_survey.db.migrate import alembic_config, current_revision, downgrade, upgrade
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
            await sql(
                "INSERT INTO calls (id, linkedid, operator_id, queue, started_at, created_at) "
                "VALUES (1, '1795715876.40', 1, 'sales', '2026-11-20 10:00:00', '2026-11-20 10:00:00')"
            )
            await sql(
                "INSERT INTO survey_responses (id, call_id, survey_version_id, channel, language, status, args, "
                "started_at) VALUES (1, 1, 1, 'ari', 'en', 'completed', '{}', '2026-11-20 10:00:03')"
            )
            await sql(
                "INSERT INTO survey_answers (response_id, position, question, digits, score, attempts, "
                "answered_at) VALUES (1, 0, 'rating', '4', 4.0, 1, '2026-11-20 10:00:05')"
            )
            await sql(
                "INSERT INTO cqr_evaluations (call_id, call_type, scorecard_id, supervisor, scores, cqr, "
                "created_at) VALUES (1, 'spam', 1, 'sue', '{}', 80.0, '2026-11-20 11:00:00')"
            )
    finally:
        await engine.dispose()
    tables = ["calls", "survey_responses", "survey_answers", "cqr_evaluations"]
    await upgrade(url)
    assert await _counts(url, tables) == dict.fromkeys(tables, 1)
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            copied = (
                await conn.exec_driver_sql(
                    "SELECT operator_id, queue, score, started_slot, started_hour FROM survey_responses"
                )
            ).one()
            tallied = (
                await conn.exec_driver_sql(
                    "SELECT slot, offered, responses, score_total, score_1, score_2, score_3, score_4, score_5 "
                    "FROM response_slot_tallies"
                )
            ).all()
    finally:
        await engine.dispose()
    epoch = int(datetime(2026, 11, 20, 10, 0, 3, tzinfo=UTC).timestamp())
    assert tuple(copied) == (1, "sales", 4.0, epoch // 900, epoch // 3600)
    # 0007 counted the response in its quarter hour: offered, responded, score total 4, one 4
    assert [tuple(row) for row in tallied] == [(epoch // 900, 1, 1, 4.0, 0, 0, 0, 1, 0)]
    await downgrade(url, "0005")
    assert await _counts(url, tables) == dict.fromkeys(tables, 1)


A = datetime(2026, 11, 20, 10, 0, 3, tzinfo=UTC)  # two quarter hours: A's and the next
B = datetime(2026, 11, 20, 10, 20, tzinfo=UTC)
# id, survey version, score, time: the default survey (1-5: 4 and 5 satisfied), a 0-10 one (no CSAT), and one
# stored naming "satisfied": [5] (as a version stored at 0010 reads after a downgrade and an upgrade again)
RESPONSES = [
    (1, 1, 4.0, A),
    (2, 1, 2.0, A),
    (3, 1, None, A),
    (4, 2, 10.0, A),
    (5, 2, 0.0, B),
    (6, 3, 4.0, B),
    (7, 3, 5.0, B),
    (8, 1, 2.5, B),
]
OLD_COLUMNS = "slot, offered, responses, score_total, score_1, score_2, score_3, score_4, score_5"


def _slot(at: datetime) -> int:
    return int(at.timestamp()) // 900


def _scored(scores: list[int], **fields: object) -> str:
    scale = {str(s): float(s) for s in scores}
    return json.dumps(
        {
            "name": "s",
            "version": 1,
            "questions": [{"key": "q", "prompts": {"en": "p"}, "scores": scale, "max_digits": 2, "text": {}, **fields}],
        }
    )


async def _fill_at_previous_head(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            sql = conn.exec_driver_sql
            await sql(
                "INSERT INTO surveys (id, name, created_at) VALUES (2, 'nps-first', '2026-11-01 00:00:00'), "
                "(3, 'top-box', '2026-11-01 00:00:00')"
            )
            await sql(
                "INSERT INTO survey_versions (id, survey_id, version, definition, created_at) VALUES "
                f"(2, 2, 1, '{_scored(list(range(11)))}', '2026-11-01 00:00:00'), "
                f"(3, 3, 1, '{_scored([1, 2, 3, 4, 5], satisfied=[5])}', '2026-11-01 00:00:00')"
            )
            for rid, version, score, at in RESPONSES:
                await _respond(conn, rid, version, score, at)
    finally:
        await engine.dispose()


async def _respond(conn: Any, rid: int, version: int, score: float | None, at: datetime) -> None:
    """A response as the repository writes it (the triggers of the revision count it)."""
    when = at.strftime("%Y-%m-%d %H:%M:%S")
    epoch = int(at.timestamp())
    await conn.exec_driver_sql(
        f"INSERT INTO calls (id, linkedid, started_at, created_at) VALUES ({rid}, 'L{rid}', '{when}', '{when}')"
    )
    await conn.exec_driver_sql(
        "INSERT INTO survey_responses (id, call_id, survey_version_id, survey_id, channel, language, status, "
        "args, started_at, score, started_slot, started_hour) VALUES "
        f"({rid}, {rid}, {version}, {version}, 'ari', 'en', 'completed', '{{}}', '{when}', "
        f"{'NULL' if score is None else score}, {epoch // 900}, {epoch // 3600})"
    )


async def _select(url: str, statement: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return [tuple(row) for row in (await conn.exec_driver_sql(statement)).all()]
    finally:
        await engine.dispose()


async def _columns(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns(table)})
    finally:
        await engine.dispose()


async def test_0010_judges_and_counts_again_what_the_previous_head_stored(empty_database_url: str) -> None:
    """Responses stored before 0010 are judged by the version each answered and counted again in the new shape;
    what the tallies held keeps its meaning. The downgrade puts the old shape and its triggers back."""
    url = empty_database_url
    previous = ScriptDirectory.from_config(alembic_config()).get_revision("0010").down_revision
    assert isinstance(previous, str)
    await upgrade(url, previous)
    await _fill_at_previous_head(url)
    before = await _select(url, f"SELECT {OLD_COLUMNS} FROM response_slot_tallies ORDER BY slot")
    assert before == [(_slot(A), 4, 3, 16.0, 0, 1, 0, 1, 0), (_slot(B), 4, 4, 11.5, 0, 0, 0, 1, 1)]

    await upgrade(url)
    assert await _select(url, "SELECT id, satisfied FROM survey_responses ORDER BY id") == [
        (1, True),
        (2, False),
        (3, None),
        (4, None),
        (5, None),
        (6, False),
        (7, True),
        (8, False),
    ]
    assert await _select(url, f"SELECT {OLD_COLUMNS} FROM response_slot_tallies ORDER BY slot") == before
    counts = ", ".join(["satisfied", "csat_responses", *(f"score_{n}" for n in range(11))])
    assert await _select(url, f"SELECT slot, {counts} FROM response_slot_tallies ORDER BY slot") == [
        (_slot(A), 1, 2, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1),  # 4 satisfied, 2 not; 10 not judged
        (_slot(B), 1, 3, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0),  # top-box: 5 satisfied, 4 not; 2.5 not; 0 not judged
    ]
    assert await _select(url, "SELECT slot, score, responses FROM response_slot_other_scores") == [(_slot(B), 2.5, 1)]

    await downgrade(url, previous)
    assert "satisfied" not in await _columns(url, "survey_responses")
    assert await _columns(url, "response_slot_tallies") == set(OLD_COLUMNS.split(", "))
    assert "response_slot_other_scores" not in await _tables(url)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:  # the previous head's triggers count again
            await _respond(conn, 9, 1, 5.0, A)
            indexes = await conn.run_sync(lambda c: inspect(c).get_indexes("survey_responses"))
    finally:
        await engine.dispose()
    assert [i["column_names"] for i in indexes if i["name"] == "ix_survey_responses_summary_by_queue"] == [
        ["queue", "score", "status", "started_at", "survey_id"]
    ]
    assert await _select(url, f"SELECT {OLD_COLUMNS} FROM response_slot_tallies ORDER BY slot") == [
        (_slot(A), 5, 4, 21.0, 0, 1, 0, 1, 1),
        before[1],
    ]


async def test_0011_adds_operator_teams_and_takes_them_away(empty_database_url: str) -> None:
    """Operators stored before 0011 (and the calls pointing at them) are kept both ways; the team is indexed."""
    url = empty_database_url
    await upgrade(url, "0010")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            sql = conn.exec_driver_sql
            await sql("INSERT INTO operators (id, code, name, created_at) VALUES (1, '7001', 'Anna', '2026-12-01')")
            await sql("INSERT INTO calls (id, linkedid, operator_id, created_at) VALUES (1, 'L1', 1, '2026-12-01')")
    finally:
        await engine.dispose()

    await upgrade(url, "0011")
    assert await _select(url, "SELECT code, name, team FROM operators") == [("7001", "Anna", None)]
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("UPDATE operators SET team = 'Продажи' WHERE code = '7001'")
            indexes = await conn.run_sync(lambda c: inspect(c).get_indexes("operators"))
    finally:
        await engine.dispose()
    assert [i["column_names"] for i in indexes if i["name"] == "ix_operators_team"] == [["team"]]
    assert await _select(url, "SELECT team FROM operators") == [("Продажи",)]

    await downgrade(url, "0010")
    assert "team" not in await _columns(url, "operators")
    assert await _select(url, "SELECT code, name FROM operators") == [("7001", "Anna")]
    assert await _select(url, "SELECT linkedid, operator_id FROM calls") == [("L1", 1)]


async def test_0014_counts_the_stored_responses_per_day_and_group(empty_database_url: str) -> None:
    """Responses stored before 0014 are counted per day and operator, queue and survey ('' for none); the
    triggers count later writes; the downgrade drops the tables and their triggers."""
    url = empty_database_url
    await upgrade(url, "0013")
    await _fill_at_previous_head(url)
    await upgrade(url)
    day = int(A.timestamp()) // 86400
    assert B.date() == A.date()
    counts = "grouped_by, day, group_key, offered, responses, score_total, satisfied, csat_responses"
    tallies = f"SELECT {counts} FROM response_group_tallies ORDER BY grouped_by, group_key"
    # written as the repository wrote them before 0010, unjudged: no verdict to count
    assert await _select(url, tallies) == [
        ("operator", day, "", 8, 7, 27.5, 0, 0),
        ("queue", day, "", 8, 7, 27.5, 0, 0),
        ("survey", day, "1", 4, 3, 8.5, 0, 0),
        ("survey", day, "2", 2, 2, 10.0, 0, 0),
        ("survey", day, "3", 2, 2, 9.0, 0, 0),
    ]
    others = "SELECT grouped_by, group_key, score, responses FROM response_group_other_scores ORDER BY grouped_by"
    assert await _select(url, others) == [("operator", "", 2.5, 1), ("queue", "", 2.5, 1), ("survey", "1", 2.5, 1)]
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await _respond(conn, 9, 2, 3.0, A)
    finally:
        await engine.dispose()
    assert (await _select(url, tallies))[3] == ("survey", day, "2", 3, 3, 13.0, 0, 0)

    await downgrade(url, "0013")
    assert not {"response_group_tallies", "response_group_other_scores"} & await _tables(url)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:  # no trigger is left to write to the dropped tables
            await _respond(conn, 10, 1, 5.0, B)
    finally:
        await engine.dispose()
    assert await _select(url, "SELECT count(*) FROM survey_responses") == [(10,)]


async def test_0015_keeps_the_responses_and_the_tallies_triggers_and_stores_not_offered(
    empty_database_url: str,
) -> None:
    """0015 changes survey_responses' status CHECK (SQLite copies the table for it): every row and answer is
    kept, the tallies' triggers still count writes, a not_offered row (no slot) is stored but not counted, and the
    downgrade deletes the not_offered rows and drops the policies' tables."""
    url = empty_database_url
    await upgrade(url, "0014")
    await _fill_at_previous_head(url)
    before = await _select(url, "SELECT id, call_id, status, score FROM survey_responses ORDER BY id")
    tallies = "SELECT sum(offered), sum(responses) FROM response_slot_tallies"
    groups = "SELECT sum(offered) FROM response_group_tallies WHERE grouped_by = 'survey'"
    assert await _select(url, tallies) == [(8, 7)]
    await upgrade(url)
    assert {"survey_policies", "call_consents"} <= await _tables(url)
    assert await _select(url, "SELECT id, call_id, status, score FROM survey_responses ORDER BY id") == before
    assert {"reason", "policy_id"} <= await _columns(url, "survey_responses")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await _respond(conn, 9, 2, 3.0, A)  # counted by the triggers kept across the copy
            await conn.exec_driver_sql(
                f"INSERT INTO calls (id, linkedid, created_at) VALUES (10, 'L10', '{A:%Y-%m-%d %H:%M:%S}')"
            )
            await conn.exec_driver_sql(
                "INSERT INTO survey_responses (id, call_id, survey_version_id, survey_id, channel, language, status, "
                f"reason, args, started_at) VALUES (10, 10, 1, 1, 'ari', 'en', 'not_offered', 'cooldown', '{{}}', "
                f"'{A:%Y-%m-%d %H:%M:%S}')"
            )
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.exec_driver_sql("UPDATE survey_responses SET reason = 'bored' WHERE id = 10")
    finally:
        await engine.dispose()
    assert await _select(url, tallies) == [(9, 8)]
    assert await _select(url, groups) == [(9,)]

    await downgrade(url, "0014")
    assert not {"survey_policies", "call_consents"} & await _tables(url)
    assert await _select(url, "SELECT id FROM survey_responses WHERE id >= 9") == [(9,)]
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await _respond(conn, 11, 1, 5.0, B)
    finally:
        await engine.dispose()
    assert await _select(url, tallies) == [(10, 9)]


async def test_0016_adds_the_transfer_chain_to_calls_and_takes_it_away(empty_database_url: str) -> None:
    url = empty_database_url
    await upgrade(url, "0015")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("INSERT INTO calls (id, linkedid, created_at) VALUES (1, 'L1', '2026-12-01')")
    finally:
        await engine.dispose()
    await upgrade(url, "0016")
    assert await _select(url, "SELECT linkedid, transferred_from FROM calls") == [("L1", None)]
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("""UPDATE calls SET transferred_from = '["7001"]' WHERE id = 1""")
    finally:
        await engine.dispose()
    [(chain,)] = await _select(url, "SELECT transferred_from FROM calls")
    assert (json.loads(chain) if isinstance(chain, str) else chain) == ["7001"]  # asyncpg decodes JSON itself
    await downgrade(url, "0015")
    assert "transferred_from" not in await _columns(url, "calls")
    assert await _select(url, "SELECT linkedid FROM calls") == [("L1",)]


async def test_0018_takes_operator_tokens_and_takes_them_away(empty_database_url: str) -> None:
    """0018 widens api_tokens' role CHECK in place (the live-name index stays) and adds the operator; the
    downgrade deletes the operator tokens, which the old CHECK has no room for."""
    url = empty_database_url
    await upgrade(url, "0017")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO api_tokens (name, role, token_hash, created_at) "
                "VALUES ('ann', 'analyst', 'h1', '2026-12-01')"
            )
    finally:
        await engine.dispose()
    await upgrade(url, "0018")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO api_tokens (name, role, token_hash, created_at, operator) "
                "VALUES ('olga', 'operator', 'h2', '2026-12-01', '7001')"
            )
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.exec_driver_sql(
                    "INSERT INTO api_tokens (name, role, token_hash, created_at) "
                    "VALUES ('x', 'boss', 'h3', '2026-12-01')"
                )
        with pytest.raises(IntegrityError):  # the live-name index is kept
            async with engine.begin() as conn:
                await conn.exec_driver_sql(
                    "INSERT INTO api_tokens (name, role, token_hash, created_at) "
                    "VALUES ('ann', 'admin', 'h4', '2026-12-01')"
                )
    finally:
        await engine.dispose()
    assert await _select(url, "SELECT name, role, operator FROM api_tokens ORDER BY id") == [
        ("ann", "analyst", None),
        ("olga", "operator", "7001"),
    ]
    await downgrade(url, "0017")
    assert await _select(url, "SELECT name, role FROM api_tokens") == [("ann", "analyst")]
    assert "operator" not in await _columns(url, "api_tokens")


async def test_0019_adds_bands_to_scorecards_and_takes_them_away(empty_database_url: str) -> None:
    url = empty_database_url
    await upgrade(url, "0019")
    assert await _select(url, "SELECT count(*) FROM cqr_scorecards WHERE bands IS NULL") == [(5,)]  # the defaults
    await downgrade(url, "0018")
    assert "bands" not in await _columns(url, "cqr_scorecards")
    assert await _select(url, "SELECT count(*) FROM cqr_scorecards") == [(5,)]


async def test_0020_adds_calibration_sessions_and_takes_them_away(empty_database_url: str) -> None:
    url = empty_database_url
    await upgrade(url, "0020")
    assert "calibration_sessions" in await _tables(url)
    await downgrade(url, "0019")
    assert "calibration_sessions" not in await _tables(url)
