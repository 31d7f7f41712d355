"""The case-management API (``/api/v1/cases``, ``/tasks``, ``/plans``, ``/notices``).

Through the in-process client on SQLite and, when POVGUARD_TEST_DATABASE_URL is set,
on PostgreSQL: a case from discovery to assistance with every answer checked,
optimistic locking, idempotent retries, refused actions, area scope, lists with
filters and pagination, grievances, the XLSX exports and the OpenAPI operation ids.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from povguard.api.cases import XLSX_MEDIA_TYPE
from povguard.api.deps import get_actor, get_area_prefix, get_now
from povguard.settings import Settings
from povguard.store import make_engine, migrate, session_factory
from povguard.store.services import UserItem
from povguard.web import create_app
from tests.cases.test_forms import find, right, sheet, texts
from tests.cases.test_workflow import CLASSIFY, PAYLOADS
from tests.store import sample_data as sd
from tests.store.conftest import BACKENDS, pg_schema
from tests.web.auth import ADMIN, make_user

API = "/api/v1"
T0 = dt.datetime(2025, 6, 3, 9, 0)
#: Time between two steps: longer than any public notice.
STEP = dt.timedelta(days=10)
H2_PERSON = "520102197504044411"
H2_MASKED = "5201**********4411"
CASE_H2 = f"{sd.H2}-01"
INCOME = {"period_from": "2024-10", "period_to": "2025-09", "per_capita_net": 9100.0}


@dataclass
class Api:
    """The app, its client and its clock."""

    app: FastAPI
    client: TestClient
    now: dt.datetime

    def tick(self, delta: dt.timedelta = STEP) -> dt.datetime:
        """Move the clock on."""
        self.now += delta
        return self.now

    def override(self, dependency: Any, value: Any) -> None:
        """Answer ``dependency`` with ``value`` from now on."""
        self.app.dependency_overrides[dependency] = lambda: value


@pytest.fixture(params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """A web app on a migrated database with the sample data; its clock starts at T0."""
    with ExitStack() as stack:
        url = None if request.param == "sqlite" else stack.enter_context(pg_schema())
        settings = Settings(home=tmp_path / "data", database_url=url, language="zh")
        migrate(settings.ops_url)
        engine = make_engine(settings.ops_url)
        with session_factory(engine)() as session:
            sd.load(session)
        engine.dispose()
        app = create_app(settings)
        headers = make_user(settings.ops_url)
        state = Api(app=app, client=stack.enter_context(TestClient(app, headers=headers)), now=T0)
        app.dependency_overrides[get_now] = lambda: state.now
        yield state


# ----------------------------------------------------------------------- helpers


def open_case(api: Api, household: str = sd.H2, channel: str = "self_report") -> dict[str, Any]:
    response = api.client.post(
        f"{API}/cases", json={"household_id": household, "channel": channel, "payload": {}}
    )
    assert response.status_code == 201, response.text
    case: dict[str, Any] = response.json()["case"]
    return case


def act(
    api: Api,
    case: dict[str, Any],
    action: str,
    payload: dict[str, Any] | None = None,
    *,
    expect: int = 200,
    version: int | None = None,
    headers: dict[str, str] | None = None,
    after: dt.timedelta = STEP,
) -> dict[str, Any]:
    """POST one transition at the case's version, ``after`` the previous request."""
    api.tick(after)
    response = api.client.post(
        f"{API}/cases/{case['id']}/transitions",
        json={
            "action": action,
            "expected_version": case["version"] if version is None else version,
            "payload": PAYLOADS_BY_NAME.get(action, {}) if payload is None else payload,
        },
        headers=headers or {},
    )
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


PAYLOADS_BY_NAME = {a.value: p for a, p in PAYLOADS.items()}
#: The identification path: action, payload, status after, allowed actions after.
IDENTIFICATION: list[tuple[str, dict[str, Any] | None, str, list[str]]] = [
    ("assign_visit", None, "visit", ["assign_visit", "record_visit", "close"]),
    (
        "record_visit",
        {**PAYLOADS_BY_NAME["record_visit"], "labour_members": 1, "income": INCOME},
        "cross_check",
        ["record_cross_check", "reject"],
    ),
    ("record_cross_check", None, "village_review", ["start_notice", "end_notice", "reject"]),
    ("start_notice", None, "village_review", ["start_notice", "end_notice", "reject"]),
    ("end_notice", None, "township_review", ["approve", "reject"]),
    ("approve", None, "county_approval", ["approve", "reject"]),
    ("approve", dict(CLASSIFY), "monitored", ["accept_plan", "record_follow_up"]),
]
ELIMINATION: list[tuple[str, dict[str, Any] | None]] = [
    (
        "propose_elimination",
        {**PAYLOADS_BY_NAME["propose_elimination"], "income": INCOME, "stable_months": 6},
    ),
    (
        "record_home_check",
        {
            **PAYLOADS_BY_NAME["record_home_check"],
            "guarantees": [{"item": "housing", "secure": True, "note": "B 级"}],
        },
    ),
    ("start_notice", None),
]


