"""cqr: versioned scorecards per call type and supervisors' evaluations; version 1 of each default scorecard

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)

# A literal copy, not an import: this migration must seed the same thing forever.
DEFAULT_SCORECARDS_V1 = {
    "qualification": {
        "greeting": 1,
        "identifying_problem": 3,
        "presenting_product": 2,
        "initiative": 2,
        "closing": 2,
        "tone": 1,
        "script": 1,
    },
    "objection": {
        "greeting": 1,
        "identifying_problem": 2,
        "presenting_product": 3,
        "handling_objections": 4,
        "initiative": 3,
        "closing": 3,
        "tone": 2,
        "difficult_client": 2,
    },
    "spam": {
        "greeting": 1,
        "identifying_problem": 2,
        "related_offer": 1,
        "tone": 2,
        "script": 1,
    },
    "transactional": {
        "greeting": 1,
        "presenting_product": 2,
        "handling_objections": 2,
        "related_offer": 2,
        "initiative": 2,
        "closing": 2,
        "tone": 1,
        "script": 1,
    },
    "reanimation": {
        "greeting": 1,
        "identifying_problem": 2,
        "presenting_product": 2,
        "handling_objections": 2,
        "initiative": 3,
        "closing": 2,
        "tone": 1,
        "difficult_client": 1,
    },
}


def upgrade() -> None:
    op.create_table(
        "cqr_scorecards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_type", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("weights", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cqr_scorecards")),
        sa.UniqueConstraint("call_type", "version", name=op.f("uq_cqr_scorecards_call_type_version")),
    )
    op.create_table(
        "cqr_evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("call_type", sa.String(32), nullable=False),
        sa.Column("scorecard_id", sa.Integer(), nullable=False),
        sa.Column("supervisor", sa.String(100), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("cqr", sa.Float(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cqr_evaluations")),
        sa.UniqueConstraint("call_id", "supervisor", name=op.f("uq_cqr_evaluations_call_id_supervisor")),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_cqr_evaluations_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["scorecard_id"],
            ["cqr_scorecards.id"],
            name=op.f("fk_cqr_evaluations_scorecard_id_cqr_scorecards"),
        ),
    )
    op.create_index(op.f("ix_cqr_evaluations_call_id"), "cqr_evaluations", ["call_id"])
    op.create_index(op.f("ix_cqr_evaluations_created_at"), "cqr_evaluations", ["created_at"])

    scorecards = sa.table(
        "cqr_scorecards",
        sa.column("call_type", sa.String),
        sa.column("version", sa.Integer),
        sa.column("weights", sa.JSON),
        sa.column("created_at", TS),
        sa.column("created_by", sa.String),
    )
    conn = op.get_bind()
    now = datetime.now(UTC)
    if conn.dialect.name == "sqlite":  # stored naive, read back as UTC by the model's type
        now = now.replace(tzinfo=None)
    conn.execute(
        sa.insert(scorecards),
        [
            {"call_type": call_type, "version": 1, "weights": weights, "created_at": now, "created_by": None}
            for call_type, weights in DEFAULT_SCORECARDS_V1.items()
        ],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_cqr_evaluations_created_at"), table_name="cqr_evaluations")
    op.drop_index(op.f("ix_cqr_evaluations_call_id"), table_name="cqr_evaluations")
    op.drop_table("cqr_evaluations")
    op.drop_table("cqr_scorecards")
