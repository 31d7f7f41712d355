"""Read models and bulk assignment of :mod:`povguard.store.services.views`."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from povguard.errors import NotFoundError
from povguard.store import services
from povguard.store.models import User
from povguard.store.services import views
from tests.store import sample_data as sd

T0 = dt.datetime(2025, 6, 3, 9, 0)


@pytest.fixture
def loaded(session: Session) -> Session:
    """Sample data, the 2025-06 intake (cases of H1, H4, H5) and two cadres."""
    sd.load(session)
    services.open_cases_from_warnings(session, "2025-06", at=T0)
    session.add_all(
        [
            User(username="c.nanming", display_name="南明干部", role="county",
                 area_code="520102000000"),
            User(username="c.yunyan", display_name="云岩干部", role="village",
                 area_code="520103001001"),
            User(username="auditor", display_name="审计", role="auditor", area_code=""),
        ]
    )  # fmt: skip
    session.commit()
    return session


def test_worklist_is_scoped_and_filtered(loaded: Session) -> None:
    page = views.worklist(loaded, "520102", period="2025-06", now=T0)
    assert [r.household_id for r in page.items] == [sd.H1, sd.H4, sd.H3]
    h1 = page.items[0]
    assert h1.case_id == f"{sd.H1}-01" and h1.case_status == "discovered"
    assert h1.rule_ids == ("income_below_line", "medical_oop") and h1.severity == "high"
    assert views.worklist(loaded, "520102", period="2025-06", status="none").total == 1
    assert views.worklist(loaded, "520103", period="2025-06").total == 1


def test_cadres_of_the_area(loaded: Session) -> None:
    assert [c.username for c in views.list_cadres(loaded, "")] == ["c.nanming", "c.yunyan"]
    assert [c.username for c in views.list_cadres(loaded, "520103")] == ["c.yunyan"]


def test_assign_cases_assigns_in_area_and_refuses_the_rest(loaded: Session) -> None:
    ids = [f"{sd.H1}-01", f"{sd.H4}-01", f"{sd.H5}-01", "unknown-01"]
    result = views.assign_cases(
        loaded, ids, "c.nanming", actor="boss", area_prefix="520102", at=T0, request_key="r1"
    )
    assert result.assigned == [f"{sd.H1}-01", f"{sd.H4}-01"]
    assert result.refused == [(f"{sd.H5}-01", "not_found"), ("unknown-01", "not_found")]
    case = services.get_case(loaded, f"{sd.H1}-01", "")
    assert case.assignee == "c.nanming" and case.status == "visit"
    assert services.get_case(loaded, f"{sd.H5}-01", "").assignee is None
    events = services.list_events(loaded, entity_type="case", entity_id=f"{sd.H4}-01")
    assert any(e.action == "case.assign_visit" and e.actor == "boss" for e in events)
    again = views.assign_cases(
        loaded, ids[:2], "c.nanming", actor="boss", area_prefix="520102", at=T0, request_key="r1"
    )
    assert again.assigned == ids[:2]
    assert services.get_case(loaded, f"{sd.H1}-01", "").version == case.version  # no new event
    outside = views.assign_cases(loaded, [f"{sd.H1}-01"], "c.yunyan", actor="boss",
                                 area_prefix="", at=T0)  # fmt: skip
    assert outside.refused == [(f"{sd.H1}-01", "outside_assignee_area")]
    with pytest.raises(NotFoundError):
        views.assign_cases(loaded, ids, "c.yunyan", actor="boss", area_prefix="520102", at=T0)
    with pytest.raises(NotFoundError):
        views.assign_cases(loaded, ids, "auditor", actor="boss", area_prefix="", at=T0)


def test_assigning_a_later_step_gives_its_task(loaded: Session) -> None:
    case_id = f"{sd.H1}-01"
    view = services.transition(
        loaded, case_id, "assign_visit", expected_version=1, actor="a", at=T0,
        area_prefix="", payload={"assignee": "someone"},
    )  # fmt: skip
    view = services.transition(
        loaded, case_id, "record_visit", expected_version=view.version, actor="a", at=T0,
        area_prefix="", payload={"findings": "x", "authorisation_signed": True},
    )  # fmt: skip
    result = views.assign_cases(loaded, [case_id], "c.nanming", actor="boss", area_prefix="",
                                at=T0)  # fmt: skip
    assert result.assigned == [case_id]
    tasks = services.list_tasks(loaded, "", assignee="c.nanming")
    assert [t.case_id for t in tasks.items] == [case_id]
    events = services.list_events(loaded, entity_type="case", entity_id=case_id)
    assert any(e.action == "task.assign" for e in events)


def test_area_units_and_trends(loaded: Session) -> None:
    units = views.area_units(loaded, "", "2025-06")
    assert [(u.prefix, u.households, u.warned_households) for u in units] == [
        ("520102", 4, 3),
        ("520103", 1, 1),
    ]
    towns = views.area_units(loaded, "520102", "2025-06")
    assert towns[0].lon == pytest.approx(106.75) and towns[0].level == "township"
    points = views.trends(loaded, "520102", "2025-05", "2025-06")
    assert [(p.warnings, p.warned_households, p.opened) for p in points] == [(2, 2, 0), (4, 3, 2)]
