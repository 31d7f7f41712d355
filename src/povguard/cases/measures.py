"""Assistance measures: the catalogue, cause-based recommendations and editable plans.

The catalogue (``povguard/resources/cases/measures.yaml``, or a bureau's own file)
lists measures with their category (development, guarantee, social assistance),
the risk causes they address, typical amounts, hard limits and whether they go on
after risk elimination. Its ``recommendation`` section holds the matching rules as
data. :func:`recommend` applies the principles of DOMAIN.md section 7:

1. one measure per risk: each cause gets the first applicable option not already in
   the plan, so several risks get combined (different) measures;
2. households with labour get at least one development measure (industry or
   employment);
3. households without labour or without stable income get social assistance
   (特困 when they also have no legal supporter, else 低保);
4. a gap in the three guarantees or water is closed by its own measure;
5. no measure twice, and no measures that exclude each other.

Plans are immutable; a cadre edits one with :func:`accept_measure`,
:func:`add_measure`, :func:`replace_measure` and :func:`remove_measure`, each
returning a new plan whose ``warnings`` re-check the principles (they warn; a
cadre may have good reasons). Hard errors are only unknown or duplicate measures
and amounts beyond a measure's limits.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from povguard.cases.codes import RiskCause, validate_causes
from povguard.errors import ConfigError, ConflictError, DataError, NotFoundError

Category = Literal["development", "guarantee", "social_assistance"]
Kind = Literal[
    "industry",
    "employment",
    "medical",
    "education",
    "housing",
    "water",
    "dibao",
    "tekun",
    "temporary",
    "disability",
]
Gap = Literal["medical", "education", "housing", "water"]
Unit = Literal[
    "yuan_once",
    "yuan_loan",
    "yuan_per_person",
    "yuan_per_household",
    "yuan_per_month",
    "yuan_per_year",
    "yuan_per_term",
    "yuan_per_person_month",
    "yuan_per_person_year",
]
Continuation = Literal["none", "loan_contract_end", "agreement_end", "school_stage_end"]
When = Literal["any", "labour", "no_labour"]
#: Why a measure is in a plan.
Basis = Literal["cause", "social_assistance", "development", "gap", "cadre"]

#: The category of each kind.
KIND_CATEGORY: Final[dict[str, str]] = {
    "industry": "development",
    "employment": "development",
    "medical": "guarantee",
    "education": "guarantee",
    "housing": "guarantee",
    "water": "guarantee",
    "dibao": "social_assistance",
    "tekun": "social_assistance",
    "temporary": "social_assistance",
    "disability": "social_assistance",
}
#: Kinds that count as social assistance for the "no labour or no stable income" principle.
BASIC_ASSISTANCE_KINDS: Final = frozenset({"dibao", "tekun"})

CATEGORY_LABELS: Final[dict[str, tuple[str, str]]] = {
    "development": ("开发式帮扶（产业、就业）", "development (industry, employment)"),
    "guarantee": ("三保障和饮水安全", "guarantees (medical, education, housing, water)"),
    "social_assistance": ("社会救助兜底", "social assistance"),
}
UNIT_LABELS: Final[dict[str, tuple[str, str]]] = {
    "yuan_once": ("元（一次性）", "yuan, once"),
    "yuan_loan": ("元（贷款额度）", "yuan (loan amount)"),
    "yuan_per_person": ("元/人", "yuan per person"),
    "yuan_per_household": ("元/户", "yuan per household"),
    "yuan_per_month": ("元/月", "yuan a month"),
    "yuan_per_year": ("元/年", "yuan a year"),
    "yuan_per_term": ("元/学期", "yuan a term"),
    "yuan_per_person_month": ("元/人·月", "yuan per person a month"),
    "yuan_per_person_year": ("元/人·年", "yuan per person a year"),
}
CONTINUATION_LABELS: Final[dict[str, tuple[str, str]]] = {
    "none": ("风险消除后停止", "ends with risk elimination"),
    "loan_contract_end": ("持续至贷款合同到期", "continues until the loan contract ends"),
    "agreement_end": ("持续至岗位协议到期", "continues until the job agreement ends"),
    "school_stage_end": ("持续至该学段结束", "continues until the end of the school stage"),
}


class Limits(BaseModel):
    """Hard limits of a measure for one household."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_amount: float | None = Field(None, gt=0, description="yuan, in the measure's unit")
    max_years: float | None = Field(None, gt=0)
    collateral_free: bool = False
    interest_subsidised: bool = False


