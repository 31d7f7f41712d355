"""Printable forms of case management, made from the case services' results.

The one implementation behind the API's exports (:mod:`povguard.api.cases`) and
the command line's ``povguard cases form`` / ``notices`` (:mod:`povguard.cli_cases`),
so that a form downloaded from the web and one printed on the command line are the
same. :func:`case_form` makes a case's identification form (``screening``), risk-
elimination assessment (``elimination``) or record of assistance measures
(``measures``); :func:`notice_list_form` makes a village's public-notice list. Both
record the export in the audit trail (``case.form_export`` / ``notice.export``, by
the exporting user: personal data leaves the database) and commit it.

The builders turn the services' views into the inputs of :mod:`povguard.cases.forms`:
:func:`household_info`, :func:`case_info`, :func:`plan_info`,
:func:`elimination_info`, :func:`notice_reason` (and :func:`current_plan`, the plan
a case's forms print). ID numbers are masked everywhere
(:func:`povguard.privacy.mask_id_number`; until roles exist, nobody sees them in
full). The household's income is read from the ``income`` object that
``record_visit``, ``propose_elimination`` or ``record_home_check`` carried in its
payload (:class:`IncomePayload`); :func:`check_payload_extras` validates those
optional payload fields when an action is recorded.

Errors carry their message in both languages (:class:`FormError`):
:class:`FormNotReadyError` (a :class:`~povguard.errors.ConflictError`) when the case
has not recorded what the form needs yet, :class:`FormDataNotFoundError` (a
:class:`~povguard.errors.NotFoundError`) when the case's household or a village's
running notices are not found in the area. An input the form itself refuses raises
:class:`povguard.cases.FormInputError`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from povguard.cases import (
    CAUSE_LABELS,
    STATUS_LABELS,
    Action,
    CaseInfo,
    CaseStatus,
    Catalogue,
    CrossCheckInfo,
    DecisionInfo,
    DeliveryInfo,
    EliminationInfo,
    FormInputError,
    GuaranteeCheck,
    HouseholdInfo,
    HouseholdType,
    IncomeInfo,
    MeasureInfo,
    MemberInfo,
    NoticeEntry,
    PlanInfo,
    ReviewLevel,
    RiskCause,
    WarningInfo,
    default_catalogue,
    elimination_form,
    measures_record,
    notice_list,
    screening_form,
)
from povguard.errors import ConflictError, DataError, NotFoundError
from povguard.privacy import mask_id_number, mask_ids_in
from povguard.store.services._common import PERIOD_PATTERN, transaction
from povguard.store.services.audit import record_event
from povguard.store.services.cases import (
    CaseDetail,
    CaseEventItem,
    DecisionItem,
    PlanView,
    PublicNoticeItem,
    VisitItem,
    case_detail,
    case_params,
    list_notices,
)
from povguard.store.services.queries import (
    MAX_PAGE_SIZE,
    HouseholdDetail,
    PersonItem,
    household_detail,
)

Lang = Literal["zh", "en"]
FormKind = Literal["screening", "elimination", "measures"]
NoticeKind = Literal["identification", "elimination"]
GuaranteeItem = Literal["food_clothing", "education", "medical", "housing", "water"]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]

#: The forms a case has (:func:`case_form`).
FORM_KINDS: Final[tuple[FormKind, ...]] = ("screening", "elimination", "measures")
#: The public-notice lists (:func:`notice_list_form`).
NOTICE_KINDS: Final[tuple[NoticeKind, ...]] = ("identification", "elimination")
#: A month, YYYY-MM.
#: Optional payload fields of ``propose_elimination`` and ``record_home_check`` that
#: the elimination form reads (``record_visit`` may carry ``income`` too).
ELIMINATION_EXTRAS: Final = ("income", "stable_months", "rigid_expenditure_resolved", "guarantees")
#: Audit actions of the exports.
FORM_EXPORT_ACTION: Final = "case.form_export"
NOTICE_EXPORT_ACTION: Final = "notice.export"

#: Outcomes of a review decision (Chinese, English).
OUTCOME_LABELS: Final[dict[str, tuple[str, str]]] = {
    "approve": ("通过", "approved"),
    "reject": ("不通过", "rejected"),
}
#: A member's health as the forms print it.
_HEALTH: Final[dict[str, tuple[str, str]]] = {
    "serious": ("大病", "serious illness"),
    "chronic": ("慢性病", "chronic illness"),
    "disability": ("残疾（{grade}级）", "disability grade {grade}"),
    "healthy": ("健康", "healthy"),
}
#: The kind of a notice as the "no running notice" message names it.
_NOTICE_KIND_WORDS: Final[dict[str, tuple[str, str]]] = {
    "identification": ("识别", "identification"),
    "elimination": ("风险消除", "risk-elimination"),
}


def _i(lang: Lang) -> int:
    """Index of ``lang`` in a ``(zh, en)`` label pair."""
    return 1 if lang == "en" else 0


# ------------------------------------------------------------------------ errors


class FormError(DataError):
    """A form cannot be exported; the message in both languages.

    ``str()`` is ``"<English> / <Chinese>"`` (as the API answers);
    :meth:`message` gives one language (as the command line prints).

    Attributes
    ----------
    message_en, message_zh
        The message in English and in Chinese.
    """

    def __init__(self, message_en: str, message_zh: str) -> None:
        self.message_en = message_en
        self.message_zh = message_zh
        super().__init__(f"{message_en} / {message_zh}")

    def message(self, lang: str) -> str:
        """The message in ``lang`` (``en``; Chinese otherwise)."""
        return self.message_en if lang == "en" else self.message_zh


class FormNotReadyError(FormError, ConflictError):
    """The case has not recorded what the form needs yet (the message says what)."""


class FormDataNotFoundError(FormError, NotFoundError):
    """What the form is made of is not found in the area (a case's household, a
    village's running notices)."""


class InvalidPayloadError(DataError):
    """An optional payload field the forms read is invalid (the message names it)."""


# ---------------------------------------------------------------- payload extras


class IncomePayload(BaseModel):
    """Household income over 12 months (yuan), as ``payload.income`` of a visit,
    an elimination proposal or a home check (printed on the forms)."""

    model_config = ConfigDict(extra="forbid")

    period_from: str = Field(pattern=PERIOD_PATTERN, description="first month, YYYY-MM")
    period_to: str = Field(pattern=PERIOD_PATTERN, description="last month, YYYY-MM")
    per_capita_net: FiniteFloat
    household_net: FiniteFloat | None = None
    wage_income: FiniteFloat | None = None
    business_income: FiniteFloat | None = None
    property_income: FiniteFloat | None = None
    transfer_income: FiniteFloat | None = None
    rigid_expenditure: FiniteFloat | None = Field(None, ge=0)
    monitoring_line: FiniteFloat | None = Field(
        None, gt=0, description="default: the policy pack's line in force"
    )

    def info(self, line: float | None) -> IncomeInfo:
        """As the forms' input (``line`` when no monitoring line was recorded)."""
        return IncomeInfo(
            period_from=self.period_from,
            period_to=self.period_to,
            per_capita_net=self.per_capita_net,
            household_net=self.household_net,
            wage_income=self.wage_income,
            business_income=self.business_income,
            property_income=self.property_income,
            transfer_income=self.transfer_income,
            rigid_expenditure=self.rigid_expenditure,
            monitoring_line=self.monitoring_line if self.monitoring_line is not None else line,
        )


class GuaranteePayload(BaseModel):
    """Status of one guarantee item (``secure`` null: not verified)."""

    model_config = ConfigDict(extra="forbid")

    item: GuaranteeItem
    secure: bool | None
    note: str = ""


_EXTRA_ADAPTERS: Final[dict[str, TypeAdapter[Any]]] = {
    "income": TypeAdapter(IncomePayload),
    "stable_months": TypeAdapter(Annotated[int, Field(ge=0, strict=True)]),
    "rigid_expenditure_resolved": TypeAdapter(Annotated[bool, Field(strict=True)]),
    "guarantees": TypeAdapter(list[GuaranteePayload]),
}


def check_payload_extras(payload: Mapping[str, Any]) -> None:
    """Validate the optional payload fields the forms read (the workflow checks the rest).

    Raises
    ------
    InvalidPayloadError
        ``payload.<field>: <why>`` for the first invalid field.
    """
    for name, adapter in _EXTRA_ADAPTERS.items():
        if name not in payload:
            continue
        try:
            adapter.validate_python(payload[name])
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in (name, *first.get("loc", ())))
            raise InvalidPayloadError(f"payload.{where}: {first.get('msg', 'invalid')}") from None


