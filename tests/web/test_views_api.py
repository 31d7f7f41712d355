"""JSON counterparts of the pages: statistics, household records, quality, measures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from povguard.api import install_error_handlers, measures, quality, records, statistics
from povguard.api.auth import get_current_user
from povguard.api.deps import get_area_prefix
from povguard.settings import Settings
from povguard.store import make_engine, migrate, session_factory
from povguard.store.services import UserItem
from tests.store import sample_data as sd
from tests.web.test_pages_views import _store


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    """An app with only the four routers, on the sample data."""
    migrate(settings.ops_url)
    engine = make_engine(settings.ops_url)
    with session_factory(engine)() as session:
        sd.load(session)
    app = FastAPI()
    app.state.settings = settings
    app.state.session_factory = session_factory(engine)
    install_error_handlers(app)
    admin = UserItem(
        id=1, username="admin", display_name="admin", role="admin", area_code="", active=True
    )
    # everything, as an administrator (sign-in is tested in test_auth.py)
    app.dependency_overrides[get_area_prefix] = lambda: ""
    app.dependency_overrides[get_current_user] = lambda: admin
    for module in (statistics, records, quality, measures):
        app.include_router(module.router, prefix="/api/v1")
    with TestClient(app) as client:
        yield client
    engine.dispose()


def test_statistics_by_region_and_trends(api: TestClient) -> None:
    body = api.get("/api/v1/statistics").json()
    assert body["period"] == "2025-06"
    assert [(r["code"], r["households"], r["warned_households"]) for r in body["regions"]] == [
        ("520102000000", 4, 3),
        ("520103000000", 1, 1),
    ]
    assert body["trends"][-1] == {
        "period": "2025-06", "warnings": 5, "warned_households": 4, "opened": 0,
        "relapses": 0, "monitored": 0, "eliminated": 0,
    }  # fmt: skip
    assert len(body["trends"]) == 12
    villages = api.get("/api/v1/statistics?level=village&period=2025-05").json()
    assert [r["code"] for r in villages["regions"]] == [
        "520102001001", "520102001002", "520102002001", "520103001001",
    ]  # fmt: skip
    assert villages["regions"][0]["warned_households"] == 2
    assert api.get("/api/v1/statistics?period=2025-13").status_code == 422


def test_records_paginated_masked_and_scoped(api: TestClient, settings: Settings) -> None:
    empty = api.get(f"/api/v1/households/{sd.H1}/records").json()
    assert empty == {"items": [], "total": 0, "page": 1, "page_size": 50}
    _store(settings)
    body = api.get(f"/api/v1/households/{sd.H1}/records?page_size=1").json()
    assert body["total"] == 2 and len(body["items"]) == 1
    assert body["items"][0]["period"] == "2025-06"
    assert body["items"][0]["person_id"] != sd.H1_HEAD_ID
    api.app.dependency_overrides[get_area_prefix] = lambda: "520103"  # type: ignore[attr-defined]
    missing = api.get(f"/api/v1/households/{sd.H1}/records")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_quality_and_measures(api: TestClient, settings: Settings) -> None:
    assert api.get("/api/v1/quality").json() == []
    _store(settings)
    rows = api.get("/api/v1/quality?source=income_survey&period=2025-06").json()
    assert len(rows) == 1 and rows[0]["rows_quarantined"] == 1
    assert api.get("/api/v1/quality?source=nope").json() == []
    cat = api.get("/api/v1/measures").json()
    assert cat["version"] and len(cat["measures"]) > 3
    assert all(m["causes"] for m in cat["measures"])


def test_operation_ids(api: TestClient) -> None:
    ops = {
        op["operationId"]
        for path in api.get("/openapi.json").json()["paths"].values()
        for op in path.values()
    }
    assert {"list_statistics", "list_household_records", "list_quality", "list_measures"} <= ops


def test_statistics_refuses_periods_outside_the_calendar(api: TestClient) -> None:
    response = api.get("/api/v1/statistics?period=0001-01")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
