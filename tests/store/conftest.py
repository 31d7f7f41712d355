"""Store fixtures, parametrised over SQLite and PostgreSQL.

PostgreSQL comes from ``POVGUARD_TEST_DATABASE_URL``; each test gets its own
schema (``povguard_test_<run>_<n>``, selected with ``search_path``), dropped after
the test, and every schema of the run is dropped again at the end of the session.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from povguard.store import make_engine, migrate, normalise_url, session_factory

PG_ENV = "POVGUARD_TEST_DATABASE_URL"
PG_URL = os.environ.get(PG_ENV, "")
PG_SKIP_REASON = (
    f"{PG_ENV} is not set: PostgreSQL tests SKIPPED "
    "(CI sets it to postgresql://postgres@127.0.0.1:5432/test)"
)
RUN_ID = uuid.uuid4().hex[:8]
SCHEMA_PREFIX = f"povguard_test_{RUN_ID}_"
_counter = itertools.count(1)

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=[pytest.mark.postgres, pytest.mark.skipif(not PG_URL, reason=PG_SKIP_REASON)],
    ),
]


def _admin_engine() -> Engine:
    return make_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema; yields a URL whose ``search_path`` selects it."""
    name = f"{SCHEMA_PREFIX}{next(_counter)}"
    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        url = normalise_url(PG_URL).update_query_dict({"options": f"-csearch_path={name}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session", autouse=True)
def _drop_leftover_schemas() -> Iterator[None]:
    """Drop every schema this run created, even those of a crashed teardown."""
    yield
    if not PG_URL:
        return
    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            names = conn.scalars(
                text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"),
                {"p": SCHEMA_PREFIX + "%"},
            ).all()
            for name in names:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database (not migrated) on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ops.sqlite3'}"
        return
    with pg_schema() as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database."""
    migrate(database_url)
    eng = make_engine(database_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the migrated database."""
    with session_factory(engine)() as sess:
        yield sess
