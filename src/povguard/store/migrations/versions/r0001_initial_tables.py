"""Initial tables: regions, households, persons, warnings, cycle_runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types are spelled out here (not imported from the models) so that this revision
# keeps creating the same tables when the models change later.
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the first tables."""
    op.create_table(
        "regions",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("parent_code", sa.String(length=12), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.CheckConstraint(
            "level IN ('province', 'county', 'township', 'village')",
            name=op.f("ck_regions_level"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_regions")),
    )
    op.create_index(op.f("ix_regions_parent_code"), "regions", ["parent_code"])

    op.create_table(
        "households",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("village_code", sa.String(length=12), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("head_name", sa.String(length=64), nullable=True),
        sa.Column("head_id_number", sa.String(length=32), nullable=True),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("former_poor", sa.Boolean(), nullable=False),
        sa.Column("registered_year", sa.Integer(), nullable=True),
        sa.Column("exit_year", sa.Integer(), nullable=True),
        sa.Column("registration_cause", sa.String(length=64), nullable=True),
        sa.Column("monitoring_status", sa.String(length=32), nullable=True),
        sa.Column("monitoring_type", sa.String(length=32), nullable=True),
        sa.Column("dibao", sa.Boolean(), nullable=False),
        sa.Column("tekun", sa.Boolean(), nullable=False),
        sa.Column("updated_period", sa.String(length=7), nullable=True),
        sa.ForeignKeyConstraint(
            ["village_code"], ["regions.code"], name=op.f("fk_households_village_code_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_households")),
    )
    op.create_index(op.f("ix_households_village_code"), "households", ["village_code"])

    op.create_table(
        "persons",
        sa.Column("id_number", sa.String(length=32), nullable=False),
        sa.Column("household_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=True),
        sa.Column("sex", sa.String(length=8), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("relation", sa.String(length=32), nullable=True),
        sa.Column("ethnicity", sa.String(length=32), nullable=True),
        sa.Column("education", sa.String(length=32), nullable=True),
        sa.Column("school_status", sa.String(length=32), nullable=True),
        sa.Column("chronic_illness", sa.Boolean(), nullable=False),
        sa.Column("serious_illness", sa.Boolean(), nullable=False),
        sa.Column("disability_grade", sa.Integer(), nullable=False),
        sa.Column("work_capacity", sa.String(length=32), nullable=True),
        sa.Column("migrant_worker", sa.Boolean(), nullable=False),
        sa.Column("medical_insured", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_persons_household_id_households"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_number", name=op.f("pk_persons")),
    )
    op.create_index(op.f("ix_persons_household_id"), "persons", ["household_id"])

    op.create_table(
        "warnings",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("household_id", sa.String(length=32), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("rule_version", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("household_type", sa.String(length=32), nullable=True),
        sa.Column("reason_zh", sa.Text(), nullable=False),
        sa.Column("reason_en", sa.Text(), nullable=False),
        sa.Column("values", JSON_DOC, nullable=False),
        sa.Column("evidence", JSON_DOC, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "household_type IS NULL OR household_type IN "
            "('unstable_former_poor', 'edge', 'sudden_hardship')",
            name=op.f("ck_warnings_household_type"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_warnings_household_id_households"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warnings")),
        sa.UniqueConstraint(
            "period",
            "household_id",
            "rule_id",
            name=op.f("uq_warnings_period_household_id_rule_id"),
        ),
    )
    op.create_index("ix_warnings_household_id_period", "warnings", ["household_id", "period"])
    op.create_index("ix_warnings_period_rule_id", "warnings", ["period", "rule_id"])

    op.create_table(
        "cycle_runs",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stages", JSON_DOC, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed')", name=op.f("ck_cycle_runs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cycle_runs")),
    )
    op.create_index(op.f("ix_cycle_runs_period"), "cycle_runs", ["period"])


def downgrade() -> None:
    """Drop the first tables."""
    op.drop_table("cycle_runs")
    op.drop_table("warnings")
    op.drop_table("persons")
    op.drop_table("households")
    op.drop_table("regions")
