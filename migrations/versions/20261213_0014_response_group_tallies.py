"""response_group_tallies: survey_responses counted per UTC day and operator, queue or survey, kept by triggers,
so that a year's unfiltered operator, queue and survey summaries add up tens of thousands of rows instead of
counting a million (on PostgreSQL that count was a parallel sequential scan of 215-380 ms)

The counts are those of response_slot_tallies (0007, 0010), and the triggers are new ones next to 0010's,
which stay as they are. A group's key is the response's column as text, '' for none. The update trigger also
watches the grouped columns: the call history fills in an operator or queue a survey started without.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-13
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "response_group_tallies"
OTHER = "response_group_other_scores"
SQLITE_TRIGGERS = (
    "survey_responses_group_tally_insert",
    "survey_responses_group_tally_update",
    "survey_responses_group_tally_delete",
)
SCORES = range(11)
SCORE_LIST = ", ".join(str(n) for n in SCORES)
SLOTS_PER_DAY = 96  # started_slot is a UTC quarter hour
WATCHED = ("score", "satisfied", "started_slot", "operator_id", "queue", "survey_id")


def _keys(row: str) -> dict[str, str]:
    """grouping -> the key of a response row (NEW, OLD, or a table's column names for row '')."""
    of = f"{row}." if row else ""
    return {
        "operator": f"coalesce(CAST({of}operator_id AS VARCHAR), '')",
        "queue": f"coalesce({of}queue, '')",
        "survey": f"coalesce(CAST({of}survey_id AS VARCHAR), '')",
    }


def _counts(row: str, sign: int) -> dict[str, str]:
    """Tally column -> what one response row adds to it (sign 1) or takes away (sign -1)."""
    return {
        "offered": str(sign),
        "responses": f"CASE WHEN {row}.score IS NOT NULL THEN {sign} ELSE 0 END",
        "score_total": f"{sign} * coalesce({row}.score, 0)",
        "satisfied": f"CASE WHEN {row}.satisfied THEN {sign} ELSE 0 END",
        "csat_responses": f"CASE WHEN {row}.satisfied IS NOT NULL THEN {sign} ELSE 0 END",
        **{f"score_{n}": f"CASE WHEN {row}.score = {n} THEN {sign} ELSE 0 END" for n in SCORES},
    }


def _add(row: str, sign: int) -> str:
    """Upserts counting one response row in its day's group of each grouping; a row without a slot is not
    counted."""
    counts = _counts(row, sign)
    updates = ", ".join(f"{c} = {TABLE}.{c} + excluded.{c}" for c in counts)
    day = f"{row}.started_slot / {SLOTS_PER_DAY}"
    sql = ""
    for grouping, key in _keys(row).items():
        sql += (
            f"INSERT INTO {TABLE} (grouped_by, day, group_key, {', '.join(counts)}) "
            f"SELECT '{grouping}', {day}, {key}, {', '.join(counts.values())} "
            f"WHERE {row}.started_slot IS NOT NULL "
            f"ON CONFLICT (grouped_by, group_key, day) DO UPDATE SET {updates}; "
            f"INSERT INTO {OTHER} (grouped_by, day, group_key, score, responses) "
            f"SELECT '{grouping}', {day}, {key}, {row}.score, {sign} "
            f"WHERE {row}.started_slot IS NOT NULL AND {row}.score IS NOT NULL AND {row}.score NOT IN ({SCORE_LIST}) "
            f"ON CONFLICT (grouped_by, group_key, day, score) "
            f"DO UPDATE SET responses = {OTHER}.responses + excluded.responses; "
        )
    return sql


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
CREATE FUNCTION survey_responses_group_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {_add("OLD", -1)}
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        {_add("NEW", 1)}
    END IF;
    RETURN NULL;
END
$$""")
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in WATCHED)
        op.execute(
            "CREATE TRIGGER survey_responses_group_tally_write AFTER INSERT OR DELETE ON survey_responses "
            "FOR EACH ROW EXECUTE FUNCTION survey_responses_group_tally()"
        )
        op.execute(
            f"CREATE TRIGGER survey_responses_group_tally_update AFTER UPDATE OF {', '.join(WATCHED)} "
            f"ON survey_responses FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION survey_responses_group_tally()"
        )
        return
    insert, update, delete = SQLITE_TRIGGERS
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in WATCHED)
    op.execute(f"CREATE TRIGGER {insert} AFTER INSERT ON survey_responses BEGIN {_add('NEW', 1)} END")
    op.execute(
        f"CREATE TRIGGER {update} AFTER UPDATE OF {', '.join(WATCHED)} ON survey_responses "
        f"WHEN {changed} BEGIN {_add('OLD', -1)} {_add('NEW', 1)} END"
    )
    op.execute(f"CREATE TRIGGER {delete} AFTER DELETE ON survey_responses BEGIN {_add('OLD', -1)} END")


def _count_stored_responses() -> None:
    counts = {
        "offered": "count(*)",
        "responses": "count(score)",
        "score_total": "coalesce(sum(score), 0)",
        "satisfied": "count(CASE WHEN satisfied THEN 1 END)",
        "csat_responses": "count(satisfied)",
        **{f"score_{n}": f"count(CASE WHEN score = {n} THEN 1 END)" for n in SCORES},
    }
    day = f"started_slot / {SLOTS_PER_DAY}"
    for grouping, key in _keys("").items():
        op.execute(
            f"INSERT INTO {TABLE} (grouped_by, day, group_key, {', '.join(counts)}) "
            f"SELECT '{grouping}', {day}, {key}, {', '.join(counts.values())} FROM survey_responses "
            f"WHERE started_slot IS NOT NULL GROUP BY {day}, {key}"
        )
        op.execute(
            f"INSERT INTO {OTHER} (grouped_by, day, group_key, score, responses) "
            f"SELECT '{grouping}', {day}, {key}, score, count(*) FROM survey_responses "
            f"WHERE started_slot IS NOT NULL AND score IS NOT NULL AND score NOT IN ({SCORE_LIST}) "
            f"GROUP BY {day}, {key}, score"
        )


def _group_columns() -> list[sa.Column]:
    return [
        sa.Column("grouped_by", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("group_key", sa.String(length=128), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        TABLE,
        *_group_columns(),
        sa.Column("offered", sa.Integer(), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("score_total", sa.Float(), nullable=False),
        sa.Column("satisfied", sa.Integer(), nullable=False),
        sa.Column("csat_responses", sa.Integer(), nullable=False),
        *(sa.Column(f"score_{n}", sa.Integer(), nullable=False) for n in SCORES),
        # in key order, clustered on SQLite: a period's groups are added up as they are read, without a sort
        sa.PrimaryKeyConstraint("grouped_by", "group_key", "day", name=op.f(f"pk_{TABLE}")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        OTHER,
        *_group_columns(),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("grouped_by", "group_key", "day", "score", name=op.f(f"pk_{OTHER}")),
    )
    _count_stored_responses()
    _create_triggers()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER survey_responses_group_tally_update ON survey_responses")
        op.execute("DROP TRIGGER survey_responses_group_tally_write ON survey_responses")
        op.execute("DROP FUNCTION survey_responses_group_tally()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table(OTHER)
    op.drop_table(TABLE)