# ---------------------------------------------------------------------- builders


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _age(born: dt.date | None, today: dt.date) -> int | None:
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _health(person: PersonItem, lang: Lang) -> str:
    i = _i(lang)
    parts = []
    if person.serious_illness:
        parts.append(_HEALTH["serious"][i])
    if person.chronic_illness:
        parts.append(_HEALTH["chronic"][i])
    if person.disability_grade:
        parts.append(_HEALTH["disability"][i].format(grade=person.disability_grade))
    return ("、" if lang == "zh" else ", ").join(parts) or _HEALTH["healthy"][i]


def household_info(household: HouseholdDetail, lang: Lang, today: dt.date) -> HouseholdInfo:
    """The forms' household input, ID numbers masked (ages on ``today``)."""
    names = {r.level: r.name for r in household.regions}
    return HouseholdInfo(
        household_id=household.id,
        head_name=household.head_name or "",
        head_id_number=mask_id_number(household.head_id_number) or "",
        county=names.get("county", ""),
        township=names.get("township", ""),
        village=names.get("village", ""),
        members=tuple(
            MemberInfo(
                name=p.name or "",
                relation=p.relation or "",
                sex=p.sex or "",
                age=_age(p.birth_date, today),
                health=_health(p, lang),
                work_capacity=p.work_capacity or "",
                insured=p.medical_insured,
                id_number=mask_id_number(p.id_number) or "",
            )
            for p in household.persons
        ),
        address=household.address or "",
        former_poor=household.former_poor,
    )


