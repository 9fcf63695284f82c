"""Outbound survey campaigns: campaigns, their contacts and attempts, the do-not-call list, and the campaign of
a survey response

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-11
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _one_of(column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    allowed = ", ".join(repr(v) for v in values)
    return sa.CheckConstraint(f"{column} IS NULL OR {column} IN ({allowed})", name=column)


# Copied, not imported: a migration keeps the meaning it had when it was written.
CAMPAIGN_STATES = ("draft", "running", "paused", "finished", "cancelled")
CONTACT_STATES = ("pending", "in_progress", "done")
CONTACT_OUTCOMES = ("completed", "partial", "no_input", "opted_out", "no_answer", "busy", "failed", "dnc")
ATTEMPT_OUTCOMES = ("completed", "partial", "no_input", "opted_out", "no_answer", "busy", "congestion", "failed")
DNC_SOURCES = ("api", "opt_out")


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("survey", sa.String(64), nullable=False),
        sa.Column("endpoint", sa.String(256), nullable=False),
        sa.Column("caller_id", sa.String(200), nullable=True),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("calls_per_minute", sa.Integer(), nullable=True),
        sa.Column("ring_timeout", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("retry_delay", sa.Integer(), nullable=False),
        sa.Column("calling_hours", sa.JSON(), nullable=False),
        sa.Column("opt_out_key", sa.String(1), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_dial_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        _one_of("state", CAMPAIGN_STATES),
    )
    op.create_index(op.f("ix_campaigns_state"), "campaigns", ["state"])
    op.create_table(
        "campaign_contacts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("operator", sa.String(64), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_cause", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("campaign_id", "phone"),
        _one_of("state", CONTACT_STATES),
        _one_of("outcome", CONTACT_OUTCOMES),
    )
    op.create_index(
        op.f("ix_campaign_contacts_campaign_id_state_next_attempt_at"),
        "campaign_contacts",
        ["campaign_id", "state", "next_attempt_at"],
    )
    op.create_index(op.f("ix_campaign_contacts_phone"), "campaign_contacts", ["phone"])
    op.create_table(
        "campaign_attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "contact_id", sa.Integer(), sa.ForeignKey("campaign_contacts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("instance", sa.String(80), nullable=False),
        sa.Column("channel_id", sa.String(150), nullable=False, unique=True),
        sa.Column("other_channel_id", sa.String(150), nullable=True),
        sa.Column("linkedid", sa.String(64), nullable=True),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cause", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.UniqueConstraint("contact_id", "number"),
        _one_of("outcome", ATTEMPT_OUTCOMES),
    )
    op.create_index(op.f("ix_campaign_attempts_campaign_id_ended_at"), "campaign_attempts", ["campaign_id", "ended_at"])
    op.create_index(op.f("ix_campaign_attempts_instance_ended_at"), "campaign_attempts", ["instance", "ended_at"])
    op.create_index(op.f("ix_campaign_attempts_linkedid"), "campaign_attempts", ["linkedid"])
    op.create_table(
        "do_not_call",
        sa.Column("phone", sa.String(32), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(100), nullable=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id", ondelete="SET NULL"), nullable=True),
        sa.Column("linkedid", sa.String(64), nullable=True),
        _one_of("source", DNC_SOURCES),
    )
    # survey_responses carries the summaries' triggers: a plain ADD COLUMN on both databases, never a copy of the
    # table (SQLite's batch mode would drop them).
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE survey_responses ADD COLUMN campaign_id INTEGER "
            "CONSTRAINT fk_survey_responses_campaign_id_campaigns REFERENCES campaigns (id)"
        )
    else:
        op.add_column("survey_responses", sa.Column("campaign_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_survey_responses_campaign_id_campaigns"),
            "survey_responses",
            "campaigns",
            ["campaign_id"],
            ["id"],
        )
    op.create_index(op.f("ix_survey_responses_campaign_id"), "survey_responses", ["campaign_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_survey_responses_campaign_id"), table_name="survey_responses")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35+ drops a column that no index or constraint but its own REFERENCES names.
        op.execute("ALTER TABLE survey_responses DROP COLUMN campaign_id")
    else:
        op.drop_constraint(op.f("fk_survey_responses_campaign_id_campaigns"), "survey_responses", type_="foreignkey")
        op.drop_column("survey_responses", "campaign_id")
    op.drop_table("do_not_call")
    op.drop_table("campaign_attempts")
    op.drop_table("campaign_contacts")
    op.drop_table("campaigns")
