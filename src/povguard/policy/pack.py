"""Policy packs: versioned YAML documents of parameters and rules.

A pack has an id and version, an effective date range and a region scope, a set of
parameters (numbers, or numbers per year) and rules. Each rule has an id, a kind,
a severity, a condition in the rule language (:mod:`povguard.policy.expr`), the
household type it assigns, how unknowns behave, reason templates in Chinese and
English, and the evidence columns to cite. Packs are validated on load; errors
name the file, the rule and the field.
"""

from __future__ import annotations

import ast
import importlib.resources
import string
from datetime import date
from pathlib import Path
from typing import Any, Literal

import ibis
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from povguard.errors import ConfigError
from povguard.indicators import INDICATOR_TYPES
from povguard.policy.expr import compile_condition, history_calls, history_column, names, parse

#: Indicator fields a rule may use (the indicators stage's output).
INDICATOR_FIELDS = frozenset(INDICATOR_TYPES)
#: Values always available to reason templates and conditions.
BUILTINS = frozenset({"year", "month", "period", "region_name"})

Kind = Literal["risk", "screening", "guarantee", "ineligibility", "elimination", "tier"]
HouseholdType = Literal["by_registration", "sudden_hardship"]


class Rule(BaseModel):
    """One rule of a pack."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Kind
    severity: Literal["high", "medium", "low"] = "medium"
    title_zh: str
    title_en: str
    condition: str
    household_type: HouseholdType | None = None
    unknown: Literal["verify", "ignore"] = "ignore"
    reason_zh: str
    reason_en: str
    evidence: tuple[str, ...] = ()
    needs_trigger: bool = Field(
        False,
        description="a risk only together with one of the pack's risk triggers (DOMAIN.md "
        "section 2); without any, the outcome is 'needs verification'",
    )

    def tree(self, where: str) -> ast.Expression:
        """The parsed condition."""
        return parse(self.condition, where)


class Trigger(BaseModel):
    """A risk trigger used with the income test; its phrase is added to the reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title_zh: str
    title_en: str
    condition: str
    phrase_zh: str
    phrase_en: str

    def tree(self, where: str) -> ast.Expression:
        """The parsed condition."""
        return parse(self.condition, where)


