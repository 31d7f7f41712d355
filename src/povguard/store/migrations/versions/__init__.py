"""Alembic revisions, oldest first (``rNNNN_slug.py``)."""
