"""Alembic environment: runs revisions on the connection handed over by ``migrate``.

Run through :func:`povguard.store.migrate`, which builds the Alembic configuration in
code and passes an open connection in ``config.attributes["connection"]``. The
``sqlalchemy.url`` main option is used only when no connection is given (for example
``alembic revision --autogenerate`` with a configuration from
:func:`povguard.store.migrate.alembic_config`).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from povguard.store.db import make_engine
from povguard.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the revisions on the given connection, or on a new engine for the URL."""
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _configure(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("povguard migrations need a connection or sqlalchemy.url")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _configure(conn)
    finally:
        engine.dispose()


def run_migrations_offline() -> None:
    """Emit the SQL of the revisions (``alembic upgrade --sql``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
