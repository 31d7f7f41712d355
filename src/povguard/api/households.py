"""``/api/v1/households/{id}``: one household, its members and warnings."""

from __future__ import annotations

from fastapi import APIRouter

from povguard.api.deps import AreaDep, SessionDep
from povguard.api.errors import NotFoundError
from povguard.api.schemas import ErrorResponse, HouseholdPublic
from povguard.store import services

router = APIRouter(prefix="/households", tags=["households"])


@router.get(
    "/{household_id}",
    response_model=HouseholdPublic,
    responses={404: {"model": ErrorResponse, "description": "unknown or outside the area"}},
)
def read_household(household_id: str, session: SessionDep, area: AreaDep) -> HouseholdPublic:
    """A household with masked ID numbers; 404 when unknown or outside the area."""
    detail = services.household_detail(session, household_id, area_prefix=area)
    if detail is None:
        raise NotFoundError(f"household {household_id!r} not found")
    return HouseholdPublic.from_detail(detail)
