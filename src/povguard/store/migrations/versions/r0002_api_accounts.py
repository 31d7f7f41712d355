"""Department accounts of the push API: api_accounts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types are spelled out here (not imported from the models) so that this revision
# keeps creating the same table when the models change later.
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create ``api_accounts`` (a new table: no batch mode needed on SQLite)."""
    op.create_table(
        "api_accounts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("sources", JSON_DOC, nullable=False),
        sa.Column("token_hash", sa.String(length=255), nullable=False),
        sa.Column("token_prefix", sa.String(length=8), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_accounts")),
        sa.UniqueConstraint("name", name=op.f("uq_api_accounts_name")),
    )
    op.create_index(op.f("ix_api_accounts_token_prefix"), "api_accounts", ["token_prefix"])


def downgrade() -> None:
    """Drop ``api_accounts``."""
    op.drop_index(op.f("ix_api_accounts_token_prefix"), table_name="api_accounts")
    op.drop_table("api_accounts")
