"""Declarative link specs: fields, comparisons, blocking, thresholds.

A spec is a YAML document (or the same structure in Python) that the linker
compiles into a Splink model, the way Splink's ``SettingsCreator`` becomes
``Settings``. Comparison kinds name a ladder of levels, best first; the Chinese
kinds (``chinese_name``, ``resident_id``, ``birth_date``, ``region_code``) use
the functions of :mod:`povguard.linkage.compare`, registered as SQL functions on
the backend. Every level carries a prior m probability (the chance a true match
shows that level); u probabilities are estimated from the data at link time.

Example::

    name: person
    unique_id: record_id
    exact: [id_number__18]
    comparisons:
      - {name: name, kind: chinese_name, term_frequency: true}
      - {name: id_number, kind: resident_id, birth: birth_date, sex: sex}
    blocking:
      - [name__py]
      - ["substr(id_number__18, 1, 10)"]
    match_threshold: 0.95
    review_threshold: 0.5
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from povguard.errors import ConfigError

Kind = Literal[
    "exact",
    "levenshtein",
    "jaro_winkler",
    "chinese_name",
    "resident_id",
    "birth_date",
    "region_code",
    "custom",
]

#: Level ladders (label, default m) of the built-in kinds, best first, without
#: the null level. Threshold kinds insert one level per threshold after "exact".
DEFAULT_LEVELS: dict[str, tuple[tuple[str, float], ...]] = {
    "exact": (("exact", 0.95), ("else", 0.05)),
    "levenshtein": (("exact", 0.85), ("else", 0.05)),
    "jaro_winkler": (("exact", 0.85), ("else", 0.05)),
    # m falls along each ladder, so that where u is the same (rare levels that
    # random pairs never reach) a better level never weighs less than a worse one
    "chinese_name": (
        ("exact", 0.86),
        ("homophone", 0.05),
        ("swapped", 0.03),
        ("similar_char", 0.025),
        ("one_char", 0.015),
        ("pinyin_close", 0.01),
        ("else", 0.01),
    ),
    "resident_id": (
        ("exact", 0.88),
        ("legacy15", 0.03),
        ("check_char", 0.025),
        ("transposition", 0.02),
        ("one_digit", 0.015),
        ("near_inconsistent", 0.01),
        ("two_digits", 0.005),
        ("prefix14", 0.004),
        ("else", 0.011),
    ),
    "birth_date": (
        ("exact", 0.93),
        ("swapped", 0.01),
        ("one_part", 0.03),
        ("year_only", 0.01),
        ("else", 0.02),
    ),
    "region_code": (
        ("exact", 0.9),
        ("township", 0.05),
        ("county", 0.03),
        ("city", 0.01),
        ("else", 0.01),
    ),
}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_THRESHOLD_KINDS = frozenset({"levenshtein", "jaro_winkler"})
_THRESHOLD_M = 0.1  # shared by the threshold levels of a threshold kind


class Level(BaseModel):
    """A custom comparison level: a SQL condition over ``<column>_l`` / ``<column>_r``."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1)
    sql: str = Field(min_length=1, description="condition in DuckDB SQL")
    m: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _check(self) -> Level:
        if self.label in ("else", "null"):
            raise ValueError(f"level label {self.label!r} is reserved")
        return self


