"""Read side: overview, warning lists, household details, periods.

Every query that touches households is restricted to an area: the household's
village code must start with ``area_prefix`` (``""`` is the whole database). A
household outside the area is invisible: :func:`household_detail` returns None.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypedDict, TypeVar

from sqlalchemy import ColumnElement, Select, case, distinct, func, literal, select, union
from sqlalchemy.orm import Session, aliased

from povguard.errors import DataError
from povguard.store.models import (
    HOUSEHOLD_TYPES,
    WARNING_KINDS,
    CycleRun,
    Household,
    HouseholdWarning,
    Person,
    Region,
)
from povguard.store.services._common import area_range, check_area_prefix, check_period, in_area

T = TypeVar("T")

#: Largest page size a caller may ask for.
MAX_PAGE_SIZE: Final = 500
#: Highest page number a caller may ask for (50 million rows at the largest size).
MAX_PAGE: Final = 100_000
#: Largest database id a caller may name (64-bit signed integer).
MAX_ID: Final = 2**63 - 1


class CountItem(TypedDict):
    """A count per key (a kind, a household type or a rule id; None when unset)."""

    key: str | None
    count: int


class TownshipCount(TypedDict):
    """Households and warnings of one township."""

    code: str
    name: str
    households: int
    warned_households: int
    warnings: int


class Overview(TypedDict):
    """Counts for the overview page, within an area and for one period."""

    area_prefix: str
    period: str | None
    households: int
    persons: int
    former_poor: int
    former_poor_share: float | None
    warnings: int
    warned_households: int
    by_kind: list[CountItem]
    by_type: list[CountItem]
    by_rule: list[CountItem]
    by_township: list[TownshipCount]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a longer list."""

    items: list[T]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def has_next(self) -> bool:
        """Whether a page follows this one."""
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        """Whether a page precedes this one."""
        return self.page > 1


@dataclass(frozen=True, slots=True)
class WarningItem:
    """A warning with the household's village."""

    id: int
    period: str
    household_id: str
    village_code: str
    village_name: str
    rule_id: str
    rule_version: str
    severity: str
    kind: str
    household_type: str | None
    reason_zh: str
    reason_en: str
    values: dict[str, Any]
    evidence: list[dict[str, Any]]
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class PersonItem:
    """A household member (raw values: mask before showing)."""

    id_number: str
    name: str | None
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


@dataclass(frozen=True, slots=True)
class RegionRef:
    """Code and name of a region."""

    code: str
    name: str
    level: str


@dataclass(frozen=True, slots=True)
class HouseholdDetail:
    """A household with its members and its warnings over time (newest first)."""

    id: str
    village_code: str
    regions: list[RegionRef]
    address: str | None
    head_name: str | None
    head_id_number: str | None
    members: int
    former_poor: bool
    registered_year: int | None
    exit_year: int | None
    registration_cause: str | None
    monitoring_status: str | None
    monitoring_type: str | None
    dibao: bool
    tekun: bool
    updated_period: str | None
    persons: list[PersonItem] = field(default_factory=list)
    warnings: list[WarningItem] = field(default_factory=list)

    @property
    def village_name(self) -> str:
        """Name of the household's village ("" if unknown)."""
        return next((r.name for r in self.regions if r.level == "village"), "")

    @property
    def warnings_by_period(self) -> list[tuple[str, list[WarningItem]]]:
        """The warnings grouped by period, newest period first."""
        groups: dict[str, list[WarningItem]] = {}
        for item in self.warnings:
            groups.setdefault(item.period, []).append(item)
        return sorted(groups.items(), key=lambda kv: kv[0], reverse=True)


def _ordered(counts: dict[str | None, int], order: Sequence[str]) -> list[CountItem]:
    keys: list[str | None] = [k for k in order if k in counts]
    keys += sorted((k for k in counts if k not in order and k is not None), key=str)
    if None in counts:
        keys.append(None)
    return [CountItem(key=k, count=counts[k]) for k in keys]


