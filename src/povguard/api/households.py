"""``/api/v1/households/{id}``: one household, its members and warnings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from povguard.api.auth import CurrentUserDep, ForbiddenError, may
from povguard.api.deps import AreaDep, SessionDep
from povguard.api.errors import NotFoundError
from povguard.api.schemas import ErrorResponse, HouseholdPublic
from povguard.store import services

router = APIRouter(prefix="/households", tags=["households"])


@router.get(
    "/{household_id}",
    response_model=HouseholdPublic,
    operation_id="read_household",
    responses={
        403: {"model": ErrorResponse, "description": "reveal asked by a role that may not"},
        404: {"model": ErrorResponse, "description": "unknown or outside the area"},
    },
)
def read_household(
    household_id: str,
    session: SessionDep,
    area: AreaDep,
    user: CurrentUserDep,
    reveal: Annotated[
        bool, Query(description="names and ID numbers in full (audited; officers only)")
    ] = False,
) -> HouseholdPublic:
    """A household with names and ID numbers masked; 404 when unknown or outside the
    area. With ``reveal=true`` (county, township and village officers) they are shown
    in full and the view is written to the audit trail."""
    if reveal and not may(user, "reveal_personal"):
        raise ForbiddenError(f"role {user.role!r} may not see names and ID numbers in full")
    detail = services.household_detail(session, household_id, area_prefix=area)
    if detail is None:
        raise NotFoundError(f"household {household_id!r} not found")
    if reveal:
        services.record_personal_view(session, user.username, detail.id, len(detail.persons))
    return HouseholdPublic.from_detail(detail, reveal=reveal)
