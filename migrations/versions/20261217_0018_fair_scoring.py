"""Fair scoring: operator tokens (role operator, bound to one operator), evaluation versions (a revision keeps the
version before it), an operator's acceptance of an evaluation, and disputes

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-17
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ivr_survey.db.check_constraints import replace_check

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ROLES = "role IN ('analyst', 'supervisor', 'admin')"
ROLES = "role IN ('operator', 'analyst', 'supervisor', 'admin')"


def upgrade() -> None:
    replace_check(op.get_bind(), table="api_tokens", name="ck_api_tokens_role", was=OLD_ROLES, becomes=ROLES)
    op.add_column("api_tokens", sa.Column("operator", sa.String(64), nullable=True))
    op.add_column("cqr_evaluations", sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("cqr_evaluations", sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "cqr_evaluation_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("cqr", sa.Float(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("supervisor", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["cqr_evaluations.id"],
            name=op.f("fk_cqr_evaluation_versions_evaluation_id_cqr_evaluations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cqr_evaluation_versions")),
        sa.UniqueConstraint("evaluation_id", "version", name=op.f("uq_cqr_evaluation_versions_evaluation_id_version")),
    )
    op.create_table(
        "cqr_disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_by", sa.String(100), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("revised_version", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "state IS NULL OR state IN ('open', 'upheld', 'revised')", name=op.f("ck_cqr_disputes_state")
        ),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["cqr_evaluations.id"],
            name=op.f("fk_cqr_disputes_evaluation_id_cqr_evaluations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cqr_disputes")),
    )
    op.create_index(op.f("ix_cqr_disputes_evaluation_id"), "cqr_disputes", ["evaluation_id"])
    op.create_index(op.f("ix_cqr_disputes_opened_at"), "cqr_disputes", ["opened_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_cqr_disputes_opened_at"), table_name="cqr_disputes")
    op.drop_index(op.f("ix_cqr_disputes_evaluation_id"), table_name="cqr_disputes")
    op.drop_table("cqr_disputes")
    op.drop_table("cqr_evaluation_versions")
    op.drop_column("cqr_evaluations", "accepted_at")
    op.drop_column("cqr_evaluations", "version")
    op.drop_column("api_tokens", "operator")
    op.execute("DELETE FROM api_tokens WHERE role = 'operator'")
    replace_check(op.get_bind(), table="api_tokens", name="ck_api_tokens_role", was=ROLES, becomes=OLD_ROLES)
