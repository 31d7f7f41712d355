"""Tamper-evident audit trail: audit_events (hash chain) and audit_chain_head.

Both tables are guarded by triggers: UPDATE, DELETE (and, on PostgreSQL, TRUNCATE)
of ``audit_events`` are refused; the one row of ``audit_chain_head`` cannot be
deleted and its ``last_id`` cannot move backwards. Someone who may drop the
triggers can still tamper, which the hash chain then reveals
(:func:`povguard.store.services.audit.verify_chain`).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types and values are spelled out here (not imported from the models) so that this
# revision keeps creating the same tables when the models change later.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
GENESIS_HASH = "0" * 64

_REFUSED = "audit_events is append-only"
_HEAD_REFUSED = "audit_chain_head only moves forward"

#: SQLite: one trigger per refused statement (RAISE(ABORT) fails the statement
#: with SQLITE_CONSTRAINT, rolled back like a constraint violation).
SQLITE_TRIGGERS = {
    "audit_events_no_update": f"""
        CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
        BEGIN SELECT RAISE(ABORT, '{_REFUSED}: UPDATE refused'); END
    """,
    "audit_events_no_delete": f"""
        CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
        BEGIN SELECT RAISE(ABORT, '{_REFUSED}: DELETE refused'); END
    """,
    "audit_chain_head_no_delete": f"""
        CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head
        BEGIN SELECT RAISE(ABORT, '{_HEAD_REFUSED}: DELETE refused'); END
    """,
    "audit_chain_head_no_rewind": f"""
        CREATE TRIGGER audit_chain_head_no_rewind BEFORE UPDATE ON audit_chain_head
        WHEN NEW.id <> OLD.id OR NEW.last_id < OLD.last_id
        BEGIN SELECT RAISE(ABORT, '{_HEAD_REFUSED}: UPDATE refused'); END
    """,
}

#: PostgreSQL: trigger functions raise SQLSTATE 23001 (restrict_violation), an
#: integrity error like SQLite's, so callers see the same exception class.
PG_FUNCTIONS = {
    "audit_events_refuse_change": f"""
        CREATE FUNCTION audit_events_refuse_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{_REFUSED}: % refused', TG_OP
                USING ERRCODE = 'restrict_violation';
        END;
        $$
    """,
    "audit_chain_head_guard": f"""
        CREATE FUNCTION audit_chain_head_guard() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' THEN
                IF NEW.id = OLD.id AND NEW.last_id >= OLD.last_id THEN
                    RETURN NEW;
                END IF;
            END IF;
            RAISE EXCEPTION '{_HEAD_REFUSED}: % refused', TG_OP
                USING ERRCODE = 'restrict_violation';
        END;
        $$
    """,
}
PG_TRIGGERS = {
    "audit_events_no_update_delete": """
        CREATE TRIGGER audit_events_no_update_delete
        BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()
    """,
    "audit_events_no_truncate": """
        CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change()
    """,
    "audit_chain_head_guard": """
        CREATE TRIGGER audit_chain_head_guard BEFORE UPDATE OR DELETE ON audit_chain_head
        FOR EACH ROW EXECUTE FUNCTION audit_chain_head_guard()
    """,
    "audit_chain_head_no_truncate": """
        CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head
        FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_head_guard()
    """,
}
_PG_TRIGGER_TABLES = {
    "audit_events_no_update_delete": "audit_events",
    "audit_events_no_truncate": "audit_events",
    "audit_chain_head_guard": "audit_chain_head",
    "audit_chain_head_no_truncate": "audit_chain_head",
}


def _dialect() -> str:
    return op.get_context().dialect.name


def upgrade() -> None:
    """Create the audit tables, seed the chain head and guard both with triggers."""
    op.create_table(
        "audit_events",
        sa.Column("id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=128), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_audit_events_prev_hash")),
    )
    op.create_index(op.f("ix_audit_events_actor"), "audit_events", ["actor"])
    op.create_index(op.f("ix_audit_events_request_id"), "audit_events", ["request_id"])
    op.create_index(
        "ix_audit_events_entity_type_entity_id", "audit_events", ["entity_type", "entity_id"]
    )

    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.bulk_insert(head, [{"id": 1, "last_id": 0, "last_hash": GENESIS_HASH}])

    if _dialect() == "postgresql":
        for ddl in (*PG_FUNCTIONS.values(), *PG_TRIGGERS.values()):
            op.execute(ddl)
    else:
        for ddl in SQLITE_TRIGGERS.values():
            op.execute(ddl)


def downgrade() -> None:
    """Drop the triggers and the audit tables (the trail is lost)."""
    if _dialect() == "postgresql":
        for name, table in _PG_TRIGGER_TABLES.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for name in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("audit_chain_head")
    op.drop_index("ix_audit_events_entity_type_entity_id", table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_request_id"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_actor"), table_name="audit_events")
    op.drop_table("audit_events")
