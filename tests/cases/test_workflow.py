"""The case workflow: every legal and illegal transition, guards, idempotency, intake."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from povguard.cases import (
    CLOSED_STATES,
    TRANSITIONS,
    Action,
    CaseState,
    CaseStatus,
    Channel,
    HouseholdType,
    IntakeKind,
    RiskCause,
    TransitionError,
    allowed_actions,
    apply,
    decide_intake,
    open_case,
    transition_for,
)
from povguard.cases.workflow import GUARD_NAMES
from povguard.errors import ConfigError, ConflictError, DataError, PovguardError

S, A = CaseStatus, Action
T0 = datetime(2024, 6, 3, 9, 0)
#: Time between two steps of the canonical path: longer than any notice.
STEP = timedelta(days=10)

CLASSIFY: dict[str, Any] = {
    "household_type": "edge",
    "main_cause": "illness",
    "other_causes": ["schooling"],
}
PAYLOADS: dict[Action, dict[str, Any]] = {
    A.ASSIGN_VISIT: {"assignee": "村干部王芳"},
    A.RECORD_VISIT: {"findings": "主要劳动力住院，收入下降", "authorisation_signed": True},
    A.CLOSE: {"reason": "核实收入稳定，无返贫风险"},
    A.RECORD_CROSS_CHECK: {"results": {"vehicles": 0, "businesses": 0}},
    A.START_NOTICE: {"democratic_review": "村民代表会议 25 人参加，24 人同意"},
    A.END_NOTICE: {},
    A.APPROVE: {},
    A.REJECT: {"reason": "子女名下有商品房"},
    A.ACCEPT_PLAN: {"plan_id": "plan-1"},
    A.RECORD_FOLLOW_UP: {"findings": "收入恢复中"},
    A.PROPOSE_ELIMINATION: {
        "ready": True,
        "readiness_reason": "连续 6 个月人均纯收入高于监测线",
        "labour_members": 2,
    },
    A.RECORD_HOME_CHECK: {"team": ["李明", "张华"], "findings": "收入稳定", "labour_members": 2},
    A.DECLINE_ELIMINATION: {"reason": "公示期间群众有异议"},
    A.APPEAL: {"reason": "农户对结论有异议"},
    A.OPEN: {},
}
#: The canonical path from discovery to elimination.
HAPPY = (
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
    A.END_NOTICE,
    A.APPROVE,
    A.APPROVE,
)
LEGAL = {(t.state, t.action) for t in TRANSITIONS}
ILLEGAL = [(s, a) for s in CaseStatus for a in Action if (s, a) not in LEGAL]


def payload_for(state: CaseStatus, action: Action) -> dict[str, Any]:
    if (state, action) == (S.COUNTY_APPROVAL, A.APPROVE):
        return dict(CLASSIFY)
    return dict(PAYLOADS[action])


def new_case(at: datetime = T0, case_id: str = "case-1") -> CaseState:
    return open_case(case_id, "hh-1", channel="department_warning", at=at, actor="system")


def step(
    case: CaseState,
    action: Action,
    params: dict[str, Any],
    *,
    at: datetime | None = None,
    payload: dict[str, Any] | None = None,
) -> CaseState:
    when = at if at is not None else case.updated_at + STEP
    data = payload if payload is not None else payload_for(case.status, action)
    return apply(case, action, at=when, actor="cadre", params=params, payload=data).state


def reach(status: CaseStatus, params: dict[str, Any]) -> CaseState:
    """A case in ``status``, reached through the table (first time it gets there)."""
    case = new_case()
    if status is S.DISCOVERED:
        return case
    if status is S.CLOSED_NO_RISK:
        return step(step(case, A.ASSIGN_VISIT, params), A.CLOSE, params)
    if status is S.CLOSED_NOT_IDENTIFIED:
        return step(reach(S.COUNTY_APPROVAL, params), A.REJECT, params)
    for action in HAPPY:
        case = step(case, action, params)
        if case.status is status:
            return case
    raise AssertionError(f"{status} not on the canonical path")


# ------------------------------------------------------------------ the table itself


def test_table_is_consistent() -> None:
    assert len(LEGAL) == len(TRANSITIONS)  # one row per (state, action)
    for row in TRANSITIONS:
        assert all(g.name in GUARD_NAMES for g in row.guards)
        assert row.target is not None or row.action is A.APPEAL
    # every state but the closed ones has a way on; every state is reachable
    for status in CaseStatus:
        assert allowed_actions(status) or status is S.CLOSED_NO_RISK
    targets = {t.target for t in TRANSITIONS if t.target} | {S.DISCOVERED}
    assert targets == set(CaseStatus)


def test_allowed_actions_values() -> None:
    assert allowed_actions(S.DISCOVERED) == (A.ASSIGN_VISIT,)
    assert allowed_actions("visit") == (A.ASSIGN_VISIT, A.RECORD_VISIT, A.CLOSE)
    assert allowed_actions(S.VILLAGE_REVIEW) == (A.START_NOTICE, A.END_NOTICE, A.REJECT)
    assert allowed_actions(S.ASSISTED) == (
        A.ACCEPT_PLAN,
        A.RECORD_FOLLOW_UP,
        A.PROPOSE_ELIMINATION,
    )
    assert allowed_actions(S.ELIMINATED) == (A.APPEAL,)
    assert allowed_actions(S.CLOSED_NO_RISK) == ()
    assert {s for s in CaseStatus if A.REJECT in allowed_actions(s)} == {
        S.CROSS_CHECK,
        S.VILLAGE_REVIEW,
        S.TOWNSHIP_REVIEW,
        S.COUNTY_APPROVAL,
    }


def test_labels_are_bilingual() -> None:
    for status in CaseStatus:
        assert status.label_zh and status.label_en
    for action in Action:
        assert action.label_zh and action.label_en
    assert S.VILLAGE_REVIEW.label_zh == "村级民主评议和公示"
    assert Channel.HOTLINE.label_zh.startswith("12317")
    assert HouseholdType.EDGE.label_zh == "边缘易致贫户"
    assert RiskCause.ILLNESS.label_zh == "因病"


# ------------------------------------------------------------------ legal transitions


@pytest.mark.parametrize("row", TRANSITIONS, ids=lambda t: f"{t.state}-{t.action}")
def test_every_legal_transition(row: Any, params: dict[str, Any]) -> None:
    case = reach(row.state, params)
    if row.action is A.END_NOTICE:
        case = step(case, A.START_NOTICE, params)
    at = case.updated_at + STEP
    result = apply(
        case,
        row.action,
        at=at,
        actor="cadre",
        params=params,
        payload=payload_for(row.state, row.action),
    )
    expected = row.target or case.decided_in
    assert expected is not None
    assert result.state.status is expected
    assert (result.before, result.after) == (row.state, expected)
    assert result.event.action is row.action
    assert result.event.seq == result.state.version == case.version + 1
    assert result.state.updated_at == at
    assert result.state.events[-1] == result.event
    assert result.replay is False
    assert case.status is row.state  # the input is untouched


def test_appeals_reopen_the_deciding_step(params: dict[str, Any]) -> None:
    rejected = reach(S.CLOSED_NOT_IDENTIFIED, params)
    assert rejected.decided_in is S.COUNTY_APPROVAL
    assert step(rejected, A.APPEAL, params).status is S.COUNTY_APPROVAL
    eliminated = reach(S.ELIMINATED, params)
    assert eliminated.decided_in is S.COUNTY_ELIMINATION_APPROVAL
    assert step(eliminated, A.APPEAL, params).status is S.COUNTY_ELIMINATION_APPROVAL


def test_happy_path_records_every_value(params: dict[str, Any]) -> None:
    case = new_case()
    assert (case.status, case.version, case.channel) == (
        S.DISCOVERED,
        1,
        Channel.DEPARTMENT_WARNING,
    )
    assert case.events[0].action is A.OPEN and case.events[0].before is None
    statuses = []
    for action in HAPPY:
        case = step(case, action, params)
        statuses.append(case.status)
    assert statuses == [
        S.VISIT,
        S.CROSS_CHECK,
        S.VILLAGE_REVIEW,
        S.VILLAGE_REVIEW,
        S.TOWNSHIP_REVIEW,
        S.COUNTY_APPROVAL,
        S.MONITORED,
        S.ASSISTED,
        S.ELIMINATION_ASSESSMENT,
        S.ELIMINATION_NOTICE,
        S.ELIMINATION_NOTICE,
        S.TOWNSHIP_ACCEPTANCE,
        S.COUNTY_ELIMINATION_APPROVAL,
        S.ELIMINATED,
    ]
    assert case.version == 1 + len(HAPPY) == len(case.events)
    assert [e.seq for e in case.events] == list(range(1, len(HAPPY) + 2))
    assert case.assignee == "村干部王芳"
    assert case.household_type is HouseholdType.EDGE
    assert case.main_cause is RiskCause.ILLNESS
    assert case.other_causes == (RiskCause.SCHOOLING,)
    assert case.monitored_on == (T0 + 7 * STEP).date()
    assert case.plan_id == "plan-1"
    assert case.labour_members == 2
    assert case.last_follow_up_on == (T0 + 10 * STEP).date()
    assert case.decided_in is S.COUNTY_ELIMINATION_APPROVAL
    assert case.decided_on == (T0 + 14 * STEP).date()
    assert case.notice_started_on is None  # cleared when the notice step ended
    assert not case.is_open and case.status in CLOSED_STATES


def test_event_carries_before_after_reason_and_changes(params: dict[str, Any]) -> None:
    case = reach(S.TOWNSHIP_REVIEW, params)
    at = case.updated_at + timedelta(days=1)
    result = apply(
        case,
        A.REJECT,
        at=at,
        actor="乡镇审核员",
        params=params,
        payload={"reason": "有财政供养人员"},
    )
    event = result.event
    assert event.before is S.TOWNSHIP_REVIEW
    assert event.after is S.CLOSED_NOT_IDENTIFIED
    assert event.reason == "有财政供养人员"
    assert event.actor == "乡镇审核员"
    assert event.at == at
    assert dict(event.changes) == {
        "status": (S.TOWNSHIP_REVIEW, S.CLOSED_NOT_IDENTIFIED),
        "decided_in": (None, S.TOWNSHIP_REVIEW),
        "decided_on": (None, at.date()),
    }
    assert dict(event.payload) == {"reason": "有财政供养人员"}
    with pytest.raises(TypeError):
        event.payload["reason"] = "changed"  # type: ignore[index]
    assert result.state.entered_at == at


def test_start_notice_sets_the_day_and_status_change_clears_it(params: dict[str, Any]) -> None:
    case = reach(S.VILLAGE_REVIEW, params)
    at = case.updated_at + timedelta(days=1)
    started = step(case, A.START_NOTICE, params, at=at)
    assert started.notice_started_on == at.date()
    assert started.entered_at == case.entered_at  # same step
    ended = step(started, A.END_NOTICE, params, at=at + timedelta(days=5))
    assert ended.notice_started_on is None
    assert ended.entered_at == at + timedelta(days=5)


def test_appeal_resets_the_decision_and_reruns_the_notice(params: dict[str, Any]) -> None:
    case = reach(S.VILLAGE_REVIEW, params)
    case = step(case, A.START_NOTICE, params)
    case = step(case, A.REJECT, params)
    assert case.decided_in is S.VILLAGE_REVIEW
    reopened = step(case, A.APPEAL, params, at=case.updated_at + timedelta(days=3))
    assert reopened.status is S.VILLAGE_REVIEW
    assert (reopened.decided_in, reopened.decided_on, reopened.appeals) == (None, None, 1)
    assert reopened.notice_started_on is None
    with pytest.raises(TransitionError) as info:
        step(reopened, A.END_NOTICE, params)
    assert info.value.code == "guard_failed"
    assert "no public notice has been started" in str(info.value)


def test_declined_elimination_returns_to_assisted(params: dict[str, Any]) -> None:
    case = reach(S.TOWNSHIP_ACCEPTANCE, params)
    back = step(case, A.DECLINE_ELIMINATION, params)
    assert back.status is S.ASSISTED
    assert back.events[-1].reason == "公示期间群众有异议"
    # and the household can be proposed again later
    assert step(back, A.PROPOSE_ELIMINATION, params).status is S.ELIMINATION_ASSESSMENT


# ---------------------------------------------------------------- illegal transitions


@pytest.mark.parametrize(("state", "action"), ILLEGAL, ids=str)
def test_every_illegal_pair_is_refused(
    state: CaseStatus, action: Action, params: dict[str, Any]
) -> None:
    case = reach(state, params)
    with pytest.raises(TransitionError) as info:
        apply(
            case,
            action,
            at=case.updated_at + STEP,
            actor="cadre",
            params=params,
            payload=PAYLOADS[action],
        )
    err = info.value
    assert err.code == "illegal_action"
    assert err.state is state
    assert err.action == action.value
    assert err.allowed == allowed_actions(state)
    message = str(err)
    assert f"'{state.value}'" in message and f"'{action.value}'" in message
    assert all(a.value in message for a in err.allowed)


def test_illegal_count_follows_the_table() -> None:
    assert len(ILLEGAL) == len(CaseStatus) * len(Action) - len(TRANSITIONS)
    assert (S.DISCOVERED, A.APPROVE) in ILLEGAL
    assert all(a is not A.OPEN for _, a in LEGAL)


def test_unknown_action_is_refused(params: dict[str, Any]) -> None:
    case = new_case()
    with pytest.raises(TransitionError) as info:
        apply(case, "fly", at=T0, actor="cadre", params=params, payload={})
    assert info.value.code == "illegal_action"
    assert info.value.allowed == (A.ASSIGN_VISIT,)
    assert "assign_visit" in str(info.value)
    with pytest.raises(TransitionError):
        transition_for("visit", "approve")


def test_transition_error_is_a_conflict() -> None:
    assert issubclass(TransitionError, ConflictError)
    assert issubclass(TransitionError, PovguardError)


# ------------------------------------------------------------------------------ guards


@pytest.mark.parametrize(
    ("state", "param"),
    [
        (S.VILLAGE_REVIEW, "notice_days_identification"),
        (S.ELIMINATION_NOTICE, "notice_days_elimination"),
    ],
)
def test_notice_boundary(state: CaseStatus, param: str, params: dict[str, Any]) -> None:
    days = int(params[param])
    case = reach(state, params)
    posted = datetime(2025, 1, 6, 18, 30)
    case = step(case, A.START_NOTICE, params, at=posted)
    assert case.notice_started_on == date(2025, 1, 6)
    last_short = datetime(2025, 1, 6, 23, 59) + timedelta(days=days - 1)
    with pytest.raises(TransitionError) as info:
        step(case, A.END_NOTICE, params, at=last_short)
    err = info.value
    assert err.code == "guard_failed"
    earliest = (date(2025, 1, 6) + timedelta(days=days)).isoformat()
    assert f"at least {days} days" in err.reason_en and earliest in err.reason_en
    assert f"不少于 {days} 天" in err.reason_zh
    first_day = datetime(2025, 1, 6, 0, 1) + timedelta(days=days)
    assert (
        step(case, A.END_NOTICE, params, at=first_day).status
        is transition_for(state, A.END_NOTICE).target
    )


def test_pack_notice_lengths(params: dict[str, Any]) -> None:
    assert (params["notice_days_identification"], params["notice_days_elimination"]) == (5, 7)


def test_end_notice_without_a_notice_fails(params: dict[str, Any]) -> None:
    case = reach(S.VILLAGE_REVIEW, params)
    with pytest.raises(TransitionError) as info:
        step(case, A.END_NOTICE, params)
    assert info.value.code == "guard_failed"


def test_notice_cannot_start_twice(params: dict[str, Any]) -> None:
    case = step(reach(S.VILLAGE_REVIEW, params), A.START_NOTICE, params)
    with pytest.raises(TransitionError) as info:
        step(case, A.START_NOTICE, params)
    assert info.value.code == "guard_failed"
    assert case.notice_started_on is not None
    assert case.notice_started_on.isoformat() in info.value.reason_en


@pytest.mark.parametrize(
    ("team", "ok"),
    [(["李明"], False), (["李明", " 李明 "], False), (["李明", "张华"], True)],
)
def test_home_check_team_size(team: list[str], ok: bool, params: dict[str, Any]) -> None:
    assert params["elimination_team_min"] == 2
    case = reach(S.ELIMINATION_ASSESSMENT, params)
    payload = {**PAYLOADS[A.RECORD_HOME_CHECK], "team": team}
    if ok:
        assert step(case, A.RECORD_HOME_CHECK, params, payload=payload).status is (
            S.ELIMINATION_NOTICE
        )
        return
    with pytest.raises(TransitionError) as info:
        step(case, A.RECORD_HOME_CHECK, params, payload=payload)
    assert info.value.code == "guard_failed"
    assert info.value.reason_en == "the home-check team needs at least 2 people, got 1"


def test_household_without_labour_is_never_eliminated(params: dict[str, Any]) -> None:
    assisted = reach(S.ASSISTED, params)
    no_labour = {**PAYLOADS[A.PROPOSE_ELIMINATION], "labour_members": 0}
    with pytest.raises(TransitionError) as info:
        step(assisted, A.PROPOSE_ELIMINATION, params, payload=no_labour)
    assert info.value.code == "guard_failed"
    assert "never" in info.value.reason_en and "无劳动能力" in info.value.reason_zh

    assessment = reach(S.ELIMINATION_ASSESSMENT, params)
    home = {**PAYLOADS[A.RECORD_HOME_CHECK], "labour_members": 0}
    with pytest.raises(TransitionError):
        step(assessment, A.RECORD_HOME_CHECK, params, payload=home)

    county = reach(S.COUNTY_ELIMINATION_APPROVAL, params)
    for labour in (0, None):
        with pytest.raises(TransitionError) as info:
            step(replace(county, labour_members=labour), A.APPROVE, params)
        assert info.value.code == "guard_failed"
    assert step(county, A.APPROVE, params).status is S.ELIMINATED


def test_elimination_needs_readiness(params: dict[str, Any]) -> None:
    case = reach(S.ASSISTED, params)
    payload = {"ready": False, "readiness_reason": "收入仅 3 个月高于监测线", "labour_members": 2}
    with pytest.raises(TransitionError) as info:
        step(case, A.PROPOSE_ELIMINATION, params, payload=payload)
    assert info.value.code == "guard_failed"
    assert "收入仅 3 个月高于监测线" in info.value.reason_zh
    assert "not ready" in info.value.reason_en
    done = step(case, A.PROPOSE_ELIMINATION, params)
    assert done.events[-1].reason == "连续 6 个月人均纯收入高于监测线"


@pytest.mark.parametrize("payload", [{}, {"reason": ""}, {"reason": "   "}, {"reason": None}])
def test_rejection_needs_a_reason(payload: dict[str, Any], params: dict[str, Any]) -> None:
    case = reach(S.COUNTY_APPROVAL, params)
    with pytest.raises(TransitionError) as info:
        step(case, A.REJECT, params, payload=payload)
    assert info.value.code == "missing_payload"
    assert "reason" in info.value.reason_en


def test_visit_needs_signed_authorisation(params: dict[str, Any]) -> None:
    case = reach(S.VISIT, params)
    unsigned = {"findings": "入户核实", "authorisation_signed": False}
    with pytest.raises(TransitionError) as info:
        step(case, A.RECORD_VISIT, params, payload=unsigned)
    assert info.value.code == "guard_failed"
    assert "authorisation" in info.value.reason_en
    with pytest.raises(TransitionError) as info:
        step(case, A.RECORD_VISIT, params, payload={**unsigned, "authorisation_signed": "yes"})
    assert info.value.code == "invalid_payload"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"other_causes": ["schooling", "accident", "disability"]}, "guard_failed"),
        ({"other_causes": ["illness"]}, "guard_failed"),
        ({"other_causes": ["schooling", "schooling"]}, "guard_failed"),
        ({"main_cause": "bad_luck"}, "invalid_payload"),
        ({"household_type": "poor"}, "invalid_payload"),
        ({"household_type": None}, "missing_payload"),
    ],
)
def test_county_approval_checks_the_classification(
    change: dict[str, Any], code: str, params: dict[str, Any]
) -> None:
    case = reach(S.COUNTY_APPROVAL, params)
    with pytest.raises(TransitionError) as info:
        step(case, A.APPROVE, params, payload={**CLASSIFY, **change})
    assert info.value.code == code


def test_appeal_window_boundary(params: dict[str, Any]) -> None:
    window = int(params["appeal_window_days"])
    case = reach(S.CLOSED_NOT_IDENTIFIED, params)
    assert case.decided_on is not None
    decided = datetime.combine(case.decided_on, datetime.min.time())
    last_day = decided + timedelta(days=window, hours=23)
    assert step(case, A.APPEAL, params, at=last_day).status is S.COUNTY_APPROVAL
    with pytest.raises(TransitionError) as info:
        step(case, A.APPEAL, params, at=decided + timedelta(days=window + 1))
    assert info.value.code == "guard_failed"
    assert f"appeal window of {window} days has passed" in info.value.reason_en


def test_missing_parameter_is_a_config_error(params: dict[str, Any]) -> None:
    case = reach(S.CLOSED_NOT_IDENTIFIED, params)
    pack_params = {k: v for k, v in params.items() if k != "appeal_window_days"}
    with pytest.raises(ConfigError, match="appeal_window_days"):
        step(case, A.APPEAL, pack_params)
    with pytest.raises(ConfigError, match="whole number"):
        step(case, A.APPEAL, {**pack_params, "appeal_window_days": 2.5})


def test_time_may_not_go_back(params: dict[str, Any]) -> None:
    case = reach(S.VISIT, params)
    with pytest.raises(TransitionError) as info:
        step(case, A.CLOSE, params, at=case.updated_at - timedelta(minutes=1))
    assert info.value.code == "time_order"
    aware = datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(TransitionError) as info:
        step(case, A.CLOSE, params, at=aware)
    assert info.value.code == "time_order"
    # the same instant is fine
    assert step(case, A.CLOSE, params, at=case.updated_at).status is S.CLOSED_NO_RISK


# ------------------------------------------------------------------------- idempotency


def test_same_key_twice_is_a_replay(params: dict[str, Any]) -> None:
    case = reach(S.VISIT, params)
    payload = PAYLOADS[A.RECORD_VISIT]
    first = apply(
        case,
        A.RECORD_VISIT,
        at=case.updated_at + STEP,
        actor="cadre",
        params=params,
        payload=payload,
        idempotency_key="req-42",
    )
    assert first.replay is False and first.event.idempotency_key == "req-42"
    later = first.state
    # the retry comes later, with a new timestamp: same event, nothing new to store
    again = apply(
        later,
        "record_visit",
        at=later.updated_at + STEP,
        actor="cadre",
        params=params,
        payload=dict(payload),
        idempotency_key="req-42",
    )
    assert again.replay is True
    assert again.event == first.event
    assert again.state is later
    assert again.state.version == first.state.version
    # even after further steps, the key is still recognised
    moved = step(later, A.RECORD_CROSS_CHECK, params)
    third = apply(
        moved,
        A.RECORD_VISIT,
        at=moved.updated_at,
        actor="cadre",
        params=params,
        payload=payload,
        idempotency_key="req-42",
    )
    assert third.replay is True and third.event.seq == first.event.seq
    assert third.state.status is S.VILLAGE_REVIEW


def test_same_key_other_request_conflicts(params: dict[str, Any]) -> None:
    case = reach(S.VISIT, params)
    first = apply(
        case,
        A.ASSIGN_VISIT,
        at=case.updated_at,
        actor="cadre",
        params=params,
        payload={"assignee": "张三"},
        idempotency_key="k1",
    )
    with pytest.raises(TransitionError) as info:
        apply(
            first.state,
            A.ASSIGN_VISIT,
            at=case.updated_at,
            actor="cadre",
            params=params,
            payload={"assignee": "李四"},
            idempotency_key="k1",
        )
    assert info.value.code == "idempotency_conflict"
    assert first.state.event_for("k1") == first.event
    assert first.state.event_for("k2") is None


def test_without_a_key_a_retry_is_a_new_event(params: dict[str, Any]) -> None:
    case = reach(S.ASSISTED, params)
    once = step(case, A.RECORD_FOLLOW_UP, params)
    twice = step(once, A.RECORD_FOLLOW_UP, params)
    assert twice.version == case.version + 2


# ------------------------------------------------------------------------------ intake


def test_open_case_values() -> None:
    case = open_case(
        "c9",
        "hh-9",
        channel=Channel.SELF_REPORT,
        at=T0,
        actor="农户",
        payload={"report": "家中有人住院"},
        idempotency_key="open-1",
    )
    assert (case.status, case.version, case.relapse, case.discovered_on) == (
        S.DISCOVERED,
        1,
        False,
        T0.date(),
    )
    assert case.event_for("open-1") is case.events[0]
    with pytest.raises(DataError, match="channel"):
        open_case("c", "h", channel="pigeon", at=T0, actor="x")
    with pytest.raises(DataError, match="previous_case_id"):
        open_case("c", "h", channel="hotline", at=T0, actor="x", relapse=True)


def test_intake_new_case_without_history() -> None:
    decision = decide_intake([])
    assert decision.kind is IntakeKind.NEW_CASE
    assert (decision.case_id, decision.previous_case_id) == (None, None)


def test_intake_attaches_to_the_open_case(params: dict[str, Any]) -> None:
    eliminated = replace(reach(S.ELIMINATED, params), case_id="old")
    open_one = replace(reach(S.ASSISTED, params), case_id="open", opened_at=T0 + 300 * STEP)
    decision = decide_intake([eliminated, open_one])
    assert decision.kind is IntakeKind.ATTACH
    assert decision.case_id == "open"
    assert "open" in decision.reason_en and "帮扶中" in decision.reason_zh


def test_intake_relapse_after_elimination(params: dict[str, Any]) -> None:
    first = replace(reach(S.ELIMINATED, params), case_id="elim-2022")
    second = replace(reach(S.ELIMINATED, params), case_id="elim-2024", opened_at=T0 + 100 * STEP)
    closed = replace(reach(S.CLOSED_NO_RISK, params), case_id="no-risk", opened_at=T0 + 200 * STEP)
    decision = decide_intake([first, closed, second])
    assert decision.kind is IntakeKind.RELAPSE
    assert decision.previous_case_id == "elim-2024"
    relapse = open_case(
        "new",
        "hh-1",
        channel="risk_model",
        at=T0 + 300 * STEP,
        actor="system",
        relapse=decision.kind is IntakeKind.RELAPSE,
        previous_case_id=decision.previous_case_id,
    )
    assert relapse.relapse is True and relapse.previous_case_id == "elim-2024"


def test_intake_after_rejection_is_a_new_case(params: dict[str, Any]) -> None:
    rejected = reach(S.CLOSED_NOT_IDENTIFIED, params)
    no_risk = reach(S.CLOSED_NO_RISK, params)
    assert decide_intake([rejected, no_risk]).kind is IntakeKind.NEW_CASE
