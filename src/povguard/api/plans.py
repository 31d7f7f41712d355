"""``/api/v1/plans``: assistance plans of monitored cases (schemas in :mod:`povguard.api.cases`).

Endpoints (operation id in brackets):

- ``POST /cases/{id}/plan/recommend`` [``recommend_plan``]: a draft plan from the
  case's risk causes and the household's situation (an earlier draft is superseded);
- ``GET /plans/{id}`` [``read_plan``];
- ``PATCH /plans/{id}`` [``edit_plan``]: accept, add, replace or remove a measure of a
  draft (``expected_version`` = the plan's version);
- ``POST /plans/{id}/accept`` [``accept_plan``]: the ``accept_plan`` transition of the
  case (``expected_version`` = the case's version; idempotent with a key);
- ``POST /plans/{id}/measures/{measure_id}/deliveries`` [``record_delivery``]: what
  was delivered under an accepted measure (``measure_id``: the plan measure's id, or
  the catalogue's measure id).

A measure's beneficiary (``person_id_number``) may be given in full or masked as the
API shows it (``5201**********1234``); a masked number must match exactly one member
of the household. Errors as in :mod:`povguard.api.cases`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from povguard.api.cases import (
    DeliveryPublic,
    HeaderKey,
    PlanPublic,
    TransitionPublic,
    error_responses,
    idempotency_key,
    service_errors,
    set_replay,
    transition_public,
)
from povguard.api.deps import ActorDep, AreaDep, NowDep, SessionDep
from povguard.api.errors import ApiError, NotFoundError
from povguard.api.privacy import ID_NUMBER_RE, mask_id_number
from povguard.cases import default_catalogue
from povguard.store import services
from povguard.store.models import IDEMPOTENCY_KEY_LEN
from povguard.store.services import MAX_ID, PlanView
from povguard.store.services.case_forms import FiniteFloat

router = APIRouter(tags=["plans"])

GuaranteeGap = Literal["medical", "education", "housing", "water"]


class RecommendPlanRequest(BaseModel):
    """The household's situation the recommendation needs (its risks are the case's)."""

    model_config = ConfigDict(extra="forbid")

    labour_members: int = Field(ge=0, description="members able to work")
    has_stable_income: bool
    has_legal_supporter: bool = Field(True, description="someone legally bound to support them")
    guarantee_gaps: list[GuaranteeGap] = Field(
        default_factory=list, description="guarantees or water not secure"
    )
    current_measures: list[str] = Field(
        default_factory=list, description="catalogue ids of measures the household already has"
    )


class PlanEditRequest(BaseModel):
    """One edit of a draft plan."""

    model_config = ConfigDict(extra="forbid")

    operation: Literal["accept", "add", "replace", "remove"]
    measure_id: str = Field(
        min_length=1, max_length=64, description="the measure (for replace: the one replaced)"
    )
    new_measure_id: str | None = Field(None, max_length=64, description="replace: the new one")
    reason_zh: str = Field("", description="required for add and replace")
    reason_en: str = ""
    amount: FiniteFloat | None = Field(None, ge=0)
    years: FiniteFloat | None = Field(None, gt=0)
    person_id_number: str | None = Field(
        None, max_length=32, description="the member it is for, in full or masked"
    )
    expected_version: int | None = Field(None, ge=1, description="the plan version seen")


class AcceptPlanRequest(BaseModel):
    """Accept a draft plan: the case moves to ``assisted``."""

    model_config = ConfigDict(extra="forbid")

    expected_version: int = Field(ge=1, description="the case version seen")
    idempotency_key: str | None = Field(None, max_length=IDEMPOTENCY_KEY_LEN)


class DeliveryRequest(BaseModel):
    """Assistance delivered under a measure."""

    model_config = ConfigDict(extra="forbid")

    delivered_on: dt.date
    amount: FiniteFloat | None = Field(None, ge=0, description="yuan, if money")
    note: str | None = Field(None, max_length=2000)


PlanId = Annotated[int, Path(ge=1, le=MAX_ID, description="the plan's id")]


def _person(session: Session, plan: PlanView, given: str | None, area: str) -> str | None:
    """The full ID number of the member ``given`` names (in full or masked)."""
    if given is None or not given.strip():
        return None
    value = given.strip().upper()
    if ID_NUMBER_RE.match(value):
        return value
    case = services.get_case(session, plan.case_id, area)
    household = services.household_detail(session, case.household_id, area)
    members = [] if household is None else [p.id_number for p in household.persons]
    found = [n for n in members if (mask_id_number(n) or "").upper() == value]
    if len(found) != 1:
        raise ApiError(
            422,
            "validation_error",
            f"person_id_number: {given!r} names {'no' if not found else 'more than one'} "
            f"member of household {case.household_id}",
        )
    return found[0]


@router.post(
    "/cases/{case_id}/plan/recommend",
    response_model=PlanPublic,
    status_code=201,
    responses=error_responses(404, 409, 422),
    operation_id="recommend_plan",
)
def recommend_plan(
    case_id: str,
    body: RecommendPlanRequest,
    session: SessionDep,
    area: AreaDep,
    actor: ActorDep,
) -> PlanPublic:
    """A draft plan for a monitored case (409 before the county set its risk causes)."""
    cat = default_catalogue()
    with service_errors():
        plan = services.recommend_plan(
            session,
            case_id,
            labour_members=body.labour_members,
            has_stable_income=body.has_stable_income,
            has_legal_supporter=body.has_legal_supporter,
            guarantee_gaps=body.guarantee_gaps,
            current_measures=body.current_measures,
            actor=actor,
            area_prefix=area,
            catalogue=cat,
        )
    return PlanPublic.from_view(plan, cat)


@router.get(
    "/plans/{plan_id}",
    response_model=PlanPublic,
    responses=error_responses(404),
    operation_id="read_plan",
)
def read_plan(plan_id: PlanId, session: SessionDep, area: AreaDep) -> PlanPublic:
    """A plan with its measures and deliveries; 404 when its case is outside the area."""
    with service_errors():
        plan = services.get_plan(session, plan_id, area)
    return PlanPublic.from_view(plan)


@router.patch(
    "/plans/{plan_id}",
    response_model=PlanPublic,
    responses=error_responses(404, 409, 422),
    operation_id="edit_plan",
)
def edit_plan(
    plan_id: PlanId, body: PlanEditRequest, session: SessionDep, area: AreaDep, actor: ActorDep
) -> PlanPublic:
    """Accept, add, replace or remove a measure of a draft plan.

    409 ``conflict`` when the plan is not a draft, changed since ``expected_version``,
    or already has the measure; 422 for a blank reason, an amount beyond the
    measure's limits or a person outside the household; 404 for a measure not in the
    plan or the catalogue.
    """
    cat = default_catalogue()
    with service_errors():
        plan = services.get_plan(session, plan_id, area, catalogue=cat)
        person = _person(session, plan, body.person_id_number, area)
        edited = services.edit_plan(
            session,
            plan_id,
            body.operation,
            measure_id=body.measure_id,
            actor=actor,
            area_prefix=area,
            new_measure_id=body.new_measure_id,
            reason_zh=body.reason_zh,
            reason_en=body.reason_en,
            amount=body.amount,
            years=body.years,
            person_id_number=person,
            expected_version=body.expected_version,
            catalogue=cat,
        )
    return PlanPublic.from_view(edited, cat)


@router.post(
    "/plans/{plan_id}/accept",
    response_model=TransitionPublic,
    responses=error_responses(404, 409, 422),
    operation_id="accept_plan",
)
def accept_plan(
    plan_id: PlanId,
    body: AcceptPlanRequest,
    response: Response,
    session: SessionDep,
    area: AreaDep,
    actor: ActorDep,
    now: NowDep,
    header_key: HeaderKey = None,
) -> TransitionPublic:
    """Accept a draft plan with measures: the case's ``accept_plan`` transition."""
    key = idempotency_key(body.idempotency_key, header_key)
    with service_errors():
        view = services.accept_plan(
            session,
            plan_id,
            expected_version=body.expected_version,
            actor=actor,
            at=now,
            area_prefix=area,
            idempotency_key=key,
        )
    set_replay(response, view.replay)
    return transition_public(view, now)


@router.post(
    "/plans/{plan_id}/measures/{measure_id}/deliveries",
    response_model=DeliveryPublic,
    status_code=201,
    responses=error_responses(404, 409, 422),
    operation_id="record_delivery",
)
def record_delivery(
    plan_id: PlanId,
    measure_id: Annotated[str, Path(max_length=64, description="plan measure id or catalogue id")],
    body: DeliveryRequest,
    session: SessionDep,
    area: AreaDep,
    actor: ActorDep,
) -> DeliveryPublic:
    """Record a delivery under an accepted measure of the plan in force."""
    with service_errors():
        plan = services.get_plan(session, plan_id, area)
        found = [
            m
            for m in plan.measures
            if str(m.id) == measure_id or (m.measure_id == measure_id and m.status != "removed")
        ]
        if not found:
            raise NotFoundError(f"measure {measure_id} of plan {plan_id} not found")
        item = services.record_delivery(
            session,
            found[0].id,
            delivered_on=body.delivered_on,
            actor=actor,
            area_prefix=area,
            amount=body.amount,
            note=body.note,
        )
    return DeliveryPublic.from_item(item)
