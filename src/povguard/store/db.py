"""Engines and sessions of the operations database (SQLite or PostgreSQL).

Dialect differences that are not expressed by SQLAlchemy itself live here and in
:mod:`povguard.store.services._upsert`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from povguard.errors import ConfigError

logger = logging.getLogger(__name__)

#: Seconds a SQLite connection waits for a lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 10_000


def normalise_url(url: str | URL) -> URL:
    """Parse a database URL and pick the psycopg 3 driver for PostgreSQL.

    Parameters
    ----------
    url
        ``sqlite:///path``, ``postgresql://...``, ``postgres://...`` or any URL
        SQLAlchemy understands.

    Returns
    -------
    URL
        The parsed URL; ``postgresql://`` and ``postgres://`` become
        ``postgresql+psycopg://``.

    Raises
    ------
    ConfigError
        If the URL cannot be parsed or names a backend other than SQLite or PostgreSQL.
    """
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except Exception as exc:  # sqlalchemy raises ArgumentError with the raw URL
        raise ConfigError("the operations database URL cannot be parsed") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"unsupported operations database {backend!r}: use sqlite:/// or postgresql://"
        )
    return parsed


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    """Per-connection SQLite settings: WAL journal, foreign keys, busy timeout."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """Create an engine for the operations database.

    SQLite connections get WAL journalling, enforced foreign keys and a busy
    timeout on connect; the folder of a SQLite file is created if missing.
    PostgreSQL URLs use psycopg 3 (``postgresql://`` is accepted).

    Parameters
    ----------
    url
        Database URL, e.g. :attr:`povguard.settings.Settings.ops_url`.
    **kwargs
        Passed on to :func:`sqlalchemy.create_engine`.

    Returns
    -------
    Engine
        A new engine; dispose of it when done.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # web requests may open and use a session on different worker threads
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("check_same_thread", False)
        engine = create_engine(parsed, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(parsed, **kwargs)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``.

    Parameters
    ----------
    engine
        Engine from :func:`make_engine`.

    Returns
    -------
    sessionmaker
        Factory of sessions that keep loaded objects usable after commit
        (``expire_on_commit=False``).
    """
    return sessionmaker(bind=engine, expire_on_commit=False)