def walk(
    api: Api, case: dict[str, Any], start: int = 0, stop: int = len(IDENTIFICATION)
) -> dict[str, Any]:
    """Steps ``start`` to ``stop`` (excluded) of the identification path."""
    for action, payload, _, _ in IDENTIFICATION[start:stop]:
        case = act(api, case, action, payload)["case"]
    return case


def assist(
    api: Api, case: dict[str, Any], person: str | None = H2_MASKED
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Recommend a plan for a monitored case, give its first measure to ``person`` and
    accept it: (case, plan)."""
    plan = api.client.post(
        f"{API}/cases/{case['id']}/plan/recommend",
        json={"labour_members": 1, "has_stable_income": False},
    ).json()
    first = {"operation": "accept", "measure_id": plan["measures"][0]["measure_id"]}
    edited = api.client.patch(
        f"{API}/plans/{plan['id']}", json={**first, "person_id_number": person}
    )
    assert edited.status_code == 200, edited.text
    api.tick()
    accepted = api.client.post(
        f"{API}/plans/{plan['id']}/accept", json={"expected_version": case["version"]}
    )
    assert accepted.status_code == 200, accepted.text
    return accepted.json()["case"], plan


def history(api: Api, case_id: str) -> list[dict[str, Any]]:
    response = api.client.get(f"{API}/cases/{case_id}/history")
    assert response.status_code == 200
    events: list[dict[str, Any]] = response.json()
    return events


# ------------------------------------------------------------------------- tests


def test_a_case_from_discovery_to_assistance_step_by_step(api: Api) -> None:
    opened = api.client.post(
        f"{API}/cases",
        json={"household_id": sd.H2, "channel": "self_report", "payload": {"text": "家人住院"}},
    )
    assert opened.status_code == 201
    assert opened.headers["location"].endswith(f"{API}/cases/{CASE_H2}")
    body = opened.json()
    assert (body["kind"], body["kind_zh"], body["kind_en"]) == ("new_case", "新建案件", "new case")
    case = body["case"]
    assert (case["id"], case["household_id"], case["village_code"], case["period"]) == (
        CASE_H2,
        sd.H2,
        "520102001001",
        "2025-06",
    )
    assert (case["status"], case["status_zh"], case["version"], case["is_open"]) == (
        "discovered",
        "已发现",
        1,
        True,
    )
    assert (case["channel"], case["channel_zh"], case["basis"]) == (
        "self_report",
        "农户自主申报",
        "report",
    )
    assert case["discovered_at"] == "2025-06-03T09:00:00"
    assert case["due"] == {
        "kind": "home_visit",
        "label_zh": "入户核实",
        "label_en": "home visit",
        "due_on": "2025-06-06",
        "since": "2025-06-03",
        "param": "visit_due_days",
        "overdue": False,
        "days_overdue": 0,
        "days_left": 3,
    }
    assert case["actions"] == [
        {
            "action": "assign_visit",
            "label_zh": "派发入户核实任务",
            "label_en": "assign the home visit",
            "target": {"code": "visit", "label_zh": "入户核实", "label_en": "home visit"},
            "fields": [
                {
                    "name": "assignee",
                    "required": True,
                    "type": "text",
                    "label_zh": "入户核实负责人",
                    "label_en": "cadre who visits",
                    "options": None,
                    "description": "",
                }
            ],
            "guards": [],
        }
    ]

    for action, payload, status, allowed in IDENTIFICATION:
        before = case
        answer = act(api, case, action, payload)
        case, event = answer["case"], answer["event"]
        assert (case["status"], case["version"], case["allowed_actions"]) == (
            status,
            before["version"] + 1,
            allowed,
        ), action
        assert [a["action"] for a in case["actions"]] == allowed
        assert (event["seq"], event["action"], event["before"], event["after"]) == (
            case["version"],
            action,
            before["status"],
            status,
        )
        assert (event["actor"], event["at"]) == (ADMIN, api.now.isoformat())
        assert event["payload"] == (PAYLOADS_BY_NAME[action] if payload is None else payload)
        if action == "assign_visit":
            assert case["assignee"] == "村干部王芳"
            assert event["changes"]["assignee"] == [None, "村干部王芳"]
        if action == "record_visit":
            assert case["actions"][0]["fields"][0]["name"] == "results"
        if action == "start_notice":
            assert case["notice_started_on"] == api.now.date().isoformat()
            end = next(a for a in case["actions"] if a["action"] == "end_notice")
            assert end["guards"] == [
                {
                    "name": "notice_elapsed",
                    "label_zh": "公示期满",
                    "label_en": "the public notice ran its minimum length",
                    "param": "notice_days_identification",
                    "value": 5.0,
                }
            ]
        if action == "approve" and status == "county_approval":
            fields = case["actions"][0]["fields"]
            assert [(f["name"], f["required"]) for f in fields] == [
                ("household_type", True),
                ("main_cause", True),
                ("other_causes", False),
                ("reason", False),
            ]
            causes = [o["code"] for o in fields[1]["options"]]
            assert causes[:3] == ["illness", "schooling", "disability"] and len(causes) == 9

    assert (case["household_type"], case["household_type_zh"]) == ("edge", "边缘易致贫户")
    assert (case["main_cause"], case["main_cause_zh"], case["main_cause_en"]) == (
        "illness",
        "因病",
        "illness",
    )
    assert case["other_causes"] == [
        {"code": "schooling", "label_zh": "因学", "label_en": "schooling costs"}
    ]
    assert case["monitored_on"] == api.now.date().isoformat()
    assert (case["due"]["kind"], case["due"]["param"]) == ("follow_up", "follow_up_visit_days")

    recommended = api.client.post(
        f"{API}/cases/{CASE_H2}/plan/recommend",
        json={"labour_members": 1, "has_stable_income": False},
    )
    assert recommended.status_code == 201
    plan = recommended.json()
    assert (plan["case_id"], plan["status"], plan["status_zh"], plan["version"]) == (
        CASE_H2,
        "draft",
        "草稿",
        1,
    )
    assert plan["needs"]["main_cause"] == "illness" and plan["needs"]["labour_members"] == 1
    assert {m["status"] for m in plan["measures"]} == {"proposed"}
    first = plan["measures"][0]
    assert first["name_zh"] and first["category"] in (
        "development",
        "guarantee",
        "social_assistance",
    )
    edited = api.client.patch(
        f"{API}/plans/{plan['id']}",
        json={
            "operation": "accept",
            "measure_id": first["measure_id"],
            "person_id_number": H2_MASKED,
            "expected_version": 1,
        },
    )
    assert edited.status_code == 200, edited.text
    accepted_first = edited.json()["measures"][0]
    assert (edited.json()["version"], accepted_first["status"]) == (2, "accepted")
    assert accepted_first["person_id_number"] == H2_MASKED
    assert H2_PERSON not in edited.text
    stale_plan = api.client.patch(
        f"{API}/plans/{plan['id']}",
        json={"operation": "accept", "measure_id": first["measure_id"], "expected_version": 1},
    )
    assert (stale_plan.status_code, stale_plan.json()["error"]["code"]) == (409, "conflict")

    api.tick()
    accepted = api.client.post(
        f"{API}/plans/{plan['id']}/accept", json={"expected_version": case["version"]}
    )
    assert accepted.status_code == 200
    assisted, event = accepted.json()["case"], accepted.json()["event"]
    assert (assisted["status"], assisted["status_zh"], assisted["version"]) == (
        "assisted",
        "帮扶中",
        case["version"] + 1,
    )
    assert (assisted["plan_id"], event["action"], event["payload"]) == (
        str(plan["id"]),
        "accept_plan",
        {"plan_id": str(plan["id"])},
    )
    assert assisted["allowed_actions"] == ["accept_plan", "record_follow_up", "propose_elimination"]
    in_force = api.client.get(f"{API}/plans/{plan['id']}").json()
    assert (in_force["status"], in_force["accepted_by"]) == ("accepted", ADMIN)
    assert {m["status"] for m in in_force["measures"]} == {"accepted"}

    delivered = api.client.post(
        f"{API}/plans/{plan['id']}/measures/{first['id']}/deliveries",
        json={"delivered_on": "2025-08-20", "amount": 600, "note": "首期"},
    )
    assert delivered.status_code == 201
    assert delivered.json() == {
        "id": delivered.json()["id"],
        "plan_measure_id": first["id"],
        "delivered_on": "2025-08-20",
        "amount": 600.0,
        "note": "首期",
        "recorded_by": ADMIN,
    }
    by_catalogue_id = api.client.post(
        f"{API}/plans/{plan['id']}/measures/{first['measure_id']}/deliveries",
        json={"delivered_on": "2025-09-20", "amount": 400},
    )
    assert by_catalogue_id.status_code == 201
    measure = api.client.get(f"{API}/plans/{plan['id']}").json()["measures"][0]
    assert (measure["delivered_amount"], len(measure["deliveries"])) == (1000.0, 2)

    detail = api.client.get(f"{API}/cases/{CASE_H2}").json()
    assert detail["case"]["version"] == 9 == len(detail["events"])
    assert detail["events"] == history(api, CASE_H2)
    assert [e["action"] for e in detail["events"]] == [
        "open",
        *(a for a, _, _, _ in IDENTIFICATION),
        "accept_plan",
    ]
    assert detail["household"]["head_name"] == "李*"  # masked
    assert detail["household"]["head_id_number"] == H2_MASKED
    assert [r["name"] for r in detail["household"]["regions"]] == [
        "贵州省",
        "南明区",
        "甲镇",
        "东村",
    ]
    assert [(t["kind"], t["level"], t["status"]) for t in detail["tasks"]] == [
        ("visit", "village", "done"),
        ("cross_check", "county", "done"),
        ("review", "village", "done"),
        ("notice", "village", "done"),
        ("review", "township", "done"),
        ("review", "county", "done"),
        ("plan", "village", "done"),
        ("follow_up", "village", "open"),
    ]
    assert detail["tasks"][-1]["kind_zh"] == "跟踪回访"
    assert [
        (d["stage"], d["level"], d["outcome"], d["outcome_zh"]) for d in detail["decisions"]
    ] == [
        ("identification", "village", "approve", "通过"),
        ("identification", "township", "approve", "通过"),
        ("identification", "county", "approve", "通过"),
    ]
    assert [(n["kind"], n["status"], n["status_zh"]) for n in detail["notices"]] == [
        ("identification", "ended", "公示结束")
    ]
    assert [
        (v["kind"], v["authorisation_signed"], v["labour_members"]) for v in detail["visits"]
    ] == [("visit", True, 1)]
    assert [(i["channel"], i["kind"], i["basis"]) for i in detail["intakes"]] == [
        ("self_report", "new_case", "report")
    ]
    assert detail["intakes"][0]["detail"] == {"text": "家人住院"}
    assert detail["plan"]["id"] == plan["id"] and len(detail["plans"]) == 1
    assert detail["grievances"] == []
    assert H2_PERSON not in api.client.get(f"{API}/cases/{CASE_H2}").text


def test_a_stale_version_is_a_conflict_naming_both_versions(api: Api) -> None:
    case = open_case(api)
    visit = act(api, case, "assign_visit")["case"]
    answer = act(api, case, "assign_visit", {"assignee": "李明"}, expect=409)
    error = answer["error"]
    assert error["code"] == "conflict"
    assert "expected version 1" in error["message"] and "version 2" in error["message"]
    assert len(history(api, case["id"])) == 2
    assert (
        api.client.get(f"{API}/cases/{case['id']}").json()["case"]["assignee"]
        == (visit["assignee"])
    )


def test_an_idempotent_retry_returns_the_same_event(api: Api) -> None:
    case = open_case(api)
    key = {"Idempotency-Key": "visit-0001"}
    api.tick()
    request = {"action": "assign_visit", "expected_version": 1, "payload": {"assignee": "王芳"}}
    first = api.client.post(f"{API}/cases/{case['id']}/transitions", json=request, headers=key)
    again = api.client.post(f"{API}/cases/{case['id']}/transitions", json=request, headers=key)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert first.json()["event"]["idempotency_key"] == "visit-0001"
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert len(history(api, case["id"])) == 2
    in_body = api.client.post(
        f"{API}/cases/{case['id']}/transitions", json={**request, "idempotency_key": "visit-0001"}
    )
    assert in_body.json() == first.json()

    other = {**request, "payload": {"assignee": "李明"}}
    reused = api.client.post(f"{API}/cases/{case['id']}/transitions", json=other, headers=key)
    assert (reused.status_code, reused.json()["error"]["code"]) == (409, "idempotency_conflict")
    differ = api.client.post(
        f"{API}/cases/{case['id']}/transitions",
        json={**request, "idempotency_key": "other"},
        headers=key,
    )
    assert (differ.status_code, differ.json()["error"]["code"]) == (422, "validation_error")
    assert len(history(api, case["id"])) == 2

    report = {"household_id": sd.H4, "channel": "hotline", "payload": {"caller": "邻居"}}
    opened = api.client.post(f"{API}/cases", json=report, headers={"Idempotency-Key": "call-7"})
    retried = api.client.post(f"{API}/cases", json=report, headers={"Idempotency-Key": "call-7"})
    assert (opened.status_code, retried.status_code) == (201, 201)
    assert retried.headers["idempotent-replayed"] == "true"
    assert retried.json()["case"]["id"] == opened.json()["case"]["id"] == f"{sd.H4}-01"
    assert api.client.get(f"{API}/cases", params={"household": sd.H4}).json()["total"] == 1
    attached = api.client.post(f"{API}/cases", json={**report, "channel": "cadre_screening"})
    assert attached.status_code == 200
    assert (attached.json()["kind"], attached.json()["case"]["id"]) == ("attach", f"{sd.H4}-01")


def test_refused_actions_answer_409_or_422_and_change_nothing(api: Api) -> None:
    case = open_case(api)
    illegal = act(api, case, "approve", {}, expect=409)["error"]
    assert illegal["code"] == "illegal_transition"
    assert "allowed actions: assign_visit" in illegal["message"]
    missing = act(api, case, "assign_visit", {}, expect=422)["error"]
    assert missing["code"] == "missing_payload" and "assignee" in missing["message"]
    unknown = act(api, case, "fly", {}, expect=422)["error"]
    assert unknown["code"] == "validation_error" and "action" in unknown["message"]

    visit = act(api, case, "assign_visit")["case"]
    invalid = act(
        api, visit, "record_visit", {"findings": "x", "authorisation_signed": "yes"}, expect=422
    )
    assert invalid["error"]["code"] == "invalid_payload"
    assert "authorisation_signed" in invalid["error"]["message"]
    unsigned = act(
        api, visit, "record_visit", {"findings": "x", "authorisation_signed": False}, expect=409
    )
    assert unsigned["error"]["code"] == "guard_failed"
    assert "allowed actions: assign_visit, record_visit, close" in unsigned["error"]["message"]
    bad_income = {**PAYLOADS_BY_NAME["record_visit"], "income": {"per_capita_net": 1}}
    income = act(api, visit, "record_visit", bad_income, expect=422)["error"]
    assert income["code"] == "invalid_payload"
    assert income["message"].startswith("payload.income.period_from")

    review = walk(api, visit, 1, 4)
    started = dt.date.fromisoformat(review["notice_started_on"])
    assert (review["status"], started) == ("village_review", api.now.date())
    early = act(api, review, "end_notice", {}, after=dt.timedelta(days=4), expect=409)["error"]
    assert early["code"] == "guard_failed"
    earliest = (started + dt.timedelta(days=5)).isoformat()
    assert f"may end on {earliest} at the earliest" in early["message"]
    detail = api.client.get(f"{API}/cases/{case['id']}").json()
    assert detail["case"]["version"] == review["version"] == len(detail["events"]) == 5
    assert [n["status"] for n in detail["notices"]] == ["running"]


def test_out_of_area_cases_and_plans_are_404(api: Api) -> None:
    case = assist(api, walk(api, open_case(api)))[0]
    plan_id = case["plan_id"]
    api.override(get_area_prefix, "520103")
    for path in (
        f"{API}/cases/{CASE_H2}",
        f"{API}/cases/{CASE_H2}/history",
        f"{API}/cases/{CASE_H2}/forms/screening.xlsx",
        f"{API}/cases/{CASE_H2}/forms/measures.xlsx",
        f"{API}/plans/{plan_id}",
    ):
        response = api.client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    moved = act(api, case, "record_follow_up", {"findings": "x"}, expect=404)
    assert moved["error"]["code"] == "not_found" and CASE_H2 in moved["error"]["message"]
    for path, body in (
        (f"{API}/plans/{plan_id}/accept", {"expected_version": case["version"]}),
        (f"{API}/cases/{CASE_H2}/grievances", {"kind": "complaint", "reason": "x"}),
        (f"{API}/cases", {"household_id": sd.H2, "channel": "hotline"}),
    ):
        assert api.client.post(path, json=body).status_code == 404, path
    assert api.client.get(f"{API}/cases").json()["total"] == 0
    assert api.client.get(f"{API}/tasks").json()["total"] == 0
    api.override(get_area_prefix, "520102001")
    assert api.client.get(f"{API}/cases").json()["total"] == 1
    assert api.client.get(f"{API}/cases/{CASE_H2}").status_code == 200


def test_lists_filter_and_paginate(api: Api) -> None:
    opened = {
        h: open_case(api, h, c)
        for h, c in ((sd.H1, "self_report"), (sd.H2, "cadre_screening"), (sd.H3, "hotline"))
    }
    opened[sd.H4] = open_case(api, sd.H4, "risk_model")
    act(api, opened[sd.H1], "assign_visit", {"assignee": "王芳"})
    act(api, opened[sd.H2], "assign_visit", {"assignee": "李明"})
    api.now = T0 + dt.timedelta(days=8)
    opened[sd.H5] = open_case(api, sd.H5, "self_report")  # due on 14 June
    api.now = T0 + dt.timedelta(days=10)  # the others were due on 6 June

    def cases(**params: Any) -> dict[str, Any]:
        response = api.client.get(f"{API}/cases", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    first = cases(page_size=2)
    assert (first["total"], first["page"], first["page_size"], len(first["items"])) == (5, 1, 2, 2)
    ids = [c["id"] for p in (1, 2, 3) for c in cases(page_size=2, page=p)["items"]]
    assert sorted(ids) == sorted(c["id"] for c in opened.values())
    assert cases(page_size=2, page=4)["items"] == []
    assert ids[0] == opened[sd.H2]["id"]  # last changed first
    assert cases(status="visit")["total"] == 2
    assert cases(status=["visit", "discovered"])["total"] == 5
    assert (cases(open="true")["total"], cases(open="false")["total"]) == (5, 0)
    assert [c["household_id"] for c in cases(channel="hotline")["items"]] == [sd.H3]
    assert [c["household_id"] for c in cases(household=sd.H4)["items"]] == [sd.H4]
    assert [c["assignee"] for c in cases(assignee="王芳")["items"]] == ["王芳"]
    assert cases(relapse="true")["total"] == 0 and cases(relapse="false")["total"] == 5
    late = cases(overdue="true")
    assert late["total"] == 4
    assert {c["due"]["due_on"] for c in late["items"]} == {"2025-06-06"}
    assert all(c["overdue"] and c["due"]["days_overdue"] == 7 for c in late["items"])
    assert [c["household_id"] for c in cases(overdue="false")["items"]] == [sd.H5]
    listed = api.client.get(f"{API}/cases/overdue", params={"page_size": 3}).json()
    assert (listed["total"], len(listed["items"])) == (4, 3)

    def tasks(**params: Any) -> dict[str, Any]:
        response = api.client.get(f"{API}/tasks", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    everything = tasks()
    assert everything["total"] == 5
    assert {(t["kind"], t["level"], t["status"]) for t in everything["items"]} == {
        ("visit", "village", "open")
    }
    assert everything["items"][0]["due_on"] == "2025-06-06"  # earliest due first
    mine = tasks(assignee="王芳")["items"]
    assert [(t["case_id"], t["kind_zh"], t["level_zh"], t["overdue"]) for t in mine] == [
        (opened[sd.H1]["id"], "入户核实", "村级", True)
    ]
    assert (tasks(overdue="true")["total"], tasks(overdue="false")["total"]) == (4, 1)
    assert (tasks(level="county")["total"], tasks(kind="visit", page_size=1)["total"]) == (0, 5)
    assert tasks(status="done")["total"] == 0 and tasks(status="all")["total"] == 5

    relapses = api.client.get(
        f"{API}/cases/relapses", params={"start": "2025-05", "end": "2025-06"}
    )
    assert relapses.json() == [
        {
            "period": "2025-05",
            "opened": 0,
            "relapses": 0,
            "relapse_households": 0,
            "relapse_share": None,
        },
        {
            "period": "2025-06",
            "opened": 5,
            "relapses": 0,
            "relapse_households": 0,
            "relapse_share": 0.0,
        },
    ]
    for path, params in (
        ("cases", {"status": "bogus"}),
        ("cases", {"page": 0}),
        ("cases", {"page_size": 501}),
        ("cases", {"channel": "department"}),
        ("tasks", {"kind": "bogus"}),
        ("cases/relapses", {"start": "2025-06", "end": "2025-05"}),
        ("cases/relapses", {"start": "2025-6", "end": "2025-07"}),
    ):
        response = api.client.get(f"{API}/{path}", params=params)
        assert response.status_code == 422, (path, params)
        assert response.json()["error"]["code"] == "validation_error"


def test_grievances_appeal_and_complaint(api: Api) -> None:
    case = walk(api, open_case(api), 0, 5)
    assert case["status"] == "township_review"
    rejected = act(api, case, "reject")["case"]
    assert (rejected["status"], rejected["allowed_actions"]) == (
        "closed_not_identified",
        ["appeal"],
    )
    no_version = api.client.post(
        f"{API}/cases/{CASE_H2}/grievances", json={"kind": "appeal", "reason": "有异议"}
    )
    assert no_version.status_code == 422
    appeal = api.client.post(
        f"{API}/cases/{CASE_H2}/grievances",
        json={"kind": "appeal", "reason": "有异议", "expected_version": rejected["version"]},
    )
    assert appeal.status_code == 201
    assert (appeal.json()["kind_zh"], appeal.json()["status"], appeal.json()["filed_by"]) == (
        "申诉",
        "open",
        ADMIN,
    )
    reopened = api.client.get(f"{API}/cases/{CASE_H2}").json()["case"]
    assert (reopened["status"], reopened["appeals"]) == ("township_review", 1)

    complaint = api.client.post(
        f"{API}/cases/{CASE_H2}/grievances", json={"kind": "complaint", "reason": "入户晚了"}
    ).json()
    assert (complaint["kind"], complaint["status_zh"]) == ("complaint", "办理中")
    url = f"{API}/cases/{CASE_H2}/grievances/{complaint['id']}/resolve"
    resolved = api.client.post(url, json={"resolution": "已致歉并说明"})
    assert resolved.status_code == 200
    assert (resolved.json()["status"], resolved.json()["resolution"]) == (
        "resolved",
        "已致歉并说明",
    )
    again = api.client.post(url, json={"resolution": "x"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "conflict")
    other = api.client.post(
        f"{API}/cases/{CASE_H2}/grievances/{complaint['id'] + 99}/resolve", json={"resolution": "x"}
    )
    assert other.status_code == 404
    listed = api.client.get(f"{API}/cases/{CASE_H2}").json()["grievances"]
    assert [(g["kind"], g["status"]) for g in listed] == [
        ("appeal", "open"),
        ("complaint", "resolved"),
    ]


def test_exports_open_with_openpyxl_and_hold_the_case_values(api: Api) -> None:
    api.override(get_actor, "cadre.wang")
    case = walk(api, open_case(api))
    early = api.client.get(f"{API}/cases/{CASE_H2}/forms/measures.xlsx")
    assert (early.status_code, early.json()["error"]["code"]) == (409, "form_incomplete")
    case, plan = assist(api, case)
    first = plan["measures"][0]
    delivered = api.client.post(
        f"{API}/plans/{plan['id']}/measures/{first['id']}/deliveries",
        json={"delivered_on": "2025-08-20", "amount": 1234.5},
    )
    assert delivered.status_code == 201
    for action, payload in ELIMINATION:
        case = act(api, case, action, payload)["case"]
    assert case["status"] == "elimination_notice"

    notices = api.client.get(f"{API}/notices", params={"village": "520102001001"}).json()
    assert notices["total"] == 1
    posted = notices["items"][0]
    assert (posted["kind"], posted["status"], posted["village_name"], posted["head_name"]) == (
        "elimination",
        "running",
        "东村",
        "李娜",
    )
    assert (posted["household_type_zh"], posted["reason"]) == (
        "边缘易致贫户",
        PAYLOADS_BY_NAME["propose_elimination"]["readiness_reason"],
    )
    assert api.client.get(f"{API}/notices", params={"kind": "identification"}).json()["total"] == 0
    listing = api.client.get(
        f"{API}/notices/list.xlsx", params={"village": "520102001001", "kind": "elimination"}
    )
    assert listing.status_code == 200
    assert listing.headers["content-type"] == XLSX_MEDIA_TYPE
    assert listing.headers["content-disposition"] == (
        'attachment; filename="notices-520102001001-elimination.xlsx"'
    )
    ws = sheet(listing.content)
    assert "东村" in ws["A1"].value
    assert find(ws, "李娜").row > 1
    assert any("连续 6 个月人均纯收入高于监测线" in t for t in texts(ws))
    assert ws.oddFooter.right.text.endswith("导出人：cadre.wang")
    none = api.client.get(
        f"{API}/notices/list.xlsx", params={"village": "520102001002", "kind": "elimination"}
    )
    assert none.status_code == 404

    for action in ("end_notice", "approve", "approve"):
        case = act(api, case, action, {})["case"]
    assert case["status"] == "eliminated"
    exported_at = api.now.strftime("%Y-%m-%d %H:%M")

    def form(name: str, **params: str) -> Any:
        response = api.client.get(f"{API}/cases/{CASE_H2}/forms/{name}.xlsx", params=params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == XLSX_MEDIA_TYPE
        assert response.headers["content-disposition"] == (
            f'attachment; filename="{name}-{CASE_H2}.xlsx"'
        )
        ws = sheet(response.content)
        assert ws.oddFooter.right.text == (
            f"povguard 于 {exported_at} 生成，导出人：cadre.wang"
            if params.get("lang", "zh") == "zh"
            else f"generated by povguard on {exported_at} by cadre.wang"
        )
        assert not any(H2_PERSON in t for t in texts(ws))
        return ws

    screening = form("screening")
    assert screening["A1"].value == "防止返贫监测对象识别登记表"
    assert CASE_H2 in screening["A2"].value and sd.H2 in screening["A2"].value
    assert right(screening, find(screening, "户主姓名")).value == "李娜"
    assert right(screening, find(screening, "户主身份证号")).value == H2_MASKED
    assert right(screening, find(screening, "村")).value == "东村"
    assert right(screening, find(screening, "主要风险类型")).value == "因病"
    assert right(screening, find(screening, "发现渠道")).value == "农户自主申报"
    assert right(screening, find(screening, "人均纯收入（元）")).value == 9100.0
    assert right(screening, find(screening, "入户核实情况")).value == "主要劳动力住院，收入下降"
    assert right(screening, find(screening, "核实人员")).value == "村干部王芳"
    assert find(screening, "vehicles") and find(screening, "李晓")
    english = form("screening", lang="en")
    assert right(english, find(english, "head of household")).value == "李娜"

    elimination = form("elimination")
    assert right(elimination, find(elimination, "人均纯收入（元）")).value == 9100.0
    assert right(elimination, find(elimination, "收入稳定高于监测线（月）")).value == 6
    assert find(elimination, "李明") and find(elimination, "张华")
    assert any("连续 6 个月人均纯收入高于监测线" in t for t in texts(elimination))
    assert right(elimination, find(elimination, "监测线（元/人·年）")).value == 7100  # the pack's

    measures = form("measures")
    names = [m["name_zh"] for m in plan["measures"]]
    assert all(find(measures, name) for name in names)
    assert right(measures, find(measures, names[0])).value == "李娜"  # the member it is for
    assert any("1,234.50" in t for t in texts(measures))


def test_the_elimination_form_is_409_until_its_data_are_recorded(api: Api) -> None:
    case = assist(api, walk(api, open_case(api)))[0]
    early = api.client.get(f"{API}/cases/{CASE_H2}/forms/elimination.xlsx")
    assert (early.status_code, early.json()["error"]["code"]) == (409, "form_incomplete")
    assert "has not been proposed" in early.json()["error"]["message"]
    act(api, case, "propose_elimination")  # the canonical payload: no income
    # the visit's income (recorded on identification) is used when the proposal has none
    response = api.client.get(f"{API}/cases/{CASE_H2}/forms/elimination.xlsx")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "form_incomplete")
    assert "home-check team" in response.json()["error"]["message"]

    other = open_case(api, sd.H4)
    for action, payload, _, _ in IDENTIFICATION:
        other = act(api, other, action, None if action == "record_visit" else payload)["case"]
    other = assist(api, other, person=None)[0]
    act(api, other, "propose_elimination")
    missing = api.client.get(f"{API}/cases/{other['id']}/forms/elimination.xlsx")
    assert (missing.status_code, missing.json()["error"]["code"]) == (409, "form_incomplete")
    assert "no income recorded" in missing.json()["error"]["message"]


def test_actor_is_the_signed_in_user() -> None:
    user = UserItem(
        id=1,
        username="li.ming",
        display_name="李明",
        role="village",
        area_code="520102001001",
        active=True,
    )
    assert get_actor(user) == "li.ming"
    assert abs(get_now() - dt.datetime.now()) < dt.timedelta(seconds=5)


def test_openapi_has_the_operation_ids(client: TestClient) -> None:
    spec = client.get(f"{API}/openapi.json").json()
    ops = {
        op["operationId"]: (method.upper(), path)
        for path, item in spec["paths"].items()
        for method, op in item.items()
    }
    assert {k: v for k, v in ops.items() if k in EXPECTED_OPERATIONS} == EXPECTED_OPERATIONS
    xlsx = spec["paths"][f"{API}/cases/{{case_id}}/forms/screening.xlsx"]["get"]["responses"]
    assert XLSX_MEDIA_TYPE in xlsx["200"]["content"]
    transition = spec["paths"][f"{API}/cases/{{case_id}}/transitions"]["post"]
    assert set(transition["responses"]) == {"200", "404", "409", "422"}


EXPECTED_OPERATIONS = {
    "list_cases": ("GET", f"{API}/cases"),
    "open_case": ("POST", f"{API}/cases"),
    "list_overdue_cases": ("GET", f"{API}/cases/overdue"),
    "count_relapses": ("GET", f"{API}/cases/relapses"),
    "read_case": ("GET", f"{API}/cases/{{case_id}}"),
    "read_case_history": ("GET", f"{API}/cases/{{case_id}}/history"),
    "transition_case": ("POST", f"{API}/cases/{{case_id}}/transitions"),
    "file_grievance": ("POST", f"{API}/cases/{{case_id}}/grievances"),
    "resolve_grievance": ("POST", f"{API}/cases/{{case_id}}/grievances/{{grievance_id}}/resolve"),
    "export_screening_form": ("GET", f"{API}/cases/{{case_id}}/forms/screening.xlsx"),
    "export_elimination_form": ("GET", f"{API}/cases/{{case_id}}/forms/elimination.xlsx"),
    "export_measures_record": ("GET", f"{API}/cases/{{case_id}}/forms/measures.xlsx"),
    "recommend_plan": ("POST", f"{API}/cases/{{case_id}}/plan/recommend"),
    "read_plan": ("GET", f"{API}/plans/{{plan_id}}"),
    "edit_plan": ("PATCH", f"{API}/plans/{{plan_id}}"),
    "accept_plan": ("POST", f"{API}/plans/{{plan_id}}/accept"),
    "record_delivery": ("POST", f"{API}/plans/{{plan_id}}/measures/{{measure_id}}/deliveries"),
    "list_tasks": ("GET", f"{API}/tasks"),
    "list_notices": ("GET", f"{API}/notices"),
    "export_notice_list": ("GET", f"{API}/notices/list.xlsx"),
}
