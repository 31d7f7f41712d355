"""``/api/v1/policy``: the active pack and what-if simulation through the in-process client.

The app's data directory holds a copy of the simulation store (a small twin run
through the cycle; see :mod:`tests.policy.test_simulate`) next to the migrated
operations database of the other web tests.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from povguard.policy import PolicyPack, load_pack, load_packs
from povguard.settings import Settings
from povguard.store import migrate
from povguard.web import create_app
from tests.policy.test_simulate import PERIOD, RULE, copy_store, line
from tests.web.auth import make_user

URL = "/api/v1/policy/simulate"


@pytest.fixture(scope="module")
def store_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_store(tmp_path_factory, "api-policy")


@pytest.fixture
def settings(store_home: Path, tmp_path: Path) -> Settings:
    """Settings whose data directory holds a copy of the simulation store (overrides
    conftest's; the ``client`` fixture adds the operations database with sample data)."""
    shutil.copytree(store_home, tmp_path / "data")
    return Settings(home=tmp_path / "data", database_url=None, language="zh")


@pytest.fixture(scope="module")
def pack() -> PolicyPack:
    return load_pack()


def _error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    return str(body["error"]["message"])


def test_list_packs(client: TestClient) -> None:
    response = client.get("/api/v1/policy/packs")
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["ref"] for p in body] == [
        "national-monitoring@2021.1",
        "national-prevention@2026.1",
        "guizhou-monitoring@2021.1",
        "guizhou-prevention@2026.1",
    ]
    gz = body[2]
    assert (gz["region"], gz["region_name_zh"], gz["extends"]) == (
        "52",
        "贵州省",
        "national-monitoring",
    )
    assert (gz["effective_from"], gz["effective_to"]) == ("2021-01-01", "2025-12-31")
    assert gz["rules"] == len(load_packs().select("2025-06", "52").rules)


@pytest.mark.parametrize(
    ("query", "ref"),
    [
        ("period=2025-06&region=522325", "guizhou-monitoring@2021.1"),
        ("period=2025-12&region=52", "guizhou-monitoring@2021.1"),
        ("period=2026-01&region=52", "guizhou-prevention@2026.1"),
        ("period=2025-06&region=110101", "national-monitoring@2021.1"),
        ("period=2026-06&region=11", "national-prevention@2026.1"),
    ],
)
def test_read_the_pack_in_force(client: TestClient, query: str, ref: str) -> None:
    response = client.get(f"/api/v1/policy/pack?{query}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert f"{body['id']}@{body['version']}" == ref
    income = next(r for r in body["rules"] if r["id"] == "income_below_line")
    assert income["needs_trigger"] is True
    assert "house_unsafe" in {t["id"] for t in body["triggers"]}


@pytest.mark.parametrize("query", ["period=2020-12&region=52", "period=2025-13", "region=5x"])
def test_read_pack_bad_query(client: TestClient, query: str) -> None:
    response = client.get(f"/api/v1/policy/pack?{query}")
    assert response.status_code in (404, 422), response.text


def test_read_pack(client: TestClient, pack: PolicyPack) -> None:
    response = client.get("/api/v1/policy/pack?period=2025-06&region=11")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["version"]) == (pack.id, pack.version)
    assert body["effective_from"] == pack.effective_from.isoformat()
    assert [r["id"] for r in body["rules"]] == [r.id for r in pack.rules]
    params = {p["name"]: p for p in body["parameters"]}
    assert set(params) == set(pack.parameters)
    for name, value in pack.parameters.items():
        if isinstance(value, dict):
            assert params[name]["value"] is None
            assert {(v["year"], v["value"]) for v in params[name]["by_year"]} == set(value.items())
        else:
            assert (params[name]["value"], params[name]["by_year"]) == (value, [])
    rule = next(r for r in body["rules"] if r["id"] == RULE)
    assert "monitoring_line" in rule["condition"] and rule["title_zh"] and rule["title_en"]


