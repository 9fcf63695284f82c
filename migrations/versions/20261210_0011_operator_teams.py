"""operators.team: the team an operator works in (names and teams come from `ivr-survey operators import` or
PUT /operators/{id}); indexed, as every team filter looks the team's operators up by it

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN on both databases: no copy of the table (which calls refer to).
    op.add_column("operators", sa.Column("team", sa.String(length=100), nullable=True))
    op.create_index(op.f("ix_operators_team"), "operators", ["team"])


def downgrade() -> None:
    op.drop_index(op.f("ix_operators_team"), table_name="operators")  # an indexed column cannot be dropped
    op.drop_column("operators", "team")
