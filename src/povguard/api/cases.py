"""``/api/v1/cases``, ``/tasks``, ``/notices``: case management (plans: :mod:`povguard.api.plans`).

Endpoints (operation id in brackets):

- ``GET /cases`` [``list_cases``]: the area's cases, filtered (``status`` repeated,
  ``open``, ``channel``, ``basis``, ``overdue``, ``assignee``, ``household``,
  ``relapse``) and paginated (``page``, ``page_size``; ``total`` in the answer);
- ``POST /cases`` [``open_case``]: take in a clue from a channel (self-report, cadre
  screening, hotline, risk model): 201 with a new (or relapse) case, 200 when it
  joins the household's open case;
- ``GET /cases/overdue`` [``list_overdue_cases``], ``GET /cases/relapses?start=&end=``
  [``count_relapses``];
- ``GET /cases/{id}`` [``read_case``]: everything a case page shows: the state, the
  allowed actions with their labels, target status, payload fields and guards, the
  due date, history, intakes, tasks, visits, notices, decisions, plans, grievances;
- ``GET /cases/{id}/history`` [``read_case_history``];
- ``POST /cases/{id}/transitions`` [``transition_case``]:
  ``{action, expected_version, payload, idempotency_key}`` (or the
  ``Idempotency-Key`` header); a retry with the same key answers the recorded event
  again (same body, header ``Idempotent-Replayed: true``) and writes nothing;
- ``POST /cases/{id}/grievances`` [``file_grievance``], ``POST
  /cases/{id}/grievances/{grievance_id}/resolve`` [``resolve_grievance``];
- ``GET /cases/{id}/forms/screening.xlsx`` [``export_screening_form``],
  ``elimination.xlsx`` [``export_elimination_form``], ``measures.xlsx``
  [``export_measures_record``]: the printable forms (``?lang=zh|en``);
- ``GET /tasks`` [``list_tasks``]: the worklist (``assignee``, ``kind``, ``level``,
  ``overdue``, ``status``);
- ``GET /notices`` [``list_notices``]: public notices (a village's current ones by
  default), ``GET /notices/list.xlsx?village=&kind=`` [``export_notice_list``]: the
  list to post.

Every write and export records the actor (:func:`povguard.api.deps.get_actor`) and
the server's time (:func:`povguard.api.deps.get_now`); exports print both in the
footer. ID numbers are masked in every answer and in the exported forms (until
roles exist, nobody sees them in full). The elimination form reads the household's
income from the ``income`` object that ``record_visit``, ``propose_elimination`` or
``record_home_check`` carried in its payload (validated when the action is recorded:
:class:`povguard.store.services.case_forms.IncomePayload`). The forms are made by
:func:`povguard.store.services.case_form` and
:func:`povguard.store.services.notice_list_form`, the same as ``povguard cases form``
and ``notices`` print, and every export is recorded in the audit trail
(``case.form_export``, ``notice.export``) with the actor.

Errors use the API's one body ``{"error": {"code", "message"}}``: 404
``not_found`` (unknown or outside the caller's area: never a filtered 200 for one
resource), 409 ``conflict`` (a stale ``expected_version``: the message names the
expected and the current version; or a state that does not allow the change),
409 ``illegal_transition`` / ``guard_failed`` / ``time_order`` /
``idempotency_conflict`` (the message lists the allowed actions), 409
``form_incomplete`` (a form lacks stored data), 422 ``missing_payload`` /
``invalid_payload`` / ``validation_error``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from povguard.api.deps import ActorDep, AreaDep, NowDep, SessionDep
from povguard.api.errors import ApiError, NotFoundError
from povguard.api.privacy import mask_id_number, mask_ids_in, mask_name
from povguard.api.schemas import ErrorResponse, RegionPublic
from povguard.cases import (
    CATEGORY_LABELS,
    CAUSE_LABELS,
    CHANNEL_LABELS,
    DEADLINE_LABELS,
    HOUSEHOLD_TYPE_LABELS,
    MAX_OTHER_CAUSES,
    STATUS_LABELS,
    TRANSITIONS,
    UNIT_LABELS,
    Action,
    CaseStatus,
    Catalogue,
    Channel,
    DueStatus,
    FormInputError,
    TransitionError,
    default_catalogue,
)
from povguard.errors import ConfigError, ConflictError, DataError
from povguard.errors import NotFoundError as DataNotFoundError
from povguard.store import services
from povguard.store.models import IDEMPOTENCY_KEY_LEN
from povguard.store.services import (
    MAX_ID,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    PERIOD_PATTERN,
    CaseEventItem,
    CaseView,
    DecisionItem,
    DeliveryItem,
    FormNotReadyError,
    GrievanceItem,
    HouseholdDetail,
    IntakeItem,
    NoticeItem,
    Page,
    PlanMeasureItem,
    PlanView,
    PublicNoticeItem,
    RelapseCount,
    StaleCaseError,
    TaskItem,
    VisitItem,
    list_notices,
)
from povguard.store.services.case_forms import (
    ELIMINATION_EXTRAS,
    OUTCOME_LABELS,
    FormKind,
    InvalidPayloadError,
    Lang,
    NoticeKind,
    check_payload_extras,
    current_plan,
)

cases_router = APIRouter(prefix="/cases", tags=["cases"])
tasks_router = APIRouter(prefix="/tasks", tags=["tasks"])
notices_router = APIRouter(prefix="/notices", tags=["notices"])

#: Content type of the XLSX exports.
XLSX_MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Header carrying the idempotency key of a write (the body's ``idempotency_key`` also works).
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
#: Header set to ``true`` on the answer to a retried request (nothing was written).
REPLAY_HEADER: Final = "Idempotent-Replayed"
VILLAGE_PATTERN: Final = r"^\d{12}$"

#: Channels a user may open a case for (department warnings come from the monthly cycle).
OpenChannel = Literal["self_report", "cadre_screening", "hotline", "risk_model"]
TaskKind = Literal["visit", "cross_check", "review", "notice", "plan", "follow_up", "home_check"]
Level = Literal["village", "township", "county"]
Labels = Mapping[str, tuple[str, str]]

# ------------------------------------------------------------------------ labels

TASK_KIND_LABELS: Final[dict[str, tuple[str, str]]] = {
    "visit": ("入户核实", "home visit"),
    "cross_check": ("部门数据比对", "department data cross-check"),
    "review": ("审核审定", "review"),
    "notice": ("公示", "public notice"),
    "plan": ("制定帮扶计划", "assistance plan"),
    "follow_up": ("跟踪回访", "follow-up visit"),
    "home_check": ("风险消除入户核查", "risk-elimination home check"),
}
LEVEL_LABELS: Final[dict[str, tuple[str, str]]] = {
    "village": ("村级", "village"),
    "township": ("乡镇", "township"),
    "county": ("县级", "county"),
}
TASK_STATUS_LABELS: Final[dict[str, tuple[str, str]]] = {
    "open": ("待办", "open"),
    "done": ("已完成", "done"),
    "cancelled": ("已取消", "cancelled"),
}
BASIS_LABELS: Final[dict[str, tuple[str, str]]] = {
    "risk": ("风险预警", "risk warning"),
    "needs_verification": ("待核实预警", "warning: needs verification"),
    "report": ("申报或反映", "report"),
}
INTAKE_KIND_LABELS: Final[dict[str, tuple[str, str]]] = {
    "new_case": ("新建案件", "new case"),
    "relapse": ("返贫风险新案件", "relapse case"),
    "attach": ("并入在办案件", "joined the open case"),
}
VISIT_KIND_LABELS: Final[dict[str, tuple[str, str]]] = {
    "visit": ("入户核实", "home visit"),
    "follow_up": ("跟踪回访", "follow-up visit"),
    "home_check": ("风险消除入户核查", "risk-elimination home check"),
}
NOTICE_KIND_LABELS: Final[dict[str, tuple[str, str]]] = {
    "identification": ("监测对象识别公示", "identification notice"),
    "elimination": ("风险消除公示", "risk-elimination notice"),
}
NOTICE_STATUS_LABELS: Final[dict[str, tuple[str, str]]] = {
    "running": ("公示中", "on display"),
    "ended": ("公示结束", "ended"),
    "withdrawn": ("已撤销", "withdrawn"),
}
STAGE_LABELS: Final[dict[str, tuple[str, str]]] = {
    "identification": ("识别认定", "identification"),
    "elimination": ("风险消除", "risk elimination"),
}
GRIEVANCE_KIND_LABELS: Final[dict[str, tuple[str, str]]] = {
    "appeal": ("申诉", "appeal"),
    "complaint": ("投诉", "complaint"),
}
GRIEVANCE_STATUS_LABELS: Final[dict[str, tuple[str, str]]] = {
    "open": ("办理中", "open"),
    "resolved": ("已办结", "resolved"),
    "dismissed": ("不予支持", "dismissed"),
}
PLAN_STATUS_LABELS: Final[dict[str, tuple[str, str]]] = {
    "draft": ("草稿", "draft"),
    "accepted": ("已确认", "accepted"),
    "superseded": ("已替代", "superseded"),
}
MEASURE_STATUS_LABELS: Final[dict[str, tuple[str, str]]] = {
    "proposed": ("建议", "proposed"),
    "accepted": ("已确认", "accepted"),
    "removed": ("已移除", "removed"),
}
MEASURE_BASIS_LABELS: Final[dict[str, tuple[str, str]]] = {
    "cause": ("针对风险类型", "addresses a risk"),
    "social_assistance": ("兜底保障", "social assistance"),
    "development": ("开发式帮扶", "development measure"),
    "gap": ("补齐保障短板", "closes a guarantee gap"),
    "cadre": ("干部添加", "added by a cadre"),
}
GUARD_LABELS: Final[dict[str, tuple[str, str]]] = {
    "authorisation_signed": ("农户已签署数据核查授权书", "the household signed the authorisation"),
    "notice_not_started": ("尚未开始公示", "no public notice started yet"),
    "notice_elapsed": ("公示期满", "the public notice ran its minimum length"),
    "valid_causes": ("一个主要风险类型，至多两个其他类型", "one main risk, at most two others"),
    "ready_for_elimination": ("符合风险消除条件", "ready for risk elimination"),
    "has_working_capacity": ("家庭有劳动能力", "the household has working capacity"),
    "team_size": ("入户核查人数达到要求", "the home-check team is large enough"),
    "within_appeal_window": ("在申诉期内", "within the appeal window"),
}
GUARANTEE_LABELS: Final[dict[str, tuple[str, str]]] = {
    "food_clothing": ("不愁吃、不愁穿", "food and clothing"),
    "education": ("义务教育", "compulsory education"),
    "medical": ("基本医疗", "basic medical care"),
    "housing": ("住房安全", "safe housing"),
    "water": ("饮水安全", "safe drinking water"),
}


def _pair(labels: Labels, code: str | None) -> tuple[str | None, str | None]:
    if code is None:
        return None, None
    return labels.get(code, (code, code))


def _zh(labels: Labels, code: str | None) -> str | None:
    return _pair(labels, code)[0]


def _en(labels: Labels, code: str | None) -> str | None:
    return _pair(labels, code)[1]


_STATUS: Final = {s.value: v for s, v in STATUS_LABELS.items()}
_CHANNEL: Final = {c.value: v for c, v in CHANNEL_LABELS.items()}
_CAUSE: Final = {c.value: v for c, v in CAUSE_LABELS.items()}
_HTYPE: Final = {t.value: v for t, v in HOUSEHOLD_TYPE_LABELS.items()}


# ------------------------------------------------------------------ payload fields


@dataclass(frozen=True)
class _FieldSpec:
    type: str
    zh: str
    en: str
    options: Labels | None = None
    description: str = ""


#: What a page needs to know to ask for each payload field.
PAYLOAD_FIELDS: Final[dict[str, _FieldSpec]] = {
    "assignee": _FieldSpec("text", "入户核实负责人", "cadre who visits"),
    "findings": _FieldSpec("text", "核实情况", "findings", description="text or an object"),
    "authorisation_signed": _FieldSpec(
        "boolean", "已签署数据核查授权书", "authorisation for data checks signed"
    ),
    "labour_members": _FieldSpec("integer", "家庭劳动力人数", "members able to work"),
    "reason": _FieldSpec("text", "理由", "reason"),
    "results": _FieldSpec(
        "object",
        "部门比对结果",
        "department cross-check results",
        description='{"item": result} or [{"source", "item", "result", "flagged"}]',
    ),
    "democratic_review": _FieldSpec("text", "民主评议情况", "democratic review"),
    "household_type": _FieldSpec("choice", "户类型", "household type", _HTYPE),
    "main_cause": _FieldSpec("choice", "主要风险类型", "main risk", _CAUSE),
    "other_causes": _FieldSpec(
        "choices",
        "其他风险类型",
        "other risks",
        _CAUSE,
        f"at most {MAX_OTHER_CAUSES}, none equal to the main risk",
    ),
    "plan_id": _FieldSpec("text", "帮扶计划编号", "assistance plan number"),
    "ready": _FieldSpec("boolean", "符合风险消除条件", "ready for risk elimination"),
    "readiness_reason": _FieldSpec("text", "风险消除理由", "why the risk is eliminated"),
    "team": _FieldSpec("names", "入户核查人员", "home-check team"),
    "income": _FieldSpec(
        "object",
        "近12个月收入",
        "income over 12 months",
        description="period_from, period_to (YYYY-MM), per_capita_net, and optionally "
        "household_net, wage_income, business_income, property_income, transfer_income, "
        "rigid_expenditure, monitoring_line (yuan)",
    ),
    "stable_months": _FieldSpec(
        "integer", "收入稳定高于监测线（月）", "months of income stably above the line"
    ),
    "rigid_expenditure_resolved": _FieldSpec(
        "boolean", "大额刚性支出已解决", "large rigid expenditure resolved"
    ),
    "guarantees": _FieldSpec(
        "object",
        "“两不愁三保障”及饮水安全",
        "guarantees and drinking water",
        GUARANTEE_LABELS,
        '[{"item", "secure": true|false|null, "note"}]',
    ),
}
#: Optional payload fields per action (besides the required ones of the table).
OPTIONAL_FIELDS: Final[dict[Action, tuple[str, ...]]] = {
    Action.RECORD_VISIT: ("labour_members", "income"),
    Action.APPROVE: ("reason",),
    Action.PROPOSE_ELIMINATION: ELIMINATION_EXTRAS,
    Action.RECORD_HOME_CHECK: ELIMINATION_EXTRAS,
}


# ------------------------------------------------------------------------ errors

_TRANSITION_ERRORS: Final[dict[str, tuple[int, str]]] = {
    "illegal_action": (409, "illegal_transition"),
    "guard_failed": (409, "guard_failed"),
    "time_order": (409, "time_order"),
    "idempotency_conflict": (409, "idempotency_conflict"),
    "missing_payload": (422, "missing_payload"),
    "invalid_payload": (422, "invalid_payload"),
}


@contextmanager
def service_errors() -> Iterator[None]:
    """Answer the case services' errors with the API's status codes and error body.

    Not found (or outside the area) -> 404; stale version -> 409 ``conflict``;
    refused transition -> 409 or 422 by its code; a form lacking data -> 409
    ``form_incomplete``; an invalid optional payload field the forms read -> 422
    ``invalid_payload``; other conflicts -> 409 ``conflict``; invalid input -> 422.
    """
    try:
        yield
    except StaleCaseError as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    except TransitionError as exc:
        status, code = _TRANSITION_ERRORS.get(exc.code, (409, "conflict"))
        raise ApiError(status, code, str(exc)) from exc
    except DataNotFoundError as exc:
        raise NotFoundError(str(exc)) from exc
    except FormInputError as exc:
        raise ApiError(409, "form_incomplete", f"the form cannot be made: {exc}") from exc
    except FormNotReadyError as exc:
        raise ApiError(409, "form_incomplete", str(exc)) from exc
    except InvalidPayloadError as exc:
        raise ApiError(422, "invalid_payload", str(exc)) from exc
    except ConflictError as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    except DataError as exc:
        raise ApiError(422, "validation_error", str(exc)) from exc


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries of the error answers ``statuses``."""
    text = {
        404: "unknown, or outside the caller's area",
        409: "stale version, illegal transition, failed guard or other conflict",
        422: "missing or invalid payload or parameters",
    }
    return {s: {"model": ErrorResponse, "description": text[s]} for s in statuses}


