"""Migrations apply on SQLite and PostgreSQL, twice without harm."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from povguard.errors import ConfigError
from povguard.store import (
    Base,
    current_revision,
    head_revision,
    make_engine,
    migrate,
    normalise_url,
)

TABLES = {"regions", "households", "persons", "warnings", "cycle_runs", "alembic_version"}


def test_migrate_creates_every_table(database_url: str) -> None:
    head = head_revision()
    assert head is not None and head >= "0001"
    assert migrate(database_url) == head
    engine = make_engine(database_url)
    try:
        names = set(inspect(engine).get_table_names())
        assert names >= TABLES
        assert current_revision(engine) == head
        unique = inspect(engine).get_unique_constraints("warnings")
        assert [sorted(u["column_names"]) for u in unique] == [
            ["household_id", "period", "rule_id"]
        ]
    finally:
        engine.dispose()
    assert migrate(database_url) == head  # idempotent


def test_models_match_the_migrations(database_url: str) -> None:
    """Autogenerate finds nothing to change: models and revisions agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    migrate(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_migrate_accepts_an_engine(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert migrate(engine) == head_revision()
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'ops.sqlite3'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()
    assert (tmp_path / "sub" / "ops.sqlite3").exists()


def test_postgresql_urls_use_psycopg() -> None:
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    with pytest.raises(ConfigError):
        normalise_url("mysql://u@h/db")
