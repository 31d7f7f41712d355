"""A web app on a migrated SQLite database holding the store's sample data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from povguard.settings import Settings
from povguard.store import make_engine, migrate, session_factory
from povguard.web import create_app
from tests.store import sample_data
from tests.web.auth import make_user


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with the operations database in a temporary data directory."""
    return Settings(home=tmp_path / "data", database_url=None, language="zh")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """In-process client of an app whose database holds the sample data, signed in
    as an administrator (:data:`tests.web.auth.ADMIN`) with an API token."""
    migrate(settings.ops_url)
    engine = make_engine(settings.ops_url)
    with session_factory(engine)() as session:
        sample_data.load(session)
    engine.dispose()
    headers = make_user(settings.ops_url)
    with TestClient(create_app(settings), headers=headers) as test_client:
        yield test_client


@pytest.fixture
def empty_client(settings: Settings) -> Iterator[TestClient]:
    """In-process client of an app on a migrated, empty database (signed in as an
    administrator)."""
    migrate(settings.ops_url)
    headers = make_user(settings.ops_url)
    with TestClient(create_app(settings), headers=headers) as test_client:
        yield test_client