class Measure(BaseModel):
    """One entry of the catalogue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    category: Category
    kind: Kind
    causes: tuple[RiskCause, ...] = Field(min_length=1)
    gaps: tuple[Gap, ...] = ()
    typical_amount: float | None = Field(None, ge=0)
    unit: Unit | None = None
    limits: Limits = Limits()
    continues_after_elimination: Continuation = "none"


class Option(BaseModel):
    """A recommendation rule: which measure, when, and why (short, bilingual)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    measure: str
    when: When = "any"
    reason_zh: str = Field(min_length=1)
    reason_en: str = Field(min_length=1)

    def applies(self, labour_members: int) -> bool:
        """Whether the option applies to a household with ``labour_members`` able to work."""
        if self.when == "labour":
            return labour_members > 0
        if self.when == "no_labour":
            return labour_members == 0
        return True


class SocialAssistanceRules(BaseModel):
    """Which basic social assistance to recommend."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tekun: Option
    dibao: Option


class Recommendation(BaseModel):
    """The matching rules of the catalogue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    causes: dict[RiskCause, tuple[Option, ...]]
    gaps: dict[Gap, Option] = {}
    development: tuple[Option, ...] = Field(min_length=1)
    social_assistance: SocialAssistanceRules
    exclusive: tuple[tuple[str, ...], ...] = ()


class Catalogue(BaseModel):
    """The measure catalogue and its recommendation rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    measures: tuple[Measure, ...] = Field(min_length=1)
    recommendation: Recommendation
    _by_id: dict[str, Measure] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        """Index the measures by id."""
        self._by_id.update({m.id: m for m in self.measures})

    def __contains__(self, measure_id: object) -> bool:
        return measure_id in self._by_id

    def measure(self, measure_id: str) -> Measure:
        """The measure with ``measure_id``.

        Raises
        ------
        NotFoundError
            For an id that is not in the catalogue.
        """
        try:
            return self._by_id[measure_id]
        except KeyError:
            raise NotFoundError(f"no measure {measure_id!r} in the catalogue") from None

    def excludes(self, measure_id: str, others: Iterable[str]) -> str | None:
        """The first of ``others`` that cannot be combined with ``measure_id``, if any."""
        rest = set(others) - {measure_id}
        for group in self.recommendation.exclusive:
            if measure_id in group:
                clash = sorted(rest & set(group))
                if clash:
                    return clash[0]
        return None


# --------------------------------------------------------------------------- loading


def _locate(data: Any, loc: tuple[int | str, ...]) -> str:
    """A readable path for a pydantic error location, naming list entries by their id."""
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and "id" in node:
                out += f" ({node['id']})"
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def _check(cat: Catalogue, where: str) -> None:
    """Cross-checks pydantic cannot do: ids, references, categories, rules' coverage."""
    seen: set[str] = set()
    for i, m in enumerate(cat.measures):
        w = f"{where}: measures[{i}] ({m.id})"
        if m.id in seen:
            raise ConfigError(f"{w}: id: duplicate measure id")
        seen.add(m.id)
        if KIND_CATEGORY[m.kind] != m.category:
            raise ConfigError(
                f"{w}: kind: {m.kind!r} belongs to category {KIND_CATEGORY[m.kind]!r}, "
                f"not {m.category!r}"
            )
        if (m.typical_amount is None) != (m.unit is None):
            raise ConfigError(f"{w}: unit: give typical_amount and unit together")
        cap = m.limits.max_amount
        if cap is not None and m.typical_amount is not None and m.typical_amount > cap:
            raise ConfigError(
                f"{w}: typical_amount: {m.typical_amount:,.0f} above limits.max_amount {cap:,.0f}"
            )
    rec = cat.recommendation

    def option(opt: Option, w: str, cause: RiskCause | None = None) -> Measure:
        if opt.measure not in cat:
            raise ConfigError(f"{w}: measure: unknown measure {opt.measure!r}")
        m = cat.measure(opt.measure)
        if cause is not None and cause not in m.causes:
            raise ConfigError(
                f"{w}: measure: {m.id!r} does not list cause {cause.value!r} among its causes"
            )
        return m

    for cause in RiskCause:
        options = rec.causes.get(cause)
        if not options:
            raise ConfigError(f"{where}: recommendation.causes.{cause.value}: no options")
        for j, opt in enumerate(options):
            option(opt, f"{where}: recommendation.causes.{cause.value}[{j}]", cause)
        for labour in (0, 1):
            if not any(o.applies(labour) for o in options):
                who = "with" if labour else "without"
                raise ConfigError(
                    f"{where}: recommendation.causes.{cause.value}: "
                    f"no option for a household {who} labour"
                )
    for gap, opt in rec.gaps.items():
        m = option(opt, f"{where}: recommendation.gaps.{gap}")
        if gap not in m.gaps:
            raise ConfigError(
                f"{where}: recommendation.gaps.{gap}: measure: {m.id!r} does not list gap {gap!r}"
            )
    for j, opt in enumerate(rec.development):
        w = f"{where}: recommendation.development[{j}]"
        if option(opt, w).category != "development":
            raise ConfigError(f"{w}: measure: {opt.measure!r} is not a development measure")
        _check_template(opt, w)
    for kind in ("tekun", "dibao"):
        opt = getattr(rec.social_assistance, kind)
        w = f"{where}: recommendation.social_assistance.{kind}"
        if option(opt, w).kind != kind:
            raise ConfigError(f"{w}: measure: {opt.measure!r} is not of kind {kind!r}")
    for j, group in enumerate(rec.exclusive):
        for mid in group:
            if mid not in cat:
                raise ConfigError(
                    f"{where}: recommendation.exclusive[{j}]: unknown measure {mid!r}"
                )


