"""api_tokens: a name is unique among live tokens only, so a revoked token's name may be given again (the revoked
row stays, for the audit)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("revoked_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:  # SQLite drops a constraint by copying the table
        batch.drop_constraint(op.f("uq_api_tokens_name"), type_="unique")
    op.create_index(
        "uq_api_tokens_live_name", "api_tokens", ["name"], unique=True, sqlite_where=LIVE, postgresql_where=LIVE
    )


def downgrade() -> None:
    # Names given again after a revocation would break the old constraint: the revoked rows sharing a name
    # take their id as a suffix (within the column's 100 characters), and every row is kept.
    op.execute(
        "UPDATE api_tokens SET name = substr(name, 1, 80) || '#' || CAST(id AS VARCHAR(20)) "
        "WHERE revoked_at IS NOT NULL AND name IN (SELECT name FROM api_tokens GROUP BY name HAVING count(*) > 1)"
    )
    op.drop_index("uq_api_tokens_live_name", table_name="api_tokens")
    with op.batch_alter_table("api_tokens") as batch:
        batch.create_unique_constraint(op.f("uq_api_tokens_name"), ["name"])
