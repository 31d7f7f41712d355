"""Alembic migrations of the operations database (run with :func:`povguard.store.migrate`)."""
