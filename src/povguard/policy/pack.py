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

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from povguard.errors import ConfigError
from povguard.indicators import INDICATOR_TYPES
from povguard.policy.expr import names, parse

#: Indicator fields a rule may use (the indicators stage's output).
INDICATOR_FIELDS = frozenset(INDICATOR_TYPES)
#: Values always available to reason templates and conditions.
BUILTINS = frozenset({"year", "period"})

Kind = Literal["risk", "screening", "guarantee", "ineligibility"]
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
    region: str = Field("", description="region-code prefix the pack applies to ('' = national)")
    parameters: dict[str, float | dict[int, float]] = {}
    verify_missing: tuple[str, ...] = Field(
        (),
        description="fields whose absence turns a fired screening rule into 'needs verification'",
    )
    rules: tuple[Rule, ...]

    def params_for(self, period: str) -> dict[str, Any]:
        """Parameter values in force in ``period`` (per-year values: latest year <= its year).

        The built-ins ``year`` and ``period`` are included.
        """
        year = int(period[:4])
        out: dict[str, Any] = {"year": year, "period": period}
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
    seen: set[str] = set()
    for rule in pack.rules:
        w = f"{where}: rule {rule.id}"
        if rule.id in seen:
            raise ConfigError(f"{w}: duplicate rule id")
        seen.add(rule.id)
        used = names(rule.tree(w))
        unknown = used - INDICATOR_FIELDS - set(pack.parameters) - BUILTINS
        if unknown:
            raise ConfigError(f"{w}: unknown field(s) {sorted(unknown)} in condition")
        for text in (rule.reason_zh, rule.reason_en):
            for field in template_fields(text):
                if field not in INDICATOR_FIELDS | set(pack.parameters) | BUILTINS:
                    raise ConfigError(f"{w}: unknown field {field!r} in reason template")
        for ev in rule.evidence:
            if not ev.startswith("ev_"):
                raise ConfigError(f"{w}: evidence {ev!r} must name an ev_* column")
    for field in pack.verify_missing:
        if field not in INDICATOR_FIELDS:
            raise ConfigError(f"{where}: verify_missing: unknown field {field!r}")


def template_fields(text: str) -> set[str]:
    """Field names used by a reason template (``{income_pc_12m:,.0f}`` -> income_pc_12m)."""
    return {f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(text) if f}


def load_pack(path: Path | None = None) -> PolicyPack:
    """Load and validate a pack (default: the packaged national pack).

    Raises
    ------
    ConfigError
        Naming the file, rule and field of the first problem.
    """
    if path is None:
        res = importlib.resources.files("povguard.resources").joinpath("policy/national-2021.yaml")
        text, where = res.read_text(encoding="utf-8"), "policy/national-2021.yaml"
    else:
        try:
            text, where = path.read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from exc
    try:
        pack = PolicyPack.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{where}: {loc}: {first['msg']}") from exc
    _check(pack, where)
    return pack
