"""``/api/v1/warnings``: the warning list, filtered and paginated."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from povguard.api.deps import AreaDep, SessionDep
from povguard.api.schemas import HouseholdType, WarningKind, WarningPagePublic
from povguard.store import services
from povguard.store.services import MAX_PAGE, MAX_PAGE_SIZE, PERIOD_PATTERN

router = APIRouter(prefix="/warnings", tags=["warnings"])


@router.get("", response_model=WarningPagePublic)
def read_warnings(
    session: SessionDep,
    area: AreaDep,
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None,
    rule: Annotated[str | None, Query(max_length=64, description="rule id")] = None,
    kind: WarningKind | None = None,
    household_type: HouseholdType | None = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> WarningPagePublic:
    """Warnings of the caller's area, newest period first (all periods by default)."""
    result = services.list_warnings(
        session,
        period=period,
        area_prefix=area,
        kind=kind,
        rule_id=rule,
        household_type=household_type,
        page=page,
        page_size=page_size,
    )
    return WarningPagePublic.from_page(result)
