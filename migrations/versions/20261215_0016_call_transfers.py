"""calls.transferred_from: the operators who talked to the caller before a transfer, first first (the call's
operator is the last); null for a call that was not transferred

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-15
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("transferred_from", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("calls", "transferred_from")
