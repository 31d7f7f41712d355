"""Data pages: data quality per source and period, and the policy what-if."""

from __future__ import annotations

import json
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from povguard.api.deps import AreaDep, SettingsDep
from povguard.errors import ConfigError
from povguard.errors import NotFoundError as DataNotFoundError
from povguard.ingest.quality import QUALITY_COLUMNS
from povguard.policy import PackLibrary, PolicyPack, load_policy
from povguard.store.services import check_period
from povguard.store.services import views as view_services
from povguard.web.pages_work import labels_for
from povguard.web.templating import render

router = APIRouter(include_in_schema=False)

#: Quality columns shown in the page's table (the rest are in the exports).
SHOWN_COLUMNS: Final = (
    "period",
    "source",
    "department",
    "files",
    "files_failed",
    "rows_read",
    "rows_loaded",
    "rows_quarantined",
    "quarantine_rate",
    "completeness",
    "validity",
    "id_valid_rate",
    "uniqueness",
    "lag_median_days",
    "link_rate",
    "quarantine_reasons",
)
_LEVELS: Final = ("county", "township", "village")


def _columns() -> list[dict[str, str]]:
    by_name = {c[0]: c for c in QUALITY_COLUMNS}
    return [
        {"name": n, "zh": by_name[n][1], "en": by_name[n][2], "kind": by_name[n][3]}
        for n in SHOWN_COLUMNS
        if n in by_name
    ]


def _reasons(text: Any) -> dict[str, int]:
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return {str(k): int(v) for k, v in value.items()} if isinstance(value, dict) else {}


@router.get("/quality")
def quality_page(
    request: Request,
    area: AreaDep,
    settings: SettingsDep,
    source: Annotated[str, Query(max_length=64)] = "",
    period: Annotated[str, Query(max_length=7)] = "",
) -> Response:
    """What each department delivered per period: volume, quarantine, completeness,
    validity, uniqueness, timeliness and linkage (from the ingest's quality report)."""
    selected = check_period(period) if period else None
    with view_services.open_analytics(settings.engine, settings.home) as engine:
        rows = view_services.quality_report(
            engine, area_prefix=area, source=source.strip() or None, period=selected
        )
        every = view_services.quality_report(engine, area_prefix=area, limit=2000)
        store = engine is not None
    for row in rows:
        row["reasons"] = _reasons(row.get("quarantine_reasons"))
    return render(
        request,
        "quality.html",
        {
            "rows": rows,
            "columns": _columns(),
            "sources": sorted({str(r["source"]) for r in every}),
            "periods": sorted({str(r["period"]) for r in every}, reverse=True),
            "filters": {"source": source.strip(), "period": selected or ""},
            "store": store,
            "L": labels_for(request),
        },
    )


def _pack_parameters(policy: PolicyPack | PackLibrary, period: str, area: str) -> dict[str, Any]:
    try:
        pack = policy.select(period, area) if isinstance(policy, PackLibrary) else policy
    except ConfigError:
        return {}
    return dict(pack.parameters)


@router.get("/policy/what-if")
def what_if_page(
    request: Request,
    area: AreaDep,
    settings: SettingsDep,
    period: Annotated[str, Query(max_length=7)] = "",
    parameter: Annotated[str, Query(max_length=64)] = "",
    value: Annotated[str, Query(max_length=32)] = "",
    by: Annotated[str, Query(max_length=16)] = "township",
) -> Response:
    """Change one policy parameter and see which households the screen would flag.

    The simulation only reads (it is the service behind ``POST
    /api/v1/policy/simulate``), so the form is a GET form.
    """
    from povguard.policy.simulate import MAX_IDS_LISTED, simulate

    policy = load_policy()
    chosen = check_period(period) if period else ""
    params = _pack_parameters(policy, chosen or "2025-01", area)
    result: dict[str, Any] | None = None
    error: str | None = None
    by = by if by in _LEVELS else "township"
    if chosen and parameter:
        try:
            number = float(value)
        except ValueError:
            error = "whatif_bad_value"
        else:
            with view_services.open_analytics(settings.engine, settings.home) as engine:
                if engine is None:
                    error = "whatif_no_store"
                else:
                    try:
                        policy.with_overrides({parameter: number})
                        sim = simulate(
                            engine, chosen, policy, {parameter: number}, by=by, area_prefix=area
                        )
                        result = sim.to_dict(max_ids=MAX_IDS_LISTED)
                    except DataNotFoundError:
                        error = "whatif_no_data"
                    except ConfigError:
                        error = "whatif_bad_parameter"
    return render(
        request,
        "whatif.html",
        {
            "parameters": params,
            "filters": {"period": chosen, "parameter": parameter, "value": value, "by": by},
            "levels": _LEVELS,
            "result": result,
            "error": error,
            "L": labels_for(request),
        },
        status_code=422 if error in ("whatif_bad_value", "whatif_bad_parameter") else 200,
    )
