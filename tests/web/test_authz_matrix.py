"""Authorisation matrix: every role x every API endpoint x in-area and out-of-area.

The expectations are written here, independently of
:data:`povguard.api.auth.ROLE_PERMISSIONS`: which roles may read aggregates, read
household records, do case work, read the audit log, manage users. For each
(role, endpoint) the test sends a well-formed request about a household of the
user's area and, where the user has a bounded area, about one outside it:

- anonymous: 401; a role without the permission: 403 (in and out of area alike);
- allowed, in area: the endpoint's success status (most writes are sent with a
  stale version or a refused operation, so they answer 409 without changing
  anything; never 401/403/404);
- allowed, out of area: 404 for every endpoint about one record; lists hold only
  records of the area.

A test also fails when the API gains an endpoint this matrix does not cover.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from povguard.api.deps import get_now
from povguard.settings import Settings
from povguard.store import make_engine, migrate, replace_warnings, session_factory, sync_registry
from povguard.web import create_app
from tests.store import sample_data as sd
from tests.web.auth import make_user
from tests.web.test_cases_api import IDENTIFICATION, T0, Api, assist, open_case, walk

API = "/api/v1"
#: A household outside prefecture 5201 (for the city officer) and outside
#: province 52 (for the province officer).
H_CITY_OUT = "5202010010010001"
H_PROVINCE_OUT = "5301020010010001"

ROLES = ("province", "city", "county", "township", "village", "department", "analyst",
         "auditor", "admin")  # fmt: skip
AREAS = {
    "province": "520000000000",
    "city": "520100000000",
    "county": "520102000000",
    "township": "520102001000",
    "village": "520102001001",
    "department": "",
    "analyst": "520102000000",
    "auditor": "520102000000",
    "admin": "",
}
#: The household each role may see (H2, village 520102001001) and one it may not.
OUTSIDE = {
    "province": H_PROVINCE_OUT,
    "city": H_CITY_OUT,
    "county": sd.H5,
    "township": sd.H4,
    "village": sd.H3,
    "analyst": sd.H5,
    "auditor": sd.H5,
}

AGGREGATES = {"province", "city", "county", "township", "village", "analyst", "auditor", "admin"}
RECORDS = {"province", "city", "county", "township", "village", "auditor", "admin"}
CASEWORK = {"county", "township", "village", "admin"}
AUDIT = {"auditor", "admin"}
USERS = {"admin"}
EVERYONE = set(ROLES)


@dataclass
class World:
    """The app, one signed-in header set per role, and ids of records per household."""

    client: TestClient
    headers: dict[str, dict[str, str]]
    cases: dict[str, str] = field(default_factory=dict)
    plans: dict[str, tuple[int, int]] = field(default_factory=dict)
    grievances: dict[str, int] = field(default_factory=dict)


def _extra_regions() -> list[dict[str, Any]]:
    rows = []
    for county, name in (("520201", "钟山区"), ("530102", "五华区")):
        province = county[:2] + "0000000000"
        rows += [
            {"code": county + "000000", "name": name, "level": "county", "parent_code": province},
            {"code": county + "001000", "name": name + "一镇", "level": "township",
             "parent_code": county + "000000"},
            {"code": county + "001001", "name": name + "一村", "level": "village",
             "parent_code": county + "001000", "lon": 104.8, "lat": 26.6},
        ]  # fmt: skip
    rows.append({"code": "530000000000", "name": "云南省", "level": "province", "parent_code": ""})
    return rows


def _load(url: str) -> None:
    engine = make_engine(url)
    with session_factory(engine)() as session:
        households = [
            *sd.households(),
            *(sd._household(h, "外地户", 1, False) for h in (H_CITY_OUT, H_PROVINCE_OUT)),
        ]
        persons = [
            *sd.persons(),
            sd._person(H_CITY_OUT, "520201198001011230", "外甲", "户主", "1980-01-01"),
            sd._person(H_PROVINCE_OUT, "530102198001011232", "外乙", "户主", "1980-01-01"),
        ]
        for row in households[-2:]:
            row["head_id_number"] = persons[-1 if row["id"] == H_PROVINCE_OUT else -2]["id_number"]
        sync_registry(
            session, sd.regions() + _extra_regions(), households, persons, period="2025-06"
        )
        replace_warnings(session, "2025-05", sd.warnings_2025_05())
        replace_warnings(session, "2025-06", sd.warnings_2025_06())
    engine.dispose()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("matrix")
    settings = Settings(home=tmp / "data", database_url=None, language="zh")
    migrate(settings.ops_url)
    _load(settings.ops_url)
    headers = {
        role: make_user(settings.ops_url, role, AREAS[role], username=f"{role}.user")
        for role in ROLES
    }
    app = create_app(settings)
    with TestClient(app) as client:
        admin = Api(app=app, client=TestClient(app, headers=headers["admin"]), now=T0)
        app.dependency_overrides[get_now] = lambda: admin.now
        world = World(client=client, headers=headers)
        for household in (sd.H2, *set(OUTSIDE.values())):
            case = walk(admin, open_case(admin, household), 0, len(IDENTIFICATION))
            case, plan = assist(admin, case, person=None)
            world.cases[household] = case["id"]
            world.plans[household] = (plan["id"], plan["measures"][0]["id"])
            filed = admin.client.post(
                f"{API}/cases/{case['id']}/grievances",
                json={"kind": "complaint", "reason": "测试投诉"},
            )
            assert filed.status_code == 201, filed.text
            world.grievances[household] = filed.json()["id"]
        # a notice running now in H2's village (for the notice-list export)
        walk(admin, open_case(admin, sd.H1), 0, 4)
        yield world


@dataclass(frozen=True)
class Endpoint:
    """A request template: ``{h}`` is the household, ``{case}``, ``{plan}``,
    ``{measure}`` and ``{grievance}`` its records."""

    method: str
    path: str
    roles: set[str]
    ok: frozenset[int]
    body: dict[str, Any] | None = None
    scoped: bool = True  # about one record: out of area is 404


def _e(method: str, path: str, roles: set[str], *ok: int, **kw: Any) -> Endpoint:
    return Endpoint(method, path, roles, frozenset(ok or (200,)), **kw)


STALE = {"expected_version": 999}
ENDPOINTS: dict[str, Endpoint] = {
    "read_overview": _e("GET", "/overview", AGGREGATES, scoped=False),
    "list_policy_packs": _e("GET", "/policy/packs", AGGREGATES, scoped=False),
    "read_policy_pack": _e(
        "GET", "/policy/pack?period=2025-06&region=520102001001", AGGREGATES, scoped=False
    ),
    # no analytics store in this world: an allowed caller gets the store's 404
    "simulate_policy": _e(
        "POST", "/policy/simulate", AGGREGATES, 404, scoped=False,
        body={"period": "2025-06", "set": {"lines.monitoring": 8000}},
    ),
    "read_warnings": _e("GET", "/warnings?period=2025-06", RECORDS, scoped=False),
    "read_household": _e("GET", "/households/{h}", RECORDS),
    "list_household_records": _e("GET", "/households/{h}/records", RECORDS),
    "list_statistics": _e("GET", "/statistics?period=2025-06", AGGREGATES, scoped=False),
    "list_quality": _e("GET", "/quality", AGGREGATES, scoped=False),
    "list_measures": _e("GET", "/measures", AGGREGATES, scoped=False),
    "list_cases": _e("GET", "/cases", RECORDS, scoped=False),
    "open_case": _e(
        "POST", "/cases", CASEWORK, 200, 201, 409,
        body={"household_id": "{h}", "channel": "hotline", "payload": {}},
    ),
    "list_overdue_cases": _e("GET", "/cases/overdue", RECORDS, scoped=False),
    "count_relapses": _e(
        "GET", "/cases/relapses?start=2025-01&end=2025-12", RECORDS, scoped=False
    ),
    "read_case": _e("GET", "/cases/{case}", RECORDS),
    "read_case_history": _e("GET", "/cases/{case}/history", RECORDS),
    "transition_case": _e(
        "POST", "/cases/{case}/transitions", CASEWORK, 409,
        body={"action": "record_follow_up", "payload": {}, **STALE},
    ),
    "file_grievance": _e(
        "POST", "/cases/{case}/grievances", CASEWORK, 409,
        body={"kind": "appeal", "reason": "x", **STALE},
    ),
    "resolve_grievance": _e(
        "POST", "/cases/{case}/grievances/{grievance}/resolve", CASEWORK, 200, 409,
        body={"resolution": "已处理"},
    ),
    "export_screening_form": _e("GET", "/cases/{case}/forms/screening.xlsx", RECORDS),
    "export_elimination_form": _e("GET", "/cases/{case}/forms/elimination.xlsx", RECORDS, 409),
    "export_measures_record": _e("GET", "/cases/{case}/forms/measures.xlsx", RECORDS),
    "list_tasks": _e("GET", "/tasks", RECORDS, scoped=False),
    "list_notices": _e("GET", "/notices", RECORDS, scoped=False),
    "export_notice_list": _e(
        "GET", "/notices/list.xlsx?village={village}&kind=identification", RECORDS
    ),
    "recommend_plan": _e(
        "POST", "/cases/{case}/plan/recommend", CASEWORK, 200, 201, 409,
        body={"labour_members": 1, "has_stable_income": False},
    ),
    "read_plan": _e("GET", "/plans/{plan}", RECORDS),
    "edit_plan": _e(
        "PATCH", "/plans/{plan}", CASEWORK, 409,
        body={"operation": "remove", "measure_id": "no_such_measure"},
    ),
    "accept_plan": _e("POST", "/plans/{plan}/accept", CASEWORK, 409, body=STALE),
    "record_delivery": _e(
        "POST", "/plans/{plan}/measures/{measure}/deliveries", CASEWORK, 201,
        body={"delivered_on": "2025-08-20", "amount": 100.0},
    ),
    "read_me": _e("GET", "/me", EVERYONE, scoped=False),
    "list_users": _e("GET", "/users", USERS, scoped=False),
    "list_audit_events": _e("GET", "/audit", AUDIT, scoped=False),
}  # fmt: skip
#: Feeds authenticate department accounts (``povguard accounts``), not users:
#: every user token is refused there (tests/api/test_push.py covers the accounts).
ACCOUNT_ONLY = {"push_feed"}


def _fill(world: World, text: str, household: str) -> str:
    plan, measure = world.plans[household]
    return text.format(
        h=household,
        case=world.cases[household],
        plan=plan,
        measure=measure,
        grievance=world.grievances[household],
        village=household[:12],
    )


def _send(world: World, endpoint: Endpoint, role: str | None, household: str) -> Any:
    body = None
    if endpoint.body is not None:
        body = {
            k: _fill(world, v, household) if isinstance(v, str) else v
            for k, v in endpoint.body.items()
        }
    headers = world.headers[role] if role else {}
    return world.client.request(
        endpoint.method,
        API + _fill(world, endpoint.path, household),
        json=body,
        headers=headers,
    )


def test_the_matrix_covers_every_endpoint(world: World) -> None:
    spec = world.client.get(f"{API}/openapi.json").json()
    operations = {op["operationId"] for item in spec["paths"].values() for op in item.values()}
    assert operations - {"healthz"} == set(ENDPOINTS) | ACCOUNT_ONLY


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_anonymous_callers_get_401(world: World, name: str) -> None:
    response = _send(world, ENDPOINTS[name], None, sd.H2)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_role_by_endpoint_in_and_out_of_area(world: World, name: str, role: str) -> None:
    endpoint = ENDPOINTS[name]
    inside = _send(world, endpoint, role, sd.H2)
    if role not in endpoint.roles:
        assert inside.status_code == 403, (role, name, inside.text)
        assert inside.json()["error"]["code"] == "forbidden"
        return
    assert inside.status_code in endpoint.ok, (role, name, inside.status_code, inside.text)
    outside_household = OUTSIDE.get(role)
    if outside_household is None:
        return
    outside = _send(world, endpoint, role, outside_household)
    if endpoint.scoped:
        assert outside.status_code == 404, (role, name, outside.status_code, outside.text)
        assert outside.json()["error"]["code"] == "not_found"
    else:
        assert outside.status_code in endpoint.ok, (role, name, outside.text)


def _household_ids(body: Any) -> set[str]:
    items = body["items"] if isinstance(body, dict) and "items" in body else body
    return {item["household_id"] for item in items}


@pytest.mark.parametrize("role", sorted(RECORDS))
@pytest.mark.parametrize("path", ["/warnings", "/cases", "/tasks"])
def test_lists_hold_only_the_area(world: World, role: str, path: str) -> None:
    response = world.client.get(API + path, headers=world.headers[role])
    assert response.status_code == 200, response.text
    households = _household_ids(response.json())
    prefix = AREAS[role].rstrip("0") if role != "admin" else ""
    prefix = {"province": "52", "city": "5201"}.get(role, prefix)
    assert households, (role, path)
    assert all(h.startswith(prefix) for h in households), (role, path, households)
    if role in OUTSIDE:
        assert OUTSIDE[role] not in households


def test_the_province_sees_the_whole_province_and_nothing_beyond(world: World) -> None:
    cases = world.client.get(f"{API}/cases", headers=world.headers["province"]).json()
    households = _household_ids(cases)
    assert {sd.H2, sd.H3, sd.H4, sd.H5, H_CITY_OUT} <= households
    assert H_PROVINCE_OUT not in households


def test_the_audit_log_records_who_looked_at_whose_record(world: World) -> None:
    before = dt.datetime.now(dt.UTC)
    for role in ("village", "county"):
        response = world.client.get(
            f"{API}/households/{sd.H2}?reveal=true", headers=world.headers[role]
        )
        assert response.status_code == 200
        assert response.json()["head_name"] == "李娜"
        assert response.json()["revealed"] is True
    refused = world.client.get(
        f"{API}/households/{sd.H2}?reveal=true", headers=world.headers["auditor"]
    )
    assert refused.status_code == 403
    events = world.client.get(
        f"{API}/audit?action=person.view_full&entity_id={sd.H2}", headers=world.headers["auditor"]
    ).json()
    recent = [e for e in events if dt.datetime.fromisoformat(e["at"]) >= before]
    assert [e["actor"] for e in recent] == ["county.user", "village.user"]
    assert {e["after"]["persons"] for e in recent} == {2}
