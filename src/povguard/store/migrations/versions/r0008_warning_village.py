"""The worklist reads warnings by area without joining households.

``warnings`` gains ``village_code`` (the household's village when the warning was
published; filled from ``households`` for existing rows) and the index
``ix_warnings_period_village_code`` on ``(period, village_code, household_id,
rule_id)``: a period's warnings of an area are one index range, counted with an
index-only scan and paged in index order.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_warnings_period_village_code"


def upgrade() -> None:
    """Add, fill and index ``warnings.village_code``."""
    op.add_column("warnings", sa.Column("village_code", sa.String(length=12), nullable=True))
    op.execute(
        "UPDATE warnings SET village_code = (SELECT households.village_code "
        "FROM households WHERE households.id = warnings.household_id)"
    )
    with op.batch_alter_table("warnings") as batch:
        batch.alter_column("village_code", existing_type=sa.String(length=12), nullable=False)
    op.create_index(INDEX, "warnings", ["period", "village_code", "household_id", "rule_id"])


def downgrade() -> None:
    """Drop the index and the column."""
    op.drop_index(INDEX, table_name="warnings")
    with op.batch_alter_table("warnings") as batch:
        batch.drop_column("village_code")
