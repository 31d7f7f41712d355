"""Server-rendered pages: overview, warning list, household."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from povguard.api.deps import AreaDep, SessionDep
from povguard.api.errors import ApiError, NotFoundError
from povguard.store import HOUSEHOLD_TYPES, WARNING_KINDS, services
from povguard.store.services import check_period
from povguard.web.templating import render

router = APIRouter(include_in_schema=False)

#: Warnings per page of the list.
PAGE_SIZE = 50
#: Value of the period selector that lists every period.
ALL_PERIODS = "all"


def _selected_period(period: str | None, available: list[str]) -> str | None:
    """The period asked for: latest when absent, None for "all", else validated."""
    if period is None or period == "":
        return available[0] if available else None
    if period == ALL_PERIODS:
        return None
    return check_period(period)


def _bad_request(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


@router.get("/")
def overview_page(
    request: Request,
    session: SessionDep,
    area: AreaDep,
    period: Annotated[str | None, Query(max_length=7)] = None,
) -> Response:
    """Counts of the area and the period's warnings by type, rule and township."""
    available = services.periods(session)
    selected = _selected_period(period, available)
    if selected is None and available:
        selected = available[0]
    data = services.overview(session, area_prefix=area, period=selected)
    return render(
        request,
        "overview.html",
        {"overview": data, "periods": available, "selected_period": data["period"]},
    )


@router.get("/warnings")
def warnings_page(
    request: Request,
    session: SessionDep,
    area: AreaDep,
    period: Annotated[str | None, Query(max_length=7)] = None,
    rule: Annotated[str, Query(max_length=64)] = "",
    kind: Annotated[str, Query(max_length=32)] = "",
    household_type: Annotated[str, Query(max_length=32)] = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    """The warning list (latest period by default; ``period=all`` for every period)."""
    if kind and kind not in WARNING_KINDS:
        raise _bad_request(f"unknown kind {kind!r}")
    if household_type and household_type not in HOUSEHOLD_TYPES:
        raise _bad_request(f"unknown household type {household_type!r}")
    available = services.periods(session)
    selected = _selected_period(period, available)
    result = services.list_warnings(
        session,
        period=selected,
        area_prefix=area,
        kind=kind or None,
        rule_id=rule.strip() or None,
        household_type=household_type or None,
        page=page,
        page_size=PAGE_SIZE,
    )
    filters = {
        "period": selected or ALL_PERIODS,
        "rule": rule.strip(),
        "kind": kind,
        "household_type": household_type,
    }
    return render(
        request,
        "warnings.html",
        {
            "result": result,
            "periods": available,
            "selected_period": selected,
            "all_periods": ALL_PERIODS,
            "filters": filters,
            "kinds": WARNING_KINDS,
            "household_types": HOUSEHOLD_TYPES,
        },
    )


@router.get("/households/{household_id}")
def household_page(
    request: Request, household_id: str, session: SessionDep, area: AreaDep
) -> Response:
    """A household: members (ID numbers masked) and its warnings by period."""
    detail = services.household_detail(session, household_id, area_prefix=area)
    if detail is None:
        raise NotFoundError(f"household {household_id!r} not found")
    return render(request, "household.html", {"household": detail})