class PolicyPack(BaseModel):
    """A versioned set of parameters and rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    version: str
    name_zh: str
    name_en: str
    effective_from: date
    effective_to: date | None = None
    region: str = Field(
        "", pattern=r"^\d*$", description="region-code prefix the pack applies to ('' = national)"
    )
    region_name_zh: str = Field("全国", description="the region's name in reasons (贵州省)")
    region_name_en: str = "national"
    extends: str | None = Field(
        None, description="id of the pack this one overrides (parameters and rules by id)"
    )
    disable: tuple[str, ...] = Field((), description="rule ids of the base pack not applied")
    parameters: dict[str, float | dict[int, float]] = {}
    verify_missing: tuple[str, ...] = Field(
        (),
        description="fields whose absence turns a fired screening rule into 'needs verification'",
    )
    rules: tuple[Rule, ...] = ()
    triggers: tuple[Trigger, ...] = Field(
        (), description="risk triggers of rules with needs_trigger, in the order written"
    )

    @property
    def ref(self) -> str:
        """``id@version``, as written on every warning."""
        return f"{self.id}@{self.version}"

    def effective_on(self, day: date) -> bool:
        """Whether the pack is in force on ``day``."""
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )

    def params_for(self, period: str) -> dict[str, Any]:
        """Parameter values in force in ``period`` (per-year values: latest year <= its year).

        The built-ins ``year`` and ``period`` are included.
        """
        year = int(period[:4])
        out: dict[str, Any] = {
            "year": year,
            "month": int(period[5:7]),
            "period": period,
            "region_name": self.region_name_zh,
        }
        for name, value in self.parameters.items():
            if isinstance(value, dict):
                years = sorted(y for y in value if y <= year) or sorted(value)
                out[name] = value[years[-1]]
            else:
                out[name] = value
        return out

    def with_overrides(self, values: dict[str, float]) -> PolicyPack:
        """A copy with parameters replaced (a per-year parameter gets the value in every year).

        Raises
        ------
        ConfigError
            For a parameter the pack does not have.
        """
        unknown = sorted(set(values) - set(self.parameters))
        if unknown:
            raise ConfigError(f"pack {self.id}@{self.version}: unknown parameter(s) {unknown}")
        params: dict[str, float | dict[int, float]] = dict(self.parameters)
        for name, value in values.items():
            old = params[name]
            params[name] = {y: float(value) for y in old} if isinstance(old, dict) else float(value)
        return self.model_copy(update={"parameters": params})

    def rule(self, rule_id: str) -> Rule:
        """The rule with ``rule_id``."""
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


def _check(pack: PolicyPack, where: str) -> None:
    known = INDICATOR_FIELDS | set(pack.parameters) | BUILTINS
    seen: set[str] = set()
    items: list[tuple[str, Rule | Trigger]] = [(f"rule {r.id}", r) for r in pack.rules]
    items += [(f"trigger {t.id}", t) for t in pack.triggers]
    for label, item in items:
        w = f"{where}: {label}"
        if label in seen:
            raise ConfigError(f"{w}: duplicate id")
        seen.add(label)
        unknown = names(item.tree(w)) - known
        if unknown:
            raise ConfigError(f"{w}: unknown field(s) {sorted(unknown)} in condition")
        _check_types(pack, item.condition, item.tree(w), w)
        texts = (
            (item.reason_zh, item.reason_en)
            if isinstance(item, Rule)
            else (item.phrase_zh, item.phrase_en)
        )
        for text in texts:
            for field in template_fields(text):
                if field not in known:
                    raise ConfigError(f"{w}: unknown field {field!r} in reason template")
        if isinstance(item, Rule):
            for ev in item.evidence:
                if not ev.startswith("ev_"):
                    raise ConfigError(f"{w}: evidence {ev!r} must name an ev_* column")
            if item.needs_trigger and not pack.triggers:
                raise ConfigError(f"{w}: needs_trigger, but the pack has no triggers")
    for field in pack.verify_missing:
        if field not in INDICATOR_FIELDS:
            raise ConfigError(f"{where}: verify_missing: unknown field {field!r}")


def _check_types(pack: PolicyPack, condition: str, tree: ast.Expression, where: str) -> None:
    """Compile a condition against the indicators' schema: it must be a boolean."""
    params = pack.params_for(f"{pack.effective_from.year:04d}-01")
    schema = dict(INDICATOR_TYPES)
    for call in history_calls(tree, params):
        schema[history_column(call)] = INDICATOR_TYPES[call[1]]
    try:
        expr = compile_condition(tree, ibis.table(schema, name="indicators"), params)
        kind = expr.type()
    except (TypeError, ValueError, AttributeError, ibis.common.exceptions.IbisError) as exc:
        raise ConfigError(f"{where}: type error in condition {condition!r}: {exc}") from exc
    if not kind.is_boolean():
        raise ConfigError(f"{where}: condition {condition!r} is {kind}, not a yes/no test")


def template_fields(text: str) -> set[str]:
    """Field names used by a reason template (``{income_pc_12m:,.0f}`` -> income_pc_12m)."""
    return {f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(text) if f}


def _read(text: str, where: str) -> PolicyPack:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from exc
    try:
        return PolicyPack.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{where}: {loc}: {first['msg']}") from exc


def _packaged() -> list[tuple[str, str]]:
    folder = importlib.resources.files("povguard.resources").joinpath("policy")
    return sorted(
        (f.read_text(encoding="utf-8"), f"policy/{f.name}")
        for f in folder.iterdir()
        if f.name.endswith(".yaml")
    )


def _resolve(pack: PolicyPack, base: PolicyPack, where: str) -> PolicyPack:
    """``pack`` on top of ``base``: parameters and rules by id replace, ``disable`` drops."""
    unknown = sorted(set(pack.disable) - {r.id for r in base.rules})
    if unknown:
        raise ConfigError(f"{where}: disable: no rule(s) {unknown} in base pack {base.id}")
    own = {r.id: r for r in pack.rules}
    rules = [own.pop(r.id, r) for r in base.rules if r.id not in pack.disable]
    rules += list(own.values())
    own_triggers = {t.id: t for t in pack.triggers}
    triggers = [own_triggers.pop(t.id, t) for t in base.triggers]
    triggers += list(own_triggers.values())
    verify = pack.verify_missing or base.verify_missing
    return pack.model_copy(
        update={
            "parameters": {**base.parameters, **pack.parameters},
            "rules": tuple(rules),
            "triggers": tuple(triggers),
            "verify_missing": verify,
        }
    )


