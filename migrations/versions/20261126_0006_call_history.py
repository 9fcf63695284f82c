"""calls: the call history from AMI and Master.csv (direction, disposition, ring and talk time, hangup side,
recording, client number); call_operators: who answered and who was rung

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECKS = {
    "direction": ("inbound", "outbound", "internal"),
    "disposition": ("answered", "missed", "busy", "failed", "abandoned_in_queue"),
    "hangup_side": ("caller", "operator"),
    "history_source": ("ami", "cdr_import"),
}


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("direction", sa.String(16), nullable=True))
        batch.add_column(sa.Column("disposition", sa.String(24), nullable=True))
        batch.add_column(sa.Column("client_number", sa.String(64), nullable=True))
        batch.add_column(sa.Column("ring_seconds", sa.Float(), nullable=True))
        batch.add_column(sa.Column("talk_seconds", sa.Float(), nullable=True))
        batch.add_column(sa.Column("hangup_side", sa.String(16), nullable=True))
        batch.add_column(sa.Column("recording", sa.String(512), nullable=True))
        batch.add_column(sa.Column("history_source", sa.String(16), nullable=True))
        batch.add_column(sa.Column("incomplete", sa.Boolean(), nullable=False, server_default=sa.false()))
        for column, values in CHECKS.items():
            listed = ", ".join(repr(v) for v in values)
            batch.create_check_constraint(op.f(f"ck_calls_{column}"), f"{column} IS NULL OR {column} IN ({listed})")
    op.create_index(op.f("ix_calls_disposition"), "calls", ["disposition"])
    op.create_index(op.f("ix_calls_client_number_started_at"), "calls", ["client_number", "started_at"])
    op.create_table(
        "call_operators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.CheckConstraint("role IN ('answered', 'rung')", name=op.f("ck_call_operators_role")),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_operators_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_call_operators_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_operators")),
        sa.UniqueConstraint("call_id", "operator_id", "role", name=op.f("uq_call_operators_call_id_operator_id_role")),
    )
    op.create_index(op.f("ix_call_operators_operator_id"), "call_operators", ["operator_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_call_operators_operator_id"), table_name="call_operators")
    op.drop_table("call_operators")
    op.drop_index(op.f("ix_calls_client_number_started_at"), table_name="calls")
    op.drop_index(op.f("ix_calls_disposition"), table_name="calls")
    with op.batch_alter_table("calls") as batch:
        for column in reversed(CHECKS):
            batch.drop_constraint(op.f(f"ck_calls_{column}"), type_="check")
        for column in (
            "incomplete",
            "history_source",
            "recording",
            "hangup_side",
            "talk_seconds",
            "ring_seconds",
            "client_number",
            "disposition",
            "direction",
        ):
            batch.drop_column(column)
