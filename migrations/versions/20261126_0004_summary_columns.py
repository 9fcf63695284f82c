"""survey_responses: operator, queue, survey, first score and 15-minute slot copied in for fast summaries

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_survey_responses_operator_id_score_status_started_at": ["operator_id", "score", "status", "started_at"],
    "ix_survey_responses_queue_score_status_started_at": ["queue", "score", "status", "started_at"],
    "ix_survey_responses_survey_id_score_status_started_at": ["survey_id", "score", "status", "started_at"],
    "ix_survey_responses_started_slot_score_status_started_at": ["started_slot", "score", "status", "started_at"],
}


def upgrade() -> None:
    with op.batch_alter_table("survey_responses") as batch:
        batch.add_column(sa.Column("operator_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("queue", sa.String(128), nullable=True))
        batch.add_column(sa.Column("survey_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("started_slot", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_survey_responses_operator_id_operators"), "operators", ["operator_id"], ["id"]
        )
        batch.create_foreign_key(op.f("fk_survey_responses_survey_id_surveys"), "surveys", ["survey_id"], ["id"])
    # Fill the copies for responses stored before this revision.
    epoch = (
        "CAST(strftime('%s', started_at) AS INTEGER)"
        if op.get_bind().dialect.name == "sqlite"
        else "CAST(floor(extract(epoch from started_at)) AS INTEGER)"
    )
    op.execute(
        f"""
        UPDATE survey_responses SET
            operator_id = (SELECT calls.operator_id FROM calls WHERE calls.id = survey_responses.call_id),
            queue = (SELECT calls.queue FROM calls WHERE calls.id = survey_responses.call_id),
            survey_id = (SELECT survey_versions.survey_id FROM survey_versions
                         WHERE survey_versions.id = survey_responses.survey_version_id),
            score = (SELECT survey_answers.score FROM survey_answers
                     WHERE survey_answers.response_id = survey_responses.id AND survey_answers.position = 0),
            started_slot = {epoch} / 900
        """
    )
    for name, columns in INDEXES.items():
        op.create_index(name, "survey_responses", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="survey_responses")
    with op.batch_alter_table("survey_responses") as batch:
        batch.drop_constraint(op.f("fk_survey_responses_survey_id_surveys"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_survey_responses_operator_id_operators"), type_="foreignkey")
        batch.drop_column("started_slot")
        batch.drop_column("score")
        batch.drop_column("survey_id")
        batch.drop_column("queue")
        batch.drop_column("operator_id")
