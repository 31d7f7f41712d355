"""Server-rendered pages: overview (map and trends), warning list, household.

The work pages (worklist, case board, case forms) are in
:mod:`povguard.web.pages_work`, the data pages (quality, policy what-if) in
:mod:`povguard.web.pages_data`; their routers are included in :data:`router`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from povguard.api.auth import CurrentUserDep, ForbiddenError, may
from povguard.api.deps import AreaDep, NowDep, SessionDep, SettingsDep
from povguard.api.errors import ApiError, NotFoundError
from povguard.store import HOUSEHOLD_TYPES, WARNING_KINDS, services
from povguard.store.services import MAX_PAGE, check_period
from povguard.store.services import views as view_services
from povguard.web import pages_data, pages_work
from povguard.web.charts import MapCell, Series, line_chart, region_map
from povguard.web.i18n import Translator
from povguard.web.pages_work import labels_for
from povguard.web.templating import page_url, render

router = APIRouter(include_in_schema=False)
router.include_router(pages_work.router)
router.include_router(pages_data.router)

#: Months shown by the overview's trends.
TREND_MONTHS = 12
#: Records per page of a household's timeline.
RECORDS_PAGE_SIZE = 50

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


def _shift(period: str, months: int) -> str:
    year, month = int(period[:4]), int(period[5:]) - 1 + months
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def _drill(area: str, drill: str) -> str:
    """The prefix shown: ``drill`` when inside the caller's area, else the area."""
    return drill if drill.startswith(area) else area


@router.get("/")
def overview_page(
    request: Request,
    session: SessionDep,
    area: AreaDep,
    period: Annotated[str | None, Query(max_length=7)] = None,
    region: Annotated[str, Query(max_length=12, pattern=r"^\d*$")] = "",
) -> Response:
    """Key figures, the at-risk map with drill-down, and monthly trends of the area."""
    available = services.periods(session)
    selected = _selected_period(period, available)
    if selected is None and available:
        selected = available[0]
    shown = _drill(area, region)
    data = services.overview(session, area_prefix=shown, period=selected)
    t = Translator(labels_for(request).lang)
    units = view_services.area_units(session, shown, data["period"])
    cells = []
    for u in units:
        href = (
            page_url(request, "/", period=data["period"], region=u.prefix)
            if u.level != "village"
            else page_url(request, "/worklist", period=data["period"], village=u.prefix)
        )
        rate = "-" if u.rate is None else f"{u.rate * 100:.1f}%"
        label = t("map_cell", name=u.name, rate=rate, warned=u.warned_households, n=u.households)
        cells.append(MapCell(u.prefix, u.name, u.lon, u.lat, u.rate, href, label))
    svg_map = region_map(
        cells, title=t("map_title"), legend_title=t("at_risk_rate"), no_data=t("no_households")
    )
    trend_points: list[view_services.TrendPoint] = []
    chart = None
    by_cause: list[view_services.CauseCount] = []
    if data["period"]:
        start = _shift(data["period"], -(TREND_MONTHS - 1))
        trend_points = view_services.trends(session, shown, start, data["period"])
        by_cause = view_services.monitored_by_cause(session, shown, start, data["period"])
        chart = line_chart(
            [p.period for p in trend_points],
            [
                Series(t("trend_warned"), [p.warned_households for p in trend_points]),
                Series(t("trend_monitored"), [p.monitored for p in trend_points]),
                Series(t("trend_eliminated"), [p.eliminated for p in trend_points]),
                Series(t("trend_relapsed"), [p.relapses for p in trend_points]),
            ],
            title=t("trends_title"),
        )
    return render(
        request,
        "overview.html",
        {
            "overview": data,
            "periods": available,
            "selected_period": data["period"],
            "region": shown if shown != area else "",
            "up_url": page_url(request, "/", period=data["period"], region=_up(shown, area)),
            "units": units,
            "svg_map": svg_map,
            "chart": chart,
            "trend_points": trend_points,
            "by_cause": by_cause,
            "L": labels_for(request),
        },
    )


