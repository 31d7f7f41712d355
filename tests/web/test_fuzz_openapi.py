"""Fuzz every operation of the OpenAPI document with schemathesis, in process.

The app runs on a migrated SQLite database in a temporary data directory (the
analytics store that ``POST /api/v1/feeds/{source}`` writes is there too) holding
the store's sample data, the cases opened from both periods' warnings, one case
walked to ``monitored`` with a draft plan, and a complaint. Every request is
authenticated: as an admin user (bearer token) and, for the push API, as a
department account allowed to push every source. Path parameters are drawn either
from schemathesis' generated values or from the ids that exist, so the fuzzing
reaches past the 404s into the real handlers.

What must hold for every generated request, valid or not: no 5xx answer, no
401/403 (the caller is authorised for everything), a documented status code and,
for documented answers, a body that conforms to the schema (two known gaps of the
document are relaxed, see :func:`_relax`). The examples are the same on every run;
``POVGUARD_FUZZ_RANDOM=1`` draws new ones and ``POVGUARD_FUZZ_EXAMPLES=<n>`` runs n
times as many.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from povguard.api import API_V1
from povguard.ingest import load_mappings
from povguard.settings import Settings
from povguard.store import make_engine, migrate, services, session_factory
from povguard.web import create_app
from tests.store import sample_data as sd
from tests.web.test_cases_api import IDENTIFICATION, PAYLOADS_BY_NAME

ADMIN = "fuzz-admin"
ADMIN_PASSWORD = "fuzz-admin-password-1"
T0 = dt.datetime(2025, 6, 3, 9, 0)
#: Time between two workflow steps: longer than any public notice.
STEP = dt.timedelta(days=10)
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
#: Examples per operation (the push API writes DuckDB on every call: fewer there);
#: ``POVGUARD_FUZZ_EXAMPLES`` multiplies both for a longer run.
SCALE = int(os.environ.get("POVGUARD_FUZZ_EXAMPLES", "1"))
MAX_EXAMPLES = 20 * SCALE
MAX_EXAMPLES_FEEDS = 10 * SCALE
#: The same examples on every run (CI stays reproducible) unless POVGUARD_FUZZ_RANDOM=1.
DERANDOMIZE = os.environ.get("POVGUARD_FUZZ_RANDOM", "") != "1"


@dataclass(frozen=True)
class FuzzTarget:
    """The app and the credentials and ids to use."""

    app: FastAPI
    admin_token: str
    push_token: str
    known: dict[str, list[str]]


def _populate(settings: Settings) -> tuple[str, str, dict[str, list[str]]]:
    """Load the sample data, open and advance cases, create the callers.

    Returns the admin's token, the push account's token and the known ids by path
    parameter name.
    """
    migrate(settings.ops_url)
    engine = make_engine(settings.ops_url)
    try:
        with session_factory(engine)() as session:
            sd.load(session)
            services.open_cases_from_warnings(session, "2025-05", at=T0 - dt.timedelta(days=30))
            services.open_cases_from_warnings(session, "2025-06", at=T0)
            case_ids = [c.id for c in services.list_cases(session, area_prefix="").items]
            walked = next(c for c in case_ids if c.startswith(sd.H2))
            at = T0
            version = services.get_case(session, walked, area_prefix="").version
            for action, payload, _, _ in IDENTIFICATION:
                at += STEP
                version = services.transition(
                    session,
                    walked,
                    action,
                    expected_version=version,
                    actor="fuzz-setup",
                    at=at,
                    area_prefix="",
                    payload=PAYLOADS_BY_NAME[action] if payload is None else payload,
                ).version
            plan = services.recommend_plan(
                session,
                walked,
                labour_members=1,
                has_stable_income=False,
                actor="fuzz-setup",
                area_prefix="",
            )
            complaint = services.file_grievance(
                session,
                case_ids[0],
                "complaint",
                reason="村干部未按时入户",
                actor="fuzz-setup",
                at=at,
                area_prefix="",
            )
            services.create_user(
                session,
                username=ADMIN,
                password=ADMIN_PASSWORD,
                role="admin",
                area_code="520000000000",
                display_name="Fuzz admin",
            )
            admin_token = services.issue_user_token(session, ADMIN, name="schemathesis")
            sources = sorted(load_mappings())
            _, push_token = services.create_account(session, "fuzz-push", "测试部门", sources)
            session.commit()
    finally:
        engine.dispose()
    measures = list(plan.measures)
    known = {
        "case_id": case_ids,
        "household_id": [sd.H1, sd.H2, sd.H3, sd.H4, sd.H5],
        "plan_id": [str(plan.id)],
        "measure_id": [str(m.id) for m in measures] + [m.measure_id for m in measures],
        "grievance_id": [str(complaint.id)],
        "source": sources,
    }
    return admin_token, push_token, known


#: Timestamps the API answers are local wall-clock times without an offset
#: (``2025-06-03T09:00:00``, documented as "local time"), while the document declares
#: them ``format: date-time``, which RFC 3339 says needs one. Checked as this instead.
LOCAL_DATE_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$"


def _relax(node: Any) -> None:
    """Known gaps of the document, relaxed in place so the rest stays strict.

    - ``format: date-time`` accepts a local time (see :data:`LOCAL_DATE_TIME`);
    - an operation with a request body may answer 400 ``bad_request`` (a body that is
      not JSON at all), which the document does not list.
    """
    if isinstance(node, dict):
        if node.get("format") == "date-time":
            del node["format"]
            node["pattern"] = LOCAL_DATE_TIME
        if "requestBody" in node and "responses" in node:
            node["responses"].setdefault(
                "400",
                {
                    "description": "the body cannot be parsed",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ErrorResponse"}
                        }
                    },
                },
            )
        for value in node.values():
            _relax(value)
    elif isinstance(node, list):
        for value in node:
            _relax(value)


def _openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document (it does not depend on the database), relaxed."""
    document = create_app(Settings(database_url="sqlite://", language="zh")).openapi()
    _relax(document)
    return document


