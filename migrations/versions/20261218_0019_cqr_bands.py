"""cqr_scorecards.bands: what a scorecard version's CQRs mean (bands from a CQR up, each with a label and a
colour); null for the default bands (80-100 good, below that to work on)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-18
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cqr_scorecards", sa.Column("bands", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("cqr_scorecards", "bands")
