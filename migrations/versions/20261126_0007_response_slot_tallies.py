"""response_slot_tallies: survey_responses counted per UTC quarter hour, kept by triggers, so that unfiltered
time summaries of a year add up 35,040 rows instead of counting a million

Triggers, not the repository, keep the counts: every way a response is written (the survey, the spool's
replay, a bulk load, a cascade delete of its call) then counts, and the counts cannot drift from the rows.
On SQLite, a later migration that alters survey_responses in batch mode copies the table and loses these
triggers: it must create them again (tests/integration/test_summary_tallies.py checks them at head).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "response_slot_tallies"
COUNTS = ("offered", "responses", "score_total", "score_1", "score_2", "score_3", "score_4", "score_5")
SQLITE_TRIGGERS = ("survey_responses_tally_insert", "survey_responses_tally_update", "survey_responses_tally_delete")


def _add(row: str, sign: int) -> str:
    """An upsert adding (sign 1) or taking away (sign -1) one response row (NEW or OLD) in its slot; a row
    without a slot is not counted."""
    values = [
        f"{row}.started_slot",
        str(sign),
        f"CASE WHEN {row}.score IS NOT NULL THEN {sign} ELSE 0 END",
        f"{sign} * coalesce({row}.score, 0)",
        *(f"CASE WHEN {row}.score = {n} THEN {sign} ELSE 0 END" for n in range(1, 6)),
    ]
    updates = ", ".join(f"{c} = {TABLE}.{c} + excluded.{c}" for c in COUNTS)
    return (
        f"INSERT INTO {TABLE} (slot, {', '.join(COUNTS)}) SELECT {', '.join(values)} "
        f"WHERE {row}.started_slot IS NOT NULL ON CONFLICT (slot) DO UPDATE SET {updates};"
    )


def _create_sqlite_triggers() -> None:
    insert, update, delete = SQLITE_TRIGGERS
    op.execute(f"CREATE TRIGGER {insert} AFTER INSERT ON survey_responses BEGIN {_add('NEW', 1)} END")
    op.execute(
        f"CREATE TRIGGER {update} AFTER UPDATE OF score, started_slot ON survey_responses "
        "WHEN OLD.score IS NOT NEW.score OR OLD.started_slot IS NOT NEW.started_slot "
        f"BEGIN {_add('OLD', -1)} {_add('NEW', 1)} END"
    )
    op.execute(f"CREATE TRIGGER {delete} AFTER DELETE ON survey_responses BEGIN {_add('OLD', -1)} END")


def _create_postgresql_trigger() -> None:
    op.execute(f"""
CREATE FUNCTION survey_responses_tally() RETURNS trigger LANGUAGE plpgsql AS $$
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
    changed = "OLD.score IS DISTINCT FROM NEW.score OR OLD.started_slot IS DISTINCT FROM NEW.started_slot"
    op.execute(
        "CREATE TRIGGER survey_responses_tally_write AFTER INSERT OR DELETE ON survey_responses "
        "FOR EACH ROW EXECUTE FUNCTION survey_responses_tally()"
    )
    op.execute(
        "CREATE TRIGGER survey_responses_tally_update AFTER UPDATE OF score, started_slot "
        f"ON survey_responses FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION survey_responses_tally()"
    )


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("offered", sa.Integer(), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("score_total", sa.Float(), nullable=False),
        *(sa.Column(f"score_{n}", sa.Integer(), nullable=False) for n in range(1, 6)),
        sa.PrimaryKeyConstraint("slot", name=op.f(f"pk_{TABLE}")),
    )
    # The responses stored so far, counted once.
    op.execute(
        f"INSERT INTO {TABLE} (slot, {', '.join(COUNTS)}) "
        "SELECT started_slot, count(*), count(score), coalesce(sum(score), 0), "
        + ", ".join(f"count(CASE WHEN score = {n} THEN 1 END)" for n in range(1, 6))
        + " FROM survey_responses WHERE started_slot IS NOT NULL GROUP BY started_slot"
    )
    if op.get_bind().dialect.name == "postgresql":
        _create_postgresql_trigger()
    else:
        _create_sqlite_triggers()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER survey_responses_tally_update ON survey_responses")
        op.execute("DROP TRIGGER survey_responses_tally_write ON survey_responses")
        op.execute("DROP FUNCTION survey_responses_tally()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table(TABLE)