def test_simulate(client: TestClient, pack: PolicyPack, settings: Settings) -> None:
    path = settings.analytics_path
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    # the library screens the twin's (Guizhou) households with the provincial pack
    in_force = load_packs().select(PERIOD, "52")
    raised = line(in_force) * 1.5
    response = client.post(
        URL, json={"period": PERIOD, "set": {"monitoring_line": raised}, "by": "village"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["period"], body["by"], body["overrides"]) == (
        PERIOD,
        "village",
        {"monitoring_line": raised},
    )
    assert body["parameters"] == [
        {"name": "monitoring_line", "before": line(in_force), "after": raised}
    ]
    rule = next(r for r in body["by_rule"] if r["rule_id"] == RULE and r["kind"] == "risk")
    assert rule["after"] > rule["before"] and rule["diff"] == rule["after"] - rule["before"]
    for group in [*body["by_rule"], *body["by_kind"]]:
        assert group["diff"] == group["after"] - group["before"]
        assert sum(r["before"] for r in group["by_region"]) == group["before"]
        assert sum(r["after"] for r in group["by_region"]) == group["after"]
    risk = next(k for k in body["by_kind"] if k["kind"] == "risk")
    assert risk["after"] > risk["before"]
    totals = body["households"]
    assert sum(r["after"] for r in body["by_region"]) == totals["after"]
    assert body["newly_flagged"]["count"] == totals["newly"] == len(body["newly_flagged"]["ids"])
    assert {t["key"] for t in rule["by_type"]} <= {"unstable_former_poor", "edge"}
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest  # nothing written


def test_simulate_lists_at_most_100_ids(client: TestClient, pack: PolicyPack) -> None:
    body = client.post(
        URL, json={"period": PERIOD, "set": {"monitoring_line": line(pack) * 200}}
    ).json()
    newly = body["newly_flagged"]
    assert newly["count"] > 100 and len(newly["ids"]) == 100 and newly["truncated"] is True
    assert newly["ids"] == sorted(newly["ids"])
    assert body["no_longer_flagged"] == {"count": 0, "ids": [], "truncated": False}


def test_simulate_defaults(client: TestClient) -> None:
    body = client.post(URL, json={"period": PERIOD}).json()
    assert body["by"] == "township" and body["overrides"] == {} and body["parameters"] == []
    assert all(r["diff"] == 0 for r in body["by_rule"])


@pytest.mark.parametrize(
    ("payload", "status", "code", "message"),
    [
        ({"period": PERIOD, "set": {"no_such_parameter": 1}}, 422, "validation_error", "no_such"),
        ({"period": PERIOD, "set": {"monitoring_line": "x"}}, 422, "validation_error", "set."),
        ({"period": PERIOD, "by": "province"}, 422, "validation_error", "by"),
        ({"period": "2025-13"}, 422, "validation_error", "period"),
        ({"period": PERIOD, "sett": {}}, 422, "validation_error", "sett"),
        ({}, 422, "validation_error", "period"),
        ({"period": "2030-01"}, 404, "not_found", "2030-01"),
    ],
)
def test_simulate_errors(
    client: TestClient, payload: dict[str, Any], status: int, code: str, message: str
) -> None:
    assert message in _error(client.post(URL, json=payload), status, code)


@pytest.fixture
def storeless_client(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    settings = Settings(home=tmp_path / "empty", database_url=None, language="zh")
    migrate(settings.ops_url)
    headers = make_user(settings.ops_url)
    with TestClient(create_app(settings), headers=headers) as test_client:
        yield test_client, settings.analytics_path


def test_simulate_without_a_store_is_404_and_creates_none(
    storeless_client: tuple[TestClient, Path],
) -> None:
    client, analytics = storeless_client
    message = _error(client.post(URL, json={"period": PERIOD}), 404, "not_found")
    assert "analytics store" in message
    assert not analytics.exists()
    assert client.get("/api/v1/policy/pack").status_code == 200


def test_openapi_operation_ids(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert paths["/api/v1/policy/pack"]["get"]["operationId"] == "read_policy_pack"
    assert paths["/api/v1/policy/packs"]["get"]["operationId"] == "list_policy_packs"
    assert paths["/api/v1/policy/simulate"]["post"]["operationId"] == "simulate_policy"