def _check_template(opt: Option, where: str) -> None:
    for text in (opt.reason_zh, opt.reason_en):
        try:
            text.format(labour_members=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"{where}: reason: bad template {text!r}: {exc}") from exc


def parse_catalogue(text: str, where: str) -> Catalogue:
    """Parse and validate a catalogue from YAML text.

    Parameters
    ----------
    text
        The YAML document.
    where
        The file name used in error messages.

    Raises
    ------
    ConfigError
        Naming the file, the entry (index and id) and the field of the first problem.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from exc
    try:
        cat = Catalogue.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{where}: {_locate(data, first['loc'])}: {first['msg']}") from exc
    _check(cat, where)
    return cat


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Load the measure catalogue: the packaged one, or ``path``.

    Raises
    ------
    ConfigError
        When the file cannot be read or is invalid (naming file, entry and field).
    """
    if path is None:
        return default_catalogue()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return parse_catalogue(text, str(path))


@functools.cache
def default_catalogue() -> Catalogue:
    """The packaged catalogue (``povguard/resources/cases/measures.yaml``), loaded once."""
    folder = importlib.resources.files("povguard.resources").joinpath("cases")
    text = folder.joinpath("measures.yaml").read_text(encoding="utf-8")
    return parse_catalogue(text, "cases/measures.yaml")


# ----------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class HouseholdNeeds:
    """What the plan is for: the household's risks and situation."""

    main_cause: RiskCause
    other_causes: tuple[RiskCause, ...] = ()
    labour_members: int = 0
    has_stable_income: bool = True
    has_legal_supporter: bool = True
    guarantee_gaps: tuple[Gap, ...] = ()
    current_measures: tuple[str, ...] = ()

    @property
    def causes(self) -> tuple[RiskCause, ...]:
        """Main cause first, then the others."""
        return (self.main_cause, *self.other_causes)

    @property
    def has_labour(self) -> bool:
        """Whether at least one member is able to work."""
        return self.labour_members > 0

    @property
    def needs_basic_assistance(self) -> bool:
        """Whether the household has no labour or no stable income."""
        return not self.has_labour or not self.has_stable_income