#: Loaded at import so that every operation is its own test; each call is sent to
#: the populated app of :func:`fuzz_target`.
schema = schemathesis.openapi.from_dict(_openapi_document())
#: Ids that exist, by path parameter name (filled in by :func:`fuzz_target`).
KNOWN: dict[str, list[str]] = {}


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[dict[str, Any] | None]:
    """Each path parameter: the generated value or an id that exists."""
    if not isinstance(path_parameters, dict) or not path_parameters:
        return st.just(path_parameters)
    return st.fixed_dictionaries(
        {
            name: st.sampled_from([value, *KNOWN.get(name, [])])
            for name, value in path_parameters.items()
        }
    )


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    """A populated app in a temporary data directory, running for the whole module."""
    home = tmp_path_factory.mktemp("fuzz") / "data"
    settings = Settings(home=home, database_url=None, language="zh")
    admin_token, push_token, known = _populate(settings)
    KNOWN.update(known)
    app = create_app(settings)
    try:
        with TestClient(app):  # runs the lifespan around the whole fuzzing
            yield FuzzTarget(app, admin_token, push_token, known)
    finally:
        KNOWN.clear()


def _headers(target: FuzzTarget, case: schemathesis.Case[Any]) -> dict[str, str]:
    if case.path.startswith("/api/v1/feeds/"):
        return {"Authorization": f"Bearer {target.push_token}"}
    return {"Authorization": f"Bearer {target.admin_token}"}


def _call(target: FuzzTarget, case: schemathesis.Case[Any]) -> None:
    # These headers replace generated ones of the same name (the push API's declared
    # ``authorization`` parameter would otherwise only ever reach the 401).
    response = case.call_and_validate(headers=_headers(target, case), checks=CHECKS, app=target.app)
    assert response.status_code not in (401, 403), (
        f"{case.method} {case.formatted_path}: an authorised caller was refused "
        f"({response.status_code}): {response.text[:300]}"
    )


_FUZZ_SETTINGS = dict(
    deadline=None,
    database=None,
    derandomize=DERANDOMIZE,
    # One failure per operation, without the costly "explain" phase: a server error's
    # traceback through the ASGI stack takes pytest seconds to format.
    report_multiple_bugs=False,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


def test_the_fuzzing_caller_is_authenticated_and_sees_the_data(fuzz_target: FuzzTarget) -> None:
    """The credentials the fuzzing uses work, and anonymous callers are refused.

    Without this the fuzzing could pass while every request bounced off a 401.
    """
    with TestClient(fuzz_target.app) as client:
        admin = {"Authorization": f"Bearer {fuzz_target.admin_token}"}
        cases = client.get(f"{API_V1}/cases", params={"page_size": 100}, headers=admin)
        assert cases.status_code == 200, cases.text
        listed = {c["id"] for c in cases.json()["items"]}
        assert set(fuzz_target.known["case_id"]) <= listed
        assert len(fuzz_target.known["case_id"]) == 4
        household = client.get(f"{API_V1}/households/{sd.H1}", headers=admin)
        assert household.status_code == 200, household.text
        assert household.json()["id"] == sd.H1
        assert client.get(f"{API_V1}/cases").status_code == 401
        bad = {"Authorization": "Bearer not-a-token"}
        assert client.get(f"{API_V1}/cases", headers=bad).status_code == 401
        push = client.post(
            f"{API_V1}/feeds/hotline",
            params={"period": "2025-06"},
            content=b"[]",
            headers={
                "Authorization": f"Bearer {fuzz_target.push_token}",
                "Content-Type": "application/json",
            },
        )
        assert push.status_code == 200, push.text
        assert (push.json()["source"], push.json()["rows_read"]) == ("hotline", 0)
        assert "fuzz-push" in push.json()["notes"][0]["message_en"]


@schema.exclude(path_regex=r"^/api/v1/feeds/").parametrize()
@hypothesis.settings(max_examples=MAX_EXAMPLES, **_FUZZ_SETTINGS)  # type: ignore[arg-type]
def test_no_operation_answers_a_server_error(
    case: schemathesis.Case[Any], fuzz_target: FuzzTarget
) -> None:
    """Every operation but the push API: valid and invalid requests, never a 5xx."""
    _call(fuzz_target, case)


@schema.include(path_regex=r"^/api/v1/feeds/").parametrize()
@hypothesis.settings(max_examples=MAX_EXAMPLES_FEEDS, **_FUZZ_SETTINGS)  # type: ignore[arg-type]
def test_push_api_answers_no_server_error(
    case: schemathesis.Case[Any], fuzz_target: FuzzTarget
) -> None:
    """The push API with generated CSV and JSON bodies, never a 5xx."""
    _call(fuzz_target, case)
