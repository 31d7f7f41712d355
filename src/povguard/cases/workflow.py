"""The case workflow: an explicit, data-driven state machine of the official procedure.

A case follows one household from discovery to identification (DOMAIN.md section 3),
monitoring and assistance, and risk elimination (section 6)::

    discovered -> visit -> cross_check -> village_review (+ public notice)
      -> township_review -> county_approval -> monitored -> assisted (+ follow-up visits)
      -> elimination_assessment (home check) -> elimination_notice (+ public notice)
      -> township_acceptance -> county_elimination_approval -> eliminated

with the side exits ``close`` (the home visit finds no risk: ``closed_no_risk``),
``reject`` (any review step: ``closed_not_identified``), ``decline_elimination``
(back to ``assisted``) and ``appeal`` (a rejection or an elimination, within the
appeal window: the step that decided reviews again).

Everything the machine knows is in :data:`TRANSITIONS`: one row per (state, action)
with the target state, the payload fields that must be given and the guards to
pass (a guard may name the policy-pack parameter it reads). :func:`apply` is pure:
it validates one action against the table and returns the new :class:`CaseState`
and the :class:`CaseEvent` to record (before, after, reason, changed fields),
or raises :class:`TransitionError`. Nothing is written anywhere.

Idempotency: an action may carry an idempotency key. The case keeps its events;
applying an action whose key is already among them returns the recorded event
flagged ``replay=True`` (and the case unchanged), and raises when the same key
arrives with a different action, actor or payload. A database layer stores the key
with a unique constraint per case and calls :func:`apply` on the loaded case.

Calendar days are the dates of the ``at`` datetimes as given: pass local times
(naive, or aware in the county's time zone), the way cadres count days.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, Protocol

from povguard.cases.codes import (
    Channel,
    HouseholdType,
    RiskCause,
    parse_code,
    validate_causes,
)
from povguard.errors import ConfigError, ConflictError, DataError


class CaseStatus(StrEnum):
    """States of a case."""

    DISCOVERED = "discovered"
    VISIT = "visit"
    CROSS_CHECK = "cross_check"
    VILLAGE_REVIEW = "village_review"
    TOWNSHIP_REVIEW = "township_review"
    COUNTY_APPROVAL = "county_approval"
    MONITORED = "monitored"
    ASSISTED = "assisted"
    ELIMINATION_ASSESSMENT = "elimination_assessment"
    ELIMINATION_NOTICE = "elimination_notice"
    TOWNSHIP_ACCEPTANCE = "township_acceptance"
    COUNTY_ELIMINATION_APPROVAL = "county_elimination_approval"
    ELIMINATED = "eliminated"
    CLOSED_NO_RISK = "closed_no_risk"
    CLOSED_NOT_IDENTIFIED = "closed_not_identified"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return STATUS_LABELS[self][0]

    @property
    def label_en(self) -> str:
        """English label."""
        return STATUS_LABELS[self][1]

    @property
    def is_closed(self) -> bool:
        """Whether the case is closed (an appeal may still re-open it)."""
        return self in CLOSED_STATES


class Action(StrEnum):
    """What a user (or the platform) does to a case."""

    OPEN = "open"
    ASSIGN_VISIT = "assign_visit"
    RECORD_VISIT = "record_visit"
    CLOSE = "close"
    RECORD_CROSS_CHECK = "record_cross_check"
    START_NOTICE = "start_notice"
    END_NOTICE = "end_notice"
    APPROVE = "approve"
    REJECT = "reject"
    ACCEPT_PLAN = "accept_plan"
    RECORD_FOLLOW_UP = "record_follow_up"
    PROPOSE_ELIMINATION = "propose_elimination"
    RECORD_HOME_CHECK = "record_home_check"
    DECLINE_ELIMINATION = "decline_elimination"
    APPEAL = "appeal"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return ACTION_LABELS[self][0]

    @property
    def label_en(self) -> str:
        """English label."""
        return ACTION_LABELS[self][1]


STATUS_LABELS: Final[dict[CaseStatus, tuple[str, str]]] = {
    CaseStatus.DISCOVERED: ("已发现", "discovered"),
    CaseStatus.VISIT: ("入户核实", "home visit"),
    CaseStatus.CROSS_CHECK: ("部门数据比对", "department data cross-check"),
    CaseStatus.VILLAGE_REVIEW: ("村级民主评议和公示", "village democratic review and notice"),
    CaseStatus.TOWNSHIP_REVIEW: ("乡镇审核", "township review"),
    CaseStatus.COUNTY_APPROVAL: ("县级审定", "county approval"),
    CaseStatus.MONITORED: ("监测对象", "monitored"),
    CaseStatus.ASSISTED: ("帮扶中", "assisted"),
    CaseStatus.ELIMINATION_ASSESSMENT: ("风险消除入户核查", "risk-elimination home check"),
    CaseStatus.ELIMINATION_NOTICE: ("风险消除评议和公示", "risk-elimination review and notice"),
    CaseStatus.TOWNSHIP_ACCEPTANCE: ("乡镇审核确认", "township acceptance"),
    CaseStatus.COUNTY_ELIMINATION_APPROVAL: ("县级审定风险消除", "county elimination approval"),
    CaseStatus.ELIMINATED: ("风险已消除", "risk eliminated"),
    CaseStatus.CLOSED_NO_RISK: ("核实无风险", "closed: no risk found"),
    CaseStatus.CLOSED_NOT_IDENTIFIED: ("未纳入监测", "closed: not identified"),
}

ACTION_LABELS: Final[dict[Action, tuple[str, str]]] = {
    Action.OPEN: ("建立案件", "open the case"),
    Action.ASSIGN_VISIT: ("派发入户核实任务", "assign the home visit"),
    Action.RECORD_VISIT: ("登记入户核实结果", "record the home visit"),
    Action.CLOSE: ("核实无风险，关闭", "close: no risk found"),
    Action.RECORD_CROSS_CHECK: ("登记部门比对结果", "record the data cross-check"),
    Action.START_NOTICE: ("民主评议通过，开始公示", "review passed, start the public notice"),
    Action.END_NOTICE: ("公示期满无异议", "end the public notice"),
    Action.APPROVE: ("审核通过", "approve"),
    Action.REJECT: ("不予纳入", "reject"),
    Action.ACCEPT_PLAN: ("确认帮扶计划", "accept the assistance plan"),
    Action.RECORD_FOLLOW_UP: ("登记跟踪回访", "record a follow-up visit"),
    Action.PROPOSE_ELIMINATION: ("启动风险消除", "propose risk elimination"),
    Action.RECORD_HOME_CHECK: ("登记风险消除入户核查", "record the elimination home check"),
    Action.DECLINE_ELIMINATION: ("不予消除，继续帮扶", "decline elimination, keep assisting"),
    Action.APPEAL: ("农户申诉", "appeal by the household"),
}

#: States in which a case is closed.
CLOSED_STATES: Final = frozenset(
    {CaseStatus.ELIMINATED, CaseStatus.CLOSED_NO_RISK, CaseStatus.CLOSED_NOT_IDENTIFIED}
)
#: Steps of identification that may reject the household.
REVIEW_STATES: Final = (
    CaseStatus.CROSS_CHECK,
    CaseStatus.VILLAGE_REVIEW,
    CaseStatus.TOWNSHIP_REVIEW,
    CaseStatus.COUNTY_APPROVAL,
)
#: Steps of risk elimination after the proposal (each may decline it).
ELIMINATION_STATES: Final = (
    CaseStatus.ELIMINATION_ASSESSMENT,
    CaseStatus.ELIMINATION_NOTICE,
    CaseStatus.TOWNSHIP_ACCEPTANCE,
    CaseStatus.COUNTY_ELIMINATION_APPROVAL,
)


@dataclass(frozen=True)
class Guard:
    """A named check of a transition, optionally reading one policy-pack parameter."""

    name: str
    param: str | None = None


@dataclass(frozen=True)
class Transition:
    """One row of the transition table.

    ``target`` None means "the step that made the appealed decision" (recorded on
    the case as ``decided_in``).
    """

    state: CaseStatus
    action: Action
    target: CaseStatus | None
    required: tuple[str, ...] = ()
    guards: tuple[Guard, ...] = ()


def _rows() -> tuple[Transition, ...]:
    s, a = CaseStatus, Action
    notice_id = Guard("notice_elapsed", "notice_days_identification")
    notice_elim = Guard("notice_elapsed", "notice_days_elimination")
    capacity = Guard("has_working_capacity")
    appeal = (Guard("within_appeal_window", "appeal_window_days"),)
    rows = [
        Transition(s.DISCOVERED, a.ASSIGN_VISIT, s.VISIT, ("assignee",)),
        Transition(s.VISIT, a.ASSIGN_VISIT, s.VISIT, ("assignee",)),
        Transition(
            s.VISIT,
            a.RECORD_VISIT,
            s.CROSS_CHECK,
            ("findings", "authorisation_signed"),
            (Guard("authorisation_signed"),),
        ),
        Transition(s.VISIT, a.CLOSE, s.CLOSED_NO_RISK, ("reason",)),
        Transition(s.CROSS_CHECK, a.RECORD_CROSS_CHECK, s.VILLAGE_REVIEW, ("results",)),
        Transition(
            s.VILLAGE_REVIEW,
            a.START_NOTICE,
            s.VILLAGE_REVIEW,
            ("democratic_review",),
            (Guard("notice_not_started"),),
        ),
        Transition(s.VILLAGE_REVIEW, a.END_NOTICE, s.TOWNSHIP_REVIEW, (), (notice_id,)),
        Transition(s.TOWNSHIP_REVIEW, a.APPROVE, s.COUNTY_APPROVAL),
        Transition(
            s.COUNTY_APPROVAL,
            a.APPROVE,
            s.MONITORED,
            ("household_type", "main_cause"),
            (Guard("valid_causes"),),
        ),
        *(Transition(st, a.REJECT, s.CLOSED_NOT_IDENTIFIED, ("reason",)) for st in REVIEW_STATES),
        Transition(s.MONITORED, a.ACCEPT_PLAN, s.ASSISTED, ("plan_id",)),
        Transition(s.ASSISTED, a.ACCEPT_PLAN, s.ASSISTED, ("plan_id",)),
        # the household stays monitored until its risk is eliminated: follow-up visits
        *(
            Transition(st, a.RECORD_FOLLOW_UP, st, ("findings",))
            for st in (s.MONITORED, s.ASSISTED, *ELIMINATION_STATES)
        ),
        Transition(
            s.ASSISTED,
            a.PROPOSE_ELIMINATION,
            s.ELIMINATION_ASSESSMENT,
            ("ready", "readiness_reason", "labour_members"),
            (Guard("ready_for_elimination"), capacity),
        ),
        Transition(
            s.ELIMINATION_ASSESSMENT,
            a.RECORD_HOME_CHECK,
            s.ELIMINATION_NOTICE,
            ("team", "findings", "labour_members"),
            (Guard("team_size", "elimination_team_min"), capacity),
        ),
        Transition(
            s.ELIMINATION_NOTICE,
            a.START_NOTICE,
            s.ELIMINATION_NOTICE,
            ("democratic_review",),
            (Guard("notice_not_started"),),
        ),
        Transition(s.ELIMINATION_NOTICE, a.END_NOTICE, s.TOWNSHIP_ACCEPTANCE, (), (notice_elim,)),
        Transition(s.TOWNSHIP_ACCEPTANCE, a.APPROVE, s.COUNTY_ELIMINATION_APPROVAL),
        Transition(s.COUNTY_ELIMINATION_APPROVAL, a.APPROVE, s.ELIMINATED, (), (capacity,)),
        *(
            Transition(st, a.DECLINE_ELIMINATION, s.ASSISTED, ("reason",))
            for st in ELIMINATION_STATES
        ),
        Transition(s.CLOSED_NOT_IDENTIFIED, a.APPEAL, None, ("reason",), appeal),
        Transition(s.ELIMINATED, a.APPEAL, None, ("reason",), appeal),
    ]
    return tuple(rows)


#: The transition table: every legal (state, action) pair, nothing else.
TRANSITIONS: Final[tuple[Transition, ...]] = _rows()
_BY_KEY: Final = {(t.state, t.action): t for t in TRANSITIONS}

#: Policy-pack parameters the workflow's guards read.
GUARD_PARAMETERS: Final = frozenset(g.param for t in TRANSITIONS for g in t.guards if g.param)


@dataclass(frozen=True)
class CaseEvent:
    """What one action did to a case: the audit record to store.

    ``changes`` maps each changed case field to ``(before, after)``; ``fingerprint``
    identifies the request (action, actor, payload) for idempotent retries.
    """

    seq: int
    action: Action
    actor: str
    at: datetime
    before: CaseStatus | None
    after: CaseStatus
    reason: str | None
    payload: Mapping[str, Any]
    changes: Mapping[str, tuple[Any, Any]]
    idempotency_key: str | None
    fingerprint: str


@dataclass(frozen=True)
class CaseState:
    """A case as the workflow sees it (immutable; :func:`apply` returns a new one).

    ``version`` counts the events (for optimistic locking); ``entered_at`` is when
    the current status began; ``decided_in``/``decided_on`` are the step and day of
    the last closing decision (rejection, no-risk closure, elimination), which an
    appeal re-opens. ``events`` holds the history, at least every event with an
    idempotency key, so that a retried action is recognised.
    """

    case_id: str
    household_id: str
    channel: Channel
    status: CaseStatus
    opened_at: datetime
    updated_at: datetime
    entered_at: datetime
    version: int = 0
    relapse: bool = False
    previous_case_id: str | None = None
    assignee: str | None = None
    notice_started_on: date | None = None
    decided_in: CaseStatus | None = None
    decided_on: date | None = None
    household_type: HouseholdType | None = None
    main_cause: RiskCause | None = None
    other_causes: tuple[RiskCause, ...] = ()
    monitored_on: date | None = None
    plan_id: str | None = None
    last_follow_up_on: date | None = None
    labour_members: int | None = None
    appeals: int = 0
    events: tuple[CaseEvent, ...] = field(default=(), repr=False)

    @property
    def discovered_on(self) -> date:
        """The day of discovery (the case's opening)."""
        return self.opened_at.date()

    @property
    def is_open(self) -> bool:
        """Whether the case is not closed."""
        return not self.status.is_closed

    @property
    def allowed_actions(self) -> tuple[Action, ...]:
        """Actions the table allows in the current status (guards not evaluated)."""
        return allowed_actions(self.status)

    def event_for(self, idempotency_key: str) -> CaseEvent | None:
        """The recorded event with ``idempotency_key``, if any."""
        for event in self.events:
            if event.idempotency_key == idempotency_key:
                return event
        return None


@dataclass(frozen=True)
class TransitionResult:
    """The outcome of :func:`apply`: the new state and the event to record.

    ``replay`` is True when the action was already applied under the same
    idempotency key: ``event`` is then the recorded event, ``state`` the case as
    given, and nothing is to be stored.
    """

    state: CaseState
    event: CaseEvent
    replay: bool = False

    @property
    def before(self) -> CaseStatus | None:
        """Status before the action."""
        return self.event.before

    @property
    def after(self) -> CaseStatus:
        """Status after the action."""
        return self.event.after


class TransitionError(ConflictError):
    """An action the case's state does not allow, or whose payload or guards fail.

    Attributes
    ----------
    state, action
        The case's status and the attempted action (as given).
    code
        ``illegal_action``, ``missing_payload``, ``invalid_payload``,
        ``guard_failed``, ``time_order`` or ``idempotency_conflict``.
    allowed
        The actions the table allows in ``state``.
    reason_zh, reason_en
        Why, in Chinese and English.
    """

    def __init__(
        self,
        state: CaseStatus,
        action: str,
        *,
        code: str,
        reason_zh: str,
        reason_en: str,
    ) -> None:
        self.state = state
        self.action = action
        self.code = code
        self.allowed = allowed_actions(state)
        self.reason_zh = reason_zh
        self.reason_en = reason_en
        allowed = ", ".join(self.allowed) or "none"
        super().__init__(
            f"case in state {state.value!r}: action {action!r}: {reason_en} "
            f"(allowed actions: {allowed}) / 案件状态“{state.label_zh}”：{reason_zh}"
        )


def allowed_actions(state: CaseStatus | str) -> tuple[Action, ...]:
    """Actions the transition table allows in ``state``, in table order.

    Parameters
    ----------
    state
        A case status (or its string value).

    Returns
    -------
    tuple of Action
        Empty for ``closed_no_risk``; guards are not evaluated.
    """
    status = parse_code(CaseStatus, state, "state")
    return tuple(t.action for t in TRANSITIONS if t.state == status)


def transition_for(state: CaseStatus | str, action: Action | str) -> Transition:
    """The table row for ``(state, action)``.

    Raises
    ------
    TransitionError
        With code ``illegal_action`` when the pair is not in the table.
    """
    status = parse_code(CaseStatus, state, "state")
    try:
        row = _BY_KEY.get((status, Action(action)))
    except ValueError:
        row = None
    if row is None:
        raise TransitionError(
            status,
            str(action),
            code="illegal_action",
            reason_zh=f"不允许的操作“{action}”",
            reason_en="not allowed in this state",
        )
    return row


def open_case(
    case_id: str,
    household_id: str,
    *,
    channel: Channel | str,
    at: datetime,
    actor: str,
    relapse: bool = False,
    previous_case_id: str | None = None,
    payload: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> CaseState:
    """A new case in status ``discovered``, with its opening event.

    Parameters
    ----------
    case_id, household_id
        Identifiers given by the caller.
    channel
        The identification channel.
    at
        Time of discovery (local time; its date starts every identification deadline).
    actor
        Who opened it (a user, or ``system`` for the monthly screen).
    relapse, previous_case_id
        For a household whose risk was eliminated before: see :func:`decide_intake`.
    payload
        Extra data kept on the opening event (warning ids, report text...).
    idempotency_key
        Recorded on the opening event.

    Raises
    ------
    DataError
        For an unknown channel, or a relapse without the previous case.
    """
    source = parse_code(Channel, channel, "channel")
    if relapse and not previous_case_id:
        raise DataError("a relapse case needs previous_case_id (the eliminated case)")
    data = dict(payload or {})
    event = CaseEvent(
        seq=1,
        action=Action.OPEN,
        actor=actor,
        at=at,
        before=None,
        after=CaseStatus.DISCOVERED,
        reason=None,
        payload=MappingProxyType(data),
        changes=MappingProxyType({"status": (None, CaseStatus.DISCOVERED)}),
        idempotency_key=idempotency_key,
        fingerprint=fingerprint(Action.OPEN, actor, data),
    )
    return CaseState(
        case_id=case_id,
        household_id=household_id,
        channel=source,
        status=CaseStatus.DISCOVERED,
        opened_at=at,
        updated_at=at,
        entered_at=at,
        version=1,
        relapse=relapse,
        previous_case_id=previous_case_id,
        events=(event,),
    )


def fingerprint(action: str, actor: str, payload: Mapping[str, Any]) -> str:
    """A stable digest of a request (action, actor, payload), to compare retries."""
    text = json.dumps(
        {"action": str(action), "actor": actor, "payload": dict(payload)},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------- guards


@dataclass(frozen=True)
class _Context:
    at: datetime
    day: date
    params: Mapping[str, float]
    payload: Mapping[str, Any]


#: A guard's check: None when it passes, else the reason in Chinese and English.
_Check = Callable[[CaseState, Guard, _Context], tuple[str, str] | None]


def param_days(params: Mapping[str, float], name: str, minimum: int = 0) -> int:
    """A whole-number parameter (days, people) from a pack's parameters.

    Raises
    ------
    ConfigError
        When the parameter is missing, not a whole number or below ``minimum``.
    """
    if name not in params:
        raise ConfigError(f"policy parameter {name!r} is missing (the case workflow needs it)")
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ConfigError(f"policy parameter {name!r} must be a whole number, got {value!r}")
    if value < minimum:
        raise ConfigError(f"policy parameter {name!r} must be at least {minimum}, got {value!r}")
    return int(value)


def notice_earliest_end(started_on: date, days: int) -> date:
    """The first day a public notice of at least ``days`` days may be closed.

    A notice posted on day D counts D as its first day; after ``days`` calendar
    days of display (D to D + days - 1) it may be closed on day D + days. A 5-day
    notice posted on 1 June may be closed on 6 June, not on 5 June.
    """
    return started_on + timedelta(days=days)


def _authorisation(case: CaseState, guard: Guard, ctx: _Context) -> tuple[str, str] | None:
    if ctx.payload["authorisation_signed"] is True:
        return None
    return (
        "农户未签署数据核查授权书，不能进入部门数据比对",
        "the household has not signed the authorisation for data checks",
    )


def _notice_not_started(case: CaseState, guard: Guard, ctx: _Context) -> tuple[str, str] | None:
    if case.notice_started_on is None:
        return None
    day = case.notice_started_on.isoformat()
    return (f"公示已于 {day} 开始", f"the public notice already started on {day}")


def _notice_elapsed(case: CaseState, guard: Guard, ctx: _Context) -> tuple[str, str] | None:
    assert guard.param is not None
    days = param_days(ctx.params, guard.param, minimum=1)
    if case.notice_started_on is None:
        return ("尚未开始公示", "no public notice has been started")
    earliest = notice_earliest_end(case.notice_started_on, days)
    if ctx.day >= earliest:
        return None
    start = case.notice_started_on.isoformat()
    return (
        f"公示期不少于 {days} 天：{start} 开始公示，最早 {earliest.isoformat()} 方可结束",
        f"the public notice must run at least {days} days: it started on {start} "
        f"and may end on {earliest.isoformat()} at the earliest",
    )


def _valid_causes(case: CaseState, guard: Guard, ctx: _Context) -> tuple[str, str] | None:
    try:
        validate_causes(ctx.payload["main_cause"], ctx.payload.get("other_causes") or ())
    except DataError as exc:
        return (f"风险类型不符合要求：{exc}", f"invalid risk causes: {exc}")
    return None


def _ready(case: CaseState, guard: Guard, ctx: _Context) -> tuple[str, str] | None:
    if ctx.payload["ready"] is True:
        return None
    why = ctx.payload["readiness_reason"]
    return (
        f"尚不符合风险消除条件：{why}",
        f"the policy engine finds the household not ready for risk elimination: {why}",
    )


def _capacity(case: CaseState, guard: Guard, ctx: _Context) -> tuple[str, str] | None:
    labour = ctx.payload.get("labour_members", case.labour_members)
    if labour is None:
        return (
            "家庭劳动力情况未核实，不能标注风险消除",
            "the household's working capacity is not verified: no risk elimination",
        )
    if labour > 0:
        return None
    return (
        "家庭无劳动能力，不能标注风险消除，继续监测帮扶",
        "a household without any working capacity can never have its risk eliminated; "
        "it stays monitored",
    )


def _team_size(case: CaseState, guard: Guard, ctx: _Context) -> tuple[str, str] | None:
    assert guard.param is not None
    minimum = param_days(ctx.params, guard.param, minimum=1)
    size = len({name.strip() for name in ctx.payload["team"]})
    if size >= minimum:
        return None
    return (
        f"入户核查人员不少于 {minimum} 人，实际 {size} 人",
        f"the home-check team needs at least {minimum} people, got {size}",
    )


def _appeal_window(case: CaseState, guard: Guard, ctx: _Context) -> tuple[str, str] | None:
    assert guard.param is not None
    days = param_days(ctx.params, guard.param)
    if case.decided_on is None or case.decided_in is None:
        return ("没有可申诉的决定", "there is no decision to appeal")
    last = case.decided_on + timedelta(days=days)
    if ctx.day <= last:
        return None
    return (
        f"申诉期 {days} 天已过（{case.decided_on.isoformat()} 作出决定，"
        f"最迟 {last.isoformat()} 申诉）",
        f"the appeal window of {days} days has passed (decided on "
        f"{case.decided_on.isoformat()}, appeals until {last.isoformat()})",
    )


_GUARDS: Final[dict[str, _Check]] = {
    "authorisation_signed": _authorisation,
    "notice_not_started": _notice_not_started,
    "notice_elapsed": _notice_elapsed,
    "valid_causes": _valid_causes,
    "ready_for_elimination": _ready,
    "has_working_capacity": _capacity,
    "team_size": _team_size,
    "within_appeal_window": _appeal_window,
}
#: Names of the guards the table may use.
GUARD_NAMES: Final = frozenset(_GUARDS)

# ------------------------------------------------------------------- payload checks


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_names(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(_is_text(v) for v in value)


def _is_causes(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(v in set(RiskCause) for v in value)


_TEXT: Final = (_is_text, "must be a non-empty text")
#: Type checks of known payload fields: (test, what is wrong otherwise).
_FIELD_RULES: Final[dict[str, tuple[Callable[[Any], bool], str]]] = {
    "authorisation_signed": (lambda v: isinstance(v, bool), "must be true or false"),
    "ready": (lambda v: isinstance(v, bool), "must be true or false"),
    "labour_members": (_is_count, "must be a whole number >= 0"),
    "team": (_is_names, "must be a list of names"),
    "reason": _TEXT,
    "assignee": _TEXT,
    "plan_id": _TEXT,
    "readiness_reason": _TEXT,
    "household_type": (
        lambda v: v in set(HouseholdType),
        f"must be one of {[t.value for t in HouseholdType]}",
    ),
    "main_cause": (lambda v: v in set(RiskCause), f"must be one of {[c.value for c in RiskCause]}"),
    "other_causes": (_is_causes, f"must be a list of {[c.value for c in RiskCause]}"),
}


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict | set | frozenset):
        return len(value) == 0
    return False


# ------------------------------------------------------------------------- effects


def _decision(case: CaseState, target: CaseStatus, ctx: _Context) -> dict[str, Any]:
    return {"decided_in": case.status, "decided_on": ctx.day}


def _approve(case: CaseState, target: CaseStatus, ctx: _Context) -> dict[str, Any]:
    if target is CaseStatus.ELIMINATED:
        return _decision(case, target, ctx)
    if target is not CaseStatus.MONITORED:
        return {}
    p = ctx.payload
    main, others = validate_causes(p["main_cause"], p.get("other_causes") or ())
    return {
        "household_type": HouseholdType(p["household_type"]),
        "main_cause": main,
        "other_causes": others,
        "monitored_on": ctx.day,
    }


_Effect = Callable[[CaseState, CaseStatus, _Context], dict[str, Any]]
#: Case fields each action sets (besides status and bookkeeping).
_EFFECTS: Final[dict[Action, _Effect]] = {
    Action.ASSIGN_VISIT: lambda c, t, x: {"assignee": x.payload["assignee"].strip()},
    Action.CLOSE: _decision,
    Action.REJECT: _decision,
    Action.START_NOTICE: lambda c, t, x: {"notice_started_on": x.day},
    Action.APPROVE: _approve,
    Action.ACCEPT_PLAN: lambda c, t, x: {"plan_id": x.payload["plan_id"].strip()},
    Action.RECORD_FOLLOW_UP: lambda c, t, x: {"last_follow_up_on": x.day},
    Action.PROPOSE_ELIMINATION: lambda c, t, x: {"labour_members": x.payload["labour_members"]},
    Action.RECORD_HOME_CHECK: lambda c, t, x: {
        "labour_members": x.payload["labour_members"],
        "last_follow_up_on": x.day,
    },
    Action.APPEAL: lambda c, t, x: {
        "appeals": c.appeals + 1,
        "decided_in": None,
        "decided_on": None,
    },
}


def apply(
    case: CaseState,
    action: Action | str,
    *,
    at: datetime,
    actor: str,
    params: Mapping[str, float],
    payload: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> TransitionResult:
    """Validate one action on a case and return the new state and the event to record.

    Steps: a known idempotency key is a replay; the (state, action) pair must be in
    :data:`TRANSITIONS`; ``at`` may not precede the last event; every required
    payload field must be given (not blank); known fields must have their type;
    every guard of the row must pass. Nothing outside the returned value changes.

    Parameters
    ----------
    case
        The case before the action.
    action
        An :class:`Action` (or its value).
    at
        When the action happens (local time; its date is the calendar day used by
        notices, deadlines and appeal windows).
    actor
        Who acts (user name or id), recorded on the event.
    params
        Policy-pack parameters in force (``PolicyPack.params_for(period)``); guards
        read e.g. ``notice_days_identification``, ``elimination_team_min``,
        ``appeal_window_days``.
    payload
        The action's data (see the ``required`` fields of its table row).
    idempotency_key
        Optional key of the request; a retry with the same key is recognised.

    Returns
    -------
    TransitionResult
        ``state`` (the new case), ``event`` (before, after, reason, changes) and
        ``replay``.

    Raises
    ------
    TransitionError
        Naming the state, the action and the allowed actions: illegal action,
        missing or invalid payload, failed guard, time before the last event, or an
        idempotency key reused for a different request.
    ConfigError
        When a guard's policy parameter is missing or invalid.
    """
    data = dict(payload or {})
    name = str(action)
    request = fingerprint(name, actor, data)
    if idempotency_key is not None:
        seen = case.event_for(idempotency_key)
        if seen is not None:
            if seen.fingerprint != request:
                raise TransitionError(
                    case.status,
                    name,
                    code="idempotency_conflict",
                    reason_zh=f"幂等键 {idempotency_key} 已用于另一请求",
                    reason_en=f"idempotency key {idempotency_key!r} was used for another request",
                )
            return TransitionResult(state=case, event=seen, replay=True)

    row = transition_for(case.status, name)

    def fail(code: str, zh: str, en: str) -> TransitionError:
        return TransitionError(case.status, name, code=code, reason_zh=zh, reason_en=en)

    if (at.tzinfo is None) != (case.updated_at.tzinfo is None):
        raise fail("time_order", "时间须同为带时区或不带时区", "mixing naive and aware datetimes")
    if at < case.updated_at:
        last = case.updated_at.isoformat()
        raise fail(
            "time_order", f"时间早于上一操作（{last}）", f"time is before the last event ({last})"
        )
    missing = [f for f in row.required if _missing(data.get(f))]
    if missing:
        raise fail("missing_payload", f"缺少必填项：{', '.join(missing)}", f"missing {missing}")
    for key, value in data.items():
        rule = _FIELD_RULES.get(key)
        if rule is not None and not rule[0](value):
            raise fail("invalid_payload", f"{key} 不符合要求：{rule[1]}", f"{key} {rule[1]}")
    ctx = _Context(at=at, day=at.date(), params=params, payload=data)
    for guard in row.guards:
        failed = _GUARDS[guard.name](case, guard, ctx)
        if failed is not None:
            raise fail("guard_failed", failed[0], failed[1])

    target = row.target if row.target is not None else case.decided_in
    assert target is not None  # the appeal guard checks decided_in
    effect = _EFFECTS.get(row.action)
    updates = effect(case, target, ctx) if effect is not None else {}
    if target is not case.status:
        updates.setdefault("notice_started_on", None)
    changes = {k: (getattr(case, k), v) for k, v in updates.items() if getattr(case, k) != v}
    if target is not case.status:
        changes = {"status": (case.status, target), **changes}
    reason = data.get("reason") or data.get("readiness_reason")
    event = CaseEvent(
        seq=case.version + 1,
        action=row.action,
        actor=actor,
        at=at,
        before=case.status,
        after=target,
        reason=reason,
        payload=MappingProxyType(data),
        changes=MappingProxyType(changes),
        idempotency_key=idempotency_key,
        fingerprint=request,
    )
    new = replace(
        case,
        **updates,
        status=target,
        updated_at=at,
        entered_at=at if target is not case.status else case.entered_at,
        version=case.version + 1,
        events=(*case.events, event),
    )
    return TransitionResult(state=new, event=event)


# -------------------------------------------------------------------------- intake


class CaseLike(Protocol):
    """What :func:`decide_intake` needs of an existing case (a :class:`CaseState` fits)."""

    @property
    def case_id(self) -> str: ...

    @property
    def status(self) -> CaseStatus: ...

    @property
    def opened_at(self) -> datetime: ...


class IntakeKind(StrEnum):
    """What to do with a new warning or report for a household."""

    NEW_CASE = "new_case"
    RELAPSE = "relapse"
    ATTACH = "attach"


@dataclass(frozen=True)
class IntakeDecision:
    """The decision of :func:`decide_intake`.

    ``case_id`` is the open case to attach to (``attach``); ``previous_case_id`` is
    the latest eliminated case (``relapse``).
    """

    kind: IntakeKind
    reason_zh: str
    reason_en: str
    case_id: str | None = None
    previous_case_id: str | None = None


def decide_intake(existing: Iterable[CaseLike]) -> IntakeDecision:
    """Decide whether a new warning opens a case, opens a relapse case or joins an open one.

    Rules, in order: a household with an open case (any status but the closed ones)
    gets the warning attached to that case (the latest opened if there were several);
    otherwise a household with an eliminated case gets a new case marked as relapse
    (返贫), pointing at its latest eliminated case; otherwise a new case (also after
    a rejection or a no-risk closure).

    Parameters
    ----------
    existing
        The household's cases, in any order.

    Returns
    -------
    IntakeDecision
    """
    cases = sorted(existing, key=lambda c: c.opened_at, reverse=True)
    open_cases = [c for c in cases if not CaseStatus(c.status).is_closed]
    if open_cases:
        case = open_cases[0]
        return IntakeDecision(
            IntakeKind.ATTACH,
            f"该户已有在办案件 {case.case_id}（{CaseStatus(case.status).label_zh}），并入该案件",
            f"the household has an open case {case.case_id} ({case.status}): attach to it",
            case_id=case.case_id,
        )
    eliminated = [c for c in cases if c.status == CaseStatus.ELIMINATED]
    if eliminated:
        prev = eliminated[0]
        return IntakeDecision(
            IntakeKind.RELAPSE,
            f"该户风险曾于案件 {prev.case_id} 中消除，新建返贫风险案件",
            f"the household's risk was eliminated in case {prev.case_id}: new relapse case",
            previous_case_id=prev.case_id,
        )
    return IntakeDecision(
        IntakeKind.NEW_CASE,
        "该户没有在办或已消除风险的案件，新建案件",
        "no open or eliminated case for the household: new case",
    )
