"""``/api/v1/measures``: the measure catalogue of assistance plans (``povguard.cases``)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from povguard.cases import default_catalogue

router = APIRouter(prefix="/measures", tags=["measures"])


class MeasurePublic(BaseModel):
    """One assistance measure of the catalogue."""

    id: str
    name_zh: str
    name_en: str
    category: str
    kind: str
    causes: list[str] = Field(description="risk causes the measure addresses")
    gaps: list[str] = Field(description="guarantee gaps it closes")
    typical_amount: float | None = Field(description="yuan, in the measure's unit")
    unit: str | None
    max_amount: float | None
    max_years: float | None
    continues_after_elimination: str


class CataloguePublic(BaseModel):
    """The measure catalogue."""

    version: str
    measures: list[MeasurePublic]


@router.get("", response_model=CataloguePublic, operation_id="list_measures")
def list_measures() -> CataloguePublic:
    """The packaged measure catalogue: every measure with its causes and limits."""
    cat = default_catalogue()
    return CataloguePublic(
        version=cat.version,
        measures=[
            MeasurePublic(
                id=m.id,
                name_zh=m.name_zh,
                name_en=m.name_en,
                category=str(m.category),
                kind=str(m.kind),
                causes=[str(c) for c in m.causes],
                gaps=[str(g) for g in m.gaps],
                typical_amount=m.typical_amount,
                unit=None if m.unit is None else str(m.unit),
                max_amount=m.limits.max_amount,
                max_years=m.limits.max_years,
                continues_after_elimination=str(m.continues_after_elimination),
            )
            for m in cat.measures
        ],
    )