def idempotency_key(body_key: str | None, header_key: str | None) -> str | None:
    """The request's idempotency key, from the body or the ``Idempotency-Key`` header.

    Raises
    ------
    ApiError
        422 when both are given and differ.
    """
    body = body_key.strip() if body_key else None
    header = header_key.strip() if header_key else None
    if body and header and body != header:
        raise ApiError(
            422,
            "validation_error",
            f"idempotency_key {body!r} differs from the {IDEMPOTENCY_HEADER} header {header!r}",
        )
    return body or header or None


HeaderKey = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_HEADER,
        max_length=IDEMPOTENCY_KEY_LEN,
        description="key of the request; a retry with the same key writes nothing",
    ),
]


# ----------------------------------------------------------------------- schemas


class CodeLabel(BaseModel):
    """A code with its Chinese and English label."""

    code: str
    label_zh: str
    label_en: str

    @classmethod
    def of(cls, labels: Labels, code: str) -> CodeLabel:
        """``code`` with its labels from ``labels`` (the code itself when unknown)."""
        zh, en = labels.get(code, (code, code))
        return cls(code=code, label_zh=zh, label_en=en)


class DuePublic(BaseModel):
    """The case's most pressing deadline on the day of the request."""

    kind: str = Field(description="home_visit, identification, review or follow_up")
    label_zh: str
    label_en: str
    due_on: dt.date
    since: dt.date = Field(description="the day it is counted from")
    param: str = Field(description="the policy-pack parameter that sets it")
    overdue: bool = Field(description="true from the day after the due date")
    days_overdue: int
    days_left: int

    @classmethod
    def from_due(cls, due: DueStatus) -> DuePublic:
        """From the domain's due status."""
        d = due.deadline
        zh, en = DEADLINE_LABELS.get(d.kind, (d.kind, d.kind))
        return cls(
            kind=d.kind,
            label_zh=zh,
            label_en=en,
            due_on=d.due_on,
            since=d.since,
            param=d.param,
            overdue=due.overdue,
            days_overdue=due.days_overdue,
            days_left=due.days_left,
        )


