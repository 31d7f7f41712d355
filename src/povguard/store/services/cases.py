"""Case management on the operations database: intake, transitions, tasks, plans, grievances.

The workflow itself is the pure domain package :mod:`povguard.cases`; this module
loads a case, lets :func:`povguard.cases.apply` decide, and stores what the action
implies, in one transaction with its audit event
(:func:`~povguard.store.services.audit.record_event`):

- **Intake.** :func:`open_cases_from_warnings` takes a period's warnings in (the
  monthly cycle calls it after publishing them): per household, through
  :func:`povguard.cases.decide_intake`, the clue joins the household's open case
  (``attach``: no duplicate), opens a relapse case (the household's risk was
  eliminated before) or opens a new case. ``risk`` warnings and
  ``needs_verification`` warnings (unknown is not safe: a cadre must look) are taken
  in, both with the channel ``department_warning``, and counted apart; other kinds
  (ineligibility, screening, tiers...) are not cases. Each intake has the key
  ``intake:<period>:<household>``, so re-running a period changes nothing.
  :func:`open_case` takes in a clue from another channel (self-report, cadre
  screening, hotline, risk model) the same way.
- **Transitions.** :func:`transition` applies one action with optimistic locking:
  the caller names the version it saw, the case row is updated with
  ``WHERE version = :expected`` (a stale version or a concurrent change raises
  :class:`StaleCaseError`), and a retry with the same idempotency key returns the
  recorded event (``replay``) without writing. Besides the case and its event the
  action writes its task (one open task per open case: visit, cross-check, review,
  notice, plan, follow-up or home check), public notice, review decision, visit
  record, accepted plan or appeal.
- **Deadlines.** Each case stores its most pressing due date
  (:func:`povguard.cases.due_status`), fixed with the policy parameters in force
  for its village in the month its current step began; :func:`overdue`,
  ``list_cases(overdue=True)`` and ``list_tasks(overdue=True)`` filter on it in SQL.
  A step due on day X is overdue from day X + 1.
- **Assistance.** :func:`recommend_plan` stores a draft plan from
  :func:`povguard.cases.recommend`; :func:`edit_plan` accepts, adds, replaces or
  removes measures; :func:`accept_plan` is the ``accept_plan`` transition;
  :func:`record_delivery` records what was delivered.
- **Grievances.** :func:`file_grievance` records a complaint, or an appeal, which is
  the ``appeal`` transition (within the appeal window) and is resolved by the
  re-review's decision; :func:`resolve_grievance` closes a complaint.

Times of a case are local wall-clock times (what cadres count days in): a naive
datetime is taken as given, an aware one is converted to the server's local time
zone. Every read takes an area prefix (region-code prefix, ``''`` = everything)
applied inside the query; a case outside the area is :class:`NotFoundError`, like a
case that does not exist.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

from sqlalchemy import ColumnElement, Table, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from povguard.cases import (
    Action,
    CaseEvent,
    CaseState,
    CaseStatus,
    Catalogue,
    Channel,
    DueStatus,
    HouseholdNeeds,
    IntakeKind,
    Plan,
    PlannedMeasure,
    RiskCause,
    accept_measure,
    add_measure,
    apply,
    check_plan,
    decide_intake,
    default_catalogue,
    due_status,
    event_from_dict,
    event_to_dict,
    notice_earliest_end,
    param_days,
    recommend,
    remove_measure,
    replace_measure,
    state_from_dict,
    state_to_dict,
)
from povguard.cases import open_case as open_case_state
from povguard.errors import ConflictError, DataError, NotFoundError
from povguard.policy import PackLibrary, PolicyPack, load_packs
from povguard.store.models import (
    ACTOR_LEN,
    CASE_ID_LEN,
    IDEMPOTENCY_KEY_LEN,
    AssistancePlan,
    Case,
    CaseEventRecord,
    CaseIntake,
    Decision,
    Grievance,
    Household,
    HouseholdWarning,
    MeasureDelivery,
    Notice,
    Person,
    PlanMeasure,
    Region,
    Task,
    Visit,
    utcnow,
)
from povguard.store.services._common import (
    check_area_prefix,
    check_period,
    chunked,
    in_area,
    jsonable,
    transaction,
)
from povguard.store.services.audit import record_event
from povguard.store.services.queries import MAX_PAGE, MAX_PAGE_SIZE, Page

logger = logging.getLogger(__name__)

__all__ = [
    "INTAKE_WARNING_KINDS",
    "NOTICE_KINDS",
    "NOTICE_STATUSES",
    "PLAN_OPERATIONS",
    "CaseDetail",
    "CaseEventItem",
    "CaseView",
    "DecisionItem",
    "DeliveryItem",
    "GrievanceItem",
    "IntakeCounts",
    "IntakeItem",
    "IntakeOutcome",
    "IntakeReport",
    "NoticeItem",
    "PlanMeasureItem",
    "PlanView",
    "PublicNoticeItem",
    "RelapseCount",
    "StaleCaseError",
    "TaskItem",
    "VisitItem",
    "accept_plan",
    "case_detail",
    "case_history",
    "case_params",
    "edit_plan",
    "file_grievance",
    "get_case",
    "get_plan",
    "intake_key",
    "list_cases",
    "list_intakes",
    "list_notices",
    "list_tasks",
    "local_time",
    "open_case",
    "open_cases_from_warnings",
    "overdue",
    "recommend_plan",
    "record_delivery",
    "relapse_counts",
    "resolve_grievance",
    "transition",
]

#: Actor of what the monthly cycle does.
SYSTEM_ACTOR: Final = "system"
#: Warning kinds the intake takes in, in priority order (a household with both is a
#: risk intake).
INTAKE_WARNING_KINDS: Final = ("risk", "needs_verification")
#: Kinds and states of public notices (:func:`list_notices`).
NOTICE_KINDS: Final = ("identification", "elimination")
NOTICE_STATUSES: Final = ("running", "ended", "withdrawn")
#: What :func:`edit_plan` can do to a draft plan.
PLAN_OPERATIONS: Final = ("accept", "add", "replace", "remove")
#: Households taken in per transaction by :func:`open_cases_from_warnings`.
BATCH_SIZE: Final = 500
_ENTITY: Final = "case"

Policy = PolicyPack | PackLibrary

_S, _A = CaseStatus, Action
#: (status before, action) -> (procedure, level, outcome) of the review decision.
_DECISIONS: Final[dict[tuple[CaseStatus, Action], tuple[str, str, str]]] = {
    (_S.VISIT, _A.CLOSE): ("identification", "village", "reject"),
    (_S.CROSS_CHECK, _A.REJECT): ("identification", "county", "reject"),
    (_S.VILLAGE_REVIEW, _A.START_NOTICE): ("identification", "village", "approve"),
    (_S.VILLAGE_REVIEW, _A.REJECT): ("identification", "village", "reject"),
    (_S.TOWNSHIP_REVIEW, _A.APPROVE): ("identification", "township", "approve"),
    (_S.TOWNSHIP_REVIEW, _A.REJECT): ("identification", "township", "reject"),
    (_S.COUNTY_APPROVAL, _A.APPROVE): ("identification", "county", "approve"),
    (_S.COUNTY_APPROVAL, _A.REJECT): ("identification", "county", "reject"),
    (_S.ELIMINATION_ASSESSMENT, _A.DECLINE_ELIMINATION): ("elimination", "village", "reject"),
    (_S.ELIMINATION_NOTICE, _A.START_NOTICE): ("elimination", "village", "approve"),
    (_S.ELIMINATION_NOTICE, _A.DECLINE_ELIMINATION): ("elimination", "village", "reject"),
    (_S.TOWNSHIP_ACCEPTANCE, _A.APPROVE): ("elimination", "township", "approve"),
    (_S.TOWNSHIP_ACCEPTANCE, _A.DECLINE_ELIMINATION): ("elimination", "township", "reject"),
    (_S.COUNTY_ELIMINATION_APPROVAL, _A.APPROVE): ("elimination", "county", "approve"),
    (_S.COUNTY_ELIMINATION_APPROVAL, _A.DECLINE_ELIMINATION): ("elimination", "county", "reject"),
}
_LEVEL_LABELS: Final = {"village": "村级", "township": "乡镇", "county": "县级"}
_OUTCOME_LABELS: Final = {"approve": "通过", "reject": "不通过"}
#: Visit records written by an action.
_VISITS: Final = {
    _A.RECORD_VISIT: "visit",
    _A.RECORD_FOLLOW_UP: "follow_up",
    _A.RECORD_HOME_CHECK: "home_check",
}


# ------------------------------------------------------------------------ errors


class StaleCaseError(ConflictError):
    """The case changed since the caller read it (optimistic locking).

    Attributes
    ----------
    case_id
        The case.
    expected, current
        The version the caller named and the version the case is at.
    """

    def __init__(self, case_id: str, expected: int, current: int) -> None:
        self.case_id = case_id
        self.expected = expected
        self.current = current
        super().__init__(
            f"case {case_id}: expected version {expected}, but it is at version {current}: "
            f"someone changed it meanwhile; reload it and try again / "
            f"案件 {case_id} 已被他人修改（期望版本 {expected}，当前版本 {current}），请刷新后重试"
        )


def _not_found(what: str, key: object) -> NotFoundError:
    return NotFoundError(f"{what} {key} not found (or outside your area) / 未找到{_ZH[what]} {key}")


_ZH: Final = {
    "case": "案件",
    "household": "农户",
    "plan": "帮扶计划",
    "plan measure": "帮扶措施",
    "grievance": "申诉或投诉",
}


# ------------------------------------------------------------------------- views


@dataclass(frozen=True, slots=True)
class CaseEventItem:
    """One recorded transition of a case."""

    case_id: str
    seq: int
    action: str
    actor: str
    at: dt.datetime
    before: str | None
    after: str
    reason: str | None
    payload: dict[str, Any]
    changes: dict[str, list[Any]]
    idempotency_key: str | None
    recorded_at: dt.datetime

    @property
    def label_zh(self) -> str:
        """Chinese label of the action."""
        return Action(self.action).label_zh

    @property
    def label_en(self) -> str:
        """English label of the action."""
        return Action(self.action).label_en


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case as lists and pages show it.

    ``state`` is the domain state (:class:`povguard.cases.CaseState`, without its
    events); ``due`` the most pressing deadline on the day the view was made (None
    for a closed case). After :func:`transition`, ``event`` is the event the action
    recorded and ``replay`` tells whether it was recorded by an earlier request
    with the same idempotency key.
    """

    id: str
    household_id: str
    village_code: str
    period: str
    status: str
    channel: str
    basis: str
    relapse: bool
    previous_case_id: str | None
    household_type: str | None
    main_cause: str | None
    other_causes: tuple[str, ...]
    assignee: str | None
    discovered_at: dt.datetime
    updated_at: dt.datetime
    decided_on: dt.date | None
    closed_at: dt.datetime | None
    plan_id: str | None
    version: int
    due_on: dt.date | None
    due_kind: str | None
    allowed_actions: tuple[str, ...]
    due: DueStatus | None
    state: CaseState = field(repr=False)
    event: CaseEventItem | None = None
    replay: bool = False

    @property
    def status_zh(self) -> str:
        """Chinese label of the status."""
        return CaseStatus(self.status).label_zh

    @property
    def status_en(self) -> str:
        """English label of the status."""
        return CaseStatus(self.status).label_en

    @property
    def is_open(self) -> bool:
        """Whether the case is not closed."""
        return not CaseStatus(self.status).is_closed

    @property
    def overdue(self) -> bool:
        """Whether the case's most pressing deadline has passed."""
        return self.due is not None and self.due.overdue


