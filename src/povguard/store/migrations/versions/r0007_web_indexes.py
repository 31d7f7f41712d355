"""Indexes for the worklist under load: households by village with their id.

``ix_households_village_code_id`` on ``households (village_code, id)`` lets the
worklist (:func:`povguard.store.services.queries.list_warnings`) turn an area into
its household ids with an index-only scan, instead of one heap fetch per household
of the area (about 100,000 for a county of the 1,000,000-household benchmark,
``bench/bench_web.py``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_households_village_code_id"


def upgrade() -> None:
    """Create the covering index of households by village."""
    op.create_index(INDEX, "households", ["village_code", "id"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index(INDEX, table_name="households")