def _last(events: Sequence[CaseEventItem], action: Action) -> CaseEventItem | None:
    found = [e for e in events if e.action == action.value]
    return found[-1] if found else None


def _income(payload: Mapping[str, Any] | None) -> IncomePayload | None:
    raw = (payload or {}).get("income")
    if raw is None:
        return None
    try:
        return IncomePayload.model_validate(raw)
    except ValidationError:
        return None


def _cross_checks(results: Any) -> tuple[CrossCheckInfo, ...]:
    if isinstance(results, Mapping):
        return tuple(
            CrossCheckInfo(source="", item=str(k), result=_text(v)) for k, v in results.items()
        )
    if isinstance(results, list):
        out = []
        for r in results:
            if isinstance(r, Mapping):
                out.append(
                    CrossCheckInfo(
                        source=_text(r.get("source")),
                        item=_text(r.get("item")),
                        result=_text(r.get("result")),
                        flagged=r.get("flagged") is True,
                    )
                )
        return tuple(out)
    return ()


def _decisions(items: Sequence[DecisionItem], lang: Lang) -> tuple[DecisionInfo, ...]:
    i = _i(lang)
    return tuple(
        DecisionInfo(
            level=ReviewLevel(d.level),
            outcome=OUTCOME_LABELS.get(d.outcome, (d.outcome, d.outcome))[i],
            on=d.at.date(),
            by=d.decided_by,
            stage="elimination" if d.stage == "elimination" else "identification",
            note=mask_ids_in(d.reason) or "",
        )
        for d in items
    )