class PayloadFieldPublic(BaseModel):
    """A payload field an action takes."""

    name: str
    required: bool
    type: str = Field(
        description="text, boolean, integer, names (list of texts), choice, choices "
        "(list of choices) or object"
    )
    label_zh: str
    label_en: str
    options: list[CodeLabel] | None = Field(None, description="the allowed values (choices)")
    description: str = ""


class GuardPublic(BaseModel):
    """A check the action must pass, with the policy parameter it reads."""

    name: str
    label_zh: str
    label_en: str
    param: str | None
    value: float | None = Field(description="the parameter's value in force today")


class ActionPublic(BaseModel):
    """An action the case's status allows (guards are checked when it is applied)."""

    action: str
    label_zh: str
    label_en: str
    target: CodeLabel | None = Field(
        description="status after the action (null for an appeal: the step that decided)"
    )
    fields: list[PayloadFieldPublic]
    guards: list[GuardPublic]


class CaseSummaryPublic(BaseModel):
    """A case as lists show it."""

    id: str
    household_id: str
    village_code: str
    period: str = Field(description="month of discovery (or of the warnings), YYYY-MM")
    status: str
    status_zh: str
    status_en: str
    is_open: bool
    channel: str
    channel_zh: str
    channel_en: str
    basis: str = Field(description="risk, needs_verification (warnings) or report")
    basis_zh: str
    basis_en: str
    relapse: bool = Field(description="the household's risk was eliminated before (返贫)")
    previous_case_id: str | None
    household_type: str | None
    household_type_zh: str | None
    household_type_en: str | None
    main_cause: str | None
    main_cause_zh: str | None
    main_cause_en: str | None
    other_causes: list[CodeLabel]
    assignee: str | None
    discovered_at: dt.datetime = Field(description="local time")
    updated_at: dt.datetime
    decided_on: dt.date | None
    closed_at: dt.datetime | None
    plan_id: str | None = Field(description="the accepted plan in force")
    version: int = Field(description="send it back as expected_version")
    due: DuePublic | None
    overdue: bool
    allowed_actions: list[str]

    @classmethod
    def fields_of(cls, view: CaseView) -> dict[str, Any]:
        """The summary's values of a service view."""
        return {
            "id": view.id,
            "household_id": view.household_id,
            "village_code": view.village_code,
            "period": view.period,
            "status": view.status,
            "status_zh": view.status_zh,
            "status_en": view.status_en,
            "is_open": view.is_open,
            "channel": view.channel,
            "channel_zh": _zh(_CHANNEL, view.channel),
            "channel_en": _en(_CHANNEL, view.channel),
            "basis": view.basis,
            "basis_zh": _zh(BASIS_LABELS, view.basis),
            "basis_en": _en(BASIS_LABELS, view.basis),
            "relapse": view.relapse,
            "previous_case_id": view.previous_case_id,
            "household_type": view.household_type,
            "household_type_zh": _zh(_HTYPE, view.household_type),
            "household_type_en": _en(_HTYPE, view.household_type),
            "main_cause": view.main_cause,
            "main_cause_zh": _zh(_CAUSE, view.main_cause),
            "main_cause_en": _en(_CAUSE, view.main_cause),
            "other_causes": [CodeLabel.of(_CAUSE, c) for c in view.other_causes],
            "assignee": view.assignee,
            "discovered_at": view.discovered_at,
            "updated_at": view.updated_at,
            "decided_on": view.decided_on,
            "closed_at": view.closed_at,
            "plan_id": view.plan_id,
            "version": view.version,
            "due": None if view.due is None else DuePublic.from_due(view.due),
            "overdue": view.overdue,
            "allowed_actions": list(view.allowed_actions),
        }

    @classmethod
    def from_view(cls, view: CaseView) -> CaseSummaryPublic:
        """From the service's view."""
        return cls(**cls.fields_of(view))


