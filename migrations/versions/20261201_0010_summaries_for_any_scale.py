"""Summaries for any scale: survey_responses.satisfied (CSAT's verdict on the first score, by its survey's rule),
the per-quarter-hour tallies count every first score (0-10 in columns, any other in rows) and the satisfied
ones, and the covering indexes hold satisfied

Nothing stored changes its meaning: score_1 .. score_5, offered, responses and score_total count what they
counted. The verdict is decided once from the definition each response answered (its first question's
"satisfied" scores, else 4 and 5 of a 1-5 scale, else none); then the tallies are counted again from the
responses, and the triggers are replaced by ones that also keep the new counts. The downgrade puts 0007's
triggers and 0008's indexes back and drops what this one added.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "response_slot_tallies"
OTHER = "response_slot_other_scores"
SQLITE_TRIGGERS = ("survey_responses_tally_insert", "survey_responses_tally_update", "survey_responses_tally_delete")
OLD_SCORES = range(1, 6)  # 0007's columns
WIDE_SCORES = range(11)  # this revision's
ADDED_SCORES = [n for n in WIDE_SCORES if n not in OLD_SCORES]
WIDE_LIST = ", ".join(str(n) for n in WIDE_SCORES)

KEYED = ("score", "status", "started_at")
INDEXES = {  # 0008's
    "ix_survey_responses_summary_by_operator": [
        "operator_id",
        *KEYED,
        "queue",
        "survey_id",
        "started_hour",
        "started_slot",
    ],
    "ix_survey_responses_summary_by_queue": ["queue", *KEYED, "survey_id"],
    "ix_survey_responses_summary_by_survey": ["survey_id", *KEYED, "queue"],
    "ix_survey_responses_summary_by_slot": ["started_slot", *KEYED, "queue", "survey_id", "operator_id"],
    "ix_survey_responses_summary_by_hour": ["started_hour", *KEYED, "queue", "survey_id", "operator_id"],
}


def _recreate_indexes(with_satisfied: bool) -> None:
    """0008's indexes, or this revision's: the same with satisfied after score."""
    for name, columns in INDEXES.items():
        op.drop_index(name, table_name="survey_responses")
        op.create_index(
            name, "survey_responses", [*columns[:2], "satisfied", *columns[2:]] if with_satisfied else columns
        )


def _counted(row: str, sign: int, new: bool) -> dict[str, str]:
    """Tally column -> what one response row (NEW or OLD) adds to it (sign 1) or takes away (sign -1)."""
    counts = {
        "offered": str(sign),
        "responses": f"CASE WHEN {row}.score IS NOT NULL THEN {sign} ELSE 0 END",
        "score_total": f"{sign} * coalesce({row}.score, 0)",
    }
    if new:
        counts["satisfied"] = f"CASE WHEN {row}.satisfied THEN {sign} ELSE 0 END"
        counts["csat_responses"] = f"CASE WHEN {row}.satisfied IS NOT NULL THEN {sign} ELSE 0 END"
    for n in WIDE_SCORES if new else OLD_SCORES:
        counts[f"score_{n}"] = f"CASE WHEN {row}.score = {n} THEN {sign} ELSE 0 END"
    return counts


def _add(row: str, sign: int, new: bool) -> str:
    """Upserts counting one response row in its slot; a row without a slot is not counted."""
    counts = _counted(row, sign, new)
    updates = ", ".join(f"{c} = {TABLE}.{c} + excluded.{c}" for c in counts)
    sql = (
        f"INSERT INTO {TABLE} (slot, {', '.join(counts)}) SELECT {row}.started_slot, {', '.join(counts.values())} "
        f"WHERE {row}.started_slot IS NOT NULL ON CONFLICT (slot) DO UPDATE SET {updates};"
    )
    if new:
        sql += (
            f" INSERT INTO {OTHER} (slot, score, responses) SELECT {row}.started_slot, {row}.score, {sign} "
            f"WHERE {row}.started_slot IS NOT NULL AND {row}.score IS NOT NULL AND {row}.score NOT IN ({WIDE_LIST}) "
            f"ON CONFLICT (slot, score) DO UPDATE SET responses = {OTHER}.responses + excluded.responses;"
        )
    return sql


def _watched(new: bool) -> list[str]:
    return ["score", "satisfied", "started_slot"] if new else ["score", "started_slot"]


def _create_triggers(new: bool) -> None:
    """0007's triggers (new=False) or this revision's, which also count satisfied and every score."""
    watched = _watched(new)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
CREATE FUNCTION survey_responses_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {_add("OLD", -1, new)}
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        {_add("NEW", 1, new)}
    END IF;
    RETURN NULL;
END
$$""")
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in watched)
        op.execute(
            "CREATE TRIGGER survey_responses_tally_write AFTER INSERT OR DELETE ON survey_responses "
            "FOR EACH ROW EXECUTE FUNCTION survey_responses_tally()"
        )
        op.execute(
            f"CREATE TRIGGER survey_responses_tally_update AFTER UPDATE OF {', '.join(watched)} "
            f"ON survey_responses FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION survey_responses_tally()"
        )
        return
    insert, update, delete = SQLITE_TRIGGERS
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in watched)
    op.execute(f"CREATE TRIGGER {insert} AFTER INSERT ON survey_responses BEGIN {_add('NEW', 1, new)} END")
    op.execute(
        f"CREATE TRIGGER {update} AFTER UPDATE OF {', '.join(watched)} ON survey_responses "
        f"WHEN {changed} BEGIN {_add('OLD', -1, new)} {_add('NEW', 1, new)} END"
    )
    op.execute(f"CREATE TRIGGER {delete} AFTER DELETE ON survey_responses BEGIN {_add('OLD', -1, new)} END")


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER survey_responses_tally_update ON survey_responses")
        op.execute("DROP TRIGGER survey_responses_tally_write ON survey_responses")
        op.execute("DROP FUNCTION survey_responses_tally()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")


