"""JSON API: overview, paginated warnings, households, error bodies."""

from __future__ import annotations

from typing import get_args

import pytest
from fastapi.testclient import TestClient

from povguard.api import mask_id_number, mask_ids_in
from povguard.api.schemas import HouseholdType, WarningKind
from povguard.store import HOUSEHOLD_TYPES, WARNING_KINDS
from tests.store import sample_data as sd


def test_overview(client: TestClient) -> None:
    body = client.get("/api/v1/overview").json()
    assert body["period"] == "2025-06"
    assert body["periods"] == ["2025-06", "2025-05"]
    assert (body["households"], body["persons"], body["former_poor"]) == (5, 10, 3)
    assert body["former_poor_share"] == pytest.approx(0.6)
    assert body["warnings"] == 5
    assert body["by_type"][-1] == {"key": None, "count": 2}
    may = client.get("/api/v1/overview", params={"period": "2025-05"}).json()
    assert may["warnings"] == 3


def test_warnings_pagination(client: TestClient) -> None:
    first = client.get("/api/v1/warnings", params={"page_size": 3}).json()
    assert (first["total"], first["page"], first["page_size"]) == (8, 1, 3)
    assert len(first["items"]) == 3
    ids = [w["id"] for w in first["items"]]
    for page in (2, 3):
        body = client.get("/api/v1/warnings", params={"page_size": 3, "page": page}).json()
        ids += [w["id"] for w in body["items"]]
    assert len(ids) == len(set(ids)) == 8
    beyond = client.get("/api/v1/warnings", params={"page_size": 3, "page": 9}).json()
    assert (beyond["items"], beyond["total"]) == ([], 8)
    filtered = client.get(
        "/api/v1/warnings", params={"period": "2025-06", "kind": "risk", "rule": "medical_oop"}
    ).json()
    assert filtered["total"] == 2
    item = filtered["items"][0]
    assert set(item) >= {"household_id", "village_name", "reason_zh", "reason_en", "evidence"}


def test_warning_evidence_ids_are_masked(client: TestClient) -> None:
    body = client.get("/api/v1/warnings", params={"rule": "income_below_line"}).text
    assert sd.H1_HEAD_ID not in body
    assert "5201**********1234" in body


def test_household(client: TestClient) -> None:
    response = client.get(f"/api/v1/households/{sd.H1}")
    assert response.status_code == 200
    body = response.json()
    assert body["village_name"] == "东村"
    assert body["head_id_number"] == "5201**********1234"
    assert [p["id_number"] for p in body["persons"]] == [
        "5201**********1234",
        "5201**********222X",
        "5201**********3316",
    ]
    assert [w["period"] for w in body["warnings"]] == ["2025-06", "2025-06", "2025-05"]
    assert sd.H1_HEAD_ID not in response.text


def test_missing_household_is_a_404_error_body(client: TestClient) -> None:
    response = client.get("/api/v1/households/0000")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": {"code": "not_found", "message": "household '0000' not found"}
    }


def test_unknown_route_and_bad_parameters_use_the_error_body(client: TestClient) -> None:
    missing = client.get("/api/v1/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    for params in ({"page": 0}, {"page_size": 501}, {"kind": "danger"}, {"period": "2025-6"}):
        response = client.get("/api/v1/warnings", params=params)
        assert response.status_code == 422, params
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert error["message"] and error["details"]
    method = client.post("/api/v1/overview")
    assert method.status_code == 405
    assert method.json()["error"]["code"] == "method_not_allowed"


def test_schema_enums_follow_the_store() -> None:
    assert get_args(WarningKind) == WARNING_KINDS
    assert get_args(HouseholdType) == HOUSEHOLD_TYPES


def test_masking() -> None:
    assert mask_id_number("520102198001011234") == "5201**********1234"
    assert mask_id_number("52010219820202222X") == "5201**********222X"
    assert mask_id_number("520102800101123") == "5201*******1123"
    assert mask_id_number("12345") == "*****"
    assert mask_id_number(None) is None
    assert mask_ids_in({"a": ["身份证 520102198001011234 号", 7], "b": "12345"}) == {
        "a": ["身份证 5201**********1234 号", 7],
        "b": "12345",
    }