class CasePublic(CaseSummaryPublic):
    """A case with what its page acts on: the allowed actions and the workflow state."""

    actions: list[ActionPublic] = Field(description="allowed actions, with fields and guards")
    monitored_on: dt.date | None
    notice_started_on: dt.date | None
    last_follow_up_on: dt.date | None
    labour_members: int | None
    appeals: int
    decided_in: str | None = Field(description="step of the last closing decision (appealable)")

    @classmethod
    def build(cls, view: CaseView, params: Mapping[str, Any]) -> CasePublic:
        """From the service's view and the policy parameters in force."""
        state = view.state
        return cls(
            **cls.fields_of(view),
            actions=action_specs(CaseStatus(view.status), params),
            monitored_on=state.monitored_on,
            notice_started_on=state.notice_started_on,
            last_follow_up_on=state.last_follow_up_on,
            labour_members=state.labour_members,
            appeals=state.appeals,
            decided_in=None if state.decided_in is None else state.decided_in.value,
        )


class CasePagePublic(BaseModel):
    """One page of cases."""

    items: list[CaseSummaryPublic]
    total: int
    page: int
    page_size: int

    @classmethod
    def from_page(cls, page: Page[CaseView]) -> CasePagePublic:
        """From the service's page."""
        return cls(
            items=[CaseSummaryPublic.from_view(v) for v in page.items],
            total=page.total,
            page=page.page,
            page_size=page.page_size,
        )


class CaseEventPublic(BaseModel):
    """A recorded transition (ID numbers in the payload masked)."""

    seq: int
    action: str
    action_zh: str
    action_en: str
    actor: str
    at: dt.datetime = Field(description="local time of the action")
    before: str | None
    before_zh: str | None
    before_en: str | None
    after: str
    after_zh: str
    after_en: str
    reason: str | None
    payload: dict[str, Any]
    changes: dict[str, list[Any]] = Field(description="field -> [before, after]")
    idempotency_key: str | None
    recorded_at: dt.datetime

    @classmethod
    def from_item(cls, item: CaseEventItem) -> CaseEventPublic:
        """From the service's item."""
        return cls(
            seq=item.seq,
            action=item.action,
            action_zh=item.label_zh,
            action_en=item.label_en,
            actor=item.actor,
            at=item.at,
            before=item.before,
            before_zh=_zh(_STATUS, item.before),
            before_en=_en(_STATUS, item.before),
            after=item.after,
            after_zh=_zh(_STATUS, item.after) or item.after,
            after_en=_en(_STATUS, item.after) or item.after,
            reason=mask_ids_in(item.reason),
            payload=mask_ids_in(item.payload),
            changes=mask_ids_in(item.changes),
            idempotency_key=item.idempotency_key,
            recorded_at=item.recorded_at,
        )


class TransitionRequest(BaseModel):
    """One workflow action on a case."""

    model_config = ConfigDict(extra="forbid")

    action: Action
    expected_version: int = Field(ge=1, description="the case version the caller saw")
    payload: dict[str, Any] = Field(
        default_factory=dict, description="the action's fields (see the case's actions)"
    )
    idempotency_key: str | None = Field(None, max_length=IDEMPOTENCY_KEY_LEN)


class TransitionPublic(BaseModel):
    """The case after an action, and the event the action recorded."""

    case: CasePublic
    event: CaseEventPublic


class OpenCaseRequest(BaseModel):
    """A clue about a household from a channel other than the department warnings."""

    model_config = ConfigDict(extra="forbid")

    household_id: str = Field(min_length=1, max_length=32)
    channel: OpenChannel
    payload: dict[str, Any] = Field(
        default_factory=dict, description="what was reported (kept on the intake)"
    )
    idempotency_key: str | None = Field(None, max_length=IDEMPOTENCY_KEY_LEN)


class IntakeOutcomePublic(BaseModel):
    """What taking the clue in did: a new case, a relapse case, or joined the open case."""

    kind: str = Field(description="new_case, relapse or attach")
    kind_zh: str
    kind_en: str
    reason_zh: str
    reason_en: str
    case: CasePublic


class IntakePublic(BaseModel):
    """A clue taken in to the case (a period's warnings, or a report)."""

    id: int
    household_id: str
    period: str | None
    channel: str
    channel_zh: str
    channel_en: str
    kind: str
    kind_zh: str
    kind_en: str
    basis: str
    rule_ids: list[str]
    detail: dict[str, Any]
    actor: str
    at: dt.datetime

    @classmethod
    def from_item(cls, item: IntakeItem) -> IntakePublic:
        """From the service's item (ID numbers in the detail masked)."""
        return cls(
            id=item.id,
            household_id=item.household_id,
            period=item.period,
            channel=item.channel,
            channel_zh=_zh(_CHANNEL, item.channel) or item.channel,
            channel_en=_en(_CHANNEL, item.channel) or item.channel,
            kind=item.kind,
            kind_zh=_zh(INTAKE_KIND_LABELS, item.kind) or item.kind,
            kind_en=_en(INTAKE_KIND_LABELS, item.kind) or item.kind,
            basis=item.basis,
            rule_ids=item.rule_ids,
            detail=mask_ids_in(item.detail),
            actor=item.actor,
            at=item.at,
        )


class TaskPublic(BaseModel):
    """A task of a case's step."""

    id: int
    case_id: str
    household_id: str
    village_code: str
    kind: str
    kind_zh: str
    kind_en: str
    level: str
    level_zh: str
    level_en: str
    assignee: str | None
    due_on: dt.date | None
    overdue: bool = Field(description="open and its due day has passed")
    status: str
    status_zh: str
    status_en: str
    created_at: dt.datetime
    done_at: dt.datetime | None
    case_status: str
    case_status_zh: str
    case_status_en: str

    @classmethod
    def from_item(cls, item: TaskItem, today: dt.date) -> TaskPublic:
        """From the service's item, judged on ``today``."""
        return cls(
            id=item.id,
            case_id=item.case_id,
            household_id=item.household_id,
            village_code=item.village_code,
            kind=item.kind,
            kind_zh=_zh(TASK_KIND_LABELS, item.kind) or item.kind,
            kind_en=_en(TASK_KIND_LABELS, item.kind) or item.kind,
            level=item.level,
            level_zh=_zh(LEVEL_LABELS, item.level) or item.level,
            level_en=_en(LEVEL_LABELS, item.level) or item.level,
            assignee=item.assignee,
            due_on=item.due_on,
            overdue=item.overdue_on(today),
            status=item.status,
            status_zh=_zh(TASK_STATUS_LABELS, item.status) or item.status,
            status_en=_en(TASK_STATUS_LABELS, item.status) or item.status,
            created_at=item.created_at,
            done_at=item.done_at,
            case_status=item.case_status,
            case_status_zh=_zh(_STATUS, item.case_status) or item.case_status,
            case_status_en=_en(_STATUS, item.case_status) or item.case_status,
        )


class TaskPagePublic(BaseModel):
    """One page of tasks."""

    items: list[TaskPublic]
    total: int
    page: int
    page_size: int


class VisitPublic(BaseModel):
    """A recorded visit (home visit, follow-up or elimination home check)."""

    id: int
    seq: int = Field(description="the event that recorded it")
    kind: str
    kind_zh: str
    kind_en: str
    visited_at: dt.datetime
    recorded_by: str
    findings: Any
    authorisation_signed: bool | None
    team: list[str]
    labour_members: int | None

    @classmethod
    def from_item(cls, item: VisitItem) -> VisitPublic:
        """From the service's item (ID numbers in the findings masked)."""
        return cls(
            id=item.id,
            seq=item.seq,
            kind=item.kind,
            kind_zh=_zh(VISIT_KIND_LABELS, item.kind) or item.kind,
            kind_en=_en(VISIT_KIND_LABELS, item.kind) or item.kind,
            visited_at=item.visited_at,
            recorded_by=item.recorded_by,
            findings=mask_ids_in(item.findings),
            authorisation_signed=item.authorisation_signed,
            team=item.team,
            labour_members=item.labour_members,
        )