def _visitors(visit: VisitItem, assignee: str | None) -> tuple[str, ...]:
    """Who visited: the team recorded, else the cadre assigned, else who recorded it."""
    return tuple(visit.team) or ((assignee,) if assignee else (visit.recorded_by,))


def case_info(detail: CaseDetail, household: HouseholdDetail, lang: Lang, **extra: Any) -> CaseInfo:
    """The forms' case input: warnings taken in, income, visit, cross-check, decisions.

    ``extra`` goes to :meth:`povguard.cases.CaseInfo.from_state` (``elimination=``).
    """
    taken = {(i.period, r) for i in detail.intakes for r in i.rule_ids}
    warnings = tuple(
        WarningInfo(
            rule_id=w.rule_id,
            reason_zh=mask_ids_in(w.reason_zh),
            reason_en=mask_ids_in(w.reason_en),
            period=w.period,
        )
        for w in household.warnings
        if (w.period, w.rule_id) in taken
    )
    visits = [v for v in detail.visits if v.kind == "visit"]
    visit = visits[-1] if visits else None
    recorded = _last(detail.events, Action.RECORD_VISIT)
    income = _income(None if recorded is None else recorded.payload)
    cross = _last(detail.events, Action.RECORD_CROSS_CHECK)
    return CaseInfo.from_state(
        detail.case.state,
        warnings=warnings,
        income=None if income is None else income.info(None),
        visit_on=None if visit is None else visit.visited_at.date(),
        visitors=() if visit is None else _visitors(visit, detail.case.assignee),
        visit_findings="" if visit is None else mask_ids_in(_text(visit.findings)),
        cross_checks=() if cross is None else _cross_checks(cross.payload.get("results")),
        decisions=_decisions(detail.decisions, lang),
        **extra,
    )


def plan_info(
    plan: PlanView, household: HouseholdDetail, helper: str, catalogue: Catalogue
) -> PlanInfo:
    """The forms' plan input: active measures with their beneficiary and deliveries.

    Raises
    ------
    FormInputError
        When a measure is not in ``catalogue``.
    """
    names = {p.id_number: p.name for p in household.persons}
    measures = []
    for m in plan.active_measures:
        if m.measure_id not in catalogue:
            raise FormInputError(f"plan.measures: {m.measure_id!r} is not in the catalogue")
        spec = catalogue.measure(m.measure_id)
        person = ""
        if m.person_id_number:
            person = names.get(m.person_id_number) or mask_id_number(m.person_id_number) or ""
        deliveries = tuple(
            DeliveryInfo(on=d.delivered_on, amount=d.amount, note=mask_ids_in(d.note) or "")
            for d in m.deliveries
        )
        measures.append(
            MeasureInfo(
                name_zh=m.name_zh,
                name_en=m.name_en,
                category=spec.category,
                measure_id=m.measure_id,
                person=person,
                amount=m.amount if m.amount is not None else spec.typical_amount,
                unit=spec.unit,
                years=m.years,
                start_on=min((d.on for d in deliveries), default=None),
                status="in_progress" if deliveries else "planned",
                deliveries=deliveries,
                continues_after_elimination=spec.continues_after_elimination,
                note=mask_ids_in(m.edit_reason) or "",
            )
        )
    return PlanInfo(plan_id=str(plan.id), measures=tuple(measures), helper=helper)


def _status_label(status: str) -> tuple[str, str]:
    """The case status's Chinese and English label (the code when unknown)."""
    if status in set(CaseStatus):
        return STATUS_LABELS[CaseStatus(status)]
    return status, status


def _proposal(detail: CaseDetail) -> CaseEventItem:
    """The case's latest elimination proposal.

    Raises
    ------
    FormNotReadyError
        When risk elimination has not been proposed.
    """
    proposal = _last(detail.events, Action.PROPOSE_ELIMINATION)
    if proposal is None:
        case = detail.case
        zh, en = _status_label(case.status)
        raise FormNotReadyError(
            f"risk elimination has not been proposed for case {case.id} (status: {en})",
            f"案件 {case.id} 尚未启动风险消除（状态：{zh}）",
        )
    return proposal