def _up(shown: str, area: str) -> str:
    """The prefix one level above ``shown`` (not above the caller's area)."""
    for n in (9, 6):
        if len(shown) > n >= len(area):
            return shown[:n]
    return area if len(shown) > len(area) else ""


@router.get("/warnings")
def warnings_page(
    request: Request,
    session: SessionDep,
    area: AreaDep,
    period: Annotated[str | None, Query(max_length=7)] = None,
    rule: Annotated[str, Query(max_length=64)] = "",
    kind: Annotated[str, Query(max_length=32)] = "",
    household_type: Annotated[str, Query(max_length=32)] = "",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
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
    request: Request,
    household_id: str,
    session: SessionDep,
    area: AreaDep,
    settings: SettingsDep,
    now: NowDep,
    user: CurrentUserDep,
    records_page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    reveal: bool = False,
) -> Response:
    """A household: members (names and ID numbers masked; ``reveal=1`` shows them in
    full to officers who may, and writes the view to the audit trail), timeline of
    department records, indicators chart, warnings with evidence, its cases,
    history, plan and forms."""
    may_reveal = may(user, "reveal_personal")
    if reveal and not may_reveal:
        raise ForbiddenError(f"role {user.role!r} may not see names and ID numbers in full")
    detail = services.household_detail(session, household_id, area_prefix=area)
    if detail is None:
        raise NotFoundError(f"household {household_id!r} not found")
    if reveal:
        services.record_personal_view(
            session, user.username, detail.id, len(detail.persons), channel="web"
        )
    t = Translator(labels_for(request).lang)
    with view_services.open_analytics(settings.engine, settings.home) as engine:
        records = view_services.household_records(
            engine,
            session,
            household_id,
            area_prefix=area,
            page=records_page,
            page_size=RECORDS_PAGE_SIZE,
        )
        indicators = view_services.household_indicators(
            engine, session, household_id, area_prefix=area
        )
    chart = _indicator_chart(indicators, detail, t)
    cases = services.list_cases(session, area, household_id=household_id, now=now, page_size=20)
    case_ctx: dict[str, object] = {}
    current = next((c for c in cases.items if c.is_open), cases.items[0] if cases.items else None)
    if current is not None:
        case_detail = services.case_detail(session, current.id, area, now=now)
        case_ctx = pages_work.case_context(
            case_detail, now, view_services.list_cadres(session, area)
        )
    return render(
        request,
        "household.html",
        {
            "household": detail,
            "reveal": reveal,
            "may_reveal": may_reveal,
            "records": records,
            "chart": chart,
            "cases": cases.items,
            "case": None,
            **case_ctx,
            "flash": pages_work.flash_of(request),
            "next": "household",
            "L": labels_for(request),
        },
    )


#: Indicators of the household chart, with their message keys.
_CHARTED = (
    ("income_pc_12m", "ind_income_pc_12m"),
    ("rigid_12m", "ind_rigid_12m"),
    ("medical_oop_12m", "ind_medical_oop_12m"),
)


def _indicator_chart(
    rows: list[dict[str, object]], detail: services.HouseholdDetail, t: Translator
) -> object:
    """The household's indicators over time (from the analytics store, else from the
    values its warnings recorded); None when there is nothing to draw."""
    if not rows:
        by_period: dict[str, dict[str, object]] = {}
        for w in sorted(detail.warnings, key=lambda w: w.period):
            found = by_period.setdefault(w.period, {"period": w.period})
            for key, _ in _CHARTED:
                if isinstance(w.values.get(key), int | float):
                    found[key] = w.values[key]
        rows = list(by_period.values())
    series = []
    for key, label in _CHARTED:
        values = [r.get(key) for r in rows]
        numbers = [
            float(v) if isinstance(v, int | float | Decimal) and not isinstance(v, bool) else None
            for v in values
        ]
        if any(v is not None for v in numbers):
            series.append(Series(t(label), numbers))
    if not series:
        return None
    return line_chart(
        [str(r["period"]) for r in rows],
        series,
        title=t("indicators_title"),
        testid="indicator-chart",
    )
