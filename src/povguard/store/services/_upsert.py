"""INSERT ... ON CONFLICT DO UPDATE on SQLite and PostgreSQL (the one dialect switch)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def upsert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` into ``table``, updating every other column on a key conflict.

    All rows must have the same keys (every column of the table).
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    keys = [c.name for c in table.primary_key.columns]
    if dialect == "postgresql":
        pg_stmt = postgresql.insert(table)
        stmt: Any = pg_stmt.on_conflict_do_update(
            index_elements=keys,
            set_={c: pg_stmt.excluded[c] for c in rows[0] if c not in keys},
        )
    elif dialect == "sqlite":
        lite_stmt = sqlite.insert(table)
        stmt = lite_stmt.on_conflict_do_update(
            index_elements=keys,
            set_={c: lite_stmt.excluded[c] for c in rows[0] if c not in keys},
        )
    else:  # pragma: no cover - make_engine refuses other backends
        raise NotImplementedError(f"upsert is not implemented for {dialect}")
    session.execute(stmt, list(rows))