@dataclass(frozen=True, slots=True)
class IntakeOutcome:
    """What :func:`open_case` did: opened a case, a relapse case, or joined an open one.

    ``replay`` is True when the idempotency key was taken in before (nothing written).
    """

    kind: str
    case: CaseView
    reason_zh: str
    reason_en: str
    replay: bool = False


@dataclass(frozen=True, slots=True)
class IntakeCounts:
    """Households taken in, by what happened."""

    new_case: int = 0
    relapse: int = 0
    attach: int = 0

    @property
    def total(self) -> int:
        """Households taken in."""
        return self.new_case + self.relapse + self.attach

    def as_dict(self) -> dict[str, int]:
        """The counts as a mapping."""
        return {"new_case": self.new_case, "relapse": self.relapse, "attach": self.attach}


@dataclass(frozen=True, slots=True)
class IntakeReport:
    """What :func:`open_cases_from_warnings` did with a period's warnings.

    ``risk`` and ``needs_verification`` count households by their intake basis (a
    household with both kinds of warning counts as risk); ``already`` households
    were taken in for the period before (a re-run); ``ignored`` warnings are of
    kinds that open no case.
    """

    period: str
    risk: IntakeCounts
    needs_verification: IntakeCounts
    already: int
    ignored: int

    @property
    def new_cases(self) -> int:
        """New (not relapse) cases opened."""
        return self.risk.new_case + self.needs_verification.new_case

    @property
    def relapses(self) -> int:
        """Relapse cases opened."""
        return self.risk.relapse + self.needs_verification.relapse

    @property
    def attached(self) -> int:
        """Households whose warnings joined an open case."""
        return self.risk.attach + self.needs_verification.attach

    def as_dict(self) -> dict[str, Any]:
        """The report as plain values (for the cycle's run record)."""
        return {
            "period": self.period,
            "new_cases": self.new_cases,
            "relapses": self.relapses,
            "attached": self.attached,
            "already": self.already,
            "ignored_warnings": self.ignored,
            "risk": self.risk.as_dict(),
            "needs_verification": self.needs_verification.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class IntakeItem:
    """One clue taken in to a case."""

    id: int
    case_id: str
    household_id: str
    period: str | None
    channel: str
    kind: str
    basis: str
    rule_ids: list[str]
    detail: dict[str, Any]
    actor: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class TaskItem:
    """A task of a case's step."""

    id: int
    case_id: str
    household_id: str
    village_code: str
    kind: str
    level: str
    assignee: str | None
    due_on: dt.date | None
    status: str
    created_at: dt.datetime
    done_at: dt.datetime | None
    case_status: str

    def overdue_on(self, today: dt.date) -> bool:
        """Whether the open task is overdue on ``today`` (due day passed)."""
        return self.status == "open" and self.due_on is not None and today > self.due_on


@dataclass(frozen=True, slots=True)
class VisitItem:
    """A recorded visit."""

    id: int
    case_id: str
    seq: int
    kind: str
    visited_at: dt.datetime
    recorded_by: str
    findings: Any
    authorisation_signed: bool | None
    team: list[str]
    labour_members: int | None


@dataclass(frozen=True, slots=True)
class NoticeItem:
    """A public notice of a case."""

    id: int
    case_id: str
    kind: str
    village_code: str
    started_on: dt.date
    earliest_end: dt.date
    ended_on: dt.date | None
    status: str


@dataclass(frozen=True, slots=True)
class PublicNoticeItem:
    """A public notice as a village posts it: the notice, its household and the reason.

    ``household_type`` is the case's type, or during identification the type the
    case's warnings proposed (None when none or several did); ``reason`` is, for an
    identification notice, the findings of the latest home visit, and for an
    elimination notice, why the household is ready (the proposal's reason).
    """

    id: int
    case_id: str
    kind: str
    village_code: str
    village_name: str
    started_on: dt.date
    earliest_end: dt.date
    ended_on: dt.date | None
    status: str
    household_id: str
    head_name: str | None
    members: int
    case_status: str
    household_type: str | None
    main_cause: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class DecisionItem:
    """A review decision on a case."""

    id: int
    case_id: str
    seq: int
    stage: str
    level: str
    outcome: str
    reason: str | None
    decided_by: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class DeliveryItem:
    """Assistance delivered under a plan measure."""

    id: int
    plan_measure_id: int
    delivered_on: dt.date
    amount: float | None
    note: str | None
    recorded_by: str


@dataclass(frozen=True, slots=True)
class PlanMeasureItem:
    """A measure of a plan (``removed`` ones are kept with the reason)."""

    id: int
    measure_id: str
    name_zh: str
    name_en: str
    position: int
    person_id_number: str | None
    basis: str
    causes: list[str]
    reason_zh: str
    reason_en: str
    amount: float | None
    years: float | None
    status: str
    edit_reason: str | None
    deliveries: tuple[DeliveryItem, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanView:
    """An assistance plan with its measures and the principles it does not follow."""

    id: int
    case_id: str
    status: str
    version: int
    needs: dict[str, Any]
    measures: tuple[PlanMeasureItem, ...]
    warnings: list[dict[str, str]]
    catalogue_version: str
    created_by: str
    accepted_by: str | None
    accepted_at: dt.datetime | None

    @property
    def active_measures(self) -> tuple[PlanMeasureItem, ...]:
        """Measures not removed, in plan order."""
        return tuple(m for m in self.measures if m.status != "removed")


@dataclass(frozen=True, slots=True)
class GrievanceItem:
    """An appeal or a complaint."""

    id: int
    case_id: str
    kind: str
    filed_at: dt.datetime
    filed_by: str
    reason: str
    status: str
    resolution: str | None
    resolved_by: str | None
    resolved_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class CaseDetail:
    """Everything about one case, for its page."""

    case: CaseView
    events: list[CaseEventItem]
    intakes: list[IntakeItem]
    tasks: list[TaskItem]
    visits: list[VisitItem]
    notices: list[NoticeItem]
    decisions: list[DecisionItem]
    plans: list[PlanView]
    grievances: list[GrievanceItem]


@dataclass(frozen=True, slots=True)
class RelapseCount:
    """Cases opened in a period and how many of them are relapses (返贫)."""

    period: str
    opened: int
    relapses: int
    relapse_households: int

    @property
    def relapse_share(self) -> float | None:
        """Relapse cases among the cases opened (None when none were opened)."""
        return self.relapses / self.opened if self.opened else None


# ----------------------------------------------------------------------- helpers


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


_CASES = _table(Case)
_EVENTS = _table(CaseEventRecord)
_INTAKES = _table(CaseIntake)
_TASKS = _table(Task)
_VISITS_T = _table(Visit)
_NOTICES = _table(Notice)
_DECISIONS_T = _table(Decision)
_PLANS = _table(AssistancePlan)
_MEASURES = _table(PlanMeasure)
_DELIVERIES = _table(MeasureDelivery)
_GRIEVANCES = _table(Grievance)


def local_time(at: dt.datetime) -> dt.datetime:
    """``at`` as a naive local wall-clock time (an aware time in the server's zone).

    Parameters
    ----------
    at
        A naive (taken as local) or aware datetime.

    Returns
    -------
    datetime
        Naive.

    Raises
    ------
    DataError
        When ``at`` is not a datetime.
    """
    if not isinstance(at, dt.datetime):
        raise DataError(f"a time must be a datetime, got {at!r}")
    return at if at.tzinfo is None else at.astimezone().replace(tzinfo=None)


def _now(now: dt.datetime | dt.date | None) -> dt.date:
    if now is None:
        return dt.datetime.now().date()
    if isinstance(now, dt.datetime):
        return local_time(now).date()
    return now


def _period_of(day: dt.date | dt.datetime) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _text(value: Any, what: str, max_len: int | None = None) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise DataError(f"{what} must be a non-empty text, got {value!r}")
    if max_len is not None and len(text) > max_len:
        raise DataError(f"{what} is longer than {max_len} characters")
    return text


def _optional_text(value: Any, what: str, max_len: int | None = None) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _text(value, what, max_len)


def _check_page(page: int, page_size: int) -> None:
    if not 1 <= page <= MAX_PAGE:
        raise DataError(f"page must be between 1 and {MAX_PAGE}, got {page}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise DataError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")


@functools.cache
def _packaged_policy() -> PackLibrary:
    return load_packs()


def case_params(period: str, region_code: str, policy: Policy | None = None) -> dict[str, Any]:
    """Policy parameters in force for a region in a period (what guards and deadlines read).

    Parameters
    ----------
    period
        ``YYYY-MM``.
    region_code
        The case's village code (the most specific pack whose region prefix it
        starts with applies).
    policy
        A pack library or a single pack (default: the packaged library).

    Returns
    -------
    dict
        ``PolicyPack.params_for(period)`` of the selected pack.

    Raises
    ------
    ConfigError
        When no pack is in force there and then.
    """
    chosen = policy if policy is not None else _packaged_policy()
    pack = chosen.select(period, region_code) if isinstance(chosen, PackLibrary) else chosen
    return pack.params_for(period)


class _Params:
    """Memo of :func:`case_params` for one call (lists ask for many cases)."""

    def __init__(self, policy: Policy | None) -> None:
        self.policy = policy
        self.memo: dict[tuple[str, str], dict[str, Any]] = {}

    def __call__(self, period: str, region_code: str) -> dict[str, Any]:
        key = (period, region_code)
        if key not in self.memo:
            self.memo[key] = case_params(period, region_code, self.policy)
        return self.memo[key]

    def for_state(self, state: CaseState, region_code: str) -> dict[str, Any]:
        """Parameters in force when the case's current step began."""
        return self(_period_of(state.entered_at), region_code)


def _due(state: CaseState, village: str, params: _Params, today: dt.date) -> DueStatus | None:
    return due_status(state, today, params.for_state(state, village))


def _case_values(state: CaseState, village: str, params: _Params) -> dict[str, Any]:
    """Columns of the ``cases`` row that repeat the state."""
    due = _due(state, village, params, state.updated_at.date())
    return {
        "status": state.status.value,
        "household_type": None if state.household_type is None else state.household_type.value,
        "main_cause": None if state.main_cause is None else state.main_cause.value,
        "other_causes": [c.value for c in state.other_causes],
        "assignee": state.assignee,
        "decided_on": state.decided_on,
        "closed_at": state.updated_at if state.status.is_closed else None,
        "updated_at": state.updated_at,
        "due_on": None if due is None else due.deadline.due_on,
        "due_kind": None if due is None else due.deadline.kind,
        "version": state.version,
        "state": state_to_dict(state),
    }


def _state(row: Any, events: Iterable[CaseEvent] = ()) -> CaseState:
    return state_from_dict(row.state, events)


def _view(
    row: Any,
    state: CaseState,
    params: _Params,
    today: dt.date,
    *,
    event: CaseEventItem | None = None,
    replay: bool = False,
) -> CaseView:
    due = _due(state, row.village_code, params, today)
    return CaseView(
        id=state.case_id,
        household_id=state.household_id,
        village_code=row.village_code,
        period=row.period,
        status=state.status.value,
        channel=state.channel.value,
        basis=row.basis,
        relapse=state.relapse,
        previous_case_id=state.previous_case_id,
        household_type=None if state.household_type is None else state.household_type.value,
        main_cause=None if state.main_cause is None else state.main_cause.value,
        other_causes=tuple(c.value for c in state.other_causes),
        assignee=state.assignee,
        discovered_at=state.opened_at,
        updated_at=state.updated_at,
        decided_on=state.decided_on,
        closed_at=state.updated_at if state.status.is_closed else None,
        plan_id=state.plan_id,
        version=state.version,
        due_on=None if due is None else due.deadline.due_on,
        due_kind=None if due is None else due.deadline.kind,
        allowed_actions=tuple(a.value for a in state.allowed_actions),
        due=due,
        state=state,
        event=event,
        replay=replay,
    )


def _aware(value: dt.datetime) -> dt.datetime:
    """A stored UTC time as aware (SQLite hands back naive UTC times)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def _event_item(row: Any) -> CaseEventItem:
    return CaseEventItem(
        case_id=row.case_id,
        seq=row.seq,
        action=row.action,
        actor=row.actor,
        at=row.at,
        before=row.before_status,
        after=row.after_status,
        reason=row.reason,
        payload=dict(row.payload or {}),
        changes={k: list(v) for k, v in (row.changes or {}).items()},
        idempotency_key=row.idempotency_key,
        recorded_at=_aware(row.recorded_at),
    )


def _domain_event(row: Any) -> CaseEvent:
    return event_from_dict(
        {
            "seq": row.seq,
            "action": row.action,
            "actor": row.actor,
            "at": row.at.isoformat(),
            "before": row.before_status,
            "after": row.after_status,
            "reason": row.reason,
            "payload": row.payload or {},
            "changes": row.changes or {},
            "idempotency_key": row.idempotency_key,
            "fingerprint": row.fingerprint,
        }
    )


def _event_values(case_id: str, event: CaseEvent) -> dict[str, Any]:
    doc = event_to_dict(event)
    return {
        "case_id": case_id,
        "seq": event.seq,
        "action": doc["action"],
        "actor": event.actor,
        "at": event.at,
        "before_status": doc["before"],
        "after_status": doc["after"],
        "reason": event.reason,
        "payload": jsonable(doc["payload"], "payload"),
        "changes": doc["changes"],
        "idempotency_key": event.idempotency_key,
        "fingerprint": event.fingerprint,
        "recorded_at": utcnow(),
    }


def _load_case(session: Session, case_id: str, area_prefix: str) -> Row[Any]:
    check_area_prefix(area_prefix)
    row = session.execute(
        select(_CASES).where(_CASES.c.id == str(case_id), in_area(Case.village_code, area_prefix))
    ).first()
    if row is None:
        raise _not_found("case", case_id)
    return row


def _event_by_key(session: Session, case_id: str, key: str) -> Row[Any] | None:
    return session.execute(
        select(_EVENTS).where(_EVENTS.c.case_id == case_id, _EVENTS.c.idempotency_key == key)
    ).first()


def _audit_state(state: CaseState) -> dict[str, Any]:
    doc = state_to_dict(state)
    doc.pop("format", None)
    return doc


# ------------------------------------------------------------------------ tasks


#: (kind, level) of the task each open step asks for (notice steps: see _step_task).
_STEP_TASKS: Final[dict[CaseStatus, tuple[str, str]]] = {
    _S.DISCOVERED: ("visit", "village"),
    _S.VISIT: ("visit", "village"),
    _S.CROSS_CHECK: ("cross_check", "county"),
    _S.VILLAGE_REVIEW: ("review", "village"),
    _S.TOWNSHIP_REVIEW: ("review", "township"),
    _S.COUNTY_APPROVAL: ("review", "county"),
    _S.MONITORED: ("plan", "village"),
    _S.ASSISTED: ("follow_up", "village"),
    _S.ELIMINATION_ASSESSMENT: ("home_check", "village"),
    _S.ELIMINATION_NOTICE: ("review", "village"),
    _S.TOWNSHIP_ACCEPTANCE: ("review", "township"),
    _S.COUNTY_ELIMINATION_APPROVAL: ("review", "county"),
}


def _step_task(state: CaseState) -> tuple[str, str] | None:
    """(kind, level) of the task the case's open step asks for; None when closed.

    In a review-and-notice step the task is the village review until the notice
    starts, then the notice.
    """
    step = _STEP_TASKS.get(state.status)
    if step is not None and step[1] == "village" and state.notice_started_on is not None:
        return ("notice", "village")
    return step


def _task_values(
    case_id: str, state: CaseState, village: str, due_on: dt.date | None
) -> dict[str, Any] | None:
    step = _step_task(state)
    if step is None:
        return None
    kind, level = step
    return {
        "case_id": case_id,
        "kind": kind,
        "level": level,
        "village_code": village,
        "assignee": state.assignee if level == "village" else None,
        "due_on": due_on,
        "status": "open",
        "created_at": state.updated_at,
        "done_at": None,
        "opened_seq": state.version,
        "closed_seq": None,
    }


def _write_task(
    session: Session, before: CaseState, after: CaseState, village: str, due_on: dt.date | None
) -> None:
    """Complete the open task and open the next, or update it when the step goes on."""
    old, new = _step_task(before), _step_task(after)
    action = after.events[-1].action if after.events else None
    rotate = old != new or (action is _A.RECORD_FOLLOW_UP and new == ("follow_up", "village"))
    open_task = (_TASKS.c.case_id == after.case_id) & (_TASKS.c.status == "open")
    if not rotate:
        values = _task_values(after.case_id, after, village, due_on)
        if values is not None:
            session.execute(
                update(_TASKS)
                .where(open_task)
                .values(assignee=values["assignee"], due_on=values["due_on"])
            )
        return
    session.execute(
        update(_TASKS)
        .where(open_task)
        .values(status="done", done_at=after.updated_at, closed_seq=after.version)
    )
    values = _task_values(after.case_id, after, village, due_on)
    if values is not None:
        session.execute(insert(_TASKS).values(**values))


# --------------------------------------------------------------- effects of actions


def _write_effects(
    session: Session,
    before: CaseState,
    after: CaseState,
    event: CaseEvent,
    village: str,
    params: Mapping[str, Any],
) -> None:
    """Notices, decisions, visits, plans and appeals the action implies."""
    case_id, seq, at = after.case_id, event.seq, event.at
    data = event.payload
    action = event.action
    running = (_NOTICES.c.case_id == case_id) & (_NOTICES.c.status == "running")
    if action is _A.START_NOTICE:
        stage = "identification" if before.status is _S.VILLAGE_REVIEW else "elimination"
        days = param_days(params, f"notice_days_{stage}", minimum=1)
        session.execute(
            insert(_NOTICES).values(
                case_id=case_id,
                kind=stage,
                village_code=village,
                started_on=at.date(),
                earliest_end=notice_earliest_end(at.date(), days),
                ended_on=None,
                status="running",
                started_seq=seq,
                ended_seq=None,
            )
        )
    elif action is _A.END_NOTICE:
        session.execute(
            update(_NOTICES)
            .where(running)
            .values(status="ended", ended_on=at.date(), ended_seq=seq)
        )
    elif before.notice_started_on is not None and after.status is not before.status:
        session.execute(
            update(_NOTICES)
            .where(running)
            .values(status="withdrawn", ended_on=at.date(), ended_seq=seq)
        )

    decision = _DECISIONS.get((before.status, action))
    if decision is not None:
        stage, level, outcome = decision
        review = data.get("democratic_review")
        if review is not None and not isinstance(review, str):
            review = json.dumps(jsonable(review, "democratic_review"), ensure_ascii=False)
        reason = event.reason or review
        session.execute(
            insert(_DECISIONS_T).values(
                case_id=case_id,
                seq=seq,
                stage=stage,
                level=level,
                outcome=outcome,
                reason=reason,
                decided_by=event.actor,
                at=at,
            )
        )
        resolution = (
            f"复核结果：{_LEVEL_LABELS[level]}{_OUTCOME_LABELS[outcome]} / "
            f"re-review: {level} {outcome}"
        )
        session.execute(
            update(_GRIEVANCES)
            .where(
                _GRIEVANCES.c.case_id == case_id,
                _GRIEVANCES.c.kind == "appeal",
                _GRIEVANCES.c.status == "open",
            )
            .values(
                status="resolved", resolution=resolution, resolved_by=event.actor, resolved_at=at
            )
        )

    visit = _VISITS.get(action)
    if visit is not None:
        session.execute(
            insert(_VISITS_T).values(
                case_id=case_id,
                seq=seq,
                kind=visit,
                visited_at=at,
                recorded_by=event.actor,
                findings=jsonable(data.get("findings"), "findings"),
                authorisation_signed=data.get("authorisation_signed"),
                team=[str(n).strip() for n in data.get("team") or ()],
                labour_members=data.get("labour_members"),
            )
        )

    if action is _A.APPEAL:
        session.execute(
            insert(_GRIEVANCES).values(
                case_id=case_id,
                kind="appeal",
                filed_at=at,
                filed_by=event.actor,
                reason=str(data["reason"]).strip(),
                status="open",
                resolution=None,
                resolved_by=None,
                resolved_at=None,
                seq=seq,
            )
        )

    if action is _A.ACCEPT_PLAN:
        plan_id = int(str(data["plan_id"]).strip())
        session.execute(
            update(_PLANS)
            .where(
                _PLANS.c.case_id == case_id,
                _PLANS.c.status == "accepted",
                _PLANS.c.id != plan_id,
            )
            .values(status="superseded")
        )
        # still a draft now (a concurrent recommendation may have replaced it since the
        # check): the conditional update decides, and the transaction rolls back if not
        accepted = session.execute(
            update(_PLANS)
            .where(_PLANS.c.id == plan_id, _PLANS.c.status == "draft")
            .values(
                status="accepted",
                accepted_by=event.actor,
                accepted_at=at,
                version=_PLANS.c.version + 1,
            )
        )
        if accepted.rowcount != 1:  # type: ignore[attr-defined]
            raise ConflictError(
                f"plan {plan_id} is no longer a draft (replaced meanwhile) / "
                f"帮扶计划 {plan_id} 已被替换，不再是草稿，请重新读取"
            )
        session.execute(
            update(_MEASURES)
            .where(_MEASURES.c.plan_id == plan_id, _MEASURES.c.status == "proposed")
            .values(status="accepted")
        )


def _check_plan_for(session: Session, case_id: str, payload: Mapping[str, Any]) -> None:
    """The plan an ``accept_plan`` names must be a draft of the case with measures."""
    raw = payload.get("plan_id")
    try:
        plan_id = int(str(raw).strip())
    except ValueError:
        raise _not_found("plan", raw) from None
    plan = session.execute(select(_PLANS).where(_PLANS.c.id == plan_id)).first()
    if plan is None or plan.case_id != case_id:
        raise _not_found("plan", raw)
    if plan.status != "draft":
        raise ConflictError(
            f"plan {plan_id} is {plan.status}, only a draft plan can be accepted / "
            f"帮扶计划 {plan_id} 不是草稿，不能确认"
        )
    active = session.scalar(
        select(func.count())
        .select_from(_MEASURES)
        .where(_MEASURES.c.plan_id == plan_id, _MEASURES.c.status != "removed")
    )
    if not active:
        raise ConflictError(
            f"plan {plan_id} has no measures / 帮扶计划 {plan_id} 没有帮扶措施，不能确认"
        )


# -------------------------------------------------------------------- transitions


def transition(
    session: Session,
    case_id: str,
    action: Action | str,
    *,
    expected_version: int,
    actor: str,
    at: dt.datetime,
    area_prefix: str,
    payload: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
    policy: Policy | None = None,
    commit: bool = True,
) -> CaseView:
    """Apply one workflow action to a case and store everything it implies.

    Steps: load the case (in the area); a known idempotency key returns the
    recorded event (``replay``; a different request under the same key is a
    :class:`~povguard.cases.TransitionError`); the case must be at
    ``expected_version``; :func:`povguard.cases.apply` validates the action with the
    policy parameters in force for the case's village in the month of ``at``; the
    case row is updated only ``WHERE version = expected_version``; the event, the
    task, and the notice, decision, visit, plan acceptance or appeal the action
    implies are written with an audit event, all in one transaction.

    Parameters
    ----------
    session
        Session on the operations database.
    case_id
        The case.
    action
        A :class:`povguard.cases.Action` or its value.
    expected_version
        The version the caller saw (:attr:`CaseView.version`).
    actor
        Who acts (user name).
    at
        When (local time; see the module notes).
    area_prefix
        The caller's area (region-code prefix; ``''`` = everything).
    payload
        The action's data (see :data:`povguard.cases.TRANSITIONS`).
    idempotency_key
        Key of the request (unique per case), so that a retry is recognised.
    policy
        Pack library or pack (default: the packaged library).
    commit
        Commit at the end (default).

    Returns
    -------
    CaseView
        The case after the action, with ``event`` (and ``replay`` for a retry).

    Raises
    ------
    NotFoundError
        When the case does not exist or is outside the area, or ``accept_plan``
        names a plan that is not the case's.
    StaleCaseError
        When the case is not (or no longer) at ``expected_version``.
    TransitionError
        When the workflow refuses the action (illegal, missing or invalid payload,
        failed guard, time before the last event, reused idempotency key).
    ConflictError
        When ``accept_plan`` names a plan that is not a draft with measures.
    DataError
        On an empty actor or a bad time.
    """
    who = _text(actor, "actor", ACTOR_LEN)
    when = local_time(at)
    key = _optional_text(idempotency_key, "idempotency_key", IDEMPOTENCY_KEY_LEN)
    data = dict(payload or {})
    params = _Params(policy)
    row = _load_case(session, case_id, area_prefix)
    with transaction(session, commit=commit):
        view = _transition(session, row, action, expected_version, who, when, data, key, params)
    return view


def _replay(
    session: Session,
    row: Any,
    action: Action | str,
    who: str,
    when: dt.datetime,
    data: dict[str, Any],
    key: str,
    params: _Params,
) -> CaseView | None:
    """The earlier result of a request with the same key, if there is one."""
    found = _event_by_key(session, row.id, key)
    if found is None:
        return None
    state = _state(row, (_domain_event(found),))
    apply(state, action, at=when, actor=who, params={}, payload=data, idempotency_key=key)
    return _view(row, state, params, when.date(), event=_event_item(found), replay=True)


def _transition(
    session: Session,
    row: Any,
    action: Action | str,
    expected_version: int,
    who: str,
    when: dt.datetime,
    data: dict[str, Any],
    key: str | None,
    params: _Params,
) -> CaseView:
    if key is not None:
        earlier = _replay(session, row, action, who, when, data, key, params)
        if earlier is not None:
            return earlier
    if row.version != expected_version:
        raise StaleCaseError(row.id, expected_version, row.version)
    before = _state(row)
    result = apply(
        before,
        action,
        at=when,
        actor=who,
        params=params(_period_of(when), row.village_code),
        payload=data,
        idempotency_key=key,
    )
    after, event = result.state, result.event
    if event.action is _A.ACCEPT_PLAN:
        _check_plan_for(session, row.id, data)
    values = _case_values(after, row.village_code, params)
    done = session.execute(
        update(_CASES)
        .where(_CASES.c.id == row.id, _CASES.c.version == expected_version)
        .values(**values)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        if key is not None:
            fresh = _load_case(session, row.id, "")
            earlier = _replay(session, fresh, action, who, when, data, key, params)
            if earlier is not None:
                return earlier
        current = session.scalar(select(_CASES.c.version).where(_CASES.c.id == row.id))
        raise StaleCaseError(row.id, expected_version, int(current or 0))
    session.execute(insert(_EVENTS).values(**_event_values(row.id, event)))
    _write_task(session, before, after, row.village_code, values["due_on"])
    _write_effects(
        session, before, after, event, row.village_code, params(_period_of(when), row.village_code)
    )
    record_event(
        session,
        actor=who,
        action=f"case.{event.action.value}",
        entity_type=_ENTITY,
        entity_id=row.id,
        before=_audit_state(before),
        after={**_audit_state(after), "payload": jsonable(data, "payload")},
        reason=event.reason,
        request_id=key,
    )
    stored = session.execute(
        select(_EVENTS).where(_EVENTS.c.case_id == row.id, _EVENTS.c.seq == event.seq)
    ).one()
    return _view(row, after, params, when.date(), event=_event_item(stored))


# ------------------------------------------------------------------------- intake


@dataclass(frozen=True)
class _Existing:
    """What :func:`decide_intake` needs of a stored case."""

    case_id: str
    status: CaseStatus
    opened_at: dt.datetime


def _existing_cases(session: Session, household_ids: Sequence[str]) -> dict[str, list[_Existing]]:
    out: dict[str, list[_Existing]] = {}
    if not household_ids:
        return out
    rows = session.execute(
        select(_CASES.c.id, _CASES.c.household_id, _CASES.c.status, _CASES.c.discovered_at).where(
            _CASES.c.household_id.in_(list(household_ids))
        )
    )
    for r in rows:
        out.setdefault(r.household_id, []).append(
            _Existing(r.id, CaseStatus(r.status), r.discovered_at)
        )
    return out


def _new_case_id(household_id: str, existing: Sequence[_Existing]) -> str:
    """``<household>-<n>``: the household's n-th case (n from 1, two digits at least)."""
    taken = set()
    for case in existing:
        tail = case.case_id.rsplit("-", 1)[-1]
        if tail.isdigit():
            taken.add(int(tail))
    n = max(taken, default=0) + 1
    case_id = f"{household_id}-{n:02d}"
    if len(case_id) > CASE_ID_LEN:
        raise DataError(f"household id {household_id!r} is too long for a case id")
    return case_id


@dataclass(frozen=True)
class _Clue:
    household_id: str
    village_code: str
    channel: Channel
    basis: str
    period: str | None
    rule_ids: tuple[str, ...]
    detail: dict[str, Any]
    key: str


@dataclass
class _Writes:
    """Rows an intake batch writes, inserted together (executemany) by :func:`_flush`."""

    cases: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    intakes: list[dict[str, Any]] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)


def _flush(session: Session, writes: _Writes) -> None:
    """Insert a batch's rows (parents first) and append its audit events."""
    for table, rows in (
        (_CASES, writes.cases),
        (_EVENTS, writes.events),
        (_TASKS, writes.tasks),
        (_INTAKES, writes.intakes),
    ):
        if rows:
            session.execute(insert(table), rows)
    for audit in writes.audits:
        record_event(session, **audit)


def _take_in(
    clue: _Clue,
    existing: Sequence[_Existing],
    writes: _Writes,
    *,
    at: dt.datetime,
    actor: str,
    params: _Params,
) -> tuple[str, str, str, str]:
    """Open, relapse or attach one clue (rows go to ``writes``).

    Returns (kind, case id, reason zh, reason en).
    """
    decision = decide_intake(existing)
    payload: dict[str, Any] = {"basis": clue.basis, **clue.detail}
    if clue.period is not None:
        payload["period"] = clue.period
    if clue.rule_ids:
        payload["rule_ids"] = list(clue.rule_ids)
    now = utcnow()
    if decision.kind is IntakeKind.ATTACH:
        assert decision.case_id is not None
        case_id = decision.case_id
    else:
        case_id = _new_case_id(clue.household_id, existing)
        relapse = decision.kind is IntakeKind.RELAPSE
        state = open_case_state(
            case_id,
            clue.household_id,
            channel=clue.channel,
            at=at,
            actor=actor,
            relapse=relapse,
            previous_case_id=decision.previous_case_id,
            payload=jsonable(payload, "payload"),
            idempotency_key=clue.key,
        )
        values = _case_values(state, clue.village_code, params)
        writes.cases.append(
            {
                "id": case_id,
                "household_id": clue.household_id,
                "village_code": clue.village_code,
                "period": clue.period or _period_of(at),
                "channel": clue.channel.value,
                "basis": clue.basis,
                "relapse": relapse,
                "previous_case_id": decision.previous_case_id,
                "discovered_at": at,
                "created_at": now,
                **values,
            }
        )
        writes.events.append(_event_values(case_id, state.events[0]))
        task = _task_values(case_id, state, clue.village_code, values["due_on"])
        if task is not None:
            writes.tasks.append(task)
    writes.intakes.append(
        {
            "idempotency_key": clue.key,
            "case_id": case_id,
            "household_id": clue.household_id,
            "period": clue.period,
            "channel": clue.channel.value,
            "kind": decision.kind.value,
            "basis": clue.basis,
            "rule_ids": list(clue.rule_ids),
            "detail": jsonable(clue.detail, "detail"),
            "actor": actor,
            "at": at,
            "recorded_at": now,
        }
    )
    writes.audits.append(
        {
            "actor": actor,
            "action": "case.attach" if decision.kind is IntakeKind.ATTACH else "case.open",
            "entity_type": _ENTITY,
            "entity_id": case_id,
            "before": None,
            "after": {
                "intake": decision.kind.value,
                "key": clue.key,
                "household_id": clue.household_id,
                "channel": clue.channel.value,
                "basis": clue.basis,
                "period": clue.period,
                "rule_ids": list(clue.rule_ids),
                "previous_case_id": decision.previous_case_id,
            },
            "reason": decision.reason_en,
        }
    )
    return decision.kind.value, case_id, decision.reason_zh, decision.reason_en


def intake_key(period: str, household_id: str) -> str:
    """Idempotency key of a period's warnings of a household: ``intake:<period>:<household>``."""
    return f"intake:{period}:{household_id}"


def open_cases_from_warnings(
    session: Session,
    period: str,
    *,
    at: dt.datetime,
    actor: str = SYSTEM_ACTOR,
    policy: Policy | None = None,
    batch_size: int = BATCH_SIZE,
    commit: bool = True,
) -> IntakeReport:
    """Take a period's warnings in: one intake per household (new, relapse or attach).

    ``risk`` and ``needs_verification`` warnings are taken in (see the module
    notes), with the channel ``department_warning``; a household already taken in
    for the period (key ``intake:<period>:<household>``) is skipped, so a re-run
    opens nothing twice. Households are processed in batches of ``batch_size``,
    each batch one transaction (a crashed run can simply be run again).

    Parameters
    ----------
    session
        Session on the operations database.
    period
        ``YYYY-MM`` of the warnings.
    at
        Time of discovery of the new cases (local time), e.g. when the cycle ran.
    actor
        Who takes them in (default ``system``).
    policy
        Pack library or pack for the cases' first due dates (default: packaged).
    batch_size
        Households per transaction.
    commit
        Commit each batch (default); with False the caller commits.

    Returns
    -------
    IntakeReport
        Households by basis and outcome, those skipped and the ignored warnings.

    Raises
    ------
    DataError
        On an invalid period or batch size.
    """
    check_period(period)
    if batch_size < 1:
        raise DataError(f"batch_size must be positive, got {batch_size}")
    who = _text(actor, "actor", ACTOR_LEN)
    when = local_time(at)
    params = _Params(policy)
    ignored = session.scalar(
        select(func.count())
        .select_from(HouseholdWarning)
        .where(
            HouseholdWarning.period == period,
            HouseholdWarning.kind.not_in(INTAKE_WARNING_KINDS),
        )
    )
    rows = session.execute(
        select(
            HouseholdWarning.household_id,
            HouseholdWarning.kind,
            HouseholdWarning.rule_id,
            HouseholdWarning.household_type,
            Household.village_code,
        )
        .join(Household, Household.id == HouseholdWarning.household_id)
        .where(HouseholdWarning.period == period, HouseholdWarning.kind.in_(INTAKE_WARNING_KINDS))
        .order_by(HouseholdWarning.household_id, HouseholdWarning.rule_id)
    ).all()
    grouped: dict[str, list[Any]] = {}
    for r in rows:
        grouped.setdefault(r.household_id, []).append(r)
    counts: dict[str, Counter[str]] = {b: Counter() for b in INTAKE_WARNING_KINDS}
    already = 0
    for batch in chunked(list(grouped), batch_size):
        keys = {h: intake_key(period, h) for h in batch}
        with transaction(session, commit=commit):
            done = set(
                session.scalars(
                    select(_INTAKES.c.idempotency_key).where(
                        _INTAKES.c.idempotency_key.in_(list(keys.values()))
                    )
                )
            )
            todo = [h for h in batch if keys[h] not in done]
            already += len(batch) - len(todo)
            existing = _existing_cases(session, todo)
            writes = _Writes()
            for household_id in todo:
                warnings = grouped[household_id]
                kinds = {w.kind for w in warnings}
                basis = next(k for k in INTAKE_WARNING_KINDS if k in kinds)
                types = sorted({w.household_type for w in warnings if w.household_type})
                clue = _Clue(
                    household_id=household_id,
                    village_code=warnings[0].village_code,
                    channel=Channel.DEPARTMENT_WARNING,
                    basis=basis,
                    period=period,
                    rule_ids=tuple(w.rule_id for w in warnings),
                    detail={"household_types": types} if types else {},
                    key=keys[household_id],
                )
                kind, _, _, _ = _take_in(
                    clue,
                    existing.get(household_id, []),
                    writes,
                    at=when,
                    actor=who,
                    params=params,
                )
                counts[basis][kind] += 1
            _flush(session, writes)
    report = IntakeReport(
        period=period,
        risk=IntakeCounts(**counts["risk"]),
        needs_verification=IntakeCounts(**counts["needs_verification"]),
        already=already,
        ignored=int(ignored or 0),
    )
    logger.info(
        "cases from warnings of %s: %d new, %d relapse, %d attached, %d already taken in",
        period,
        report.new_cases,
        report.relapses,
        report.attached,
        already,
    )
    return report


def open_case(
    session: Session,
    household_id: str,
    channel: Channel | str,
    *,
    at: dt.datetime,
    actor: str,
    area_prefix: str,
    payload: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
    policy: Policy | None = None,
    commit: bool = True,
) -> IntakeOutcome:
    """Take in a clue from a channel (self-report, cadre screening, hotline, risk model...).

    Like the warnings' intake: the clue joins the household's open case, opens a
    relapse case (the household's risk was eliminated before) or a new case.

    Parameters
    ----------
    session
        Session on the operations database.
    household_id
        The household (must be in the registry and in the area).
    channel
        A :class:`povguard.cases.Channel` or its value.
    at
        Time of discovery (local time).
    actor
        Who registers it.
    area_prefix
        The caller's area (``''`` = everything).
    payload
        What was reported (kept on the intake and the opening event).
    idempotency_key
        Key of the request: a retry with the same key returns the first outcome
        (``replay``) and writes nothing.
    policy
        Pack library or pack for the first due dates (default: packaged).
    commit
        Commit at the end (default).

    Returns
    -------
    IntakeOutcome

    Raises
    ------
    NotFoundError
        When the household does not exist or is outside the area.
    ConflictError
        When the key was used for another household, or another case was opened
        for the household at the same moment (retry).
    DataError
        On an unknown channel or an empty actor.
    """
    check_area_prefix(area_prefix)
    who = _text(actor, "actor", ACTOR_LEN)
    when = local_time(at)
    source = Channel(channel) if channel in set(Channel) else None
    if source is None:
        raise DataError(
            f"channel: unknown value {channel!r} (allowed: {[c.value for c in Channel]})"
        )
    key = _optional_text(idempotency_key, "idempotency_key", IDEMPOTENCY_KEY_LEN)
    key = key or f"report:{uuid.uuid4().hex}"
    params = _Params(policy)
    village = session.scalar(
        select(Household.village_code).where(
            Household.id == household_id, in_area(Household.village_code, area_prefix)
        )
    )
    if village is None:
        raise _not_found("household", household_id)
    earlier = session.execute(select(_INTAKES).where(_INTAKES.c.idempotency_key == key)).first()
    if earlier is not None:
        if earlier.household_id != household_id:
            raise ConflictError(
                f"idempotency key {key!r} was used for household {earlier.household_id} / "
                f"幂等键 {key} 已用于另一农户"
            )
        view = get_case(session, earlier.case_id, area_prefix, now=when, policy=policy)
        return IntakeOutcome(earlier.kind, view, "重复请求", "repeated request", replay=True)
    clue = _Clue(
        household_id=household_id,
        village_code=village,
        channel=source,
        basis="report",
        period=None,
        rule_ids=(),
        detail=jsonable(dict(payload or {}), "payload"),
        key=key,
    )
    try:
        with transaction(session, commit=commit):
            existing = _existing_cases(session, [household_id]).get(household_id, [])
            writes = _Writes()
            kind, case_id, zh, en = _take_in(
                clue, existing, writes, at=when, actor=who, params=params
            )
            _flush(session, writes)
    except IntegrityError as exc:
        raise ConflictError(
            f"household {household_id}: another case was opened at the same time; retry / "
            f"该户同时有其他案件建立，请重试"
        ) from exc
    view = get_case(session, case_id, area_prefix, now=when, policy=policy)
    return IntakeOutcome(kind, view, zh, en)


# ---------------------------------------------------------------------- read side


def get_case(
    session: Session,
    case_id: str,
    area_prefix: str,
    *,
    now: dt.datetime | dt.date | None = None,
    policy: Policy | None = None,
) -> CaseView:
    """One case, if it is in the area.

    Parameters
    ----------
    session
        Session on the operations database.
    case_id
        The case.
    area_prefix
        The caller's area (``''`` = everything).
    now
        The day its deadline is judged on (default: today, local).
    policy
        Pack library or pack (default: packaged).

    Raises
    ------
    NotFoundError
        When the case does not exist or is outside the area (the same answer).
    """
    row = _load_case(session, case_id, area_prefix)
    return _view(row, _state(row), _Params(policy), _now(now))


def _statuses(status: str | Sequence[str] | None) -> list[str] | None:
    if status is None:
        return None
    values = [status] if isinstance(status, str) else list(status)
    for value in values:
        if value not in set(CaseStatus):
            raise DataError(f"status: unknown value {value!r}")
    return values


def list_cases(
    session: Session,
    area_prefix: str,
    *,
    status: str | Sequence[str] | None = None,
    open_only: bool = False,
    channel: str | None = None,
    basis: str | None = None,
    overdue: bool | None = None,
    assignee: str | None = None,
    household_id: str | None = None,
    relapse: bool | None = None,
    now: dt.datetime | dt.date | None = None,
    page: int = 1,
    page_size: int = 50,
    policy: Policy | None = None,
) -> Page[CaseView]:
    """One page of the area's cases.

    Parameters
    ----------
    session
        Session on the operations database.
    area_prefix
        The caller's area (``''`` = everything).
    status
        One status or several.
    open_only
        Only cases that are not closed.
    channel, basis, assignee, household_id, relapse
        Exact filters.
    overdue
        True: only cases whose due date is before ``now``'s day; False: only open
        cases not overdue.
    now
        The day deadlines are judged on (default: today, local).
    page, page_size
        1-based page and its size (1 to ``MAX_PAGE_SIZE``).
    policy
        Pack library or pack (default: packaged).

    Returns
    -------
    Page of CaseView
        Overdue lists by due date (earliest first); others by last change
        (newest first), then id.

    Raises
    ------
    DataError
        On an unknown status or an invalid page.
    """
    check_area_prefix(area_prefix)
    _check_page(page, page_size)
    today = _now(now)
    conditions: list[ColumnElement[bool]] = [in_area(Case.village_code, area_prefix)]
    statuses = _statuses(status)
    if statuses is not None:
        conditions.append(_CASES.c.status.in_(statuses))
    if open_only:
        conditions.append(_CASES.c.status.not_in([s.value for s in CaseStatus if s.is_closed]))
    for column, value in (
        (_CASES.c.channel, channel),
        (_CASES.c.basis, basis),
        (_CASES.c.assignee, assignee),
        (_CASES.c.household_id, household_id),
        (_CASES.c.relapse, relapse),
    ):
        if value is not None:
            conditions.append(column == value)
    if overdue is True:
        conditions.append(_CASES.c.due_on < today)
    elif overdue is False:
        conditions.append(_CASES.c.due_on >= today)
    order = (_CASES.c.due_on, _CASES.c.id) if overdue else (_CASES.c.updated_at.desc(), _CASES.c.id)
    total = session.scalar(select(func.count()).select_from(_CASES).where(*conditions))
    rows = session.execute(
        select(_CASES)
        .where(*conditions)
        .order_by(*order)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    params = _Params(policy)
    return Page(
        items=[_view(r, _state(r), params, today) for r in rows],
        total=int(total or 0),
        page=page,
        page_size=page_size,
    )


def overdue(
    session: Session,
    area_prefix: str,
    now: dt.datetime | dt.date,
    *,
    page: int = 1,
    page_size: int = 50,
    policy: Policy | None = None,
) -> Page[CaseView]:
    """The area's overdue cases on ``now``'s day, most overdue first.

    A case's step due on day X is overdue from day X + 1 (the due dates come from
    :func:`povguard.cases.deadlines` with the parameters in force for the case's
    village when its step began). Same as ``list_cases(overdue=True)``.

    Raises
    ------
    DataError
        On an invalid page.
    """
    return list_cases(
        session,
        area_prefix,
        overdue=True,
        now=now,
        page=page,
        page_size=page_size,
        policy=policy,
    )


def case_history(session: Session, case_id: str, area_prefix: str) -> list[CaseEventItem]:
    """The case's events, oldest first.

    Raises
    ------
    NotFoundError
        When the case does not exist or is outside the area.
    """
    _load_case(session, case_id, area_prefix)
    rows = session.execute(
        select(_EVENTS).where(_EVENTS.c.case_id == case_id).order_by(_EVENTS.c.seq)
    )
    return [_event_item(r) for r in rows]


def _task_item(row: Any) -> TaskItem:
    return TaskItem(
        id=row.id,
        case_id=row.case_id,
        household_id=row.household_id,
        village_code=row.village_code,
        kind=row.kind,
        level=row.level,
        assignee=row.assignee,
        due_on=row.due_on,
        status=row.status,
        created_at=row.created_at,
        done_at=row.done_at,
        case_status=row.case_status,
    )


def _task_select() -> Any:
    return select(
        _TASKS,
        _CASES.c.household_id,
        _CASES.c.status.label("case_status"),
    ).join(_CASES, _CASES.c.id == _TASKS.c.case_id)


def list_tasks(
    session: Session,
    area_prefix: str,
    *,
    assignee: str | None = None,
    kind: str | None = None,
    level: str | None = None,
    status: str | None = "open",
    overdue: bool | None = None,
    now: dt.datetime | dt.date | None = None,
    page: int = 1,
    page_size: int = 50,
) -> Page[TaskItem]:
    """One page of the area's tasks (a worklist), earliest due first.

    Parameters
    ----------
    session
        Session on the operations database.
    area_prefix
        The caller's area (``''`` = everything).
    assignee, kind, level
        Exact filters (``level``: village, township or county).
    status
        ``open`` (default), ``done``, ``cancelled``, or None for all.
    overdue
        True: only tasks due before ``now``'s day; False: only tasks not overdue.
    now
        The day deadlines are judged on (default: today, local).
    page, page_size
        1-based page and its size.

    Raises
    ------
    DataError
        On an invalid page.
    """
    check_area_prefix(area_prefix)
    _check_page(page, page_size)
    today = _now(now)
    conditions: list[ColumnElement[bool]] = [in_area(Task.village_code, area_prefix)]
    for column, value in (
        (_TASKS.c.assignee, assignee),
        (_TASKS.c.kind, kind),
        (_TASKS.c.level, level),
        (_TASKS.c.status, status),
    ):
        if value is not None:
            conditions.append(column == value)
    if overdue is True:
        conditions.append(_TASKS.c.due_on < today)
    elif overdue is False:
        conditions.append((_TASKS.c.due_on >= today) | _TASKS.c.due_on.is_(None))
    total = session.scalar(select(func.count()).select_from(_TASKS).where(*conditions))
    rows = session.execute(
        _task_select()
        .where(*conditions)
        .order_by(_TASKS.c.due_on.is_(None), _TASKS.c.due_on, _TASKS.c.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return Page(
        items=[_task_item(r) for r in rows],
        total=int(total or 0),
        page=page,
        page_size=page_size,
    )


def _intake_item(row: Any) -> IntakeItem:
    return IntakeItem(
        id=row.id,
        case_id=row.case_id,
        household_id=row.household_id,
        period=row.period,
        channel=row.channel,
        kind=row.kind,
        basis=row.basis,
        rule_ids=list(row.rule_ids or []),
        detail=dict(row.detail or {}),
        actor=row.actor,
        at=row.at,
    )


def _grievance_item(row: Any) -> GrievanceItem:
    return GrievanceItem(
        id=row.id,
        case_id=row.case_id,
        kind=row.kind,
        filed_at=row.filed_at,
        filed_by=row.filed_by,
        reason=row.reason,
        status=row.status,
        resolution=row.resolution,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
    )


def case_detail(
    session: Session,
    case_id: str,
    area_prefix: str,
    *,
    now: dt.datetime | dt.date | None = None,
    policy: Policy | None = None,
    catalogue: Catalogue | None = None,
) -> CaseDetail:
    """Everything about one case: history, intakes, tasks, visits, notices, decisions,
    plans (with deliveries) and grievances.

    Raises
    ------
    NotFoundError
        When the case does not exist or is outside the area.
    """
    view = get_case(session, case_id, area_prefix, now=now, policy=policy)

    def rows(table: Table, *order: Any) -> list[Any]:
        stmt = select(table).where(table.c.case_id == view.id).order_by(*order)
        return list(session.execute(stmt))

    plan_ids = [r.id for r in rows(_PLANS, _PLANS.c.id)]
    return CaseDetail(
        case=view,
        events=[_event_item(r) for r in rows(_EVENTS, _EVENTS.c.seq)],
        intakes=[_intake_item(r) for r in rows(_INTAKES, _INTAKES.c.id)],
        tasks=[
            _task_item(r)
            for r in session.execute(
                _task_select().where(_TASKS.c.case_id == view.id).order_by(_TASKS.c.id)
            )
        ],
        visits=[
            VisitItem(
                id=r.id,
                case_id=r.case_id,
                seq=r.seq,
                kind=r.kind,
                visited_at=r.visited_at,
                recorded_by=r.recorded_by,
                findings=r.findings,
                authorisation_signed=r.authorisation_signed,
                team=list(r.team or []),
                labour_members=r.labour_members,
            )
            for r in rows(_VISITS_T, _VISITS_T.c.seq)
        ],
        notices=[
            NoticeItem(
                id=r.id,
                case_id=r.case_id,
                kind=r.kind,
                village_code=r.village_code,
                started_on=r.started_on,
                earliest_end=r.earliest_end,
                ended_on=r.ended_on,
                status=r.status,
            )
            for r in rows(_NOTICES, _NOTICES.c.id)
        ],
        decisions=[
            DecisionItem(
                id=r.id,
                case_id=r.case_id,
                seq=r.seq,
                stage=r.stage,
                level=r.level,
                outcome=r.outcome,
                reason=r.reason,
                decided_by=r.decided_by,
                at=r.at,
            )
            for r in rows(_DECISIONS_T, _DECISIONS_T.c.seq)
        ],
        plans=[_plan_view(session, pid, catalogue) for pid in plan_ids],
        grievances=[_grievance_item(r) for r in rows(_GRIEVANCES, _GRIEVANCES.c.id)],
    )


def relapse_counts(
    session: Session, area_prefix: str, start_period: str, end_period: str
) -> list[RelapseCount]:
    """Cases opened per period in the area, and how many are relapses (返贫).

    Parameters
    ----------
    session
        Session on the operations database.
    area_prefix
        The caller's area (``''`` = everything).
    start_period, end_period
        ``YYYY-MM``, both included.

    Returns
    -------
    list of RelapseCount
        One per period of the range, in order (zeros where nothing was opened).

    Raises
    ------
    DataError
        On an invalid period or a range that ends before it starts.
    """
    check_area_prefix(area_prefix)
    check_period(start_period)
    check_period(end_period)
    if end_period < start_period:
        raise DataError(f"the range ends ({end_period}) before it starts ({start_period})")
    relapse = _CASES.c.relapse.is_(True)
    stmt = (
        select(
            _CASES.c.period,
            func.count(),
            func.count().filter(relapse),
            func.count(_CASES.c.household_id.distinct()).filter(relapse),
        )
        .where(
            in_area(Case.village_code, area_prefix),
            _CASES.c.period >= start_period,
            _CASES.c.period <= end_period,
        )
        .group_by(_CASES.c.period)
    )
    found = {p: (int(n), int(r), int(h)) for p, n, r, h in session.execute(stmt)}
    out = []
    year, month = int(start_period[:4]), int(start_period[5:])
    while (period := f"{year:04d}-{month:02d}") <= end_period:
        n, r, h = found.get(period, (0, 0, 0))
        out.append(RelapseCount(period, n, r, h))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


# -------------------------------------------------------------------------- plans


def _needs_dict(needs: HouseholdNeeds) -> dict[str, Any]:
    return {
        "main_cause": needs.main_cause.value,
        "other_causes": [c.value for c in needs.other_causes],
        "labour_members": needs.labour_members,
        "has_stable_income": needs.has_stable_income,
        "has_legal_supporter": needs.has_legal_supporter,
        "guarantee_gaps": list(needs.guarantee_gaps),
        "current_measures": list(needs.current_measures),
    }


def _needs(doc: Mapping[str, Any]) -> HouseholdNeeds:
    return HouseholdNeeds(
        main_cause=RiskCause(doc["main_cause"]),
        other_causes=tuple(RiskCause(c) for c in doc.get("other_causes", ())),
        labour_members=int(doc.get("labour_members", 0)),
        has_stable_income=bool(doc.get("has_stable_income", True)),
        has_legal_supporter=bool(doc.get("has_legal_supporter", True)),
        guarantee_gaps=tuple(doc.get("guarantee_gaps", ())),
        current_measures=tuple(doc.get("current_measures", ())),
    )


def _warnings_json(plan: Plan) -> list[dict[str, str]]:
    return [
        {"code": w.code, "message_zh": w.message_zh, "message_en": w.message_en}
        for w in plan.warnings
    ]


def _plan_row(session: Session, plan_id: int | str, area_prefix: str) -> tuple[Any, Any]:
    """The plan and its case (in the area), or NotFoundError."""
    try:
        key = int(str(plan_id).strip())
    except ValueError:
        raise _not_found("plan", plan_id) from None
    plan = session.execute(select(_PLANS).where(_PLANS.c.id == key)).first()
    if plan is None:
        raise _not_found("plan", plan_id)
    try:
        case = _load_case(session, plan.case_id, area_prefix)
    except NotFoundError:
        raise _not_found("plan", plan_id) from None
    return plan, case


def _measure_rows(session: Session, plan_id: int) -> list[Any]:
    return list(
        session.execute(
            select(_MEASURES)
            .where(_MEASURES.c.plan_id == plan_id)
            .order_by(_MEASURES.c.position, _MEASURES.c.id)
        )
    )


def _domain_plan(plan: Any, measures: Sequence[Any], cat: Catalogue) -> Plan:
    items = tuple(
        PlannedMeasure(
            measure_id=m.measure_id,
            basis=m.basis,
            causes=tuple(RiskCause(c) for c in m.causes or ()),
            reason_zh=m.reason_zh,
            reason_en=m.reason_en,
            accepted=m.status == "accepted",
            amount=m.amount,
            years=m.years,
        )
        for m in measures
        if m.status != "removed"
    )
    domain = Plan(needs=_needs(plan.needs), measures=items)
    return Plan(needs=domain.needs, measures=items, warnings=check_plan(domain, cat))


def _plan_view(session: Session, plan_id: int, catalogue: Catalogue | None = None) -> PlanView:
    cat = catalogue or default_catalogue()
    plan = session.execute(select(_PLANS).where(_PLANS.c.id == plan_id)).one()
    measures = _measure_rows(session, plan_id)
    deliveries: dict[int, list[DeliveryItem]] = {}
    if measures:
        for d in session.execute(
            select(_DELIVERIES)
            .where(_DELIVERIES.c.plan_measure_id.in_([m.id for m in measures]))
            .order_by(_DELIVERIES.c.delivered_on, _DELIVERIES.c.id)
        ):
            deliveries.setdefault(d.plan_measure_id, []).append(
                DeliveryItem(
                    d.id, d.plan_measure_id, d.delivered_on, d.amount, d.note, d.recorded_by
                )
            )

    def names(measure_id: str) -> tuple[str, str]:
        if measure_id in cat:
            m = cat.measure(measure_id)
            return m.name_zh, m.name_en
        return measure_id, measure_id

    return PlanView(
        id=plan.id,
        case_id=plan.case_id,
        status=plan.status,
        version=plan.version,
        needs=dict(plan.needs),
        measures=tuple(
            PlanMeasureItem(
                id=m.id,
                measure_id=m.measure_id,
                name_zh=names(m.measure_id)[0],
                name_en=names(m.measure_id)[1],
                position=m.position,
                person_id_number=m.person_id_number,
                basis=m.basis,
                causes=list(m.causes or []),
                reason_zh=m.reason_zh,
                reason_en=m.reason_en,
                amount=m.amount,
                years=m.years,
                status=m.status,
                edit_reason=m.edit_reason,
                deliveries=tuple(deliveries.get(m.id, ())),
            )
            for m in measures
        ),
        warnings=list(plan.warnings or []),
        catalogue_version=plan.catalogue_version,
        created_by=plan.created_by,
        accepted_by=plan.accepted_by,
        accepted_at=plan.accepted_at,
    )


def get_plan(
    session: Session, plan_id: int | str, area_prefix: str, *, catalogue: Catalogue | None = None
) -> PlanView:
    """One plan with its measures and deliveries, if its case is in the area.

    Raises
    ------
    NotFoundError
        When the plan does not exist or its case is outside the area.
    """
    plan, _ = _plan_row(session, plan_id, area_prefix)
    return _plan_view(session, plan.id, catalogue)


def _check_person(session: Session, household_id: str, person: str | None) -> str | None:
    if person is None:
        return None
    found = session.scalar(select(Person.household_id).where(Person.id_number == person))
    if found != household_id:
        raise DataError(
            f"person {person[:6]}...: not a member of household {household_id} / 该人员不是本户成员"
        )
    return person


def recommend_plan(
    session: Session,
    case_id: str,
    *,
    labour_members: int,
    has_stable_income: bool,
    actor: str,
    area_prefix: str,
    has_legal_supporter: bool = True,
    guarantee_gaps: Iterable[str] = (),
    current_measures: Iterable[str] = (),
    catalogue: Catalogue | None = None,
    commit: bool = True,
) -> PlanView:
    """Recommend a draft assistance plan for a monitored case.

    The case's risk causes (set at county approval) and the household's situation
    go to :func:`povguard.cases.recommend`. A draft plan made before for the case
    is superseded; an accepted plan stays in force until the new one is accepted.

    Parameters
    ----------
    session
        Session on the operations database.
    case_id
        The case (monitored or later: it must have its risk causes).
    labour_members, has_stable_income, has_legal_supporter, guarantee_gaps,
    current_measures
        The household's situation (see :func:`povguard.cases.recommend`).
    actor
        Who asks.
    area_prefix
        The caller's area.
    catalogue
        The measure catalogue (default: packaged).
    commit
        Commit at the end (default).

    Returns
    -------
    PlanView
        The new draft plan, measures proposed (not yet accepted).

    Raises
    ------
    NotFoundError
        When the case does not exist or is outside the area.
    ConflictError
        When the case is closed or has no risk causes yet.
    DataError
        On invalid needs.
    """
    who = _text(actor, "actor", ACTOR_LEN)
    cat = catalogue or default_catalogue()
    row = _load_case(session, case_id, area_prefix)
    state = _state(row)
    if state.main_cause is None or state.status.is_closed:
        raise ConflictError(
            f"case {row.id} is {state.status.value}: a plan needs a monitored case with its "
            f"risk causes / 案件 {row.id} 尚未认定风险类型（或已关闭），不能制定帮扶计划"
        )
    plan = recommend(
        state.main_cause,
        state.other_causes,
        labour_members=labour_members,
        has_stable_income=has_stable_income,
        has_legal_supporter=has_legal_supporter,
        guarantee_gaps=guarantee_gaps,
        current_measures=current_measures,
        catalogue=cat,
    )
    with transaction(session, commit=commit):
        session.execute(
            update(_PLANS)
            .where(_PLANS.c.case_id == row.id, _PLANS.c.status == "draft")
            .values(status="superseded")
        )
        plan_id = session.execute(
            insert(_PLANS)
            .values(
                case_id=row.id,
                status="draft",
                needs=_needs_dict(plan.needs),
                warnings=_warnings_json(plan),
                catalogue_version=cat.version,
                version=1,
                created_by=who,
                created_at=utcnow(),
            )
            .returning(_PLANS.c.id)
        ).scalar_one()
        if plan.measures:
            session.execute(
                insert(_MEASURES),
                [
                    {
                        "plan_id": plan_id,
                        "position": i,
                        "measure_id": m.measure_id,
                        "person_id_number": None,
                        "basis": m.basis,
                        "causes": [c.value for c in m.causes],
                        "reason_zh": m.reason_zh,
                        "reason_en": m.reason_en,
                        "amount": m.amount,
                        "years": m.years,
                        "status": "proposed",
                        "edit_reason": None,
                    }
                    for i, m in enumerate(plan.measures, 1)
                ],
            )
        record_event(
            session,
            actor=who,
            action="plan.recommend",
            entity_type="plan",
            entity_id=plan_id,
            before=None,
            after={
                "case_id": row.id,
                "needs": _needs_dict(plan.needs),
                "measures": list(plan.measure_ids),
                "warnings": list(plan.warning_codes),
            },
        )
    return _plan_view(session, plan_id, cat)


def edit_plan(
    session: Session,
    plan_id: int | str,
    operation: Literal["accept", "add", "replace", "remove"],
    *,
    measure_id: str,
    actor: str,
    area_prefix: str,
    new_measure_id: str | None = None,
    reason_zh: str = "",
    reason_en: str = "",
    amount: float | None = None,
    years: float | None = None,
    person_id_number: str | None = None,
    expected_version: int | None = None,
    catalogue: Catalogue | None = None,
    commit: bool = True,
) -> PlanView:
    """Edit a draft plan: accept, add, replace or remove a measure.

    ``accept`` marks a recommended measure accepted; ``add`` adds a measure from the
    catalogue (accepted, with a reason); ``replace`` swaps ``measure_id`` for
    ``new_measure_id`` in the same place (with a reason); ``remove`` takes a measure
    out (kept as ``removed`` with the reason given). ``person_id_number`` names the
    member a measure is for (accept, add, replace). The plan's warnings are checked
    again after each edit.

    Parameters
    ----------
    session
        Session on the operations database.
    plan_id
        The plan (a draft).
    operation
        One of :data:`PLAN_OPERATIONS`.
    measure_id
        The measure acted on (for ``replace``, the one replaced).
    actor
        Who edits.
    area_prefix
        The caller's area.
    new_measure_id
        For ``replace``: the new measure.
    reason_zh, reason_en
        Why (required for add and replace, kept for remove).
    amount, years
        For add and replace, within the measure's limits.
    person_id_number
        The household member the measure is for.
    expected_version
        The plan version the caller saw; refused when the plan changed since.
    catalogue
        The measure catalogue (default: packaged).
    commit
        Commit at the end (default).

    Returns
    -------
    PlanView

    Raises
    ------
    NotFoundError
        When the plan (or its case) is not found in the area, or the measure is not
        in the plan or the catalogue.
    ConflictError
        When the plan is not a draft or changed meanwhile, or the measure is already
        in the plan.
    DataError
        On an unknown operation, a blank reason, an amount beyond the limits or a
        person who is not a member of the household.
    """
    if operation not in PLAN_OPERATIONS:
        raise DataError(f"operation must be one of {PLAN_OPERATIONS}, got {operation!r}")
    who = _text(actor, "actor", ACTOR_LEN)
    cat = catalogue or default_catalogue()
    plan, case = _plan_row(session, plan_id, area_prefix)
    if plan.status != "draft":
        raise ConflictError(
            f"plan {plan.id} is {plan.status}: only a draft plan can be edited; recommend a "
            f"new plan / 帮扶计划 {plan.id} 不是草稿，不能修改"
        )
    if expected_version is not None and plan.version != expected_version:
        raise ConflictError(
            f"plan {plan.id} is at version {plan.version}, not {expected_version}: it was "
            f"changed meanwhile; reload it / 帮扶计划已被他人修改，请刷新后重试"
        )
    person = _check_person(session, case.household_id, person_id_number)
    rows = _measure_rows(session, plan.id)
    by_measure = {m.measure_id: m for m in rows}
    before = _domain_plan(plan, rows, cat)
    note = " / ".join(t.strip() for t in (reason_zh, reason_en) if t and t.strip()) or None
    target = measure_id
    if operation == "accept":
        after = accept_measure(before, measure_id, catalogue=cat)
    elif operation == "add":
        after = add_measure(
            before,
            measure_id,
            reason_zh=reason_zh,
            reason_en=reason_en,
            amount=amount,
            years=years,
            catalogue=cat,
        )
    elif operation == "replace":
        if not new_measure_id:
            raise DataError("replace needs new_measure_id")
        after = replace_measure(
            before,
            measure_id,
            new_measure_id,
            reason_zh=reason_zh,
            reason_en=reason_en,
            amount=amount,
            years=years,
            catalogue=cat,
        )
        target = new_measure_id
    else:
        after = remove_measure(before, measure_id, catalogue=cat)

    with transaction(session, commit=commit):
        bumped = session.execute(
            update(_PLANS)
            .where(_PLANS.c.id == plan.id, _PLANS.c.version == plan.version)
            .values(version=plan.version + 1, warnings=_warnings_json(after))
        )
        if bumped.rowcount != 1:  # type: ignore[attr-defined]
            raise ConflictError(
                f"plan {plan.id} changed meanwhile; reload it / 帮扶计划已被他人修改，请刷新后重试"
            )
        old = by_measure.get(measure_id)
        same = operation == "replace" and target == measure_id
        if operation in ("remove", "replace") and old is not None and not same:
            session.execute(
                update(_MEASURES)
                .where(_MEASURES.c.id == old.id)
                .values(status="removed", edit_reason=note)
            )
        if operation == "accept" and old is not None:
            values: dict[str, Any] = {"status": "accepted"}
            if person is not None:
                values["person_id_number"] = person
            session.execute(update(_MEASURES).where(_MEASURES.c.id == old.id).values(**values))
        if operation in ("add", "replace"):
            item = after.get(target)
            position = (
                old.position
                if operation == "replace" and old is not None
                else max((m.position for m in rows), default=0) + 1
            )
            values = {
                "position": position,
                "person_id_number": person,
                "basis": item.basis,
                "causes": [c.value for c in item.causes],
                "reason_zh": item.reason_zh,
                "reason_en": item.reason_en,
                "amount": item.amount,
                "years": item.years,
                "status": "accepted",
                "edit_reason": note,
            }
            existing = by_measure.get(target)
            if existing is not None:  # taken out before, or replaced by itself: update
                session.execute(
                    update(_MEASURES).where(_MEASURES.c.id == existing.id).values(**values)
                )
            else:
                session.execute(
                    insert(_MEASURES).values(plan_id=plan.id, measure_id=target, **values)
                )
        record_event(
            session,
            actor=who,
            action=f"plan.{operation}",
            entity_type="plan",
            entity_id=plan.id,
            before={"measures": list(before.measure_ids), "version": plan.version},
            after={
                "measures": list(after.measure_ids),
                "accepted": [m.measure_id for m in after.measures if m.accepted],
                "version": plan.version + 1,
                "measure": target,
                "person": None if person is None else "set",
            },
            reason=note,
        )
    return _plan_view(session, plan.id, cat)


def accept_plan(
    session: Session,
    plan_id: int | str,
    *,
    expected_version: int,
    actor: str,
    at: dt.datetime,
    area_prefix: str,
    idempotency_key: str | None = None,
    policy: Policy | None = None,
    commit: bool = True,
) -> CaseView:
    """Accept a draft plan: the ``accept_plan`` transition of its case.

    Every measure still proposed is accepted, the plan becomes the case's plan in
    force (an earlier accepted plan is superseded) and the case moves to
    ``assisted``.

    Parameters
    ----------
    session
        Session on the operations database.
    plan_id
        The plan (a draft with measures).
    expected_version
        The case version the caller saw.
    actor, at, area_prefix, idempotency_key, policy, commit
        As for :func:`transition`.

    Returns
    -------
    CaseView
        The case after the transition.

    Raises
    ------
    NotFoundError, StaleCaseError, TransitionError, ConflictError
        As for :func:`transition`.
    """
    plan, case = _plan_row(session, plan_id, area_prefix)
    return transition(
        session,
        case.id,
        Action.ACCEPT_PLAN,
        expected_version=expected_version,
        actor=actor,
        at=at,
        area_prefix=area_prefix,
        payload={"plan_id": str(plan.id)},
        idempotency_key=idempotency_key,
        policy=policy,
        commit=commit,
    )


def record_delivery(
    session: Session,
    plan_measure_id: int,
    *,
    delivered_on: dt.date,
    actor: str,
    area_prefix: str,
    amount: float | None = None,
    note: str | None = None,
    commit: bool = True,
) -> DeliveryItem:
    """Record assistance delivered under an accepted measure of an accepted plan.

    Parameters
    ----------
    session
        Session on the operations database.
    plan_measure_id
        The measure's id (:attr:`PlanMeasureItem.id`).
    delivered_on
        The day of delivery.
    actor
        Who records it.
    area_prefix
        The caller's area.
    amount
        Yuan delivered (>= 0), if any.
    note
        Free text.
    commit
        Commit at the end (default).

    Raises
    ------
    NotFoundError
        When the measure (or its case) is not found in the area.
    ConflictError
        When the measure is not accepted in the plan in force.
    DataError
        On a negative amount or a bad day.
    """
    who = _text(actor, "actor", ACTOR_LEN)
    if not isinstance(delivered_on, dt.date) or isinstance(delivered_on, dt.datetime):
        raise DataError(f"delivered_on must be a date, got {delivered_on!r}")
    if amount is not None and (not isinstance(amount, int | float) or amount < 0):
        raise DataError(f"amount must be a number >= 0, got {amount!r}")
    measure = session.execute(select(_MEASURES).where(_MEASURES.c.id == plan_measure_id)).first()
    if measure is None:
        raise _not_found("plan measure", plan_measure_id)
    try:
        plan, _ = _plan_row(session, measure.plan_id, area_prefix)
    except NotFoundError:
        raise _not_found("plan measure", plan_measure_id) from None
    if plan.status != "accepted" or measure.status != "accepted":
        raise ConflictError(
            f"measure {measure.measure_id} of plan {plan.id} is not in force (plan "
            f"{plan.status}, measure {measure.status}) / 该措施不在已确认的帮扶计划中"
        )
    text = _optional_text(note, "note")
    with transaction(session, commit=commit):
        new_id = session.execute(
            insert(_DELIVERIES)
            .values(
                plan_measure_id=measure.id,
                delivered_on=delivered_on,
                amount=None if amount is None else float(amount),
                note=text,
                recorded_by=who,
                recorded_at=utcnow(),
            )
            .returning(_DELIVERIES.c.id)
        ).scalar_one()
        record_event(
            session,
            actor=who,
            action="delivery.record",
            entity_type="measure_delivery",
            entity_id=new_id,
            before=None,
            after={
                "case_id": plan.case_id,
                "plan_id": plan.id,
                "measure_id": measure.measure_id,
                "delivered_on": delivered_on,
                "amount": amount,
            },
            reason=text,
        )
    return DeliveryItem(new_id, measure.id, delivered_on, amount, text, who)


# --------------------------------------------------------------------- grievances


def file_grievance(
    session: Session,
    case_id: str,
    kind: Literal["appeal", "complaint"],
    *,
    reason: str,
    actor: str,
    at: dt.datetime,
    area_prefix: str,
    expected_version: int | None = None,
    idempotency_key: str | None = None,
    policy: Policy | None = None,
    commit: bool = True,
) -> GrievanceItem:
    """File an appeal against a case's decision, or a complaint about a case.

    An appeal is the ``appeal`` transition (allowed after a rejection or an
    elimination, within ``appeal_window_days``): the step that decided reviews
    again, and the appeal is resolved by its next decision. A complaint is only
    recorded, open until :func:`resolve_grievance`.

    Parameters
    ----------
    session
        Session on the operations database.
    case_id
        The case.
    kind
        ``appeal`` or ``complaint``.
    reason
        What the household says.
    actor
        Who files it (the cadre registering it, or the household's account).
    at
        When (local time).
    area_prefix
        The caller's area.
    expected_version
        For an appeal: the case version the caller saw (required).
    idempotency_key, policy, commit
        As for :func:`transition` (the key applies to appeals).

    Raises
    ------
    NotFoundError
        When the case does not exist or is outside the area.
    StaleCaseError, TransitionError
        For an appeal, as for :func:`transition` (e.g. the window has passed).
    DataError
        On an unknown kind, a blank reason or a missing ``expected_version``.
    """
    text = _text(reason, "reason")
    who = _text(actor, "actor", ACTOR_LEN)
    when = local_time(at)
    if kind == "appeal":
        if expected_version is None:
            raise DataError("an appeal needs expected_version (the case version seen)")
        view = transition(
            session,
            case_id,
            Action.APPEAL,
            expected_version=expected_version,
            actor=who,
            at=when,
            area_prefix=area_prefix,
            payload={"reason": text},
            idempotency_key=idempotency_key,
            policy=policy,
            commit=commit,
        )
        assert view.event is not None
        row = session.execute(
            select(_GRIEVANCES).where(
                _GRIEVANCES.c.case_id == view.id, _GRIEVANCES.c.seq == view.event.seq
            )
        ).one()
        return _grievance_item(row)
    if kind != "complaint":
        raise DataError(f"kind must be appeal or complaint, got {kind!r}")
    case = _load_case(session, case_id, area_prefix)
    with transaction(session, commit=commit):
        new_id = session.execute(
            insert(_GRIEVANCES)
            .values(
                case_id=case.id,
                kind="complaint",
                filed_at=when,
                filed_by=who,
                reason=text,
                status="open",
                resolution=None,
                resolved_by=None,
                resolved_at=None,
                seq=None,
            )
            .returning(_GRIEVANCES.c.id)
        ).scalar_one()
        record_event(
            session,
            actor=who,
            action="grievance.file",
            entity_type="grievance",
            entity_id=new_id,
            before=None,
            after={"case_id": case.id, "kind": "complaint", "status": "open"},
            reason=text,
        )
        row = session.execute(select(_GRIEVANCES).where(_GRIEVANCES.c.id == new_id)).one()
    return _grievance_item(row)


def resolve_grievance(
    session: Session,
    grievance_id: int,
    *,
    resolution: str,
    actor: str,
    at: dt.datetime,
    area_prefix: str,
    dismiss: bool = False,
    commit: bool = True,
) -> GrievanceItem:
    """Close an open complaint as resolved (or dismissed), with what was done.

    Appeals are resolved by the re-review's decision (:func:`transition`).

    Raises
    ------
    NotFoundError
        When the grievance (or its case) is not found in the area.
    ConflictError
        When it is an appeal or not open.
    DataError
        On a blank resolution.
    """
    text = _text(resolution, "resolution")
    who = _text(actor, "actor", ACTOR_LEN)
    when = local_time(at)
    row = session.execute(select(_GRIEVANCES).where(_GRIEVANCES.c.id == grievance_id)).first()
    if row is None:
        raise _not_found("grievance", grievance_id)
    try:
        _load_case(session, row.case_id, area_prefix)
    except NotFoundError:
        raise _not_found("grievance", grievance_id) from None
    if row.kind == "appeal":
        raise ConflictError(
            f"grievance {grievance_id} is an appeal: the re-review's decision resolves it / "
            f"申诉由复核决定办结"
        )
    if row.status != "open":
        raise ConflictError(f"grievance {grievance_id} is already {row.status} / 该投诉已办结")
    status = "dismissed" if dismiss else "resolved"
    with transaction(session, commit=commit):
        done = session.execute(
            update(_GRIEVANCES)
            .where(_GRIEVANCES.c.id == grievance_id, _GRIEVANCES.c.status == "open")
            .values(status=status, resolution=text, resolved_by=who, resolved_at=when)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise ConflictError(f"grievance {grievance_id} changed meanwhile / 该投诉已被他人处理")
        record_event(
            session,
            actor=who,
            action="grievance.resolve",
            entity_type="grievance",
            entity_id=grievance_id,
            before={"status": "open"},
            after={"status": status},
            reason=text,
        )
        fresh = session.execute(select(_GRIEVANCES).where(_GRIEVANCES.c.id == grievance_id)).one()
    return _grievance_item(fresh)


def list_intakes(session: Session, case_id: str, area_prefix: str) -> list[IntakeItem]:
    """The clues taken in to a case (warnings per period, reports), oldest first.

    Raises
    ------
    NotFoundError
        When the case does not exist or is outside the area.
    """
    _load_case(session, case_id, area_prefix)
    rows = session.execute(
        select(_INTAKES).where(_INTAKES.c.case_id == case_id).order_by(_INTAKES.c.id)
    )
    return [_intake_item(r) for r in rows]


def _only(values: set[str] | None) -> str | None:
    """The one value of ``values`` (None when there are none or several)."""
    return next(iter(values)) if values is not None and len(values) == 1 else None


def _finding_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def list_notices(
    session: Session,
    area_prefix: str,
    *,
    village_code: str | None = None,
    kind: str | None = None,
    status: str | None = "running",
    page: int = 1,
    page_size: int = 50,
) -> Page[PublicNoticeItem]:
    """One page of the area's public notices (公示), as a village posts them.

    Parameters
    ----------
    session
        Session on the operations database.
    area_prefix
        The caller's area (``''`` = everything).
    village_code
        Only the notices of this village.
    kind
        ``identification`` or ``elimination`` (:data:`NOTICE_KINDS`).
    status
        ``running`` (default: the notices on display), ``ended``, ``withdrawn``, or
        None for all.
    page, page_size
        1-based page and its size.

    Returns
    -------
    Page of PublicNoticeItem
        By village, then start day and id.

    Raises
    ------
    DataError
        On an unknown kind or status, or an invalid page.
    """
    check_area_prefix(area_prefix)
    _check_page(page, page_size)
    if kind is not None and kind not in NOTICE_KINDS:
        raise DataError(f"kind: unknown value {kind!r} (allowed: {list(NOTICE_KINDS)})")
    if status is not None and status not in NOTICE_STATUSES:
        raise DataError(f"status: unknown value {status!r} (allowed: {list(NOTICE_STATUSES)})")
    conditions: list[ColumnElement[bool]] = [in_area(Notice.village_code, area_prefix)]
    for column, value in (
        (_NOTICES.c.village_code, village_code),
        (_NOTICES.c.kind, kind),
        (_NOTICES.c.status, status),
    ):
        if value is not None:
            conditions.append(column == value)
    total = session.scalar(select(func.count()).select_from(_NOTICES).where(*conditions))
    rows = session.execute(
        select(
            _NOTICES,
            _CASES.c.household_id,
            _CASES.c.status.label("case_status"),
            _CASES.c.household_type,
            _CASES.c.main_cause,
            Household.head_name,
            Household.members,
            func.coalesce(Region.name, "").label("village_name"),
        )
        .join(_CASES, _CASES.c.id == _NOTICES.c.case_id)
        .join(Household, Household.id == _CASES.c.household_id)
        .outerjoin(Region, Region.code == _NOTICES.c.village_code)
        .where(*conditions)
        .order_by(_NOTICES.c.village_code, _NOTICES.c.started_on, _NOTICES.c.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    case_ids = sorted({r.case_id for r in rows})
    reasons: dict[tuple[str, str], str | None] = {}
    proposed: dict[str, set[str]] = {}
    if case_ids:
        for e in session.execute(
            select(_EVENTS.c.case_id, _EVENTS.c.action, _EVENTS.c.payload, _EVENTS.c.reason)
            .where(
                _EVENTS.c.case_id.in_(case_ids),
                _EVENTS.c.action.in_([_A.RECORD_VISIT.value, _A.PROPOSE_ELIMINATION.value]),
            )
            .order_by(_EVENTS.c.seq)
        ):
            if e.action == _A.RECORD_VISIT.value:
                text = _finding_text((e.payload or {}).get("findings"))
                reasons[(e.case_id, "identification")] = text
            else:
                reasons[(e.case_id, "elimination")] = e.reason
        for i in session.execute(
            select(_INTAKES.c.case_id, _INTAKES.c.detail)
            .where(_INTAKES.c.case_id.in_(case_ids))
            .order_by(_INTAKES.c.id)
        ):
            types = (i.detail or {}).get("household_types") or []
            proposed.setdefault(i.case_id, set()).update(str(t) for t in types)
    return Page(
        items=[
            PublicNoticeItem(
                id=r.id,
                case_id=r.case_id,
                kind=r.kind,
                village_code=r.village_code,
                village_name=r.village_name,
                started_on=r.started_on,
                earliest_end=r.earliest_end,
                ended_on=r.ended_on,
                status=r.status,
                household_id=r.household_id,
                head_name=r.head_name,
                members=int(r.members or 0),
                case_status=r.case_status,
                household_type=r.household_type or _only(proposed.get(r.case_id)),
                main_cause=r.main_cause,
                reason=reasons.get((r.case_id, r.kind)),
            )
            for r in rows
        ],
        total=int(total or 0),
        page=page,
        page_size=page_size,
    )