class PackLibrary:
    """Every pack in force somewhere: selects the pack for a period and a region.

    The most specific region prefix in force on the period's first day wins (a
    provincial override beats the national pack, a county override beats both);
    among equally specific packs the latest ``effective_from`` wins.
    """

    def __init__(self, packs: list[PolicyPack]) -> None:
        if not packs:
            raise ConfigError("no policy packs")
        self.packs = packs

    def in_force(self, period: str) -> list[PolicyPack]:
        """Packs in force on the first day of ``period``, most specific region first."""
        day = date(int(period[:4]), int(period[5:7]), 1)
        live = [p for p in self.packs if p.effective_on(day)]
        # per region prefix the latest pack only
        best: dict[str, PolicyPack] = {}
        for p in sorted(live, key=lambda p: p.effective_from):
            best[p.region] = p
        return sorted(best.values(), key=lambda p: -len(p.region))

    @property
    def parameters(self) -> dict[str, float | dict[int, float]]:
        """Every parameter name of the packs (values of the last pack that has it)."""
        out: dict[str, float | dict[int, float]] = {}
        for p in self.packs:
            out.update(p.parameters)
        return out

    def with_overrides(self, values: dict[str, float]) -> PackLibrary:
        """Every pack with the parameters it has replaced (what-if on the whole library).

        Raises
        ------
        ConfigError
            For a parameter no pack has.
        """
        unknown = sorted(set(values) - set(self.parameters))
        if unknown:
            raise ConfigError(f"policy packs: unknown parameter(s) {unknown}")
        return PackLibrary(
            [
                p.with_overrides({k: v for k, v in values.items() if k in p.parameters})
                for p in self.packs
            ]
        )

    def select(self, period: str, region_code: str = "") -> PolicyPack:
        """The pack for a household of ``region_code`` in ``period``.

        Raises
        ------
        ConfigError
            When no pack is in force there and then.
        """
        for p in self.in_force(period):
            if region_code.startswith(p.region):
                return p
        raise ConfigError(f"no policy pack in force for {period} and region {region_code!r}")


def load_packs(paths: list[Path] | None = None) -> PackLibrary:
    """Load, resolve (``extends``) and validate packs: the packaged ones, or ``paths``.

    Raises
    ------
    ConfigError
        Naming the file, rule and field of the first problem, an unknown base pack or
        a circular ``extends``.
    """
    sources = _packaged() if paths is None else [_text(p) for p in paths]
    raw = {}
    where_of = {}
    for text, where in sources:
        pack = _read(text, where)
        key = pack.ref
        if key in raw:
            raise ConfigError(f"{where}: pack {key} is defined twice")
        raw[key], where_of[key] = pack, where
    by_id: dict[str, list[PolicyPack]] = {}
    for pack in raw.values():
        by_id.setdefault(pack.id, []).append(pack)
    resolved: dict[str, PolicyPack] = {}

    def resolve(key: str, chain: tuple[str, ...]) -> PolicyPack:
        if key in resolved:
            return resolved[key]
        pack, where = raw[key], where_of[key]
        if pack.extends is None:
            out = pack
        else:
            if pack.extends in chain or pack.extends == pack.id:
                cycle = " -> ".join((*chain, key, pack.extends))
                raise ConfigError(f"{where}: circular extends: {cycle}")
            bases = by_id.get(pack.extends)
            if not bases:
                raise ConfigError(f"{where}: extends: no pack with id {pack.extends!r}")
            base = max(bases, key=lambda b: b.effective_from)
            out = _resolve(pack, resolve(base.ref, (*chain, pack.id)), where)
        _check(out, where)
        resolved[key] = out
        return out

    return PackLibrary([resolve(k, ()) for k in raw])


def _text(path: Path) -> tuple[str, str]:
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def load_policy(path: Path | None = None) -> PolicyPack | PackLibrary:
    """What the cycle screens with: one pack file (for the households of its region),
    or by default the packaged library (national packs per period, provincial
    overrides by region)."""
    return load_packs() if path is None else load_pack(path)


def load_pack(path: Path | None = None) -> PolicyPack:
    """Load and validate one pack (default: the packaged 2021-2025 national pack).

    A pack that ``extends`` another is resolved against the packaged packs.

    Raises
    ------
    ConfigError
        Naming the file, rule and field of the first problem.
    """
    if path is None:
        library = load_packs()
        return next(p for p in library.packs if p.id == "national-monitoring")
    text, where = _text(path)
    pack = _read(text, where)
    if pack.extends is not None:
        packaged = {p.id: p for p in load_packs().packs}
        base = packaged.get(pack.extends)
        if base is None:
            raise ConfigError(f"{where}: extends: no packaged pack with id {pack.extends!r}")
        pack = _resolve(pack, base, where)
    _check(pack, where)
    return pack
