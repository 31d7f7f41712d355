"""``/api/v1/policy``: the active policy pack and what-if simulation of parameter changes.

``GET /api/v1/policy/packs`` lists every pack of the library (national packs per
regime, provincial and county overrides, with their effective dates);
``GET /api/v1/policy/pack?period=&region=`` answers the pack the screen applies to a
household of that region in that period (parameters, risk triggers and rules, with
the overrides resolved). ``POST /api/v1/policy/simulate`` screens one period's indicators with that
pack and with the pack modified by ``set`` (``{"monitoring_line": 7500}``) and
answers households flagged before and after per rule, kind, region and household
type; nothing is written. At most :data:`MAX_IDS_LISTED` household ids are listed
per list (the counts are complete).

The analytics store is opened per request from the app's settings (as the push API
does) and closed afterwards; it is only read. Errors use the API's one body
``{"error": {"code", "message"}}``: 404 ``not_found`` (no analytics store, or no
indicators for the period), 422 ``validation_error`` (bad period, ``by``, value, or
a parameter the pack does not have), 503 ``store_busy`` (another process is writing
the store; retry later).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from povguard.api.deps import AreaDep, SettingsDep
from povguard.api.errors import ApiError, NotFoundError
from povguard.api.schemas import ErrorResponse
from povguard.engine import Engine, open_engine
from povguard.errors import ConfigError
from povguard.errors import NotFoundError as DataNotFoundError
from povguard.policy import PackLibrary, PolicyPack, load_policy
from povguard.policy.simulate import MAX_IDS_LISTED, simulate
from povguard.store.services import PERIOD_PATTERN

router = APIRouter(prefix="/policy", tags=["policy"])

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


# ------------------------------------------------------------------------ schemas


class YearValuePublic(BaseModel):
    """A parameter's value from a year on."""

    year: int
    value: float


class ParameterPublic(BaseModel):
    """A pack parameter: one value, or values per year (``value`` is then null)."""

    name: str
    value: float | None = Field(description="the value when it does not vary by year")
    by_year: list[YearValuePublic] = Field(
        description="values per year (the latest year <= the period's year applies)"
    )


class RulePublic(BaseModel):
    """A rule of the pack."""

    id: str
    kind: str
    severity: str
    title_zh: str
    title_en: str
    condition: str
    household_type: str | None
    unknown: str = Field(description="verify: a rule that cannot be decided asks for a visit")
    reason_zh: str
    reason_en: str
    evidence: list[str]
    needs_trigger: bool = Field(
        description="a risk only together with one of the pack's risk triggers"
    )


class TriggerPublic(BaseModel):
    """A risk trigger used with the income test."""

    id: str
    title_zh: str
    title_en: str
    condition: str
    phrase_zh: str
    phrase_en: str


class PolicyPackSummary(BaseModel):
    """A pack of the library: what it is, where and when it applies."""

    id: str
    version: str
    ref: str = Field(description="id@version, as written on every warning")
    name_zh: str
    name_en: str
    effective_from: dt.date
    effective_to: dt.date | None
    region: str = Field(description="region-code prefix the pack applies to ('' = national)")
    region_name_zh: str
    region_name_en: str
    extends: str | None = Field(description="id of the pack this one overrides")
    rules: int = Field(description="number of rules after resolving the overrides")

    @classmethod
    def from_pack(cls, pack: PolicyPack) -> PolicyPackSummary:
        """From a loaded pack."""
        return cls(
            id=pack.id,
            version=pack.version,
            ref=pack.ref,
            name_zh=pack.name_zh,
            name_en=pack.name_en,
            effective_from=pack.effective_from,
            effective_to=pack.effective_to,
            region=pack.region,
            region_name_zh=pack.region_name_zh,
            region_name_en=pack.region_name_en,
            extends=pack.extends,
            rules=len(pack.rules),
        )