class NoticePublic(BaseModel):
    """A public notice of a case."""

    id: int
    case_id: str
    kind: str
    kind_zh: str
    kind_en: str
    village_code: str
    started_on: dt.date
    earliest_end: dt.date = Field(description="first day the notice may be closed")
    ended_on: dt.date | None
    status: str
    status_zh: str
    status_en: str

    @classmethod
    def fields_of(cls, item: NoticeItem | PublicNoticeItem) -> dict[str, Any]:
        """The notice's values of a service item."""
        return {
            "id": item.id,
            "case_id": item.case_id,
            "kind": item.kind,
            "kind_zh": _zh(NOTICE_KIND_LABELS, item.kind),
            "kind_en": _en(NOTICE_KIND_LABELS, item.kind),
            "village_code": item.village_code,
            "started_on": item.started_on,
            "earliest_end": item.earliest_end,
            "ended_on": item.ended_on,
            "status": item.status,
            "status_zh": _zh(NOTICE_STATUS_LABELS, item.status),
            "status_en": _en(NOTICE_STATUS_LABELS, item.status),
        }

    @classmethod
    def from_item(cls, item: NoticeItem) -> NoticePublic:
        """From the service's item."""
        return cls(**cls.fields_of(item))


class PublicNoticePublic(NoticePublic):
    """A notice as the village posts it: its household and the reason."""

    village_name: str
    household_id: str
    head_name: str | None
    members: int
    case_status: str
    case_status_zh: str
    case_status_en: str
    household_type: str | None = Field(description="the case's type, or the proposed one")
    household_type_zh: str | None
    household_type_en: str | None
    main_cause: str | None
    main_cause_zh: str | None
    main_cause_en: str | None
    reason: str | None = Field(
        description="home-visit findings (identification) or why the risk is eliminated"
    )

    @classmethod
    def from_public(cls, item: PublicNoticeItem) -> PublicNoticePublic:
        """From the service's item."""
        return cls(
            **cls.fields_of(item),
            village_name=item.village_name,
            household_id=item.household_id,
            head_name=item.head_name,
            members=item.members,
            case_status=item.case_status,
            case_status_zh=_zh(_STATUS, item.case_status) or item.case_status,
            case_status_en=_en(_STATUS, item.case_status) or item.case_status,
            household_type=item.household_type,
            household_type_zh=_zh(_HTYPE, item.household_type),
            household_type_en=_en(_HTYPE, item.household_type),
            main_cause=item.main_cause,
            main_cause_zh=_zh(_CAUSE, item.main_cause),
            main_cause_en=_en(_CAUSE, item.main_cause),
            reason=mask_ids_in(item.reason),
        )


class NoticePagePublic(BaseModel):
    """One page of public notices."""

    items: list[PublicNoticePublic]
    total: int
    page: int
    page_size: int


class DecisionPublic(BaseModel):
    """A review decision."""

    id: int
    seq: int
    stage: str
    stage_zh: str
    stage_en: str
    level: str
    level_zh: str
    level_en: str
    outcome: str
    outcome_zh: str
    outcome_en: str
    reason: str | None
    decided_by: str
    at: dt.datetime

    @classmethod
    def from_item(cls, item: DecisionItem) -> DecisionPublic:
        """From the service's item."""
        return cls(
            id=item.id,
            seq=item.seq,
            stage=item.stage,
            stage_zh=_zh(STAGE_LABELS, item.stage) or item.stage,
            stage_en=_en(STAGE_LABELS, item.stage) or item.stage,
            level=item.level,
            level_zh=_zh(LEVEL_LABELS, item.level) or item.level,
            level_en=_en(LEVEL_LABELS, item.level) or item.level,
            outcome=item.outcome,
            outcome_zh=_zh(OUTCOME_LABELS, item.outcome) or item.outcome,
            outcome_en=_en(OUTCOME_LABELS, item.outcome) or item.outcome,
            reason=mask_ids_in(item.reason),
            decided_by=item.decided_by,
            at=item.at,
        )


class GrievancePublic(BaseModel):
    """An appeal or a complaint."""

    id: int
    case_id: str
    kind: str
    kind_zh: str
    kind_en: str
    filed_at: dt.datetime
    filed_by: str
    reason: str
    status: str
    status_zh: str
    status_en: str
    resolution: str | None
    resolved_by: str | None
    resolved_at: dt.datetime | None

    @classmethod
    def from_item(cls, item: GrievanceItem) -> GrievancePublic:
        """From the service's item."""
        return cls(
            id=item.id,
            case_id=item.case_id,
            kind=item.kind,
            kind_zh=_zh(GRIEVANCE_KIND_LABELS, item.kind) or item.kind,
            kind_en=_en(GRIEVANCE_KIND_LABELS, item.kind) or item.kind,
            filed_at=item.filed_at,
            filed_by=item.filed_by,
            reason=mask_ids_in(item.reason),
            status=item.status,
            status_zh=_zh(GRIEVANCE_STATUS_LABELS, item.status) or item.status,
            status_en=_en(GRIEVANCE_STATUS_LABELS, item.status) or item.status,
            resolution=mask_ids_in(item.resolution),
            resolved_by=item.resolved_by,
            resolved_at=item.resolved_at,
        )


class GrievanceRequest(BaseModel):
    """An appeal against the case's decision, or a complaint about the case."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["appeal", "complaint"]
    reason: str = Field(min_length=1, description="what the household says")
    expected_version: int | None = Field(
        None, ge=1, description="required for an appeal: the case version seen"
    )
    idempotency_key: str | None = Field(None, max_length=IDEMPOTENCY_KEY_LEN)


class ResolveGrievanceRequest(BaseModel):
    """How an open complaint was handled."""

    model_config = ConfigDict(extra="forbid")

    resolution: str = Field(min_length=1)
    dismiss: bool = Field(False, description="true: the complaint is not upheld")


class DeliveryPublic(BaseModel):
    """Assistance delivered under a measure."""

    id: int
    plan_measure_id: int
    delivered_on: dt.date
    amount: float | None
    note: str | None
    recorded_by: str

    @classmethod
    def from_item(cls, item: DeliveryItem) -> DeliveryPublic:
        """From the service's item."""
        return cls(
            id=item.id,
            plan_measure_id=item.plan_measure_id,
            delivered_on=item.delivered_on,
            amount=item.amount,
            note=mask_ids_in(item.note),
            recorded_by=item.recorded_by,
        )


