"""listens: supervisors' live listens (listen, whisper, barge), their calls, operators, start and end: the audit

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-16
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MODES = ("listen", "whisper", "barge")
STATES = ("ringing", "listening", "ended")
ENDS = ("stopped", "call_ended", "supervisor_hung_up", "not_answered", "refused", "shutdown", "failed")


def _in(column: str, values: tuple[str, ...], *, nullable: bool = False) -> str:
    listed = f"{column} IN ({', '.join(repr(v) for v in values)})"
    return f"{column} IS NULL OR {listed}" if nullable else listed


def upgrade() -> None:
    op.create_table(
        "listens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("supervisor", sa.String(100), nullable=False),
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(32), nullable=True),
        sa.Column("detail", sa.String(200), nullable=True),
        sa.CheckConstraint(_in("mode", MODES), name=op.f("ck_listens_mode")),
        sa.CheckConstraint(_in("state", STATES), name=op.f("ck_listens_state")),
        sa.CheckConstraint(_in("end_reason", ENDS, nullable=True), name=op.f("ck_listens_end_reason")),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_listens_call_id_calls"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], name=op.f("fk_listens_operator_id_operators")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listens")),
    )
    op.create_index(op.f("ix_listens_call_id"), "listens", ["call_id"])
    op.create_index(op.f("ix_listens_started_at"), "listens", ["started_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_listens_started_at"), table_name="listens")
    op.drop_index(op.f("ix_listens_call_id"), table_name="listens")
    op.drop_table("listens")