@dataclass(frozen=True)
class PlannedMeasure:
    """One measure of a plan, with why it is there and whether a cadre accepted it.

    ``causes`` are the household's risks the measure is meant to address.
    """

    measure_id: str
    basis: Basis
    causes: tuple[RiskCause, ...]
    reason_zh: str
    reason_en: str
    accepted: bool = False
    amount: float | None = None
    years: float | None = None


@dataclass(frozen=True)
class PlanWarning:
    """A principle the plan does not follow."""

    code: str
    message_zh: str
    message_en: str


@dataclass(frozen=True)
class Plan:
    """One household's assistance plan (immutable)."""

    needs: HouseholdNeeds
    measures: tuple[PlannedMeasure, ...]
    warnings: tuple[PlanWarning, ...] = ()

    @property
    def measure_ids(self) -> tuple[str, ...]:
        """Ids of the planned measures, in plan order."""
        return tuple(m.measure_id for m in self.measures)

    @property
    def accepted(self) -> bool:
        """Whether the plan has measures and a cadre accepted every one."""
        return bool(self.measures) and all(m.accepted for m in self.measures)

    @property
    def warning_codes(self) -> tuple[str, ...]:
        """Codes of the warnings."""
        return tuple(w.code for w in self.warnings)

    def get(self, measure_id: str) -> PlannedMeasure:
        """The planned measure ``measure_id``.

        Raises
        ------
        NotFoundError
            When the plan does not have it.
        """
        for m in self.measures:
            if m.measure_id == measure_id:
                return m
        raise NotFoundError(f"measure {measure_id!r} is not in the plan")


_BASIS_ORDER: Final = {b: i for i, b in enumerate(get_args(Basis))}