class PlanMeasurePublic(BaseModel):
    """A measure of a plan (removed ones are listed with the reason)."""

    id: int = Field(description="the plan measure's id (for deliveries)")
    measure_id: str = Field(description="the catalogue's measure id")
    name_zh: str
    name_en: str
    category: str | None
    category_zh: str | None
    category_en: str | None
    unit: str | None
    unit_zh: str | None
    unit_en: str | None
    position: int
    person_id_number: str | None = Field(description="the member it is for (masked)")
    basis: str
    basis_zh: str
    basis_en: str
    causes: list[CodeLabel]
    reason_zh: str
    reason_en: str
    amount: float | None
    years: float | None
    status: str
    status_zh: str
    status_en: str
    edit_reason: str | None
    deliveries: list[DeliveryPublic]
    delivered_amount: float = Field(description="yuan delivered so far")

    @classmethod
    def from_item(cls, item: PlanMeasureItem, catalogue: Catalogue) -> PlanMeasurePublic:
        """From the service's item, with the catalogue's category and unit."""
        measure = catalogue.measure(item.measure_id) if item.measure_id in catalogue else None
        category = None if measure is None else measure.category
        unit = None if measure is None else measure.unit
        return cls(
            id=item.id,
            measure_id=item.measure_id,
            name_zh=item.name_zh,
            name_en=item.name_en,
            category=category,
            category_zh=_zh(CATEGORY_LABELS, category),
            category_en=_en(CATEGORY_LABELS, category),
            unit=unit,
            unit_zh=_zh(UNIT_LABELS, unit),
            unit_en=_en(UNIT_LABELS, unit),
            position=item.position,
            person_id_number=mask_id_number(item.person_id_number),
            basis=item.basis,
            basis_zh=_zh(MEASURE_BASIS_LABELS, item.basis) or item.basis,
            basis_en=_en(MEASURE_BASIS_LABELS, item.basis) or item.basis,
            causes=[CodeLabel.of(_CAUSE, c) for c in item.causes],
            reason_zh=item.reason_zh,
            reason_en=item.reason_en,
            amount=item.amount,
            years=item.years,
            status=item.status,
            status_zh=_zh(MEASURE_STATUS_LABELS, item.status) or item.status,
            status_en=_en(MEASURE_STATUS_LABELS, item.status) or item.status,
            edit_reason=mask_ids_in(item.edit_reason),
            deliveries=[DeliveryPublic.from_item(d) for d in item.deliveries],
            delivered_amount=round(sum(d.amount or 0.0 for d in item.deliveries), 2),
        )


class PlanWarningPublic(BaseModel):
    """A matching principle the plan does not follow (a warning, not an error)."""

    code: str
    message_zh: str
    message_en: str


class PlanPublic(BaseModel):
    """An assistance plan with its measures and deliveries."""

    id: int
    case_id: str
    status: str
    status_zh: str
    status_en: str
    version: int = Field(description="send it back as expected_version of an edit")
    needs: dict[str, Any] = Field(description="causes and situation the plan was made for")
    measures: list[PlanMeasurePublic]
    warnings: list[PlanWarningPublic]
    catalogue_version: str
    created_by: str
    accepted_by: str | None
    accepted_at: dt.datetime | None

    @classmethod
    def from_view(cls, view: PlanView, catalogue: Catalogue | None = None) -> PlanPublic:
        """From the service's view."""
        cat = catalogue or default_catalogue()
        return cls(
            id=view.id,
            case_id=view.case_id,
            status=view.status,
            status_zh=_zh(PLAN_STATUS_LABELS, view.status) or view.status,
            status_en=_en(PLAN_STATUS_LABELS, view.status) or view.status,
            version=view.version,
            needs=view.needs,
            measures=[PlanMeasurePublic.from_item(m, cat) for m in view.measures],
            warnings=[PlanWarningPublic.model_validate(w) for w in view.warnings],
            catalogue_version=view.catalogue_version,
            created_by=view.created_by,
            accepted_by=view.accepted_by,
            accepted_at=view.accepted_at,
        )


class CaseHouseholdPublic(BaseModel):
    """The case's household in brief (the full record: ``GET /households/{id}``)."""

    id: str
    head_name: str | None = Field(description="masked (in full: GET /households/{id}?reveal=true)")
    head_id_number: str | None = Field(description="masked")
    village_code: str
    village_name: str
    regions: list[RegionPublic] = Field(description="province to village")
    address: str | None
    members: int
    former_poor: bool

    @classmethod
    def from_detail(cls, detail: HouseholdDetail) -> CaseHouseholdPublic:
        """From the household service's detail."""
        return cls(
            id=detail.id,
            head_name=mask_name(detail.head_name),
            head_id_number=mask_id_number(detail.head_id_number),
            village_code=detail.village_code,
            village_name=detail.village_name,
            regions=[RegionPublic.model_validate(r) for r in detail.regions],
            address=detail.address,
            members=detail.members,
            former_poor=detail.former_poor,
        )


class CaseDetailPublic(BaseModel):
    """Everything a case page shows, in one answer."""

    case: CasePublic
    household: CaseHouseholdPublic | None
    events: list[CaseEventPublic] = Field(description="the history, oldest first")
    intakes: list[IntakePublic]
    tasks: list[TaskPublic]
    visits: list[VisitPublic]
    notices: list[NoticePublic]
    decisions: list[DecisionPublic]
    plan: PlanPublic | None = Field(description="the plan in force, else the latest draft")
    plans: list[PlanPublic] = Field(description="every plan of the case, oldest first")
    grievances: list[GrievancePublic]


class RelapseCountPublic(BaseModel):
    """Cases opened in a period and how many are relapses (返贫)."""

    period: str
    opened: int
    relapses: int
    relapse_households: int
    relapse_share: float | None

    @classmethod
    def from_item(cls, item: RelapseCount) -> RelapseCountPublic:
        """From the service's count."""
        return cls(
            period=item.period,
            opened=item.opened,
            relapses=item.relapses,
            relapse_households=item.relapse_households,
            relapse_share=item.relapse_share,
        )


# --------------------------------------------------------------------- builders


def case_params(view: CaseView, now: dt.datetime) -> dict[str, Any]:
    """Policy parameters in force for the case's village this month ({} when none)."""
    try:
        return services.case_params(f"{now:%Y-%m}", view.village_code)
    except ConfigError:  # the labels do without the parameters' values
        return {}


def action_specs(status: CaseStatus, params: Mapping[str, Any]) -> list[ActionPublic]:
    """The actions ``status`` allows: labels, target, payload fields and guards."""
    out = []
    for row in TRANSITIONS:
        if row.state is not status:
            continue
        optional = list(OPTIONAL_FIELDS.get(row.action, ()))
        if "main_cause" in row.required:
            optional.insert(0, "other_causes")
        fields = []
        for name, required in [(f, True) for f in row.required] + [(f, False) for f in optional]:
            spec = PAYLOAD_FIELDS.get(name, _FieldSpec("text", name, name))
            options = spec.options
            fields.append(
                PayloadFieldPublic(
                    name=name,
                    required=required,
                    type=spec.type,
                    label_zh=spec.zh,
                    label_en=spec.en,
                    options=None
                    if options is None
                    else [CodeLabel.of(options, c) for c in options],
                    description=spec.description,
                )
            )
        guards = []
        for guard in row.guards:
            value = params.get(guard.param) if guard.param else None
            zh, en = GUARD_LABELS.get(guard.name, (guard.name, guard.name))
            guards.append(
                GuardPublic(
                    name=guard.name,
                    label_zh=zh,
                    label_en=en,
                    param=guard.param,
                    value=value if isinstance(value, int | float) else None,
                )
            )
        out.append(
            ActionPublic(
                action=row.action.value,
                label_zh=row.action.label_zh,
                label_en=row.action.label_en,
                target=None if row.target is None else CodeLabel.of(_STATUS, row.target.value),
                fields=fields,
                guards=guards,
            )
        )
    return out


def case_public(view: CaseView, now: dt.datetime) -> CasePublic:
    """A case with its actions, judged with the parameters in force on ``now``."""
    return CasePublic.build(view, case_params(view, now))


def transition_public(view: CaseView, now: dt.datetime) -> TransitionPublic:
    """The answer to a transition (the view must carry its event)."""
    assert view.event is not None
    return TransitionPublic(
        case=case_public(view, now), event=CaseEventPublic.from_item(view.event)
    )


