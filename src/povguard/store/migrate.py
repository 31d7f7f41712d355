"""Apply the packaged Alembic migrations, with a configuration built in code."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Engine

from povguard.store.db import make_engine, normalise_url

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | URL | None = None) -> Config:
    """The Alembic configuration of the operations database.

    Parameters
    ----------
    url
        Database URL stored as ``sqlalchemy.url`` (only used when no connection is
        passed in ``config.attributes["connection"]``, e.g. for
        ``command.revision(cfg, autogenerate=True)``).

    Returns
    -------
    Config
        Configuration pointing at the migrations shipped in this package.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("file_template", "r%%(rev)s_%%(slug)s")
    if url is not None:
        rendered = normalise_url(url).render_as_string(hide_password=False)
        cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return cfg


def migrate(url: str | URL | Engine, revision: str = "head") -> str | None:
    """Upgrade the operations database to ``revision`` (idempotent).

    Parameters
    ----------
    url
        Database URL (``sqlite:///...``, ``postgresql://...``) or an existing engine.
        On PostgreSQL the tables go to the first schema of the connection's
        ``search_path``.
    revision
        Target revision, ``"head"`` by default.

    Returns
    -------
    str or None
        The revision the database is at afterwards.
    """
    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        cfg = alembic_config()
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        logger.info("operations database at revision %s", current)
        return current
    finally:
        if not isinstance(url, Engine):
            engine.dispose()


def head_revision() -> str | None:
    """The newest revision shipped in the package."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database behind ``engine`` is at (None when never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