def elimination_info(detail: CaseDetail, params: Mapping[str, Any], lang: Lang) -> EliminationInfo:
    """The elimination form's input from the proposal, the home check and the notice.

    ``params``: the policy parameters in force when elimination was proposed (the
    monitoring line, unless the payload's income recorded one).

    Raises
    ------
    FormNotReadyError
        Before risk elimination was proposed, or when no income was recorded with
        the visit, the proposal or the home check.
    """
    proposal = _proposal(detail)
    check = _last(detail.events, Action.RECORD_HOME_CHECK)
    visit = _last(detail.events, Action.RECORD_VISIT)
    extras: dict[str, Any] = {}
    for event in (visit, proposal, check):  # later steps override earlier ones
        if event is not None:
            extras.update({k: event.payload[k] for k in ELIMINATION_EXTRAS if k in event.payload})
    income = _income(extras)
    if income is None:
        raise FormNotReadyError(
            f"case {detail.case.id}: no income recorded (payload.income of propose_elimination "
            f"or record_home_check)",
            f"案件 {detail.case.id} 未登记家庭收入情况",
        )
    line = params.get("monitoring_line")
    homes = [v for v in detail.visits if v.kind == "home_check"]
    home = homes[-1] if homes else None
    notices = [n for n in detail.notices if n.kind == "elimination" and n.status != "withdrawn"]
    notice = notices[-1] if notices else None
    guarantees: list[GuaranteePayload] = _EXTRA_ADAPTERS["guarantees"].validate_python(
        extras.get("guarantees", [])
    )
    return EliminationInfo(
        income=income.info(float(line) if isinstance(line, int | float) else None),
        readiness_reason=mask_ids_in(
            proposal.reason or _text(proposal.payload.get("readiness_reason"))
        ),
        team=() if home is None else tuple(home.team),
        checked_on=None if home is None else home.visited_at.date(),
        findings="" if home is None else mask_ids_in(_text(home.findings)),
        labour_members=None if home is None else home.labour_members,
        stable_months=extras.get("stable_months"),
        rigid_expenditure_resolved=extras.get("rigid_expenditure_resolved"),
        guarantees=tuple(GuaranteeCheck(g.item, g.secure, g.note) for g in guarantees),
        notice_start=None if notice is None else notice.started_on,
        notice_end=(
            None
            if notice is None or notice.ended_on is None
            else notice.ended_on - dt.timedelta(days=1)
        ),
        notice_result=""
        if notice is None or notice.status != "ended"
        else (Action.END_NOTICE.label_zh, Action.END_NOTICE.label_en)[_i(lang)],
    )


def current_plan(detail: CaseDetail) -> PlanView | None:
    """The plan in force, else the latest draft (None when the case has no plan)."""
    for plan in detail.plans:
        if detail.case.plan_id is not None and str(plan.id) == detail.case.plan_id:
            return plan
    drafts = [p for p in detail.plans if p.status == "draft"]
    return drafts[-1] if drafts else None


def notice_reason(item: PublicNoticeItem, lang: Lang = "zh") -> str:
    """The reason printed for a household on a public-notice list (ID numbers masked).

    For identification, the main risk (once classified) and the home-visit
    findings; for elimination, why the risk is eliminated; "-" when unknown.
    """
    parts = []
    if item.kind == "identification" and item.main_cause:
        cause = item.main_cause
        if cause in set(RiskCause):
            cause = CAUSE_LABELS[RiskCause(cause)][_i(lang)]
        parts.append(cause)
    if item.reason and item.reason.strip():
        parts.append(mask_ids_in(item.reason.strip()))
    return ("；" if lang == "zh" else "; ").join(parts) or "-"


# ----------------------------------------------------------------------- exports


class FormFile(NamedTuple):
    """An exported form: the XLSX bytes and a file name to suggest."""

    data: bytes
    filename: str