class PolicyPackPublic(BaseModel):
    """The policy pack the screen applies."""

    id: str
    version: str
    name_zh: str
    name_en: str
    effective_from: dt.date
    effective_to: dt.date | None
    region: str = Field(description="region-code prefix the pack applies to ('' = national)")
    region_name_zh: str
    region_name_en: str
    extends: str | None
    parameters: list[ParameterPublic]
    triggers: list[TriggerPublic]
    rules: list[RulePublic]

    @classmethod
    def from_pack(cls, pack: PolicyPack) -> PolicyPackPublic:
        """From a loaded pack."""
        params = []
        for name, value in pack.parameters.items():
            if isinstance(value, dict):
                by_year = [YearValuePublic(year=y, value=v) for y, v in sorted(value.items())]
                params.append(ParameterPublic(name=name, value=None, by_year=by_year))
            else:
                params.append(ParameterPublic(name=name, value=value, by_year=[]))
        return cls(
            id=pack.id,
            version=pack.version,
            name_zh=pack.name_zh,
            name_en=pack.name_en,
            effective_from=pack.effective_from,
            effective_to=pack.effective_to,
            region=pack.region,
            region_name_zh=pack.region_name_zh,
            region_name_en=pack.region_name_en,
            extends=pack.extends,
            parameters=params,
            triggers=[
                TriggerPublic(
                    id=t.id,
                    title_zh=t.title_zh,
                    title_en=t.title_en,
                    condition=" ".join(t.condition.split()),
                    phrase_zh=t.phrase_zh,
                    phrase_en=t.phrase_en,
                )
                for t in pack.triggers
            ],
            rules=[
                RulePublic(
                    id=r.id,
                    kind=r.kind,
                    severity=r.severity,
                    title_zh=r.title_zh,
                    title_en=r.title_en,
                    condition=" ".join(r.condition.split()),
                    household_type=r.household_type,
                    unknown=r.unknown,
                    reason_zh=r.reason_zh,
                    reason_en=r.reason_en,
                    evidence=list(r.evidence),
                    needs_trigger=r.needs_trigger,
                )
                for r in pack.rules
            ],
        )


