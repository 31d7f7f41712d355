"""``/api/v1/statistics?period=&level=``: households and warned households by region
one level below the caller's area (or ``level``), and monthly trends of warnings,
cases, monitored and eliminated households, relapses, and cases by risk cause."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from povguard.api.auth import CurrentUserDep, min_count_for
from povguard.api.deps import AreaDep, SessionDep, SettingsDep
from povguard.api.errors import ApiError
from povguard.api.privacy import suppress_small_counts
from povguard.api.schemas import ErrorResponse
from povguard.errors import DataError
from povguard.store import services
from povguard.store.services import PERIOD_PATTERN, views

router = APIRouter(prefix="/statistics", tags=["statistics"])

_DIGITS: Final = {"county": 6, "township": 9, "village": 12}


class RegionCountPublic(BaseModel):
    """Households and warned households of a region in the period."""

    code: str
    name: str
    level: str
    lon: float | None
    lat: float | None
    households: int | None = Field(description="None: suppressed (analyst, small count)")
    warned_households: int | None
    rate: float | None = Field(description="warned households / households")


class TrendPublic(BaseModel):
    """One month of trends."""

    period: str
    warnings: int | None = Field(description="None: suppressed (analyst, small count)")
    warned_households: int | None
    opened: int | None
    relapses: int | None
    monitored: int | None = Field(description="households monitored at the month's end")
    eliminated: int | None


class CauseCountPublic(BaseModel):
    """Cases opened in a period by main risk cause (null: not yet classified)."""

    period: str
    cause: str | None
    count: int | None = Field(description="None: suppressed (analyst, small count)")


class StatisticsPublic(BaseModel):
    """Counts by region for a period, and trends up to it."""

    period: str | None
    area_prefix: str
    regions: list[RegionCountPublic]
    trends: list[TrendPublic]
    by_cause: list[CauseCountPublic]
    suppressed_below: int | None = Field(
        None, description="counts from 1 to this minus one are suppressed (analyst role)"
    )

    def suppressed(self, min_count: int) -> StatisticsPublic:
        """A copy with counts below ``min_count`` suppressed (and their rates)."""
        if min_count <= 1:
            return self
        data = suppress_small_counts(self.model_dump(), min_count, STATISTICS_COUNTS)
        for region in data["regions"]:
            if region["households"] is None or region["warned_households"] is None:
                region["rate"] = None
        return StatisticsPublic.model_validate({**data, "suppressed_below": min_count})


#: Count fields of :class:`StatisticsPublic`.
STATISTICS_COUNTS: Final = frozenset(
    {"households", "warned_households", "warnings", "opened", "relapses", "monitored",
     "eliminated", "count"}
)  # fmt: skip


def _shift(period: str, months: int) -> str:
    year, month = int(period[:4]), int(period[5:]) - 1 + months
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


@router.get(
    "",
    response_model=StatisticsPublic,
    responses={422: {"model": ErrorResponse, "description": "bad period, level or months"}},
    operation_id="list_statistics",
)
def list_statistics(
    session: SessionDep,
    area: AreaDep,
    user: CurrentUserDep,
    settings: SettingsDep,
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None,
    level: Literal["county", "township", "village"] | None = None,
    region: Annotated[
        str, Query(pattern=r"^\d{0,12}$", description="prefix within your area")
    ] = "",
    months: Annotated[int, Query(ge=1, le=views.MAX_TREND_MONTHS)] = 12,
) -> StatisticsPublic:
    """Regions one level below ``region`` (default: your area), or the regions of
    ``level`` within it, with at-risk rates for ``period`` (default: latest); trends of
    the ``months`` months up to it. For analysts, counts below ``min_cell_count``
    are suppressed (None)."""
    shown = region if region.startswith(area) else area
    chosen = period or services.latest_period(session)
    try:
        units = views.area_units(session, shown, chosen)
        if level is not None:
            units = _at_level(session, shown, chosen, _DIGITS[level], units)
        trends = views.trends(session, shown, _shift(chosen, 1 - months), chosen) if chosen else []
        causes = (
            views.monitored_by_cause(session, shown, _shift(chosen, 1 - months), chosen)
            if chosen
            else []
        )
    except DataError as exc:
        raise ApiError(422, "validation_error", str(exc)) from exc
    return StatisticsPublic(
        period=chosen,
        area_prefix=shown,
        regions=[
            RegionCountPublic(
                code=u.code,
                name=u.name,
                level=u.level,
                lon=u.lon,
                lat=u.lat,
                households=u.households,
                warned_households=u.warned_households,
                rate=u.rate,
            )
            for u in units
        ],
        trends=[
            TrendPublic(
                period=t.period,
                warnings=t.warnings,
                warned_households=t.warned_households,
                opened=t.opened,
                relapses=t.relapses,
                monitored=t.monitored,
                eliminated=t.eliminated,
            )
            for t in trends
        ],
        by_cause=[CauseCountPublic(period=c.period, cause=c.cause, count=c.count) for c in causes],
    ).suppressed(min_count_for(user, settings))


def _at_level(
    session: SessionDep, shown: str, period: str | None, digits: int, units: list[views.AreaUnit]
) -> list[views.AreaUnit]:
    """The units of a deeper level: descend through each unit until ``digits``."""
    out: list[views.AreaUnit] = []
    for unit in units:
        if len(unit.prefix) >= digits:
            out.append(unit)
        else:
            out.extend(_at_level(session, unit.prefix, period, digits,
                                 views.area_units(session, unit.prefix, period)))  # fmt: skip
    return out
