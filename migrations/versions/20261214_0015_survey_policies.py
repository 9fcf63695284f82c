"""Survey policies (who is offered the survey, per queue, versioned), callers' consent asked before the queue, and
the calls not offered a survey stored as responses with status not_offered and a reason

A not_offered response has no started_slot or started_hour, so the tallies' triggers (0010, 0014), which count
only rows with a slot, never count it. Changing the status CHECK makes SQLite copy survey_responses, which drops
the table's triggers: their SQL is read before the copy and run again after it. The downgrade deletes the
not_offered responses (the old CHECK has no room for them) and drops what this revision added.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-14
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = ("in_progress", "completed", "partial", "no_input", "abandoned", "failed")
STATUSES = (*OLD_STATUSES, "not_offered")
REASONS = ("no_operator", "no_consent", "cooldown", "sampled_out", "caller_hung_up_first")


def _listed(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _alter_responses(alter: Callable[[BatchOperations], None]) -> None:
    """Run `alter` on survey_responses; on SQLite, whose copy of the table loses its triggers, keep them."""
    bind = op.get_bind()
    triggers = []
    if bind.dialect.name == "sqlite":
        triggers = [
            sql
            for (sql,) in bind.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'survey_responses' ORDER BY name"
            )
        ]
    with op.batch_alter_table("survey_responses") as batch:
        alter(batch)
    for sql in triggers:
        if not bind.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND sql = ?", (sql,)).first():
            op.execute(sql)


def upgrade() -> None:
    op.create_table(
        "survey_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_policies")),
        sa.UniqueConstraint("queue", "version", name=op.f("uq_survey_policies_queue_version")),
    )
    op.create_table(
        "call_consents",
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("agreed", sa.Boolean(), nullable=False),
        sa.Column("defaulted", sa.Boolean(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_consents_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["survey_policies.id"], name=op.f("fk_call_consents_policy_id_survey_policies")
        ),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_call_consents")),
    )
    op.create_index(op.f("ix_calls_caller_number"), "calls", ["caller_number"])

    def alter(batch: BatchOperations) -> None:
        batch.add_column(sa.Column("reason", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("policy_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_survey_responses_policy_id_survey_policies"), "survey_policies", ["policy_id"], ["id"]
        )
        batch.drop_constraint(op.f("ck_survey_responses_status"), type_="check")
        batch.create_check_constraint(op.f("ck_survey_responses_status"), f"status IN ({_listed(STATUSES)})")
        batch.create_check_constraint(
            op.f("ck_survey_responses_reason"), f"reason IS NULL OR reason IN ({_listed(REASONS)})"
        )

    _alter_responses(alter)


def downgrade() -> None:
    op.execute("DELETE FROM survey_responses WHERE status = 'not_offered'")

    def alter(batch: BatchOperations) -> None:
        batch.drop_constraint(op.f("ck_survey_responses_reason"), type_="check")
        batch.drop_constraint(op.f("ck_survey_responses_status"), type_="check")
        batch.create_check_constraint(op.f("ck_survey_responses_status"), f"status IN ({_listed(OLD_STATUSES)})")
        batch.drop_constraint(op.f("fk_survey_responses_policy_id_survey_policies"), type_="foreignkey")
        batch.drop_column("policy_id")
        batch.drop_column("reason")

    _alter_responses(alter)
    op.drop_index(op.f("ix_calls_caller_number"), table_name="calls")
    op.drop_table("call_consents")
    op.drop_table("survey_policies")
