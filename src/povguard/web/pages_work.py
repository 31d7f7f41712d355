"""Work pages: the worklist with bulk assignment, the case board, a case's page and
the forms that record visits and move cases forward (post/redirect/get)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from povguard.api.cases import OPTIONAL_FIELDS, PAYLOAD_FIELDS
from povguard.api.deps import ActorDep, AreaDep, NowDep, SessionDep
from povguard.api.errors import ApiError, NotFoundError
from povguard.cases import (
    ACTION_LABELS,
    CAUSE_LABELS,
    STATUS_LABELS,
    TRANSITIONS,
    Action,
    CaseStatus,
    RiskCause,
    TransitionError,
)
from povguard.errors import ConflictError, DataError
from povguard.errors import NotFoundError as DataNotFoundError
from povguard.store import HOUSEHOLD_TYPES, WARNING_KINDS, services
from povguard.store.models import TASK_KINDS
from povguard.store.services import (
    MAX_PAGE,
    CaseDetail,
    CaseView,
    StaleCaseError,
    check_period,
)
from povguard.store.services import views as view_services
from povguard.web.i18n import Language, resolve_language
from povguard.web.templating import page_url, render

router = APIRouter(include_in_schema=False)

#: Rows per page of the worklist.
PAGE_SIZE = 50
#: Cards per column of the case board.
BOARD_SIZE = 30
#: Actions recorded with the visit form.
VISIT_ACTIONS: Final = (Action.RECORD_VISIT, Action.RECORD_FOLLOW_UP, Action.RECORD_HOME_CHECK)
#: Payload fields the forms can ask for (the object fields need the JSON API).
FORM_FIELDS: Final = (
    "assignee",
    "findings",
    "authorisation_signed",
    "labour_members",
    "reason",
    "results",
    "democratic_review",
    "household_type",
    "main_cause",
    "other_causes",
    "plan_id",
    "ready",
    "readiness_reason",
    "team",
)
OPEN_STATUSES: Final = tuple(s for s in CaseStatus if not s.is_closed)
#: Flash messages a redirect may name (``?flash=``).
FLASH_CODES: Final = frozenset(
    {"done", "assigned", "assign_none", "assign_no_cadre", "assign_unknown_cadre"}
)
_NAMES_SPLIT: Final = re.compile(r"[,，、;；\s]+")


def _fields_of(action: Action, status: CaseStatus) -> list[tuple[str, bool]]:
    """Payload fields (name, required) an action asks for at a status."""
    required: tuple[str, ...] = ()
    for row in TRANSITIONS:
        if row.state is status and row.action is action:
            required = row.required
    optional = [f for f in OPTIONAL_FIELDS.get(action, ()) if f in FORM_FIELDS]
    if "main_cause" in required:
        optional.insert(0, "other_causes")
    return [(f, True) for f in required] + [(f, False) for f in optional]


def form_actions(view: CaseView) -> dict[str, Any]:
    """What the forms of a case show: visit actions and other actions, with fields."""
    status = CaseStatus(view.status)
    visit: list[dict[str, Any]] = []
    other: list[dict[str, Any]] = []
    for name in view.allowed_actions:
        action = Action(name)
        fields = _fields_of(action, status)
        if any(f not in FORM_FIELDS for f, req in fields if req):
            continue  # needs an object field: the JSON API only
        item: dict[str, Any] = {"action": action, "fields": fields}
        (visit if action in VISIT_ACTIONS else other).append(item)
    names: list[str] = []
    for entry in other:
        for field_name, _ in entry["fields"]:
            if field_name not in names:
                names.append(str(field_name))
    return {"visit": visit, "other": other, "other_fields": names}


def _field_value(name: str, form: FormData) -> Any:  # noqa: PLR0911
    spec = PAYLOAD_FIELDS.get(name)
    kind = spec.type if spec else "text"
    raw = str(form.get(name) or "").strip()
    if kind == "boolean":
        return raw.lower() in ("on", "true", "1", "yes")
    if kind == "choices":
        return [str(v) for v in form.getlist(name) if str(v).strip()]
    if not raw:
        return None
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            raise DataError(f"{name}: {raw!r} is not a whole number") from None
    if kind == "names":
        return [n for n in _NAMES_SPLIT.split(raw) if n]
    if kind == "object":
        return {"summary": raw}
    return raw


def build_payload(action: Action, status: CaseStatus, form: FormData) -> dict[str, Any]:
    """The transition payload from the posted form fields of ``action``.

    Raises
    ------
    DataError
        On a value that is not of its field's type.
    """
    payload: dict[str, Any] = {}
    for name, required in _fields_of(action, status):
        value = _field_value(name, form)
        if value is None or (value == [] and not required):
            continue
        payload[name] = value
    return payload


def _error_key(exc: Exception) -> str:
    if isinstance(exc, StaleCaseError):
        return "err_stale"
    if isinstance(exc, TransitionError):
        return f"err_{exc.code}"
    if isinstance(exc, ConflictError):
        return "err_conflict"
    return "err_invalid"


def flash_of(request: Request) -> dict[str, Any] | None:
    """The flash message a redirect named (``?flash=<code>``), with its counts."""
    code = request.query_params.get("flash")
    if code not in FLASH_CODES:
        return None
    counts = {}
    for key in ("n", "refused"):
        value = request.query_params.get(key, "0")
        counts[key] = int(value) if value.isdigit() else 0
    kind = "error" if code.startswith("assign_") and code != "assigned" else "success"
    return {"key": f"flash_{code}", "kind": kind, "params": counts, "detail": None}


def case_context(detail: CaseDetail, now: dt.datetime, cadres: list[Any]) -> dict[str, Any]:
    """Template variables of a case's panel: the case, its plan and its forms."""
    plans = detail.plans
    draft = next((p for p in reversed(plans) if p.status == "draft"), None)
    current = next((p for p in reversed(plans) if p.status == "accepted"), None) or draft
    return {
        "case": detail.case,
        "detail": detail,
        "forms": form_actions(detail.case),
        "plan": current,
        "draft_plan": draft,
        "idempotency_key": uuid.uuid4().hex,
        "cadres": cadres,
        "household_types": HOUSEHOLD_TYPES,
        "causes": [c.value for c in RiskCause],
        "today": now.date(),
    }


