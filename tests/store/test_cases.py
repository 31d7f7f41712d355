"""Case management on the operations database (SQLite and PostgreSQL).

Intake from warnings without duplicates, relapse cases and counts, the whole path
to risk elimination with its audit trail, optimistic locking (stale versions and two
real concurrent connections), idempotent retries, deadlines at their boundary, area
scope, plans, grievances, membership history and the cycle's intake step.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import Engine, delete, event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from povguard.cases import Action, CaseStatus, TransitionError
from povguard.cycle.publish import publish_cases
from povguard.errors import ConflictError, DataError, NotFoundError
from povguard.store import (
    AuditEvent,
    Case,
    CaseEventRecord,
    MembershipHistory,
    Task,
    replace_warnings,
    services,
    session_factory,
    sync_registry,
)
from povguard.store.services import (
    CaseView,
    StaleCaseError,
    accept_plan,
    case_detail,
    case_history,
    edit_plan,
    file_grievance,
    get_case,
    list_cases,
    list_intakes,
    list_tasks,
    open_case,
    open_cases_from_warnings,
    overdue,
    recommend_plan,
    record_delivery,
    relapse_counts,
    resolve_grievance,
    transition,
    verify_chain,
)
from povguard.store.services.cases import list_notices
from tests.cases.test_workflow import HAPPY, payload_for
from tests.store import sample_data as sd

A, S = Action, CaseStatus
T0 = dt.datetime(2025, 6, 3, 9, 0)
T1 = dt.datetime(2025, 7, 3, 9, 0)
#: Time between two steps of a path: longer than any public notice.
STEP = dt.timedelta(days=10)
H2_PERSON = "520102197504044411"


@pytest.fixture
def loaded(session: Session) -> Session:
    """The sample registry and the warnings of 2025-05 and 2025-06."""
    sd.load(session)
    return session


def _count(session: Session, model: type[Any], *where: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _case_of(session: Session, household_id: str) -> CaseView:
    page = list_cases(session, "", household_id=household_id)
    assert page.total >= 1
    return page.items[0]


def _step(
    session: Session, case: CaseView, action: Action, at: dt.datetime, **more: Any
) -> CaseView:
    """Apply ``action`` with the canonical payload (or an accepted plan for accept_plan)."""
    if action is A.ACCEPT_PLAN:
        plan = recommend_plan(
            session,
            case.id,
            labour_members=2,
            has_stable_income=True,
            actor="cadre",
            area_prefix="",
        )
        return accept_plan(
            session, plan.id, expected_version=case.version, actor="cadre", at=at, area_prefix=""
        )
    return transition(
        session,
        case.id,
        action,
        expected_version=case.version,
        actor="cadre",
        at=at,
        area_prefix="",
        payload=more.pop("payload", None) or payload_for(CaseStatus(case.status), action),
        **more,
    )


def _walk(
    session: Session, case: CaseView, actions: tuple[Action, ...], start: dt.datetime
) -> CaseView:
    at = start
    for action in actions:
        at += STEP
        case = _step(session, case, action, at)
    return case


def _until(target: CaseStatus) -> tuple[Action, ...]:
    """The canonical actions up to the first time a case reaches ``target``."""
    status, out = S.DISCOVERED, []
    to = {
        A.ASSIGN_VISIT: S.VISIT,
        A.RECORD_VISIT: S.CROSS_CHECK,
        A.RECORD_CROSS_CHECK: S.VILLAGE_REVIEW,
        A.ACCEPT_PLAN: S.ASSISTED,
        A.PROPOSE_ELIMINATION: S.ELIMINATION_ASSESSMENT,
        A.RECORD_HOME_CHECK: S.ELIMINATION_NOTICE,
    }
    approvals = iter((S.COUNTY_APPROVAL, S.MONITORED, S.COUNTY_ELIMINATION_APPROVAL, S.ELIMINATED))
    ends = iter((S.TOWNSHIP_REVIEW, S.TOWNSHIP_ACCEPTANCE))
    for action in HAPPY:
        out.append(action)
        if action is A.APPROVE:
            status = next(approvals)
        elif action is A.END_NOTICE:
            status = next(ends)
        elif action in to:
            status = to[action]
        if status is target:
            return tuple(out)
    raise AssertionError(target)


# ------------------------------------------------------------------------ intake


def test_intake_from_warnings_opens_each_household_once(loaded: Session) -> None:
    session = loaded
    first = open_cases_from_warnings(session, "2025-05", at=T0)
    assert (first.risk.new_case, first.risk.relapse, first.risk.attach) == (3, 0, 0)
    assert first.needs_verification.total == 0
    assert (first.already, first.ignored) == (0, 0)
    audit_after_first = _count(session, AuditEvent)
    assert audit_after_first == 3

    again = open_cases_from_warnings(session, "2025-05", at=T0 + dt.timedelta(hours=2))
    assert (again.new_cases, again.relapses, again.attached, again.already) == (0, 0, 0, 3)
    assert _count(session, Case) == 3
    assert _count(session, CaseEventRecord) == 3
    assert _count(session, AuditEvent) == audit_after_first

    # June: H1 (two risk warnings) and H5 join their open cases, H4's needs-verification
    # warning opens a case of its own, H3's ineligibility warning opens nothing
    june = open_cases_from_warnings(session, "2025-06", at=T1)
    assert june.risk.as_dict() == {"new_case": 0, "relapse": 0, "attach": 2}
    assert june.needs_verification.as_dict() == {"new_case": 1, "relapse": 0, "attach": 0}
    assert (june.already, june.ignored) == (0, 1)
    assert june.as_dict()["new_cases"] == 1 and june.as_dict()["attached"] == 2
    assert _count(session, Case) == 4
    assert _count(session, Case, Case.household_id == sd.H3) == 0

    h1 = _case_of(session, sd.H1)
    assert (h1.id, h1.version, h1.channel, h1.basis) == (
        f"{sd.H1}-01",
        1,
        "department_warning",
        "risk",
    )
    intakes = list_intakes(session, h1.id, "")
    assert [(i.period, i.kind) for i in intakes] == [("2025-05", "new_case"), ("2025-06", "attach")]
    assert intakes[1].rule_ids == ["income_below_line", "medical_oop"]
    assert intakes[1].detail == {"household_types": ["sudden_hardship", "unstable_former_poor"]}

    h4 = _case_of(session, sd.H4)
    assert (h4.basis, h4.channel, h4.period, h4.discovered_at) == (
        "needs_verification",
        "department_warning",
        "2025-06",
        T1,
    )
    history = case_history(session, h4.id, "")
    assert [(e.seq, e.action, e.after, e.idempotency_key) for e in history] == [
        (1, "open", "discovered", f"intake:2025-06:{sd.H4}")
    ]
    assert history[0].payload == {
        "basis": "needs_verification",
        "period": "2025-06",
        "rule_ids": ["income_unknown"],
    }
    # one open home-visit task per new case, due visit_due_days (3) after discovery
    tasks = list_tasks(session, "")
    assert sorted((t.case_id[:16], t.kind, t.level, t.due_on) for t in tasks.items) == [
        (sd.H1, "visit", "village", dt.date(2025, 6, 6)),
        (sd.H2, "visit", "village", dt.date(2025, 6, 6)),
        (sd.H4, "visit", "village", dt.date(2025, 7, 6)),
        (sd.H5, "visit", "village", dt.date(2025, 6, 6)),
    ]
    assert verify_chain(session).ok


def test_the_cycle_step_is_idempotent(loaded: Session) -> None:
    first = publish_cases(loaded, "2025-05", T0)
    assert (first["rows"], first["new_cases"], first["already"]) == (3, 3, 0)
    events = _count(loaded, CaseEventRecord)
    second = publish_cases(loaded, "2025-05", T0 + dt.timedelta(days=1))
    assert (second["rows"], second["new_cases"], second["already"]) == (0, 0, 3)
    assert _count(loaded, CaseEventRecord) == events == 3
    assert second["seconds"] >= 0


def test_other_channels_attach_or_open_and_retries_write_once(loaded: Session) -> None:
    session = loaded
    outcome = open_case(
        session,
        sd.H3,
        "self_report",
        at=T0,
        actor="窗口",
        area_prefix="520102",
        payload={"text": "家中老人住院"},
        idempotency_key="report-1",
    )
    assert (outcome.kind, outcome.case.status, outcome.case.basis, outcome.replay) == (
        "new_case",
        "discovered",
        "report",
        False,
    )
    again = open_case(
        session,
        sd.H3,
        "self_report",
        at=T0,
        actor="窗口",
        area_prefix="",
        idempotency_key="report-1",
    )
    assert (again.replay, again.case.id) == (True, outcome.case.id)
    hotline = open_case(session, sd.H3, "hotline", at=T1, actor="12317", area_prefix="")
    assert (hotline.kind, hotline.case.id) == ("attach", outcome.case.id)
    assert [i.channel for i in list_intakes(session, outcome.case.id, "")] == [
        "self_report",
        "hotline",
    ]
    assert _count(session, Case) == 1
    with pytest.raises(NotFoundError):
        open_case(session, sd.H5, "hotline", at=T0, actor="12317", area_prefix="520102")
    with pytest.raises(DataError, match="channel"):
        open_case(session, sd.H3, "rumour", at=T0, actor="x", area_prefix="")


# ------------------------------------------------------------- the whole path


def test_full_path_to_risk_elimination_is_stored_and_audited(loaded: Session) -> None:
    session = loaded
    case = open_case(session, sd.H2, "cadre_screening", at=T0, actor="网格员", area_prefix="").case
    final = _walk(session, case, HAPPY, T0)
    assert (final.status, final.version, final.household_type, final.main_cause) == (
        "eliminated",
        len(HAPPY) + 1,
        "edge",
        "illness",
    )
    assert final.closed_at == T0 + STEP * len(HAPPY)
    assert final.due is None and final.allowed_actions == ("appeal",)

    history = case_history(session, case.id, "")
    assert [e.seq for e in history] == list(range(1, len(HAPPY) + 2))
    assert [e.action for e in history] == ["open", *(a.value for a in HAPPY)]
    assert history[-1].before == "county_elimination_approval"

    detail = case_detail(session, case.id, "")
    assert [(d.stage, d.level, d.outcome) for d in detail.decisions] == [
        ("identification", "village", "approve"),
        ("identification", "township", "approve"),
        ("identification", "county", "approve"),
        ("elimination", "village", "approve"),
        ("elimination", "township", "approve"),
        ("elimination", "county", "approve"),
    ]
    notices = [(n.kind, n.status, (n.earliest_end - n.started_on).days) for n in detail.notices]
    assert notices == [("identification", "ended", 5), ("elimination", "ended", 7)]
    assert [(v.kind, v.authorisation_signed, v.team) for v in detail.visits] == [
        ("visit", True, []),
        ("home_check", None, ["李明", "张华"]),
    ]
    assert [t.kind for t in detail.tasks] == [
        "visit",
        "cross_check",
        "review",
        "notice",
        "review",
        "review",
        "plan",
        "follow_up",
        "home_check",
        "review",
        "notice",
        "review",
        "review",
    ]
    assert {t.status for t in detail.tasks} == {"done"}
    assert [p.status for p in detail.plans] == ["accepted"]
    assert detail.case.plan_id == str(detail.plans[0].id)

    trail = services.list_events(session, entity_type="case", entity_id=case.id, limit=100)
    assert [e.action for e in reversed(trail)] == [
        "case.open",
        *(f"case.{a.value}" for a in HAPPY),
    ]
    assert trail[0].before["status"] == "county_elimination_approval"
    assert trail[0].after["status"] == "eliminated" and trail[0].actor == "cadre"
    check = verify_chain(session)
    assert check.ok and check.checked == _count(session, AuditEvent) == len(HAPPY) + 2


def test_relapse_after_elimination_and_relapse_counts(loaded: Session) -> None:
    session = loaded
    open_cases_from_warnings(session, "2025-05", at=T0)
    first = _walk(session, _case_of(session, sd.H1), HAPPY, T0)
    assert first.status == "eliminated"

    late = T0 + STEP * (len(HAPPY) + 1)
    replace_warnings(session, "2025-11", [sd.warnings_2025_05()[0]])
    report = open_cases_from_warnings(session, "2025-11", at=late)
    assert report.risk.as_dict() == {"new_case": 0, "relapse": 1, "attach": 0}
    relapse = get_case(session, f"{sd.H1}-02", "")
    assert (relapse.relapse, relapse.previous_case_id, relapse.status, relapse.period) == (
        True,
        first.id,
        "discovered",
        "2025-11",
    )
    assert [i.kind for i in list_intakes(session, relapse.id, "")] == ["relapse"]
    assert list_cases(session, "", relapse=True).total == 1

    counts = relapse_counts(session, "", "2025-05", "2025-11")
    assert [(c.period, c.opened, c.relapses, c.relapse_households) for c in counts] == [
        ("2025-05", 3, 0, 0),
        ("2025-06", 0, 0, 0),
        ("2025-07", 0, 0, 0),
        ("2025-08", 0, 0, 0),
        ("2025-09", 0, 0, 0),
        ("2025-10", 0, 0, 0),
        ("2025-11", 1, 1, 1),
    ]
    assert counts[-1].relapse_share == 1.0 and counts[1].relapse_share is None
    in_520103 = relapse_counts(session, "520103", "2025-05", "2025-11")
    assert [(c.opened, c.relapses) for c in in_520103 if c.opened] == [(1, 0)]
    with pytest.raises(DataError, match="before it starts"):
        relapse_counts(session, "", "2025-11", "2025-05")


# ----------------------------------------------------------- optimistic locking


def test_a_stale_version_is_a_conflict_naming_both_versions(loaded: Session) -> None:
    session = loaded
    open_cases_from_warnings(session, "2025-05", at=T0)
    case = _case_of(session, sd.H1)
    moved = _step(session, case, A.ASSIGN_VISIT, T0 + STEP)
    assert moved.version == 2
    with pytest.raises(StaleCaseError) as info:
        transition(
            session,
            case.id,
            A.ASSIGN_VISIT,
            expected_version=1,
            actor="other",
            at=T0 + STEP,
            area_prefix="",
            payload={"assignee": "李四"},
        )
    err = info.value
    assert isinstance(err, ConflictError)
    assert (err.case_id, err.expected, err.current) == (case.id, 1, 2)
    assert f"case {case.id}: expected version 1, but it is at version 2" in str(err)
    assert "已被他人修改" in str(err)
    after = get_case(session, case.id, "")
    assert (after.version, after.assignee) == (2, "村干部王芳")
    assert _count(session, CaseEventRecord, CaseEventRecord.case_id == case.id) == 2


def test_an_idempotent_retry_returns_the_recorded_event(loaded: Session) -> None:
    session = loaded
    open_cases_from_warnings(session, "2025-05", at=T0)
    case = _case_of(session, sd.H2)
    done = _step(session, case, A.ASSIGN_VISIT, T0 + STEP, idempotency_key="req-7")
    assert done.event is not None and (done.event.seq, done.replay) == (2, False)
    audit = _count(session, AuditEvent)
    # the response was lost: the client retries with the version it had
    retry = _step(session, case, A.ASSIGN_VISIT, T0 + STEP * 2, idempotency_key="req-7")
    assert retry.replay is True and retry.event is not None
    assert (retry.event.seq, retry.event.recorded_at, retry.version) == (
        2,
        done.event.recorded_at,
        2,
    )
    assert retry.event.at == T0 + STEP  # the first request's time
    assert _count(session, CaseEventRecord, CaseEventRecord.case_id == case.id) == 2
    assert _count(session, AuditEvent) == audit
    with pytest.raises(TransitionError) as info:
        _step(
            session,
            case,
            A.ASSIGN_VISIT,
            T0 + STEP * 2,
            idempotency_key="req-7",
            payload={"assignee": "别人"},
        )
    assert info.value.code == "idempotency_conflict"


def test_two_connections_race_from_the_same_version_and_one_wins(engine: Engine) -> None:
    """Both threads read version 1 and reach the conditional UPDATE before either runs
    it (a barrier in a cursor hook); one commits, the other's update finds version 2."""
    factory = session_factory(engine)
    with factory() as session:
        sd.load(session)
        open_cases_from_warnings(session, "2025-05", at=T0)
        case = _case_of(session, sd.H1)
    loaded = threading.Barrier(2, timeout=30)
    at_update = threading.Barrier(2, timeout=30)
    local = threading.local()
    reached: list[str] = []

    def hook(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE CASES") and getattr(local, "armed", False):
            local.armed = False
            reached.append(threading.current_thread().name)
            at_update.wait()

    results: dict[str, Any] = {}

    def run(name: str) -> None:
        try:
            with factory() as s:
                seen = get_case(s, case.id, "")
                s.rollback()
                loaded.wait()
                local.armed = True
                results[name] = transition(
                    s,
                    case.id,
                    A.ASSIGN_VISIT,
                    expected_version=seen.version,
                    actor=name,
                    at=T0 + STEP,
                    area_prefix="",
                    payload={"assignee": name},
                    idempotency_key=f"key-{name}",
                )
        except Exception as exc:
            results[name] = exc

    event.listen(engine, "before_cursor_execute", hook)
    try:
        threads = [threading.Thread(target=run, args=(n,)) for n in ("cadre-a", "cadre-b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        event.remove(engine, "before_cursor_execute", hook)
    assert not any(t.is_alive() for t in threads)
    assert len(reached) == 2  # both passed the version check and raced on the update
    won = [n for n, r in results.items() if isinstance(r, CaseView)]
    lost = [r for r in results.values() if isinstance(r, StaleCaseError)]
    assert len(won) == 1 and len(lost) == 1, results
    assert (lost[0].expected, lost[0].current) == (1, 2)
    with factory() as session:
        final = get_case(session, case.id, "")
        assert (final.version, final.assignee) == (2, won[0])
        assert [e.actor for e in case_history(session, case.id, "")] == ["system", won[0]]
        assert _count(session, Task, Task.case_id == case.id) == 1
        assert verify_chain(session).ok


# -------------------------------------------------------------------- deadlines


def test_overdue_at_the_deadline_boundary(loaded: Session) -> None:
    session = loaded
    case = open_case(session, sd.H2, "hotline", at=T0, actor="12317", area_prefix="").case
    assert (case.due_on, case.due_kind) == (dt.date(2025, 6, 6), "home_visit")  # 3 days

    assert overdue(session, "", dt.date(2025, 6, 6)).total == 0  # due today: on time
    late = overdue(session, "", dt.datetime(2025, 6, 7, 8, 0))
    assert [c.id for c in late.items] == [case.id]
    assert late.items[0].due is not None
    assert (late.items[0].due.days_overdue, late.items[0].overdue) == (1, True)
    assert list_tasks(session, "", overdue=True, now=dt.date(2025, 6, 6)).total == 0
    assert [
        t.kind for t in list_tasks(session, "", overdue=True, now=dt.date(2025, 6, 7)).items
    ] == ["visit"]
    assert list_cases(session, "", overdue=False, now=dt.date(2025, 6, 6)).total == 1

    # after the visit the step is the cross-check: due with identification, 15 days
    # after discovery (18 June)
    visited = _walk(
        session, case, (A.ASSIGN_VISIT, A.RECORD_VISIT), T0 - STEP + dt.timedelta(hours=1)
    )
    assert (visited.status, visited.due_on, visited.due_kind) == (
        "cross_check",
        dt.date(2025, 6, 18),
        "identification",
    )
    assert overdue(session, "", dt.date(2025, 6, 18)).total == 0
    assert overdue(session, "", dt.date(2025, 6, 19)).total == 1
    assert overdue(session, "520103", dt.date(2025, 6, 19)).total == 0
    open_tasks = list_tasks(session, "", now=dt.date(2025, 6, 19))
    assert [(t.kind, t.level, t.due_on) for t in open_tasks.items] == [
        ("cross_check", "county", dt.date(2025, 6, 18))
    ]
    assert open_tasks.items[0].overdue_on(dt.date(2025, 6, 19))
    assert list_tasks(session, "", status="done").items[0].done_at == T0 + dt.timedelta(
        hours=1, days=10
    )


# ------------------------------------------------------------------- area scope


def test_area_scope_hides_other_areas_cases(loaded: Session) -> None:
    session = loaded
    open_cases_from_warnings(session, "2025-05", at=T0)
    inside = f"{sd.H1}-01"  # county 520102
    outside = f"{sd.H5}-01"  # county 520103
    assert get_case(session, inside, "520102001").id == inside
    with pytest.raises(NotFoundError) as hidden:
        get_case(session, outside, "520102")
    with pytest.raises(NotFoundError) as missing:
        get_case(session, "no-such-case", "520102")
    assert str(hidden.value).replace(outside, "X") == str(missing.value).replace(
        "no-such-case", "X"
    )
    for call in (
        lambda: case_history(session, outside, "520102"),
        lambda: case_detail(session, outside, "520102"),
        lambda: list_intakes(session, outside, "520102"),
        lambda: transition(
            session,
            outside,
            A.ASSIGN_VISIT,
            expected_version=1,
            actor="x",
            at=T1,
            area_prefix="520102",
            payload={"assignee": "x"},
        ),
    ):
        with pytest.raises(NotFoundError):
            call()
    assert get_case(session, outside, "520103").version == 1  # unchanged
    assert sorted(c.id for c in list_cases(session, "520102").items) == [
        f"{sd.H1}-01",
        f"{sd.H2}-01",
    ]
    assert list_cases(session, "").total == 3
    assert [t.case_id for t in list_tasks(session, "520103").items] == [outside]
    with pytest.raises(services.AreaScopeError):
        list_cases(session, "52-01")


# --------------------------------------------------------------- plans, grievances


def test_plan_recommend_edit_accept_and_deliver(loaded: Session) -> None:
    session = loaded
    case = open_case(session, sd.H2, "self_report", at=T0, actor="x", area_prefix="").case
    with pytest.raises(ConflictError, match="risk causes"):
        recommend_plan(
            session, case.id, labour_members=1, has_stable_income=True, actor="x", area_prefix=""
        )
    monitored = _walk(session, case, _until(S.MONITORED), T0)
    plan = recommend_plan(
        session, case.id, labour_members=1, has_stable_income=False, actor="cadre", area_prefix=""
    )
    assert plan.status == "draft" and plan.version == 1
    assert {m.status for m in plan.measures} == {"proposed"}
    first = plan.active_measures[0]
    edited = edit_plan(
        session,
        plan.id,
        "accept",
        measure_id=first.measure_id,
        person_id_number=H2_PERSON,
        actor="cadre",
        area_prefix="",
        expected_version=1,
    )
    assert edited.version == 2
    assert (edited.measures[0].status, edited.measures[0].person_id_number) == (
        "accepted",
        H2_PERSON,
    )
    removed = edit_plan(
        session,
        plan.id,
        "remove",
        measure_id=first.measure_id,
        reason_zh="已享受",
        actor="cadre",
        area_prefix="",
    )
    assert first.measure_id not in [m.measure_id for m in removed.active_measures]
    assert [m.edit_reason for m in removed.measures if m.status == "removed"] == ["已享受"]
    with pytest.raises(ConflictError, match="version"):
        edit_plan(
            session,
            plan.id,
            "accept",
            measure_id=removed.active_measures[0].measure_id,
            actor="cadre",
            area_prefix="",
            expected_version=1,
        )
    with pytest.raises(DataError, match="not a member"):
        edit_plan(
            session,
            plan.id,
            "accept",
            measure_id=removed.active_measures[0].measure_id,
            person_id_number=sd.H1_HEAD_ID,
            actor="cadre",
            area_prefix="",
        )
    assisted = accept_plan(
        session,
        plan.id,
        expected_version=monitored.version,
        actor="county",
        at=T0 + STEP * 20,
        area_prefix="",
    )
    assert (assisted.status, assisted.plan_id) == ("assisted", str(plan.id))
    accepted = services.get_plan(session, plan.id, "")
    assert accepted.status == "accepted" and accepted.accepted_by == "county"
    assert {m.status for m in accepted.active_measures} == {"accepted"}
    with pytest.raises(ConflictError, match="draft"):
        edit_plan(session, plan.id, "remove", measure_id="x", actor="c", area_prefix="")
    measure = accepted.active_measures[0]
    delivery = record_delivery(
        session,
        measure.id,
        delivered_on=dt.date(2025, 12, 1),
        amount=600.0,
        note="首期",
        actor="cadre",
        area_prefix="",
    )
    assert (delivery.amount, delivery.plan_measure_id) == (600.0, measure.id)
    again = services.get_plan(session, plan.id, "")
    assert [d.amount for d in again.active_measures[0].deliveries] == [600.0]
    with pytest.raises(NotFoundError):
        record_delivery(
            session, measure.id, delivered_on=dt.date(2025, 12, 1), actor="c", area_prefix="520103"
        )
    with pytest.raises(ConflictError):
        record_delivery(
            session,
            removed.measures[0].id,
            delivered_on=dt.date(2025, 12, 1),
            actor="c",
            area_prefix="",
        )
    assert verify_chain(session).ok


def test_appeal_reopens_the_deciding_step_and_is_resolved_by_it(loaded: Session) -> None:
    session = loaded
    case = open_case(session, sd.H2, "self_report", at=T0, actor="x", area_prefix="").case
    at_township = _walk(session, case, _until(S.TOWNSHIP_REVIEW), T0)
    rejected_on = T0 + STEP * 6
    rejected = _step(session, at_township, A.REJECT, rejected_on)
    assert (rejected.status, rejected.decided_on) == ("closed_not_identified", rejected_on.date())
    with pytest.raises(TransitionError) as late:
        file_grievance(
            session,
            case.id,
            "appeal",
            reason="不服",
            actor="x",
            at=rejected_on + dt.timedelta(days=31),
            area_prefix="",
            expected_version=rejected.version,
        )
    assert late.value.code == "guard_failed"
    appeal = file_grievance(
        session,
        case.id,
        "appeal",
        reason="家里确实困难",
        actor="x",
        at=rejected_on + dt.timedelta(days=30),
        area_prefix="",
        expected_version=rejected.version,
    )
    assert (appeal.kind, appeal.status) == ("appeal", "open")
    reopened = get_case(session, case.id, "")
    assert (reopened.status, reopened.closed_at) == ("township_review", None)
    _step(session, reopened, A.APPROVE, rejected_on + dt.timedelta(days=32))
    detail = case_detail(session, case.id, "")
    assert [(g.kind, g.status) for g in detail.grievances] == [("appeal", "resolved")]
    assert "township approve" in (detail.grievances[0].resolution or "")
    complaint = file_grievance(
        session, case.id, "complaint", reason="干部态度差", actor="x", at=T1, area_prefix=""
    )
    done = resolve_grievance(
        session, complaint.id, resolution="已约谈", actor="county", at=T1, area_prefix=""
    )
    assert (done.status, done.resolution) == ("resolved", "已约谈")
    with pytest.raises(ConflictError):
        resolve_grievance(session, complaint.id, resolution="x", actor="y", at=T1, area_prefix="")
    with pytest.raises(ConflictError, match="appeal"):
        resolve_grievance(session, appeal.id, resolution="x", actor="y", at=T1, area_prefix="")


def test_events_are_append_only_and_times_are_local_wall_clock(loaded: Session) -> None:
    aware = dt.datetime(2025, 6, 3, 1, 0, tzinfo=dt.UTC)
    case = open_case(loaded, sd.H2, "hotline", at=aware, actor="12317", area_prefix="").case
    local = aware.astimezone().replace(tzinfo=None)
    assert case.discovered_at == local and case.discovered_at.tzinfo is None
    assert case_history(loaded, case.id, "")[0].at == local
    for statement in (
        update(CaseEventRecord).values(actor="someone else"),
        delete(CaseEventRecord),
    ):
        with pytest.raises(IntegrityError, match="append-only"):
            loaded.execute(statement)
        loaded.rollback()
    assert [e.actor for e in case_history(loaded, case.id, "")] == ["12317"]


# --------------------------------------------------------------- membership


def test_membership_history_follows_moves_between_snapshots(session: Session) -> None:
    sync_registry(session, sd.regions(), sd.households(), sd.persons(), period="2025-06")
    assert _count(session, MembershipHistory) == 10
    people = sd.persons()
    people[1]["household_id"] = sd.H2  # 赵敏 moves from H1 to H2
    for _ in range(2):  # the same snapshot twice changes nothing the second time
        sync_registry(session, [], [], people, period="2025-08")
    rows = session.execute(
        select(
            MembershipHistory.household_id, MembershipHistory.valid_from, MembershipHistory.valid_to
        )
        .where(MembershipHistory.id_number == "52010219820202222X")
        .order_by(MembershipHistory.id)
    ).all()
    assert [tuple(r) for r in rows] == [(sd.H1, "2025-06", "2025-08"), (sd.H2, "2025-08", None)]
    sync_registry(session, [], [], sd.persons(), period="2025-07")  # a late, older snapshot
    sync_registry(session, [], [], sd.persons())  # no period: not tracked
    assert _count(session, MembershipHistory) == 11
    assert _count(session, MembershipHistory, MembershipHistory.valid_to.is_(None)) == 10


# ------------------------------------------------------------------- notices


def test_list_notices_gives_a_villages_notices_with_household_and_reason(
    loaded: Session,
) -> None:
    session = loaded
    open_cases_from_warnings(session, "2025-06", at=T0)
    h1, h5 = _case_of(session, sd.H1), _case_of(session, sd.H5)
    for case in (h1, h5):
        review = _walk(session, case, _until(S.VILLAGE_REVIEW), T0)
        _step(session, review, A.START_NOTICE, T0 + STEP * 4)
    h2 = open_case(session, sd.H2, "self_report", at=T0, actor="x", area_prefix="").case
    _walk(session, h2, _until(S.TOWNSHIP_REVIEW), T0)
    day = (T0 + STEP * 4).date()

    running = list_notices(session, "", village_code=sd.H1[:12])
    assert running.total == 1
    (item,) = running.items
    assert (item.case_id, item.kind, item.status, item.village_name) == (
        h1.id,
        "identification",
        "running",
        "东村",
    )
    assert (item.started_on, item.earliest_end, item.ended_on) == (
        day,
        day + dt.timedelta(days=5),
        None,
    )
    assert (item.household_id, item.head_name, item.members, item.case_status) == (
        sd.H1,
        "张伟",
        3,
        "village_review",
    )
    assert item.reason == "主要劳动力住院，收入下降"  # the home visit's findings
    assert item.household_type is None  # its warnings proposed two types
    (north,) = list_notices(session, "520103").items
    assert (north.household_id, north.household_type, north.village_name) == (
        sd.H5,
        "sudden_hardship",
        "北村",
    )
    everything = list_notices(session, "", status=None, page_size=2)
    assert (everything.total, len(everything.items)) == (3, 2)
    assert [n.village_code for n in everything.items] == [sd.H1[:12]] * 2
    ended = list_notices(session, "", status="ended")
    assert [(n.household_id, n.ended_on) for n in ended.items] == [(sd.H2, (T0 + STEP * 5).date())]
    assert list_notices(session, "", kind="elimination").total == 0
    assert list_notices(session, "520102002").total == 0
    with pytest.raises(DataError, match="kind"):
        list_notices(session, "", kind="other")
    with pytest.raises(DataError, match="status"):
        list_notices(session, "", status="open")