def _satisfied_scores(definition: dict) -> list[float] | None:
    """The first question's satisfied scores, as Question.satisfied_scores decides them (written out here, so
    that this revision means the same whatever the code becomes)."""
    first = definition["questions"][0]
    if first.get("satisfied") is not None:
        return sorted(float(s) for s in first["satisfied"])
    scale = {float(s) for s in first["scores"].values()}
    return [4.0, 5.0] if scale == {1.0, 2.0, 3.0, 4.0, 5.0} else None


def _judge_stored_responses() -> None:
    versions = sa.table("survey_versions", sa.column("id", sa.Integer), sa.column("definition", sa.JSON))
    responses = sa.table(
        "survey_responses",
        sa.column("survey_version_id", sa.Integer),
        sa.column("score", sa.Float),
        sa.column("satisfied", sa.Boolean),
    )
    for version_id, definition in op.get_bind().execute(sa.select(versions.c.id, versions.c.definition)).all():
        scores = _satisfied_scores(definition)
        if scores is not None:
            op.execute(
                responses.update()
                .where(responses.c.survey_version_id == version_id, responses.c.score.is_not(None))
                .values(satisfied=responses.c.score.in_(scores))
            )


def _count_stored_responses() -> None:
    counts = {
        "offered": "count(*)",
        "responses": "count(score)",
        "score_total": "coalesce(sum(score), 0)",
        "satisfied": "count(CASE WHEN satisfied THEN 1 END)",
        "csat_responses": "count(satisfied)",
        **{f"score_{n}": f"count(CASE WHEN score = {n} THEN 1 END)" for n in WIDE_SCORES},
    }
    op.execute(f"DELETE FROM {TABLE}")
    op.execute(
        f"INSERT INTO {TABLE} (slot, {', '.join(counts)}) SELECT started_slot, {', '.join(counts.values())} "
        "FROM survey_responses WHERE started_slot IS NOT NULL GROUP BY started_slot"
    )
    op.execute(
        f"INSERT INTO {OTHER} (slot, score, responses) SELECT started_slot, score, count(*) "
        f"FROM survey_responses WHERE started_slot IS NOT NULL AND score IS NOT NULL "
        f"AND score NOT IN ({WIDE_LIST}) GROUP BY started_slot, score"
    )


def upgrade() -> None:
    _drop_triggers()
    # Plain ALTER TABLE ADD COLUMN: a batch copy of survey_responses is not needed for it.
    op.add_column("survey_responses", sa.Column("satisfied", sa.Boolean(), nullable=True))
    # SQLite adds a NOT NULL column only with a default; every row is counted again below.
    for column in ("satisfied", "csat_responses", *(f"score_{n}" for n in ADDED_SCORES)):
        op.add_column(TABLE, sa.Column(column, sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        OTHER,
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("slot", "score", name=op.f(f"pk_{OTHER}")),
    )
    _judge_stored_responses()
    _count_stored_responses()
    _recreate_indexes(with_satisfied=True)
    _create_triggers(new=True)


def downgrade() -> None:
    _drop_triggers()
    _recreate_indexes(with_satisfied=False)  # an indexed column cannot be dropped
    op.drop_table(OTHER)
    for column in ("satisfied", "csat_responses", *(f"score_{n}" for n in ADDED_SCORES)):
        op.drop_column(TABLE, column)
    op.drop_column("survey_responses", "satisfied")
    # score_1 .. score_5, offered, responses and score_total were kept by this revision's triggers as by 0007's.
    _create_triggers(new=False)