# ------------------------------------------------------------------------ worklist


def _opt(value: str) -> str | None:
    value = value.strip()
    return value or None


@router.get("/worklist")
def worklist_page(
    request: Request,
    session: SessionDep,
    area: AreaDep,
    now: NowDep,
    period: Annotated[str, Query(max_length=7)] = "",
    household_type: Annotated[str, Query(max_length=32)] = "",
    cause: Annotated[str, Query(max_length=32)] = "",
    rule: Annotated[str, Query(max_length=64)] = "",
    kind: Annotated[str, Query(max_length=32)] = "",
    village: Annotated[str, Query(max_length=12, pattern=r"^\d*$")] = "",
    status: Annotated[str, Query(max_length=32)] = "",
    task: Annotated[str, Query(max_length=16)] = "",
    overdue: Annotated[str, Query(max_length=5)] = "",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> Response:
    """Warnings and cases of the area, filtered; select rows and give them to a cadre."""
    if household_type and household_type not in HOUSEHOLD_TYPES:
        raise ApiError(400, "bad_request", f"unknown household type {household_type!r}")
    if kind and kind not in WARNING_KINDS:
        raise ApiError(400, "bad_request", f"unknown kind {kind!r}")
    if cause and cause not in set(RiskCause):
        raise ApiError(400, "bad_request", f"unknown cause {cause!r}")
    if status and status != "none" and status not in set(CaseStatus):
        raise ApiError(400, "bad_request", f"unknown status {status!r}")
    if task and task not in TASK_KINDS:
        raise ApiError(400, "bad_request", f"unknown task kind {task!r}")
    available = services.periods(session)
    selected = check_period(period) if period else (available[0] if available else None)
    result = view_services.worklist(
        session,
        area,
        period=selected,
        household_type=_opt(household_type),
        cause=_opt(cause),
        rule_id=_opt(rule),
        kind=_opt(kind),
        village=_opt(village),
        status=_opt(status),
        task_kind=_opt(task),
        overdue={"true": True, "false": False}.get(overdue),
        now=now,
        page=page,
        page_size=PAGE_SIZE,
    )
    filters = {
        "period": selected or "",
        "household_type": household_type,
        "cause": cause,
        "rule": rule.strip(),
        "kind": kind,
        "village": village,
        "status": status,
        "task": task,
        "overdue": overdue,
    }
    return render(
        request,
        "worklist.html",
        {
            "result": result,
            "periods": available,
            "selected_period": selected,
            "filters": filters,
            "kinds": WARNING_KINDS,
            "household_types": HOUSEHOLD_TYPES,
            "causes": [c.value for c in RiskCause],
            "statuses": [s.value for s in CaseStatus],
            "task_kinds": TASK_KINDS,
            "villages": view_services.village_choices(session, area),
            "cadres": view_services.list_cadres(session, area),
            "flash": flash_of(request),
            "L": labels_for(request),
            "request_key": uuid.uuid4().hex,
            "back": str(request.url.query),
        },
    )


@router.post("/worklist/assign")
async def assign_page(
    request: Request, session: SessionDep, area: AreaDep, actor: ActorDep, now: NowDep
) -> Response:
    """Give the selected cases to a cadre; back to the worklist with what happened."""
    form = await request.form()
    back = str(form.get("back") or "")
    ids = [str(v) for v in form.getlist("case_id") if str(v).strip()]
    assignee = str(form.get("assignee") or "").strip()
    key = str(form.get("request_key") or "").strip()[:64] or None
    params: dict[str, Any]
    if not ids:
        params = {"flash": "assign_none"}
    elif not assignee:
        params = {"flash": "assign_no_cadre"}
    else:
        try:
            result = view_services.assign_cases(
                session, ids, assignee, actor=actor, area_prefix=area, at=now, request_key=key
            )
        except DataNotFoundError:
            params = {"flash": "assign_unknown_cadre"}
        except DataError as exc:
            raise ApiError(422, "validation_error", str(exc)) from exc
        else:
            params = {
                "flash": "assigned",
                "n": len(result.assigned),
                "refused": len(result.refused),
            }
    query = {k: v for k, v in _parse_query(back).items() if k not in ("flash", "n", "refused")}
    return RedirectResponse(page_url(request, "/worklist", **query, **params), status_code=303)


def _parse_query(query: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    allowed = {"period", "household_type", "cause", "rule", "kind", "village", "status",
               "task", "overdue", "page"}  # fmt: skip
    return {k: v for k, v in parse_qsl(query) if k in allowed}


# -------------------------------------------------------------------------- cases


@router.get("/cases")
def case_board_page(
    request: Request,
    session: SessionDep,
    area: AreaDep,
    now: NowDep,
    overdue: Annotated[str, Query(max_length=5)] = "",
) -> Response:
    """Open cases in columns by workflow status; overdue cards highlighted."""
    only_overdue = overdue == "true"
    columns = []
    for status in OPEN_STATUSES:
        page = services.list_cases(
            session,
            area,
            status=status.value,
            overdue=True if only_overdue else None,
            now=now,
            page_size=BOARD_SIZE,
        )
        columns.append({"status": status, "page": page})
    total_overdue = services.overdue(session, area, now, page_size=1).total
    return render(
        request,
        "cases.html",
        {
            "columns": columns,
            "only_overdue": only_overdue,
            "total_overdue": total_overdue,
            "today": now.date(),
            "flash": flash_of(request),
            "L": labels_for(request),
        },
    )


def _case_page(
    request: Request,
    session: Any,
    case_id: str,
    area: str,
    now: dt.datetime,
    error: Mapping[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    try:
        detail = services.case_detail(session, case_id, area, now=now)
    except DataNotFoundError as exc:
        raise NotFoundError(str(exc)) from exc
    household = services.household_detail(session, detail.case.household_id, area_prefix=area)
    context = case_context(detail, now, view_services.list_cadres(session, area))
    context.update(
        {
            "household": household,
            "flash": error or flash_of(request),
            "next": "case",
            "L": labels_for(request),
        }
    )
    return render(request, "case.html", context, status_code=status_code)


@router.get("/cases/{case_id}")
def case_page(
    request: Request, case_id: str, session: SessionDep, area: AreaDep, now: NowDep
) -> Response:
    """A case: status, deadline, history, visits, decisions, plan, and its forms."""
    return _case_page(request, session, case_id, area, now)


@router.post("/cases/{case_id}/transition")
async def transition_page(
    request: Request,
    case_id: str,
    session: SessionDep,
    area: AreaDep,
    actor: ActorDep,
    now: NowDep,
) -> Response:
    """Apply the posted action at the posted version; redirect (303) on success, else
    show the case page with the error (409/422)."""
    form = await request.form()
    try:
        view = services.get_case(session, case_id, area, now=now)
    except DataNotFoundError as exc:
        raise NotFoundError(str(exc)) from exc
    name = str(form.get("action") or "")
    try:
        if name not in {a.value for a in Action}:
            raise DataError(f"unknown action {name!r}")
        action = Action(name)
        version_text = str(form.get("expected_version") or "")
        if not version_text.isdigit():
            raise DataError("expected_version is missing")
        key = str(form.get("idempotency_key") or "").strip()[:100] or None
        payload = build_payload(action, CaseStatus(view.status), form)
        services.transition(
            session,
            case_id,
            action,
            expected_version=int(version_text),
            actor=actor,
            at=now,
            area_prefix=area,
            payload=payload,
            idempotency_key=None if key is None else f"web:{key}",
        )
    except DataNotFoundError as exc:
        raise NotFoundError(str(exc)) from exc
    except (ConflictError, DataError) as exc:
        session.rollback()
        code = 409 if isinstance(exc, ConflictError) else 422
        if isinstance(exc, TransitionError) and exc.code in ("missing_payload", "invalid_payload"):
            code = 422
        error = {"key": _error_key(exc), "kind": "error", "params": {}, "detail": str(exc)}
        return _case_page(request, session, case_id, area, now, error, code)
    target = (
        page_url(request, f"/households/{view.household_id}", flash="done")
        if form.get("next") == "household"
        else page_url(request, f"/cases/{case_id}", flash="done")
    )
    return RedirectResponse(target, status_code=303)


def labels_for(request: Request) -> Labels:
    """The :class:`Labels` of the request's language."""
    default = str(getattr(request.app.state.settings, "language", "zh"))
    return Labels(resolve_language(request, default))


class Labels:
    """Labels of case codes in one language, for templates (``L.status(code)``...)."""

    def __init__(self, lang: Language) -> None:
        self.lang: Language = lang
        self.index = 0 if lang == "zh" else 1

    def _pick(self, pair: tuple[str, str] | None, code: str | None) -> str:
        if code is None:
            return "-"
        return pair[self.index] if pair else code

    def status(self, code: str | None) -> str:
        """Label of a case status."""
        pair = STATUS_LABELS.get(CaseStatus(code)) if code in set(CaseStatus) else None
        return self._pick(pair, code)

    def action(self, code: str | None) -> str:
        """Label of a workflow action."""
        pair = ACTION_LABELS.get(Action(code)) if code in set(Action) else None
        return self._pick(pair, code)

    def cause(self, code: str | None) -> str:
        """Label of a risk cause."""
        pair = CAUSE_LABELS.get(RiskCause(code)) if code in set(RiskCause) else None
        return self._pick(pair, code)

    def field(self, name: str) -> str:
        """Label of a payload field."""
        spec = PAYLOAD_FIELDS.get(name)
        return self._pick((spec.zh, spec.en) if spec else None, name)

    def field_type(self, name: str) -> str:
        """Input kind of a payload field (text, boolean, integer, choice, choices, names)."""
        spec = PAYLOAD_FIELDS.get(name)
        return spec.type if spec else "text"