def set_replay(response: Response, replay: bool) -> None:
    """Mark the answer to a retried request."""
    if replay:
        response.headers[REPLAY_HEADER] = "true"


# ----------------------------------------------------------------------- routes


@cases_router.get(
    "",
    response_model=CasePagePublic,
    responses=error_responses(422),
    operation_id="list_cases",
)
def list_cases(
    session: SessionDep,
    area: AreaDep,
    now: NowDep,
    status: Annotated[list[CaseStatus] | None, Query(description="one or several")] = None,
    open_: Annotated[
        bool | None, Query(alias="open", description="true: open cases; false: closed ones")
    ] = None,
    channel: Channel | None = None,
    basis: Literal["risk", "needs_verification", "report"] | None = None,
    overdue: Annotated[bool | None, Query(description="true: overdue; false: on time")] = None,
    assignee: Annotated[str | None, Query(max_length=100)] = None,
    household: Annotated[str | None, Query(max_length=32, description="household id")] = None,
    relapse: bool | None = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> CasePagePublic:
    """The area's cases, last changed first (overdue ones: earliest due first)."""
    statuses = [s.value for s in status] if status else None
    if open_ is False:
        closed = [s.value for s in CaseStatus if s.is_closed]
        statuses = [s for s in statuses if s in closed] if statuses else closed
    if statuses == []:
        return CasePagePublic(items=[], total=0, page=page, page_size=page_size)
    with service_errors():
        result = services.list_cases(
            session,
            area,
            status=statuses,
            open_only=open_ is True,
            channel=None if channel is None else channel.value,
            basis=basis,
            overdue=overdue,
            assignee=assignee,
            household_id=household,
            relapse=relapse,
            now=now,
            page=page,
            page_size=page_size,
        )
    return CasePagePublic.from_page(result)


@cases_router.post(
    "",
    response_model=IntakeOutcomePublic,
    status_code=201,
    responses={
        200: {"model": IntakeOutcomePublic, "description": "joined the household's open case"},
        **error_responses(404, 409, 422),
    },
    operation_id="open_case",
)
def open_case(
    body: OpenCaseRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    area: AreaDep,
    actor: ActorDep,
    now: NowDep,
    header_key: HeaderKey = None,
) -> IntakeOutcomePublic:
    """Take in a clue: 201 with a new (or relapse) case, 200 when it joins the open case.

    A retry with the same idempotency key answers the first outcome again (header
    ``Idempotent-Replayed: true``) and opens nothing.
    """
    key = idempotency_key(body.idempotency_key, header_key)
    with service_errors():
        outcome = services.open_case(
            session,
            body.household_id,
            body.channel,
            at=now,
            actor=actor,
            area_prefix=area,
            payload=body.payload,
            idempotency_key=key,
        )
    response.status_code = 200 if outcome.kind == "attach" else 201
    response.headers["Location"] = str(request.url_for("read_case", case_id=outcome.case.id))
    set_replay(response, outcome.replay)
    return IntakeOutcomePublic(
        kind=outcome.kind,
        kind_zh=_zh(INTAKE_KIND_LABELS, outcome.kind) or outcome.kind,
        kind_en=_en(INTAKE_KIND_LABELS, outcome.kind) or outcome.kind,
        reason_zh=outcome.reason_zh,
        reason_en=outcome.reason_en,
        case=case_public(outcome.case, now),
    )


@cases_router.get(
    "/overdue",
    response_model=CasePagePublic,
    responses=error_responses(422),
    operation_id="list_overdue_cases",
)
def list_overdue_cases(
    session: SessionDep,
    area: AreaDep,
    now: NowDep,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> CasePagePublic:
    """The area's overdue cases today, most overdue first."""
    with service_errors():
        result = services.overdue(session, area, now, page=page, page_size=page_size)
    return CasePagePublic.from_page(result)


@cases_router.get(
    "/relapses",
    response_model=list[RelapseCountPublic],
    responses=error_responses(422),
    operation_id="count_relapses",
)
def count_relapses(
    session: SessionDep,
    area: AreaDep,
    start: Annotated[str, Query(pattern=PERIOD_PATTERN, description="first period, YYYY-MM")],
    end: Annotated[str, Query(pattern=PERIOD_PATTERN, description="last period, YYYY-MM")],
) -> list[RelapseCountPublic]:
    """Cases opened per period from ``start`` to ``end`` and how many are relapses."""
    with service_errors():
        counts = services.relapse_counts(session, area, start, end)
    return [RelapseCountPublic.from_item(c) for c in counts]


@cases_router.get(
    "/{case_id}",
    response_model=CaseDetailPublic,
    responses=error_responses(404),
    operation_id="read_case",
)
def read_case(case_id: str, session: SessionDep, area: AreaDep, now: NowDep) -> CaseDetailPublic:
    """One case with everything its page shows; 404 when unknown or outside the area."""
    with service_errors():
        detail = services.case_detail(session, case_id, area, now=now)
        household = services.household_detail(session, detail.case.household_id, area)
    cat = default_catalogue()
    plan = current_plan(detail)
    return CaseDetailPublic(
        case=case_public(detail.case, now),
        household=None if household is None else CaseHouseholdPublic.from_detail(household),
        events=[CaseEventPublic.from_item(e) for e in detail.events],
        intakes=[IntakePublic.from_item(i) for i in detail.intakes],
        tasks=[TaskPublic.from_item(t, now.date()) for t in detail.tasks],
        visits=[VisitPublic.from_item(v) for v in detail.visits],
        notices=[NoticePublic.from_item(n) for n in detail.notices],
        decisions=[DecisionPublic.from_item(d) for d in detail.decisions],
        plan=None if plan is None else PlanPublic.from_view(plan, cat),
        plans=[PlanPublic.from_view(p, cat) for p in detail.plans],
        grievances=[GrievancePublic.from_item(g) for g in detail.grievances],
    )


@cases_router.get(
    "/{case_id}/history",
    response_model=list[CaseEventPublic],
    responses=error_responses(404),
    operation_id="read_case_history",
)
def read_case_history(case_id: str, session: SessionDep, area: AreaDep) -> list[CaseEventPublic]:
    """The case's events, oldest first."""
    with service_errors():
        events = services.case_history(session, case_id, area)
    return [CaseEventPublic.from_item(e) for e in events]


@cases_router.post(
    "/{case_id}/transitions",
    response_model=TransitionPublic,
    responses=error_responses(404, 409, 422),
    operation_id="transition_case",
)
def transition_case(
    case_id: str,
    body: TransitionRequest,
    response: Response,
    session: SessionDep,
    area: AreaDep,
    actor: ActorDep,
    now: NowDep,
    header_key: HeaderKey = None,
) -> TransitionPublic:
    """Apply one action at ``expected_version``; the case after it and the event.

    409 ``conflict`` when the case is no longer at ``expected_version``; 409
    ``illegal_transition``, ``guard_failed`` or ``time_order`` when the workflow
    refuses (the message lists the allowed actions); 422 ``missing_payload`` or
    ``invalid_payload``. A retry with the same idempotency key answers the recorded
    event again (header ``Idempotent-Replayed: true``) without writing.
    """
    key = idempotency_key(body.idempotency_key, header_key)
    with service_errors():
        check_payload_extras(body.payload)
        view = services.transition(
            session,
            case_id,
            body.action,
            expected_version=body.expected_version,
            actor=actor,
            at=now,
            area_prefix=area,
            payload=body.payload,
            idempotency_key=key,
        )
    set_replay(response, view.replay)
    return transition_public(view, now)


@cases_router.post(
    "/{case_id}/grievances",
    response_model=GrievancePublic,
    status_code=201,
    responses=error_responses(404, 409, 422),
    operation_id="file_grievance",
)
def file_grievance(
    case_id: str,
    body: GrievanceRequest,
    session: SessionDep,
    area: AreaDep,
    actor: ActorDep,
    now: NowDep,
    header_key: HeaderKey = None,
) -> GrievancePublic:
    """File an appeal (the ``appeal`` transition: ``expected_version`` required, within
    the appeal window) or a complaint (recorded, open until resolved)."""
    key = idempotency_key(body.idempotency_key, header_key)
    with service_errors():
        item = services.file_grievance(
            session,
            case_id,
            body.kind,
            reason=body.reason,
            actor=actor,
            at=now,
            area_prefix=area,
            expected_version=body.expected_version,
            idempotency_key=key,
        )
    return GrievancePublic.from_item(item)


@cases_router.post(
    "/{case_id}/grievances/{grievance_id}/resolve",
    response_model=GrievancePublic,
    responses=error_responses(404, 409, 422),
    operation_id="resolve_grievance",
)
def resolve_grievance(
    case_id: str,
    grievance_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: ResolveGrievanceRequest,
    session: SessionDep,
    area: AreaDep,
    actor: ActorDep,
    now: NowDep,
) -> GrievancePublic:
    """Close an open complaint of the case (appeals are closed by the re-review)."""
    with service_errors():
        detail = services.case_detail(session, case_id, area, now=now)
        if grievance_id not in {g.id for g in detail.grievances}:
            raise NotFoundError(f"grievance {grievance_id} of case {case_id} not found")
        item = services.resolve_grievance(
            session,
            grievance_id,
            resolution=body.resolution,
            actor=actor,
            at=now,
            area_prefix=area,
            dismiss=body.dismiss,
        )
    return GrievancePublic.from_item(item)


# ------------------------------------------------------------------------ exports


def xlsx_response(data: bytes, filename: str) -> Response:
    """An XLSX file to download as ``filename``."""
    return Response(
        content=data,
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


_XLSX_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {"content": {XLSX_MEDIA_TYPE: {}}, "description": "the XLSX file"},
    **error_responses(404, 409),
}
LangQuery = Annotated[Lang, Query(description="language of the labels")]


def _case_form(
    session: Session,
    case_id: str,
    kind: FormKind,
    area: str,
    actor: str,
    now: dt.datetime,
    lang: Lang,
) -> Response:
    """The case's form ``kind`` as an XLSX download (the export is audited)."""
    with service_errors():
        data, filename = services.case_form(
            session, case_id, kind, area, lang=lang, generated_by=actor, generated_at=now
        )
    return xlsx_response(data, filename)


@cases_router.get(
    "/{case_id}/forms/screening.xlsx",
    response_class=Response,
    responses=_XLSX_RESPONSES,
    operation_id="export_screening_form",
)
def export_screening_form(
    case_id: str,
    session: SessionDep,
    area: AreaDep,
    actor: ActorDep,
    now: NowDep,
    lang: LangQuery = "zh",
) -> Response:
    """The identification form (识别登记表) of the case, as XLSX."""
    return _case_form(session, case_id, "screening", area, actor, now, lang)


@cases_router.get(
    "/{case_id}/forms/elimination.xlsx",
    response_class=Response,
    responses=_XLSX_RESPONSES,
    operation_id="export_elimination_form",
)
def export_elimination_form(
    case_id: str,
    session: SessionDep,
    area: AreaDep,
    actor: ActorDep,
    now: NowDep,
    lang: LangQuery = "zh",
) -> Response:
    """The risk-elimination assessment form (风险消除评估表) of the case, as XLSX.

    409 ``form_incomplete`` before risk elimination was proposed or without a
    recorded income.
    """
    return _case_form(session, case_id, "elimination", area, actor, now, lang)


@cases_router.get(
    "/{case_id}/forms/measures.xlsx",
    response_class=Response,
    responses=_XLSX_RESPONSES,
    operation_id="export_measures_record",
)
def export_measures_record(
    case_id: str,
    session: SessionDep,
    area: AreaDep,
    actor: ActorDep,
    now: NowDep,
    lang: LangQuery = "zh",
) -> Response:
    """The record of assistance measures (帮扶措施台账) of the case's plan, as XLSX.

    The plan in force, else the latest draft; 409 ``form_incomplete`` without a plan.
    """
    return _case_form(session, case_id, "measures", area, actor, now, lang)


# -------------------------------------------------------------------------- tasks


@tasks_router.get(
    "",
    response_model=TaskPagePublic,
    responses=error_responses(422),
    operation_id="list_tasks",
)
def list_tasks(
    session: SessionDep,
    area: AreaDep,
    now: NowDep,
    assignee: Annotated[str | None, Query(max_length=100)] = None,
    kind: TaskKind | None = None,
    level: Level | None = None,
    overdue: Annotated[bool | None, Query(description="true: overdue; false: on time")] = None,
    status: Literal["open", "done", "cancelled", "all"] = "open",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> TaskPagePublic:
    """The area's tasks (a worklist), earliest due first; open ones by default."""
    with service_errors():
        result = services.list_tasks(
            session,
            area,
            assignee=assignee,
            kind=kind,
            level=level,
            status=None if status == "all" else status,
            overdue=overdue,
            now=now,
            page=page,
            page_size=page_size,
        )
    today = now.date()
    return TaskPagePublic(
        items=[TaskPublic.from_item(t, today) for t in result.items],
        total=result.total,
        page=result.page,
        page_size=result.page_size,
    )


# ------------------------------------------------------------------------ notices


@notices_router.get(
    "",
    response_model=NoticePagePublic,
    responses=error_responses(422),
    operation_id="list_notices",
)
def read_notices(
    session: SessionDep,
    area: AreaDep,
    village: Annotated[
        str | None, Query(pattern=VILLAGE_PATTERN, description="village code")
    ] = None,
    kind: NoticeKind | None = None,
    status: Literal["running", "ended", "withdrawn", "all"] = "running",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> NoticePagePublic:
    """Public notices of the area (a village's, with ``village``), on display by default."""
    with service_errors():
        result = list_notices(
            session,
            area,
            village_code=village,
            kind=kind,
            status=None if status == "all" else status,
            page=page,
            page_size=page_size,
        )
    return NoticePagePublic(
        items=[PublicNoticePublic.from_public(n) for n in result.items],
        total=result.total,
        page=result.page,
        page_size=result.page_size,
    )


@notices_router.get(
    "/list.xlsx",
    response_class=Response,
    responses=_XLSX_RESPONSES | error_responses(422),
    operation_id="export_notice_list",
)
def export_notice_list(
    session: SessionDep,
    area: AreaDep,
    actor: ActorDep,
    now: NowDep,
    village: Annotated[str, Query(pattern=VILLAGE_PATTERN, description="village code")],
    kind: NoticeKind,
    lang: LangQuery = "zh",
) -> Response:
    """The list of a village's running notices of ``kind`` (公示名单), as XLSX.

    The period runs from the first notice's start to the last day the longest
    must stay on display; 404 when the village has none (or is outside the area).
    """
    with service_errors():
        exported = services.notice_list_form(
            session,
            area,
            village_code=village,
            kind=kind,
            lang=lang,
            generated_by=actor,
            generated_at=now,
        )
    return xlsx_response(exported.data, exported.filename)