def latest_period(session: Session) -> str | None:
    """The newest period that has warnings or a cycle run (None when there is none)."""
    found = periods(session)
    return found[0] if found else None


def periods(session: Session) -> list[str]:
    """Periods with warnings or cycle runs, newest first.

    Parameters
    ----------
    session
        Session on the operations database.

    Returns
    -------
    list of str
        ``YYYY-MM`` strings.
    """
    stmt = union(
        select(HouseholdWarning.period).distinct(), select(CycleRun.period).distinct()
    ).subquery()
    return sorted(session.scalars(select(stmt.c.period)), reverse=True)


def household_count(session: Session, area_prefix: str = "") -> int:
    """Number of registered households in the area (cheap check for a loaded registry).

    Parameters
    ----------
    session
        Session on the operations database.
    area_prefix
        Region-code prefix of the area (``""``: everything).

    Returns
    -------
    int
    """
    area = in_area(Household.village_code, check_area_prefix(area_prefix))
    return int(session.scalar(select(func.count()).select_from(Household).where(area)) or 0)


def overview(session: Session, area_prefix: str = "", period: str | None = None) -> Overview:
    """Counts of households, persons, former-poor households and warnings.

    Parameters
    ----------
    session
        Session on the operations database.
    area_prefix
        Region-code prefix of the area (``""``: everything).
    period
        ``YYYY-MM`` of the warnings to count; the latest period when None.

    Returns
    -------
    Overview
        ``households``, ``persons``, ``former_poor`` (count) and
        ``former_poor_share``; the period's ``warnings`` and ``warned_households``;
        ``by_kind``, ``by_type`` (household type, None = unclassified) and
        ``by_rule`` (most frequent first) as ``{key, count}`` lists; ``by_township``
        with households, warned households and warnings per township (most warned
        first).
    """
    check_area_prefix(area_prefix)
    if period is None:
        period = latest_period(session)
    else:
        check_period(period)
    area = in_area(Household.village_code, area_prefix)

    n_households, n_former = session.execute(
        select(func.count(), func.count(case((Household.former_poor, 1)))).where(area)
    ).one()
    n_persons = session.scalar(select(func.count()).select_from(Person).join(Household).where(area))

    counts: dict[tuple[str, str | None, str], int] = {}
    warned = 0
    if period is not None:
        grouped = session.execute(
            select(
                HouseholdWarning.kind,
                HouseholdWarning.household_type,
                HouseholdWarning.rule_id,
                func.count(),
            )
            .join(Household, Household.id == HouseholdWarning.household_id)
            .where(area, HouseholdWarning.period == period)
            .group_by(
                HouseholdWarning.kind, HouseholdWarning.household_type, HouseholdWarning.rule_id
            )
        ).all()
        counts = {(kind, htype, rule): n for kind, htype, rule, n in grouped}
        warned = (
            session.scalar(
                select(func.count(distinct(HouseholdWarning.household_id)))
                .join(Household, Household.id == HouseholdWarning.household_id)
                .where(area, HouseholdWarning.period == period)
            )
            or 0
        )
    by_kind: dict[str | None, int] = {}
    by_type: dict[str | None, int] = {}
    by_rule: dict[str, int] = {}
    for (kind, htype, rule), n in counts.items():
        by_kind[kind] = by_kind.get(kind, 0) + n
        by_type[htype] = by_type.get(htype, 0) + n
        by_rule[rule] = by_rule.get(rule, 0) + n

    return Overview(
        area_prefix=area_prefix,
        period=period,
        households=int(n_households),
        persons=int(n_persons or 0),
        former_poor=int(n_former),
        former_poor_share=(n_former / n_households) if n_households else None,
        warnings=sum(counts.values()),
        warned_households=int(warned),
        by_kind=_ordered(by_kind, WARNING_KINDS),
        by_type=_ordered(by_type, HOUSEHOLD_TYPES),
        by_rule=[
            CountItem(key=rule, count=n)
            for rule, n in sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        by_township=_by_township(session, area_prefix, period),
    )


def _township(code: str, households: int = 0) -> TownshipCount:
    return TownshipCount(code=code, name="", households=households, warned_households=0, warnings=0)


def _by_township(session: Session, area_prefix: str, period: str | None) -> list[TownshipCount]:
    area = in_area(Household.village_code, area_prefix)
    village = aliased(Region, name="village")
    township = aliased(Region, name="township")
    code = func.coalesce(village.parent_code, literal(""))
    households = session.execute(
        select(code, func.count())
        .select_from(Household)
        .join(village, village.code == Household.village_code)
        .where(area)
        .group_by(code)
    ).all()
    out: dict[str, TownshipCount] = {
        str(c): TownshipCount(
            code=str(c), name="", households=int(n), warned_households=0, warnings=0
        )
        for c, n in households
    }
    if period is not None:
        warned = session.execute(
            select(code, func.count(distinct(HouseholdWarning.household_id)), func.count())
            .select_from(HouseholdWarning)
            .join(Household, Household.id == HouseholdWarning.household_id)
            .join(village, village.code == Household.village_code)
            .where(area, HouseholdWarning.period == period)
            .group_by(code)
        ).all()
        for c, n_households, n_warnings in warned:
            item = out.setdefault(str(c), _township(str(c)))
            item["warned_households"] = int(n_households)
            item["warnings"] = int(n_warnings)
    codes = [c for c in out if c]
    if codes:
        for c, name in session.execute(
            select(township.code, township.name).where(township.code.in_(codes))
        ):
            out[c]["name"] = name
    return sorted(out.values(), key=lambda t: (-t["warned_households"], -t["warnings"], t["code"]))


def _warning_select() -> Select[HouseholdWarning, str, str]:
    return select(HouseholdWarning, HouseholdWarning.village_code, Region.name).join(
        Region, Region.code == HouseholdWarning.village_code
    )


def _warning_item(w: HouseholdWarning, village_code: str, village_name: str) -> WarningItem:
    return WarningItem(
        id=w.id,
        period=w.period,
        household_id=w.household_id,
        village_code=village_code,
        village_name=village_name,
        rule_id=w.rule_id,
        rule_version=w.rule_version,
        severity=w.severity,
        kind=w.kind,
        household_type=w.household_type,
        reason_zh=w.reason_zh,
        reason_en=w.reason_en,
        values=dict(w.values or {}),
        evidence=list(w.evidence or []),
        created_at=w.created_at,
    )


def list_warnings(
    session: Session,
    period: str | None = None,
    area_prefix: str = "",
    kind: str | None = None,
    rule_id: str | None = None,
    page: int = 1,
    page_size: int = 50,
    household_type: str | None = None,
) -> Page[WarningItem]:
    """One page of warnings, newest period first, then by village, household and rule.

    Parameters
    ----------
    session
        Session on the operations database.
    period
        ``YYYY-MM``; every period when None.
    area_prefix
        Region-code prefix of the area (``""``: everything).
    kind, rule_id, household_type
        Optional filters (exact matches).
    page
        1-based page number; a page past the end is empty.
    page_size
        Items per page, 1 to :data:`MAX_PAGE_SIZE`.

    Returns
    -------
    Page of WarningItem
        The items and the total number of matching warnings.

    Raises
    ------
    DataError
        On an invalid period, page or page size.
    """
    check_area_prefix(area_prefix)
    if not 1 <= page <= MAX_PAGE:
        raise DataError(f"page must be between 1 and {MAX_PAGE}, got {page}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise DataError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
    conditions: list[ColumnElement[bool]] = []
    if period is not None:
        conditions.append(HouseholdWarning.period == check_period(period))
    if kind is not None:
        conditions.append(HouseholdWarning.kind == kind)
    if rule_id is not None:
        conditions.append(HouseholdWarning.rule_id == rule_id)
    if household_type is not None:
        conditions.append(HouseholdWarning.household_type == household_type)
    if area_prefix:
        conditions.append(area_range(HouseholdWarning.village_code, area_prefix))
    # (period, village, household, rule) is one index: for a period, the area's
    # warnings are one range of it, counted index-only and paged in index order.
    order = (
        HouseholdWarning.period.desc(),
        HouseholdWarning.village_code,
        HouseholdWarning.household_id,
        HouseholdWarning.rule_id,
    )
    rows = session.execute(
        _warning_select()
        .where(*conditions)
        .order_by(*order)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    total = int(
        session.scalar(select(func.count()).select_from(HouseholdWarning).where(*conditions)) or 0
    )
    return Page(
        items=[_warning_item(w, code, name) for w, code, name in rows],
        total=total,
        page=page,
        page_size=page_size,
    )


def _region_chain(session: Session, code: str) -> list[RegionRef]:
    """The region and its ancestors, top down.

    The chain follows ``parent_code``; the usual ancestors of a 12-digit code
    (township, county, prefecture, province) are loaded first in one query, so that
    the walk finds them in the session instead of asking for each level.
    """
    guesses = {code, *(code[:n].ljust(len(code), "0") for n in (2, 4, 6, 9))}
    # held until the walk ends: the session's identity map only keeps weak references
    loaded = session.scalars(select(Region).where(Region.code.in_(sorted(guesses)))).all()
    chain: list[RegionRef] = []
    seen: set[str] = set()
    current: str | None = code
    while current and current not in seen and len(chain) < 8:
        seen.add(current)
        region = session.get(Region, current)
        if region is None:
            break
        chain.append(RegionRef(region.code, region.name, region.level))
        current = region.parent_code
    del loaded
    return chain[::-1]


def household_detail(
    session: Session, household_id: str, area_prefix: str = ""
) -> HouseholdDetail | None:
    """A household with members and warnings, or None if missing or outside the area.

    Parameters
    ----------
    session
        Session on the operations database.
    household_id
        Household number.
    area_prefix
        Region-code prefix of the area (``""``: everything).

    Returns
    -------
    HouseholdDetail or None
        None both for an unknown household and for one outside the area, so that
        callers cannot tell the two apart.
    """
    check_area_prefix(area_prefix)
    household = session.scalars(
        select(Household).where(
            Household.id == household_id, in_area(Household.village_code, area_prefix)
        )
    ).one_or_none()
    if household is None:
        return None
    persons = session.scalars(
        select(Person)
        .where(Person.household_id == household.id)
        .order_by(
            case((Person.id_number == household.head_id_number, 0), else_=1),
            Person.birth_date,
            Person.id_number,
        )
    ).all()
    warnings = session.execute(
        _warning_select()
        .where(HouseholdWarning.household_id == household.id)
        .order_by(HouseholdWarning.period.desc(), HouseholdWarning.rule_id)
    ).all()
    return HouseholdDetail(
        id=household.id,
        village_code=household.village_code,
        regions=_region_chain(session, household.village_code),
        address=household.address,
        head_name=household.head_name,
        head_id_number=household.head_id_number,
        members=household.members,
        former_poor=household.former_poor,
        registered_year=household.registered_year,
        exit_year=household.exit_year,
        registration_cause=household.registration_cause,
        monitoring_status=household.monitoring_status,
        monitoring_type=household.monitoring_type,
        dibao=household.dibao,
        tekun=household.tekun,
        updated_period=household.updated_period,
        persons=[
            PersonItem(
                id_number=p.id_number,
                name=p.name,
                sex=p.sex,
                birth_date=p.birth_date,
                relation=p.relation,
                ethnicity=p.ethnicity,
                education=p.education,
                school_status=p.school_status,
                chronic_illness=p.chronic_illness,
                serious_illness=p.serious_illness,
                disability_grade=p.disability_grade,
                work_capacity=p.work_capacity,
                migrant_worker=p.migrant_worker,
                medical_insured=p.medical_insured,
            )
            for p in persons
        ],
        warnings=[_warning_item(w, code, name) for w, code, name in warnings],
    )