class Comparison(BaseModel):
    """One field comparison of a spec."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    kind: Kind
    column: str | None = Field(None, description="input column (default: name)")
    thresholds: list[float] = Field(
        default_factory=list,
        description="levenshtein: max distances; jaro_winkler: min similarities",
    )
    term_frequency: bool = Field(False, description="adjust the exact level for common values")
    m: dict[str, float] = Field(default_factory=dict, description="m overrides by level label")
    birth: str | None = Field(None, description="resident_id: the record's own birth-date column")
    sex: str | None = Field(None, description="resident_id: the record's own sex column")
    levels: list[Level] = Field(default_factory=list, description="custom kind only")

    @property
    def col(self) -> str:
        """The input column."""
        return self.column or self.name

    @model_validator(mode="after")
    def _check(self) -> Comparison:
        if self.kind == "custom" and not self.levels:
            raise ValueError("a custom comparison needs levels")
        if self.kind != "custom" and self.levels:
            raise ValueError(f"levels are only for custom comparisons, not {self.kind}")
        if self.thresholds and self.kind not in _THRESHOLD_KINDS:
            raise ValueError(
                f"thresholds are only for levenshtein and jaro_winkler, not {self.kind}"
            )
        if (self.birth or self.sex) and self.kind != "resident_id":
            raise ValueError("birth and sex are only for resident_id comparisons")
        unknown = set(self.m) - {label for label, _ in self.ladder()}
        if unknown:
            raise ValueError(f"m given for unknown levels {sorted(unknown)}")
        for label, value in self.m.items():
            if not 0 < value < 1:
                raise ValueError(f"m of level {label} must be between 0 and 1, got {value}")
        return self

    def ladder(self) -> list[tuple[str, float]]:
        """(label, m) of every non-null level, best first, with overrides applied."""
        if self.kind == "custom":
            base = [(lv.label, lv.m) for lv in self.levels] + [("else", 0.01)]
        else:
            base = list(DEFAULT_LEVELS[self.kind])
            if self.kind in _THRESHOLD_KINDS:
                share = _THRESHOLD_M / max(len(self.thresholds), 1)
                base[1:1] = [(_threshold_label(self.kind, t), share) for t in self.thresholds]
        return [(label, self.m.get(label, m)) for label, m in base]


def _threshold_label(kind: str, t: float) -> str:
    return f"distance<={t:g}" if kind == "levenshtein" else f"similarity>={t:g}"


class LinkSpec(BaseModel):
    """A declarative linkage model: comparisons, blocking and decision thresholds."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    version: str = "1"
    description: str = ""
    unique_id: str = "unique_id"
    exact: list[str] = Field(
        default_factory=list,
        description="fast path: a unique equal non-null value links without scoring",
    )
    comparisons: list[Comparison] = Field(min_length=1)
    blocking: list[list[str]] = Field(
        min_length=1, description="each rule: columns or SQL expressions that must be equal"
    )
    match_threshold: float = Field(0.95, gt=0, lt=1)
    review_threshold: float = Field(0.5, gt=0, lt=1)
    prior: float | None = Field(
        None, gt=0, lt=1, description="P(two random records match); default 1 / larger side"
    )
    u_max_pairs: int = Field(1_000_000, gt=0)
    seed: int = 42

    @model_validator(mode="after")
    def _check(self) -> LinkSpec:
        if self.review_threshold > self.match_threshold:
            raise ValueError("review_threshold must not exceed match_threshold")
        names = [c.name for c in self.comparisons]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"comparison names must be unique: {dupes}")
        if any(not rule for rule in self.blocking):
            raise ValueError("a blocking rule needs at least one column or expression")
        return self

    def input_columns(self) -> list[str]:
        """Columns the input tables must have (before derived columns are added).

        The unique id, the compared columns, and plain column names used by the
        fast path or a blocking rule that are not derived comparison columns.
        """
        cols: list[str] = [self.unique_id]
        derived: set[str] = set()
        for c in self.comparisons:
            cols.append(c.col)
            cols += [x for x in (c.birth, c.sex) if x]
            derived |= {f"{c.col}__{s}" for s in ("py", "18", "p14", "ok")}
        terms = [*self.exact, *(t for rule in self.blocking for t in rule)]
        cols += [t for t in terms if _IDENT.match(t) and t not in derived]
        return list(dict.fromkeys(cols))


def parse_spec(data: object, origin: str = "<spec>") -> LinkSpec:
    """Validate a spec document; errors name ``origin`` and the failing field.

    Raises
    ------
    ConfigError
        When the document does not satisfy the schema.
    """
    try:
        return LinkSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"link spec {origin}: {problems}") from exc


def load_spec(name_or_path: str | Path) -> LinkSpec:
    """Load a spec: a built-in name (``person``) or a YAML file path.

    Raises
    ------
    ConfigError
        When the file is missing, is not YAML or does not satisfy the schema.
    """
    text: str
    origin = str(name_or_path)
    builtin = resources.files("povguard") / "resources" / "linkage" / f"{name_or_path}.yaml"
    if isinstance(name_or_path, str) and "/" not in name_or_path and builtin.is_file():
        text = builtin.read_text(encoding="utf-8")
    else:
        path = Path(name_or_path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"link spec {path}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"link spec {origin}: not valid YAML: {exc}") from exc
    return parse_spec(data, origin)