def recommend(
    main_cause: RiskCause | str,
    other_causes: Iterable[RiskCause | str] = (),
    *,
    labour_members: int,
    has_stable_income: bool,
    has_legal_supporter: bool = True,
    guarantee_gaps: Iterable[str] = (),
    current_measures: Iterable[str] = (),
    catalogue: Catalogue | None = None,
) -> Plan:
    """Recommend an assistance plan from a household's risks and situation.

    Parameters
    ----------
    main_cause, other_causes
        The household's main risk cause and up to two further ones.
    labour_members
        Members able to work (0 = no working capacity).
    has_stable_income
        Whether the household has a stable income.
    has_legal_supporter
        Whether someone is legally bound to support the household (特困 needs none).
    guarantee_gaps
        Unsecured guarantees: ``medical``, ``education``, ``housing``, ``water``.
    current_measures
        Measures the household already receives; not recommended again, and they
        count for the principles.
    catalogue
        The catalogue (default: the packaged one).

    Returns
    -------
    Plan
        Measures ordered by basis (risk causes, main cause first; social assistance;
        development; guarantee gaps), none accepted yet, with the warnings of
        :func:`check_plan`.

    Raises
    ------
    DataError
        For invalid causes or gaps, or a negative number of labour members.
    NotFoundError
        For a current measure not in the catalogue.
    """
    cat = catalogue or default_catalogue()
    main, others = validate_causes(main_cause, other_causes)
    if labour_members < 0:
        raise DataError(f"labour_members: must be >= 0, got {labour_members}")
    gaps = tuple(_parse_gap(g) for g in guarantee_gaps)
    current = tuple(current_measures)
    for mid in current:
        cat.measure(mid)
    needs = HouseholdNeeds(
        main_cause=main,
        other_causes=others,
        labour_members=labour_members,
        has_stable_income=has_stable_income,
        has_legal_supporter=has_legal_supporter,
        guarantee_gaps=gaps,
        current_measures=current,
    )
    rules = cat.recommendation
    items: list[PlannedMeasure] = []

    def blocked(measure_id: str) -> bool:
        present = [*current, *(i.measure_id for i in items)]
        return measure_id in present or cat.excludes(measure_id, present) is not None

    def add(opt: Option, basis: Basis, causes: tuple[RiskCause, ...], zh: str, en: str) -> None:
        items.append(PlannedMeasure(opt.measure, basis, causes, zh, en))

    present_kinds = {cat.measure(mid).kind for mid in current}
    if needs.needs_basic_assistance and not present_kinds & BASIC_ASSISTANCE_KINDS:
        sa = rules.social_assistance
        tekun = not needs.has_labour and not has_stable_income and not has_legal_supporter
        opt = sa.tekun if tekun else sa.dibao
        if not blocked(opt.measure):
            add(opt, "social_assistance", (), opt.reason_zh, opt.reason_en)

    for cause in needs.causes:
        options = [o for o in rules.causes[cause] if o.applies(labour_members)]
        pick = next((o for o in options if not blocked(o.measure)), None)
        if pick is not None:
            zh, en = f"{cause.label_zh}：{pick.reason_zh}", f"{cause.label_en}: {pick.reason_en}"
            add(pick, "cause", (cause,), zh, en)
            continue
        # every option is in the plan already: let a planned measure address this risk too
        for k, item in enumerate(items):
            if cause in cat.measure(item.measure_id).causes:
                items[k] = replace(
                    item,
                    causes=(*item.causes, cause),
                    reason_zh=f"{item.reason_zh}；兼顾{cause.label_zh}风险",
                    reason_en=f"{item.reason_en}; also addresses {cause.label_en}",
                )
                break

    for gap in gaps:
        opt_gap = rules.gaps.get(gap)
        if opt_gap is not None and not blocked(opt_gap.measure):
            add(opt_gap, "gap", (), opt_gap.reason_zh, opt_gap.reason_en)

    if needs.has_labour and not _has_development(cat, [*current, *(i.measure_id for i in items)]):
        for opt in rules.development:
            if not blocked(opt.measure):
                zh = opt.reason_zh.format(labour_members=labour_members)
                en = opt.reason_en.format(labour_members=labour_members)
                add(opt, "development", (), zh, en)
                break

    items.sort(key=lambda i: _BASIS_ORDER[i.basis])
    return _checked(Plan(needs=needs, measures=tuple(items)), cat)


def _parse_gap(value: str) -> Gap:
    for gap in get_args(Gap):
        if value == gap:
            return gap  # type: ignore[no-any-return]
    raise DataError(f"guarantee_gaps: unknown gap {value!r} (allowed: {list(get_args(Gap))})")


def _has_development(cat: Catalogue, ids: Iterable[str]) -> bool:
    return any(cat.measure(mid).category == "development" for mid in ids)


