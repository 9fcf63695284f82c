"""Survey policies (who is offered the survey, per queue, versioned), callers' consent asked before the queue, and
the calls not offered a survey stored as responses with status not_offered and a reason

A not_offered response has no started_slot or started_hour, so the tallies' triggers (0010, 0014), which count
only rows with a slot, never count it. The status CHECK only gains a value, which every stored row satisfies: on
SQLite the table's CREATE text is edited in place (SQLite's documented procedure for changing a CHECK, no copy of
the table, so its triggers and column constraints stay as they are); on PostgreSQL the constraint is replaced.
The downgrade deletes the not_offered responses (the old CHECK has no room for them) and drops what this
revision added.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-14
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ivr_survey.db.check_constraints import replace_check

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = ("in_progress", "completed", "partial", "no_input", "abandoned", "failed")
STATUSES = (*OLD_STATUSES, "not_offered")
REASONS = ("no_operator", "no_consent", "cooldown", "sampled_out", "caller_hung_up_first")


def _listed(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _status_check(old: Sequence[str], new: Sequence[str]) -> None:
    """survey_responses' status CHECK: from IN (old) to IN (new)."""
    replace_check(
        op.get_bind(),
        table="survey_responses",
        name="ck_survey_responses_status",
        was=f"status IN ({_listed(old)})",
        becomes=f"status IN ({_listed(new)})",
    )


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
    reason_check = f"reason IS NULL OR reason IN ({_listed(REASONS)})"
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("survey_responses", sa.Column("reason", sa.String(length=32), nullable=True))
        op.add_column("survey_responses", sa.Column("policy_id", sa.Integer(), nullable=True))
        op.create_check_constraint(op.f("ck_survey_responses_reason"), "survey_responses", reason_check)
        op.create_foreign_key(
            op.f("fk_survey_responses_policy_id_survey_policies"),
            "survey_responses",
            "survey_policies",
            ["policy_id"],
            ["id"],
        )
    else:  # column constraints, added with their columns (and dropped with them on the way down)
        op.execute(
            "ALTER TABLE survey_responses ADD COLUMN reason VARCHAR(32) "
            f"CONSTRAINT ck_survey_responses_reason CHECK ({reason_check})"
        )
        op.execute(
            "ALTER TABLE survey_responses ADD COLUMN policy_id INTEGER "
            "CONSTRAINT fk_survey_responses_policy_id_survey_policies REFERENCES survey_policies (id)"
        )
    _status_check(OLD_STATUSES, STATUSES)


def downgrade() -> None:
    op.execute("DELETE FROM survey_responses WHERE status = 'not_offered'")
    _status_check(STATUSES, OLD_STATUSES)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(
            op.f("fk_survey_responses_policy_id_survey_policies"), "survey_responses", type_="foreignkey"
        )
        op.drop_constraint(op.f("ck_survey_responses_reason"), "survey_responses", type_="check")
    op.drop_column("survey_responses", "policy_id")
    op.drop_column("survey_responses", "reason")
    op.drop_index(op.f("ix_calls_caller_number"), table_name="calls")
    op.drop_table("call_consents")
    op.drop_table("survey_policies")
