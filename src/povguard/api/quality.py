"""``/api/v1/quality?source=&period=``: the ingest's data-quality report per source and
delivery period (table ``quality`` of the analytics store; empty without one)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from povguard.api.deps import AreaDep, SettingsDep
from povguard.api.schemas import ErrorResponse
from povguard.store.services import PERIOD_PATTERN, views

router = APIRouter(prefix="/quality", tags=["quality"])


class QualityRowPublic(BaseModel):
    """Quality of one source's delivery for one period (rates in [0, 1]; null: unknown)."""

    period: str
    source: str
    department: str | None = None
    department_en: str | None = None
    files: int | None = None
    files_failed: int | None = None
    rows_read: int | None = None
    rows_loaded: int | None = None
    rows_quarantined: int | None = None
    quarantine_rate: float | None = None
    completeness: float | None = None
    completeness_required: float | None = None
    validity: float | None = None
    id_valid_rate: float | None = None
    uniqueness: float | None = None
    duplicate_rows: int | None = None
    lag_median_days: float | None = None
    lag_max_days: int | None = None
    link_rate: float | None = None
    quarantine_reasons: str | None = Field(None, description='JSON {"reason": rows}')


@router.get(
    "",
    response_model=list[QualityRowPublic],
    responses={422: {"model": ErrorResponse, "description": "bad period"}},
    operation_id="list_quality",
)
def list_quality(
    area: AreaDep,
    settings: SettingsDep,
    source: Annotated[str | None, Query(max_length=64)] = None,
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None,
) -> list[QualityRowPublic]:
    """Quality rows, newest period first (at most 500)."""
    with views.open_analytics(settings.engine, settings.home) as engine:
        rows = views.quality_report(engine, area_prefix=area, source=source, period=period)
    fields = set(QualityRowPublic.model_fields)
    out: list[QualityRowPublic] = []
    for row in rows:
        data: dict[str, Any] = {k: v for k, v in row.items() if k in fields}
        out.append(QualityRowPublic.model_validate(data))
    return out
