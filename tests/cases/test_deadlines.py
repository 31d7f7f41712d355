"""Due dates of case steps: boundaries, the step's most pressing deadline, notices."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from povguard.cases import (
    Action,
    CaseState,
    CaseStatus,
    deadlines,
    due_status,
    follow_up_due,
    identification_due,
    notice_earliest_end,
    notice_end,
    open_case,
    review_due,
    visit_due,
)
from povguard.cases import apply as apply_action
from povguard.errors import ConfigError

from .test_workflow import payload_for

S, A = CaseStatus, Action
DISCOVERED = datetime(2024, 3, 1, 10, 0)


def act(case: CaseState, action: Action, day: date, params: dict[str, Any]) -> CaseState:
    at = datetime.combine(day, datetime.min.time()).replace(hour=11)
    payload = payload_for(case.status, action)
    return apply_action(case, action, at=at, actor="cadre", params=params, payload=payload).state


def new_case() -> CaseState:
    return open_case("c1", "hh-1", channel="self_report", at=DISCOVERED, actor="农户")


def test_pack_procedure_parameters(pack_params: dict[str, Any]) -> None:
    got = {
        name: pack_params[name]
        for name in (
            "identification_limit_days",
            "visit_due_days",
            "notice_days_identification",
            "notice_days_elimination",
            "review_due_days",
            "elimination_team_min",
            "follow_up_visit_days",
        )
    }
    assert got == {
        "identification_limit_days": 15,
        "visit_due_days": 3,
        "notice_days_identification": 5,
        "notice_days_elimination": 7,
        "review_due_days": 3,
        "elimination_team_min": 2,
        "follow_up_visit_days": 90,
    }


def test_plain_due_dates(params: dict[str, Any]) -> None:
    day = date(2024, 3, 1)
    assert identification_due(day, params) == date(2024, 3, 16)
    assert visit_due(day, params) == date(2024, 3, 4)
    assert review_due(day, params) == date(2024, 3, 4)
    assert follow_up_due(day, params) == date(2024, 5, 30)
    assert notice_earliest_end(date(2024, 2, 27), 5) == date(2024, 3, 3)  # over a leap day


@pytest.mark.parametrize(
    ("day", "overdue", "days_overdue", "days_left"),
    [
        (date(2024, 3, 14), False, 0, 2),
        (date(2024, 3, 16), False, 0, 0),  # day 15 after discovery: still on time
        (date(2024, 3, 17), True, 1, 0),  # day 16: overdue
        (date(2024, 3, 26), True, 10, 0),
    ],
)
def test_identification_limit_boundary(
    day: date, overdue: bool, days_overdue: int, days_left: int, params: dict[str, Any]
) -> None:
    case = act(new_case(), A.ASSIGN_VISIT, date(2024, 3, 1), params)
    case = act(case, A.RECORD_VISIT, date(2024, 3, 2), params)
    assert case.status is S.CROSS_CHECK
    status = due_status(case, datetime.combine(day, datetime.max.time()), params)
    assert status is not None
    assert status.deadline.kind == "identification"
    assert status.deadline.param == "identification_limit_days"
    assert status.due_on == date(2024, 3, 16)
    assert (status.overdue, status.days_overdue, status.days_left) == (
        overdue,
        days_overdue,
        days_left,
    )


def test_home_visit_is_the_first_deadline(params: dict[str, Any]) -> None:
    case = new_case()
    found = deadlines(case, params)
    assert [(d.kind, d.due_on) for d in found] == [
        ("home_visit", date(2024, 3, 4)),
        ("identification", date(2024, 3, 16)),
    ]
    on_time = due_status(case, date(2024, 3, 4), params)
    assert on_time is not None and on_time.deadline.kind == "home_visit"
    assert not on_time.overdue
    late = due_status(case, date(2024, 3, 5), params)
    assert late is not None and (late.overdue, late.days_overdue) == (True, 1)
    assert late.deadline.label_zh == "入户核实" and late.deadline.label_en == "home visit"


def test_review_step_takes_the_earlier_deadline(params: dict[str, Any]) -> None:
    case = new_case()
    for action, day in [
        (A.ASSIGN_VISIT, 1),
        (A.RECORD_VISIT, 2),
        (A.RECORD_CROSS_CHECK, 3),
        (A.START_NOTICE, 4),
        (A.END_NOTICE, 9),
    ]:
        case = act(case, action, date(2024, 3, day), params)
    assert case.status is S.TOWNSHIP_REVIEW
    kinds = {d.kind: d.due_on for d in deadlines(case, params)}
    assert kinds == {"identification": date(2024, 3, 16), "review": date(2024, 3, 12)}
    status = due_status(case, date(2024, 3, 13), params)
    assert status is not None
    assert (status.deadline.kind, status.days_overdue) == ("review", 1)
    # the county step entered late is limited by the identification deadline
    county = act(case, A.APPROVE, date(2024, 3, 15), params)
    status = due_status(county, date(2024, 3, 16), params)
    assert status is not None
    assert (status.deadline.kind, status.due_on, status.overdue) == (
        "identification",
        date(2024, 3, 16),
        False,
    )


def test_notice_end_dates(params: dict[str, Any]) -> None:
    case = new_case()
    for action, day in [(A.ASSIGN_VISIT, 1), (A.RECORD_VISIT, 2), (A.RECORD_CROSS_CHECK, 3)]:
        case = act(case, action, date(2024, 3, day), params)
    assert notice_end(case, params) is None
    case = act(case, A.START_NOTICE, date(2024, 3, 4), params)
    assert notice_end(case, params) == date(2024, 3, 9)  # 5 days: 4-8 March shown


def test_follow_up_visits(params: dict[str, Any]) -> None:
    case = new_case()
    steps = [
        (A.ASSIGN_VISIT, date(2024, 3, 1)),
        (A.RECORD_VISIT, date(2024, 3, 2)),
        (A.RECORD_CROSS_CHECK, date(2024, 3, 3)),
        (A.START_NOTICE, date(2024, 3, 4)),
        (A.END_NOTICE, date(2024, 3, 9)),
        (A.APPROVE, date(2024, 3, 10)),
        (A.APPROVE, date(2024, 3, 11)),
    ]
    for action, day in steps:
        case = act(case, action, day, params)
    assert case.status is S.MONITORED
    assert [(d.kind, d.due_on) for d in deadlines(case, params)] == [
        ("follow_up", date(2024, 6, 9))
    ]
    case = act(case, A.ACCEPT_PLAN, date(2024, 3, 20), params)
    case = act(case, A.RECORD_FOLLOW_UP, date(2024, 6, 1), params)
    status = due_status(case, date(2024, 8, 30), params)
    assert status is not None
    assert (status.deadline.since, status.due_on, status.overdue) == (
        date(2024, 6, 1),
        date(2024, 8, 30),
        False,
    )
    status = due_status(case, date(2024, 9, 2), params)
    assert status is not None and status.days_overdue == 3


def test_elimination_notice_and_review_deadlines(params: dict[str, Any]) -> None:
    case = new_case()
    day = date(2024, 3, 1)
    for action in (
        A.ASSIGN_VISIT,
        A.RECORD_VISIT,
        A.RECORD_CROSS_CHECK,
        A.START_NOTICE,
        A.END_NOTICE,
        A.APPROVE,
        A.APPROVE,
        A.ACCEPT_PLAN,
        A.PROPOSE_ELIMINATION,
        A.RECORD_HOME_CHECK,
        A.START_NOTICE,
    ):
        case = act(case, action, day, params)
        day += timedelta(days=10)
    assert case.status is S.ELIMINATION_NOTICE
    started = case.notice_started_on
    assert started is not None
    assert notice_end(case, params) == started + timedelta(days=7)
    case = act(case, A.END_NOTICE, day, params)
    assert case.status is S.TOWNSHIP_ACCEPTANCE
    kinds = {d.kind: d.due_on for d in deadlines(case, params)}
    assert kinds["review"] == day + timedelta(days=3)
    status = due_status(case, day + timedelta(days=4), params)
    assert status is not None and (status.deadline.kind, status.days_overdue) == ("review", 1)


def test_closed_case_has_no_deadline(params: dict[str, Any]) -> None:
    case = act(new_case(), A.ASSIGN_VISIT, date(2024, 3, 1), params)
    case = act(case, A.CLOSE, date(2024, 3, 2), params)
    assert deadlines(case, params) == ()
    assert due_status(case, date(2030, 1, 1), params) is None


def test_reopened_review_counts_from_the_appeal(params: dict[str, Any]) -> None:
    case = new_case()
    for action, day in [(A.ASSIGN_VISIT, 1), (A.RECORD_VISIT, 2), (A.RECORD_CROSS_CHECK, 3)]:
        case = act(case, action, date(2024, 3, day), params)
    case = act(case, A.REJECT, date(2024, 3, 5), params)
    case = act(case, A.APPEAL, date(2024, 3, 30), params)
    assert case.status is S.VILLAGE_REVIEW
    assert [(d.kind, d.due_on) for d in deadlines(case, params)] == [("review", date(2024, 4, 2))]
    status = due_status(case, date(2024, 4, 2), params)
    assert status is not None and not status.overdue


def test_missing_or_bad_parameters(params: dict[str, Any]) -> None:
    case = new_case()
    without = {k: v for k, v in params.items() if k != "visit_due_days"}
    with pytest.raises(ConfigError, match="visit_due_days"):
        deadlines(case, without)
    with pytest.raises(ConfigError, match="whole number"):
        deadlines(case, {**params, "visit_due_days": 1.5})
    with pytest.raises(ConfigError, match="at least 0"):
        deadlines(case, {**params, "visit_due_days": -1})


def test_the_packs_have_every_case_parameter() -> None:
    from povguard.cases import CASE_PARAMETERS
    from povguard.policy import load_packs

    for pack in load_packs().packs:
        assert not CASE_PARAMETERS - set(pack.parameters), pack.ref
