"""initial schema: operators, calls, versioned surveys, responses and answers; the default survey

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)

# A literal copy, not an import: this migration must seed the same thing forever.
DEFAULT_SURVEY_V1 = {
    "name": "default",
    "version": 1,
    "default_language": "en",
    "invalid_prompt": "survey-invalid",
    "accepted_prompt": "survey-accepted",
    "thanks_prompt": "survey-thanks",
    "questions": [
        {
            "key": "rating",
            "prompts": {"en": "survey-rate", "ru": "survey-rate"},
            "scores": {"1": 1.0, "2": 2.0, "3": 3.0, "4": 4.0, "5": 5.0},
            "max_digits": 1,
            "text": {
                "en": "Please rate the conversation from 1 to 5",
                "ru": "Пожалуйста, оцените разговор от 1 до 5",
            },
        }
    ],
}


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("code", name=op.f("uq_operators_code")),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("channel_uniqueid", sa.String(64), nullable=True),
        sa.Column("caller_number", sa.String(64), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("queue", sa.String(128), nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("linkedid", name=op.f("uq_calls_linkedid")),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], name=op.f("fk_calls_operator_id_operators")),
    )
    op.create_index(op.f("ix_calls_operator_id"), "calls", ["operator_id"])
    op.create_index(op.f("ix_calls_queue"), "calls", ["queue"])
    op.create_index(op.f("ix_calls_started_at"), "calls", ["started_at"])
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.UniqueConstraint("name", name=op.f("uq_surveys_name")),
    )
    op.create_table(
        "survey_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_versions")),
        sa.UniqueConstraint("survey_id", "version", name=op.f("uq_survey_versions_survey_id_version")),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"], name=op.f("fk_survey_versions_survey_id_surveys")),
    )
    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("survey_version_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint("call_id", name=op.f("uq_survey_responses_call_id")),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_survey_responses_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["survey_version_id"],
            ["survey_versions.id"],
            name=op.f("fk_survey_responses_survey_version_id_survey_versions"),
        ),
        sa.CheckConstraint(
            "status IN ('in_progress', 'completed', 'partial', 'no_input', 'abandoned', 'failed')",
            name=op.f("ck_survey_responses_status"),
        ),
    )
    op.create_index(op.f("ix_survey_responses_survey_version_id"), "survey_responses", ["survey_version_id"])
    op.create_index(op.f("ix_survey_responses_status"), "survey_responses", ["status"])
    op.create_index(op.f("ix_survey_responses_started_at"), "survey_responses", ["started_at"])
    op.create_table(
        "survey_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(64), nullable=False),
        sa.Column("digits", sa.String(16), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("answered_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_answers")),
        sa.UniqueConstraint("response_id", "position", name=op.f("uq_survey_answers_response_id_position")),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["survey_responses.id"],
            name=op.f("fk_survey_answers_response_id_survey_responses"),
            ondelete="CASCADE",
        ),
    )

    surveys = sa.table(
        "surveys", sa.column("id", sa.Integer), sa.column("name", sa.String), sa.column("created_at", TS)
    )
    versions = sa.table(
        "survey_versions",
        sa.column("survey_id", sa.Integer),
        sa.column("version", sa.Integer),
        sa.column("definition", sa.JSON),
        sa.column("created_at", TS),
    )
    conn = op.get_bind()
    now = datetime.now(UTC)
    if conn.dialect.name == "sqlite":  # stored naive, read back as UTC by the model's type
        now = now.replace(tzinfo=None)
    conn.execute(sa.insert(surveys).values(name="default", created_at=now))
    survey_id = conn.execute(sa.select(surveys.c.id).where(surveys.c.name == "default")).scalar_one()
    conn.execute(
        sa.insert(versions).values(survey_id=survey_id, version=1, definition=DEFAULT_SURVEY_V1, created_at=now)
    )


def downgrade() -> None:
    op.drop_table("survey_answers")
    op.drop_table("survey_responses")
    op.drop_table("survey_versions")
    op.drop_table("surveys")
    op.drop_table("calls")
    op.drop_table("operators")
