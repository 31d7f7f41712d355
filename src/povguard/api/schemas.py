"""Pydantic schemas of the JSON API (``Base`` = shared fields, ``Public`` = returned).

ID numbers are masked in every ``Public`` schema (see :mod:`povguard.api.privacy`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from povguard.api.privacy import mask_id_number, mask_ids_in, mask_name, suppress_small_counts
from povguard.store import HouseholdDetail, Overview, Page, PersonItem, WarningItem

WarningKind = Literal[
    "risk",
    "screening",
    "guarantee",
    "ineligibility",
    "elimination",
    "tier",
    "needs_verification",
    "prediction",
]
HouseholdType = Literal["unstable_former_poor", "edge", "sudden_hardship"]


class ErrorDetail(BaseModel):
    """What went wrong: a stable machine-readable code and a human message."""

    code: str = Field(description="stable error code, e.g. not_found, validation_error")
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    """Body of every error response of the API."""

    error: ErrorDetail


class CountPublic(BaseModel):
    """A count per key (None: unclassified)."""

    key: str | None
    count: int | None = Field(description="None: suppressed (small count, analyst role)")


class TownshipPublic(BaseModel):
    """Households and warnings of one township in the selected period."""

    code: str
    name: str
    households: int | None
    warned_households: int | None
    warnings: int | None


class OverviewPublic(BaseModel):
    """Headline numbers of an area for one period."""

    area_prefix: str
    period: str | None = Field(description="period of the warning counts (latest by default)")
    periods: list[str] = Field(description="periods with data, newest first")
    households: int | None = Field(description="None: suppressed (counts below min_cell_count)")
    persons: int | None
    former_poor: int | None
    former_poor_share: float | None
    warnings: int | None
    warned_households: int | None
    suppressed_below: int | None = Field(
        None, description="counts from 1 to this minus one are suppressed (analyst role)"
    )
    by_kind: list[CountPublic]
    by_type: list[CountPublic]
    by_rule: list[CountPublic]
    by_township: list[TownshipPublic]

    @classmethod
    def build(cls, data: Overview, periods: list[str], min_count: int = 0) -> OverviewPublic:
        """From the overview service's result, suppressing counts below ``min_count``."""
        values: dict[str, Any] = {**data, "periods": periods}
        if min_count > 1:
            values = suppress_small_counts(values, min_count)
            values["suppressed_below"] = min_count
            if values["former_poor"] is None or values["households"] is None:
                values["former_poor_share"] = None
        return cls.model_validate(values)


class WarningBase(BaseModel):
    """A warning as the screening stage produces it."""

    household_id: str
    rule_id: str
    rule_version: str = Field(description="version of the policy pack")
    severity: str
    kind: WarningKind
    household_type: HouseholdType | None
    reason_zh: str
    reason_en: str
    values: dict[str, Any] = Field(description="the real values the rule used")
    evidence: list[dict[str, Any]] = Field(
        description="records used: source, file, row and record fields (IDs masked)"
    )


class WarningPublic(WarningBase):
    """A stored warning with the household's village."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    period: str
    village_code: str
    village_name: str
    created_at: dt.datetime

    @classmethod
    def from_item(cls, item: WarningItem) -> WarningPublic:
        """From a service item, with ID numbers in values and evidence masked."""
        public = cls.model_validate(item)
        return public.model_copy(
            update={"values": mask_ids_in(item.values), "evidence": mask_ids_in(item.evidence)}
        )


class WarningPagePublic(BaseModel):
    """One page of warnings."""

    items: list[WarningPublic]
    total: int
    page: int
    page_size: int

    @classmethod
    def from_page(cls, page: Page[WarningItem]) -> WarningPagePublic:
        """From the list service's page."""
        return cls(
            items=[WarningPublic.from_item(i) for i in page.items],
            total=page.total,
            page=page.page,
            page_size=page.page_size,
        )


class PersonPublic(BaseModel):
    """A household member (ID number and name masked unless revealed)."""

    model_config = ConfigDict(from_attributes=True)

    id_number: str = Field(description="masked: 5201**********123X, unless revealed")
    name: str | None = Field(description="masked: 王*明, unless revealed")
    sex: str | None
    birth_date: dt.date | None
    relation: str | None
    ethnicity: str | None
    education: str | None
    school_status: str | None
    chronic_illness: bool
    serious_illness: bool
    disability_grade: int
    work_capacity: str | None
    migrant_worker: bool
    medical_insured: bool

    @classmethod
    def from_item(cls, item: PersonItem, *, reveal: bool = False) -> PersonPublic:
        """From a service item, masking the ID number and name unless ``reveal``."""
        public = cls.model_validate(item)
        if reveal:
            return public
        return public.model_copy(
            update={"id_number": mask_id_number(item.id_number) or "", "name": mask_name(item.name)}
        )


class RegionPublic(BaseModel):
    """A region of the household's chain (province to village)."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    level: str


class HouseholdPublic(BaseModel):
    """A household with its members and warnings (newest period first)."""

    id: str
    village_code: str
    village_name: str
    regions: list[RegionPublic]
    address: str | None
    head_name: str | None = Field(description="masked unless revealed")
    head_id_number: str | None = Field(description="masked unless revealed")
    members: int
    former_poor: bool
    revealed: bool = Field(False, description="names and ID numbers shown in full (audited)")
    registered_year: int | None
    exit_year: int | None
    registration_cause: str | None
    monitoring_status: str | None
    monitoring_type: str | None
    dibao: bool
    tekun: bool
    updated_period: str | None
    persons: list[PersonPublic]
    warnings: list[WarningPublic]

    @classmethod
    def from_detail(cls, detail: HouseholdDetail, *, reveal: bool = False) -> HouseholdPublic:
        """From the household service's detail, masking names and ID numbers unless
        ``reveal``."""
        return cls(
            id=detail.id,
            village_code=detail.village_code,
            village_name=detail.village_name,
            regions=[RegionPublic.model_validate(r) for r in detail.regions],
            address=detail.address,
            head_name=detail.head_name if reveal else mask_name(detail.head_name),
            head_id_number=(
                detail.head_id_number if reveal else mask_id_number(detail.head_id_number)
            ),
            members=detail.members,
            former_poor=detail.former_poor,
            revealed=reveal,
            registered_year=detail.registered_year,
            exit_year=detail.exit_year,
            registration_cause=detail.registration_cause,
            monitoring_status=detail.monitoring_status,
            monitoring_type=detail.monitoring_type,
            dibao=detail.dibao,
            tekun=detail.tekun,
            updated_period=detail.updated_period,
            persons=[PersonPublic.from_item(p, reveal=reveal) for p in detail.persons],
            warnings=[WarningPublic.from_item(w) for w in detail.warnings],
        )


class HealthPublic(BaseModel):
    """Liveness answer."""

    status: Literal["ok"] = "ok"