class SimulateRequest(BaseModel):
    """What to simulate: a period, parameter overrides and the region level."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    period: str = Field(pattern=PERIOD_PATTERN, description="period YYYY-MM to screen")
    overrides: dict[str, FiniteFloat] = Field(
        default_factory=dict,
        alias="set",
        description='parameter values replacing the pack\'s, e.g. {"monitoring_line": 7500}',
    )
    by: Literal["county", "township", "village"] = Field(
        "township", description="region level of the breakdowns"
    )


class ChangeCountPublic(BaseModel):
    """Distinct households flagged before and after (``diff = after - before``)."""

    key: str | None = Field(description="region code or household type (null: unknown)")
    name: str | None = Field(None, description="region name, when known")
    before: int
    after: int
    diff: int
    newly: int = Field(description="flagged only after")
    no_longer: int = Field(description="flagged only before")


class TotalsPublic(BaseModel):
    """Distinct households with any warning, before and after."""

    before: int
    after: int
    diff: int
    newly: int
    no_longer: int


class RuleChangePublic(TotalsPublic):
    """Households flagged by one rule (one outcome kind), with breakdowns."""

    rule_id: str
    kind: str = Field(description="needs_verification for the rule's cannot-be-decided outcome")
    title_zh: str
    title_en: str
    by_region: list[ChangeCountPublic]
    by_type: list[ChangeCountPublic]


class KindChangePublic(TotalsPublic):
    """Households with warnings of one kind, with breakdowns."""

    kind: str
    title_zh: str
    title_en: str
    by_region: list[ChangeCountPublic]
    by_type: list[ChangeCountPublic]


class HouseholdIdsPublic(BaseModel):
    """A count of households and at most the first ids (sorted)."""

    count: int
    ids: list[str] = Field(description=f"at most {MAX_IDS_LISTED} household ids")
    truncated: bool = Field(description="true when more households than ids listed")


class ParameterChangePublic(BaseModel):
    """A parameter whose value in force in the period changed."""

    name: str
    before: float | None
    after: float | None


class SimulationPublic(BaseModel):
    """The warnings of a period before and after a change of parameters."""

    period: str
    by: str
    pack: str = Field(description="id@version of the simulated pack")
    base: str = Field(description="id@version of the pack compared with")
    area_prefix: str
    overrides: dict[str, float]
    parameters: list[ParameterChangePublic]
    households: TotalsPublic
    newly_flagged: HouseholdIdsPublic
    no_longer_flagged: HouseholdIdsPublic
    by_rule: list[RuleChangePublic]
    by_kind: list[KindChangePublic]
    by_region: list[ChangeCountPublic]
    by_type: list[ChangeCountPublic]
    notes: list[str]


# ------------------------------------------------------------------------ dependencies


def get_policy() -> PolicyPack | PackLibrary:
    """What the cycle screens with: the packaged library (pack per period and region)."""
    return load_policy()


def _is_lock_conflict(exc: Exception) -> bool:
    text = str(exc).lower()
    return type(exc).__name__ in ("IOException", "ConnectionException") and "lock" in text


def get_analytics(settings: SettingsDep) -> Iterator[Engine]:
    """The analytics store of the settings' data directory, for one request.

    Never creates a store: 404 when there is none, 503 when another process holds
    its write lock.
    """
    if settings.engine == "duckdb" and not settings.analytics_path.exists():
        raise NotFoundError("no analytics store yet: run povguard cycle first")
    try:
        engine = open_engine(settings.engine, settings.home)
    except Exception as exc:
        if _is_lock_conflict(exc):
            raise ApiError(
                503,
                "store_busy",
                "the analytics store is being written by another process; retry later",
            ) from None
        raise
    try:
        yield engine
    finally:
        engine.close()


PolicyDep = Annotated[PolicyPack | PackLibrary, Depends(get_policy)]
AnalyticsDep = Annotated[Engine, Depends(get_analytics)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (404, "no analytics store, or no indicators for the period"),
        (422, "bad period, by or value, or a parameter the pack does not have"),
        (503, "the analytics store is busy; retry later"),
    )
}


# ------------------------------------------------------------------------ routes


@router.get("/packs", response_model=list[PolicyPackSummary], operation_id="list_policy_packs")
def list_policy_packs(policy: PolicyDep) -> list[PolicyPackSummary]:
    """Every pack the screen may apply, national first, then by region and date."""
    packs = policy.packs if isinstance(policy, PackLibrary) else [policy]
    ordered = sorted(packs, key=lambda p: (len(p.region), p.region, p.effective_from))
    return [PolicyPackSummary.from_pack(p) for p in ordered]


@router.get(
    "/pack",
    response_model=PolicyPackPublic,
    responses={k: v for k, v in _ERRORS.items() if k in (404, 422)},
    operation_id="read_policy_pack",
)
def read_policy_pack(
    policy: PolicyDep,
    area: AreaDep,
    period: Annotated[
        str | None, Query(pattern=PERIOD_PATTERN, description="YYYY-MM (default: this month)")
    ] = None,
    region: Annotated[
        str | None,
        Query(pattern=r"^\d{2,12}$", description="region code (default: the user's area)"),
    ] = None,
) -> PolicyPackPublic:
    """The pack applied to households of ``region`` in ``period``: header, parameters
    (per year), risk triggers and rules, overrides resolved."""
    period = period or dt.date.today().strftime("%Y-%m")
    if isinstance(policy, PolicyPack):
        return PolicyPackPublic.from_pack(policy)
    try:
        pack = policy.select(period, region or area or "")
    except ConfigError as exc:
        raise NotFoundError(str(exc)) from None
    return PolicyPackPublic.from_pack(pack)


@router.post(
    "/simulate",
    response_model=SimulationPublic,
    responses=_ERRORS,
    operation_id="simulate_policy",
)
def simulate_policy(
    body: SimulateRequest, pack: PolicyDep, area: AreaDep, engine: AnalyticsDep
) -> SimulationPublic:
    """Screen ``period`` with the active policy and with ``set`` applied; compare.

    Counts per rule, kind, region (``by``) and household type, before, after and
    the difference; the households newly and no longer flagged (at most
    100 ids each). Nothing is written.
    """
    try:
        pack.with_overrides(body.overrides)
    except ConfigError as exc:
        raise ApiError(422, "validation_error", f"set: {exc}") from None
    try:
        result = simulate(engine, body.period, pack, body.overrides, by=body.by, area_prefix=area)
    except DataNotFoundError as exc:
        raise NotFoundError(str(exc)) from None
    except ConfigError as exc:
        raise ApiError(422, "validation_error", str(exc)) from None
    return SimulationPublic.model_validate(result.to_dict(max_ids=MAX_IDS_LISTED))
