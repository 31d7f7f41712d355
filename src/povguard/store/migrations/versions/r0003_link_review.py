"""Clerical review queue of record linkage: link_review_pairs, link_review_events.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types are spelled out here (not imported from the models) so that this revision
# keeps creating the same tables when the models change later.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the review queue and its audit trail (new tables: no batch mode needed)."""
    op.create_table(
        "link_review_pairs",
        sa.Column("pair_key", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("first_period", sa.String(length=7), nullable=False),
        sa.Column("last_period", sa.String(length=7), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("household_id", sa.String(length=32), nullable=True),
        sa.Column("match_probability", sa.Float(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("candidate", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'match', 'non_match')",
            name=op.f("ck_link_review_pairs_status"),
        ),
        sa.PrimaryKeyConstraint("pair_key", name=op.f("pk_link_review_pairs")),
    )
    op.create_index(op.f("ix_link_review_pairs_source"), "link_review_pairs", ["source"])
    op.create_index(op.f("ix_link_review_pairs_status"), "link_review_pairs", ["status"])

    op.create_table(
        "link_review_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("pair_key", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("before_status", sa.String(length=16), nullable=True),
        sa.Column("after_status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "action IN ('queued', 'decided', 'undone')",
            name=op.f("ck_link_review_events_action"),
        ),
        sa.ForeignKeyConstraint(
            ["pair_key"],
            ["link_review_pairs.pair_key"],
            name=op.f("fk_link_review_events_pair_key_link_review_pairs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_review_events")),
    )
    op.create_index(op.f("ix_link_review_events_pair_key"), "link_review_events", ["pair_key"])


def downgrade() -> None:
    """Drop the review queue and its audit trail."""
    op.drop_index(op.f("ix_link_review_events_pair_key"), table_name="link_review_events")
    op.drop_table("link_review_events")
    op.drop_index(op.f("ix_link_review_pairs_status"), table_name="link_review_pairs")
    op.drop_index(op.f("ix_link_review_pairs_source"), table_name="link_review_pairs")
    op.drop_table("link_review_pairs")