def check_plan(plan: Plan, catalogue: Catalogue | None = None) -> tuple[PlanWarning, ...]:
    """Check a plan against the matching principles.

    Warning codes: ``no_development_measure`` (labour but no industry or employment
    measure), ``no_social_assistance`` (no labour or no stable income, but neither
    低保 nor 特困), ``uncovered_cause`` (a risk no measure addresses),
    ``several_measures_single_risk`` (a single risk with more than one measure aimed
    at it), ``exclusive_measures`` (measures that cannot be combined),
    ``development_without_labour`` (a development measure for a household without
    labour).

    Parameters
    ----------
    plan
        The plan.
    catalogue
        The catalogue (default: the packaged one).

    Returns
    -------
    tuple of PlanWarning
        Empty when the plan follows every principle.
    """
    cat = catalogue or default_catalogue()
    needs = plan.needs
    ids = [*needs.current_measures, *plan.measure_ids]
    out: list[PlanWarning] = []
    if needs.has_labour and not _has_development(cat, ids):
        out.append(
            PlanWarning(
                "no_development_measure",
                f"家中有劳动力 {needs.labour_members} 人，但计划中没有产业或就业帮扶措施",
                f"no development measure (industry or employment) although the household "
                f"has {needs.labour_members} member(s) able to work",
            )
        )
    if needs.needs_basic_assistance and not any(
        cat.measure(mid).kind in BASIC_ASSISTANCE_KINDS for mid in ids
    ):
        out.append(
            PlanWarning(
                "no_social_assistance",
                "家庭无劳动力或无稳定收入，但计划中没有低保或特困救助",
                "no minimum living guarantee or extreme-poverty support although the "
                "household has no labour or no stable income",
            )
        )
    for cause in needs.causes:
        covered = any(cause in m.causes for m in plan.measures) or any(
            cause in cat.measure(mid).causes for mid in needs.current_measures
        )
        if not covered:
            out.append(
                PlanWarning(
                    "uncovered_cause",
                    f"{cause.label_zh}风险没有对应的帮扶措施",
                    f"no measure addresses the risk '{cause.label_en}'",
                )
            )
    if len(needs.causes) == 1:
        aimed = [m.measure_id for m in plan.measures if needs.main_cause in m.causes]
        if len(aimed) > 1:
            out.append(
                PlanWarning(
                    "several_measures_single_risk",
                    f"单一风险原则上只安排一项措施（避免福利依赖），现有 {len(aimed)} 项："
                    f"{'、'.join(aimed)}",
                    f"a single risk gets a single measure (avoid welfare dependency); "
                    f"{len(aimed)} address it: {', '.join(aimed)}",
                )
            )
    for mid in plan.measure_ids:
        clash = cat.excludes(mid, ids)
        if clash is not None and ids.index(clash) < ids.index(mid):
            a, b = cat.measure(clash), cat.measure(mid)
            out.append(
                PlanWarning(
                    "exclusive_measures",
                    f"{a.name_zh}与{b.name_zh}不能同时享受",
                    f"{a.name_en} and {b.name_en} cannot be combined",
                )
            )
    if not needs.has_labour:
        for mid in plan.measure_ids:
            m = cat.measure(mid)
            if m.category == "development":
                out.append(
                    PlanWarning(
                        "development_without_labour",
                        f"家中无劳动力，{m.name_zh}难以落实",
                        f"the household has no labour: {m.name_en} can hardly work",
                    )
                )
    return tuple(out)


def _checked(plan: Plan, cat: Catalogue) -> Plan:
    return replace(plan, warnings=check_plan(plan, cat))


def check_limits(measure: Measure, amount: float | None, years: float | None = None) -> None:
    """Check an amount and a duration against a measure's hard limits.

    Raises
    ------
    DataError
        For a negative amount, or an amount or duration beyond the limits.
    """
    if amount is not None:
        if amount < 0:
            raise DataError(f"{measure.id}: amount must be >= 0, got {amount:,.0f}")
        cap = measure.limits.max_amount
        if cap is not None and amount > cap:
            raise DataError(
                f"{measure.id}: amount {amount:,.0f} yuan above the limit of {cap:,.0f} "
                f"({measure.name_zh} 不超过 {cap:,.0f} 元)"
            )
    if years is not None:
        if years <= 0:
            raise DataError(f"{measure.id}: years must be > 0, got {years}")
        top = measure.limits.max_years
        if top is not None and years > top:
            raise DataError(
                f"{measure.id}: {years:g} years above the limit of {top:g} "
                f"({measure.name_zh} 期限不超过 {top:g} 年)"
            )


def _text(value: str, what: str) -> str:
    if not value.strip():
        raise DataError(f"{what}: a reason is required")
    return value.strip()


def accept_measure(plan: Plan, measure_id: str, *, catalogue: Catalogue | None = None) -> Plan:
    """The plan with ``measure_id`` accepted by the cadre.

    Raises
    ------
    NotFoundError
        When the plan does not have the measure.
    """
    plan.get(measure_id)
    measures = tuple(
        replace(m, accepted=True) if m.measure_id == measure_id else m for m in plan.measures
    )
    return _checked(replace(plan, measures=measures), catalogue or default_catalogue())


