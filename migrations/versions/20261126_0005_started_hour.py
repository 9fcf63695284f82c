"""survey_responses: the UTC hour copied in, so that time summaries in whole-hour time zones count 4x fewer slots

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_survey_responses_started_hour_score_status_started_at"


def upgrade() -> None:
    with op.batch_alter_table("survey_responses") as batch:
        batch.add_column(sa.Column("started_hour", sa.Integer(), nullable=True))
    # started_slot counts quarter hours since the epoch: four to the hour (integer division on both databases).
    op.execute("UPDATE survey_responses SET started_hour = started_slot / 4")
    op.create_index(INDEX, "survey_responses", ["started_hour", "score", "status", "started_at"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="survey_responses")
    with op.batch_alter_table("survey_responses") as batch:
        batch.drop_column("started_hour")