class NoticeListFile(NamedTuple):
    """An exported public-notice list: the XLSX bytes, a file name to suggest, the
    number of households, and the period (``start``: the first day of display;
    ``end``: the last day the longest notice must stay on display)."""

    data: bytes
    filename: str
    households: int
    start: dt.date
    end: dt.date


def _audit_export(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    after: dict[str, Any],
    commit: bool,
) -> None:
    with transaction(session, commit=commit):
        record_event(
            session,
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before=None,
            after=after,
        )


def case_form(
    session: Session,
    case_id: str,
    kind: FormKind,
    area_prefix: str,
    *,
    lang: Lang = "zh",
    generated_by: str,
    generated_at: dt.datetime,
    file_name: str | None = None,
    commit: bool = True,
) -> FormFile:
    """A case's printable form as XLSX, its export recorded in the audit trail.

    Parameters
    ----------
    session
        Session on the operations database.
    case_id
        The case.
    kind
        ``screening`` (identification form, 识别登记表), ``elimination`` (risk-
        elimination assessment, 风险消除评估表: needs the proposal with the
        household's income, and the home check) or ``measures`` (record of
        assistance measures, 帮扶措施台账: the plan in force, else the latest draft).
    area_prefix
        The caller's area (``''`` = everything).
    lang
        ``zh`` or ``en`` for the labels.
    generated_by, generated_at
        Who exports and when (local time): printed in the footer and recorded as
        the audit event's actor; deadlines and ages are judged on ``generated_at``.
    file_name
        Name the caller saves the file under (recorded in the audit event; default:
        the suggested name).
    commit
        Commit the audit event (default).

    Returns
    -------
    FormFile
        The XLSX bytes and a suggested file name ``<kind>-<case id>.xlsx``.

    Raises
    ------
    NotFoundError
        When the case does not exist or is outside the area
        (:class:`FormDataNotFoundError` for its household).
    FormNotReadyError
        When the case has not recorded what the form needs: no plan (measures), no
        elimination proposal or no income (elimination).
    FormInputError
        When the form cannot be made from the recorded data (the field is named).
    DataError
        On an unknown ``kind``.
    """
    if kind not in FORM_KINDS:
        raise DataError(f"kind: unknown form {kind!r} (allowed: {list(FORM_KINDS)})")
    detail = case_detail(session, case_id, area_prefix, now=generated_at)
    case = detail.case
    household = household_detail(session, case.household_id, area_prefix)
    if household is None:
        raise FormDataNotFoundError(
            f"household {case.household_id} not found (or outside your area)",
            f"未找到农户 {case.household_id}（或不在您的区域内）",
        )
    about = household_info(household, lang, generated_at.date())
    plan = current_plan(detail)
    helper = case.assignee or ""
    footer: dict[str, Any] = {"generated_by": generated_by, "generated_at": generated_at}
    if kind == "screening":
        data = screening_form(about, case_info(detail, household, lang), lang, **footer)
    elif kind == "measures":
        if plan is None:
            raise FormNotReadyError(
                f"case {case.id} has no assistance plan yet", f"案件 {case.id} 还没有帮扶计划"
            )
        data = measures_record(
            about,
            case_info(detail, household, lang),
            plan_info(plan, household, helper, default_catalogue()),
            lang,
            **footer,
        )
    else:
        proposal = _proposal(detail)
        params = case_params(f"{proposal.at:%Y-%m}", case.village_code)
        assessment = elimination_info(detail, params, lang)
        data = elimination_form(
            about,
            case_info(detail, household, lang, elimination=assessment),
            PlanInfo(plan_id="-", measures=())
            if plan is None
            else plan_info(plan, household, helper, default_catalogue()),
            lang,
            params=params,
            **footer,
        )
    filename = f"{kind}-{case.id}.xlsx"
    _audit_export(
        session,
        actor=generated_by,
        action=FORM_EXPORT_ACTION,
        entity_type="case",
        entity_id=case.id,
        after={"form": kind, "lang": lang, "file": file_name or filename},
        commit=commit,
    )
    return FormFile(data, filename)