def accept_all(plan: Plan, *, catalogue: Catalogue | None = None) -> Plan:
    """The plan with every measure accepted."""
    measures = tuple(replace(m, accepted=True) for m in plan.measures)
    return _checked(replace(plan, measures=measures), catalogue or default_catalogue())


def add_measure(
    plan: Plan,
    measure_id: str,
    *,
    reason_zh: str,
    reason_en: str,
    amount: float | None = None,
    years: float | None = None,
    catalogue: Catalogue | None = None,
) -> Plan:
    """The plan with a measure added by a cadre (accepted).

    The measure is taken to address the household's risks it lists as causes.

    Raises
    ------
    NotFoundError
        For a measure not in the catalogue.
    ConflictError
        When the plan (or the household's current measures) already has it.
    DataError
        For a blank reason, or an amount or duration beyond the measure's limits.
    """
    cat = catalogue or default_catalogue()
    measure = cat.measure(measure_id)
    if measure_id in plan.measure_ids or measure_id in plan.needs.current_measures:
        raise ConflictError(f"measure {measure_id!r} is already in the plan")
    check_limits(measure, amount, years)
    item = PlannedMeasure(
        measure_id=measure_id,
        basis="cadre",
        causes=tuple(c for c in plan.needs.causes if c in measure.causes),
        reason_zh=_text(reason_zh, "reason_zh"),
        reason_en=_text(reason_en, "reason_en"),
        accepted=True,
        amount=amount,
        years=years,
    )
    return _checked(replace(plan, measures=(*plan.measures, item)), cat)


def replace_measure(
    plan: Plan,
    old_id: str,
    new_id: str,
    *,
    reason_zh: str,
    reason_en: str,
    amount: float | None = None,
    years: float | None = None,
    catalogue: Catalogue | None = None,
) -> Plan:
    """The plan with ``old_id`` replaced by ``new_id`` (same place, accepted).

    The new measure addresses the risks the old one addressed; if those were none,
    the household's risks it lists as causes.

    Raises
    ------
    NotFoundError
        When the plan lacks ``old_id`` or the catalogue lacks ``new_id``.
    ConflictError
        When ``new_id`` is already in the plan.
    DataError
        For a blank reason, or an amount or duration beyond the measure's limits.
    """
    cat = catalogue or default_catalogue()
    old = plan.get(old_id)
    measure = cat.measure(new_id)
    if new_id != old_id and (new_id in plan.measure_ids or new_id in plan.needs.current_measures):
        raise ConflictError(f"measure {new_id!r} is already in the plan")
    check_limits(measure, amount, years)
    causes = old.causes or tuple(c for c in plan.needs.causes if c in measure.causes)
    new = PlannedMeasure(
        measure_id=new_id,
        basis="cadre",
        causes=causes,
        reason_zh=_text(reason_zh, "reason_zh"),
        reason_en=_text(reason_en, "reason_en"),
        accepted=True,
        amount=amount,
        years=years,
    )
    measures = tuple(new if m.measure_id == old_id else m for m in plan.measures)
    return _checked(replace(plan, measures=measures), cat)


def remove_measure(plan: Plan, measure_id: str, *, catalogue: Catalogue | None = None) -> Plan:
    """The plan without ``measure_id``.

    Raises
    ------
    NotFoundError
        When the plan does not have the measure.
    """
    plan.get(measure_id)
    measures = tuple(m for m in plan.measures if m.measure_id != measure_id)
    return _checked(replace(plan, measures=measures), catalogue or default_catalogue())


def continuing_measures(
    plan: Plan, *, catalogue: Catalogue | None = None
) -> tuple[tuple[str, Continuation], ...]:
    """Planned measures that go on after risk elimination, with until when.

    Returns
    -------
    tuple
        ``(measure_id, continues_after_elimination)`` for each such measure, in plan
        order (a loan to its contract end, a public-welfare job to its agreement end,
        education aid to the end of the school stage).
    """
    cat = catalogue or default_catalogue()
    out = []
    for mid in plan.measure_ids:
        until = cat.measure(mid).continues_after_elimination
        if until != "none":
            out.append((mid, until))
    return tuple(out)
