"""``/api/v1/overview``: headline numbers of the caller's area."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from povguard.api.auth import CurrentUserDep, min_count_for
from povguard.api.deps import AreaDep, SessionDep, SettingsDep
from povguard.api.schemas import OverviewPublic
from povguard.store import services
from povguard.store.services import PERIOD_PATTERN

router = APIRouter(prefix="/overview", tags=["overview"])


@router.get("", response_model=OverviewPublic)
def read_overview(
    session: SessionDep,
    area: AreaDep,
    user: CurrentUserDep,
    settings: SettingsDep,
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None,
) -> OverviewPublic:
    """Households, persons, former-poor share and the period's warnings by kind,
    household type, rule and township (latest period when none is given). For
    analysts, counts below ``min_cell_count`` are suppressed (None)."""
    data = services.overview(session, area_prefix=area, period=period)
    return OverviewPublic.build(data, services.periods(session), min_count_for(user, settings))