def _running_notices(
    session: Session, area_prefix: str, village_code: str, kind: str
) -> list[PublicNoticeItem]:
    """Every notice of ``kind`` on display in the village (all pages)."""
    items: list[PublicNoticeItem] = []
    page = 1
    while True:
        found = list_notices(
            session,
            area_prefix,
            village_code=village_code,
            kind=kind,
            status="running",
            page=page,
            page_size=MAX_PAGE_SIZE,
        )
        items.extend(found.items)
        if not found.has_next:
            return items
        page += 1


def notice_list_form(
    session: Session,
    area_prefix: str,
    *,
    village_code: str,
    kind: NoticeKind,
    lang: Lang = "zh",
    generated_by: str,
    generated_at: dt.datetime,
    contact: str = "",
    file_name: str | None = None,
    commit: bool = True,
) -> NoticeListFile:
    """A village's public-notice list (公示名单) of the cases whose ``kind`` notice runs.

    The period printed runs from the first notice's start to the last day the
    longest-running one must stay on display; its minimum length is the longest
    notice's (the pack's ``notice_days_*`` when it started). The export is recorded
    in the audit trail (``notice.export`` of the village, with the cases listed).

    Parameters
    ----------
    session
        Session on the operations database.
    area_prefix
        The caller's area (``''`` = everything).
    village_code
        The village (12 digits).
    kind
        ``identification`` or ``elimination``.
    lang
        ``zh`` or ``en`` for the labels.
    generated_by, generated_at
        Who exports and when: printed in the footer, recorded in the audit trail.
    contact
        Phone or office for objections (printed under the hotline text).
    file_name
        Name the caller saves the file under (recorded in the audit event; default:
        the suggested name).
    commit
        Commit the audit event (default).

    Returns
    -------
    NoticeListFile
        The XLSX bytes, a suggested file name ``notices-<village>-<kind>.xlsx``, the
        number of households and the period.

    Raises
    ------
    FormDataNotFoundError
        When no case of the village (in the area) has a running notice of ``kind``.
    FormInputError
        When the list cannot be made from the recorded data.
    DataError
        On an unknown ``kind`` or a bad area prefix.
    """
    if kind not in NOTICE_KINDS:
        raise DataError(f"kind: unknown notice {kind!r} (allowed: {list(NOTICE_KINDS)})")
    items = _running_notices(session, area_prefix, village_code, kind)
    if not items:
        zh, en = _NOTICE_KIND_WORDS[kind]
        raise FormDataNotFoundError(
            f"no case of village {village_code} has a running {en} notice",
            f"村 {village_code} 没有正在公示的{zh}案件",
        )
    types = {t.value for t in HouseholdType}
    entries = [
        NoticeEntry(
            head_name=n.head_name or n.household_id,
            village=n.village_name,
            members=max(n.members, 1),
            reason=notice_reason(n, lang),
            household_type=HouseholdType(n.household_type) if n.household_type in types else None,
        )
        for n in items
    ]
    start = min(n.started_on for n in items)
    end = max(n.earliest_end for n in items) - dt.timedelta(days=1)
    data = notice_list(
        entries,
        kind=kind,
        village=items[0].village_name or village_code,
        start=start,
        end=end,
        days=max((n.earliest_end - n.started_on).days for n in items),
        contact=contact,
        lang=lang,
        generated_by=generated_by,
        generated_at=generated_at,
    )
    filename = f"notices-{village_code}-{kind}.xlsx"
    _audit_export(
        session,
        actor=generated_by,
        action=NOTICE_EXPORT_ACTION,
        entity_type="village",
        entity_id=village_code,
        after={
            "kind": kind,
            "lang": lang,
            "file": file_name or filename,
            "cases": [n.case_id for n in items],
        },
        commit=commit,
    )
    return NoticeListFile(data, filename, len(entries), start, end)
