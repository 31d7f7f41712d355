"""``/api/v1/overview``: headline numbers of the caller's area."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from povguard.api.deps import AreaDep, SessionDep
from povguard.api.schemas import OverviewPublic
from povguard.store import services

router = APIRouter(prefix="/overview", tags=["overview"])

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


@router.get("", response_model=OverviewPublic)
def read_overview(
    session: SessionDep,
    area: AreaDep,
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None,
) -> OverviewPublic:
    """Households, persons, former-poor share and the period's warnings by kind,
    household type, rule and township (latest period when none is given)."""
    data = services.overview(session, area_prefix=area, period=period)
    return OverviewPublic.build(data, services.periods(session))
