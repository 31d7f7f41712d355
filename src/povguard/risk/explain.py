"""Per-household explanations of risk scores in plain Chinese and English.

The contributions are exact TreeSHAP values from LightGBM itself
(``Booster.predict(..., pred_contrib=True)``): for every household they add up, with
the model's base value, to its raw score (the log-odds of falling). Only factors that
push the risk *up* are described, largest first, each with a sentence from a small
data-driven table (``resources/risk/explanations.yaml``, or a mapping of the same
shape passed as ``texts``)::

    wage_pc_change_3 = -0.6   ->  近 3 个月人均务工收入下降 60%
                                  wage income per member fell 60% in the last 3 months

The built-in table describes every feature of :data:`FEATURE_COLUMNS` (a test checks
it); features a custom table does not know get a generic sentence with the feature
name and value, and an unknown (missing) value gets "... needs verification".
"""

from __future__ import annotations

import importlib.resources
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import yaml
from sklearn.utils.validation import check_is_fitted

from povguard.errors import ConfigError
from povguard.risk.models import RiskClassifier

__all__ = ["Explanation", "Factor", "FactorTexts", "explain"]

_CONDITIONS = {
    "gt": lambda v, t: v > t,
    "ge": lambda v, t: v >= t,
    "lt": lambda v, t: v < t,
    "le": lambda v, t: v <= t,
    "eq": lambda v, t: v == t,
}


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.3g}"


@dataclass(frozen=True)
class _Rule:
    when: dict[str, Any]
    zh: str
    en: str

    def holds(self, value: Any) -> bool:
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        if self.when.get("missing", False):
            return missing
        if missing:
            return False
        for op, threshold in self.when.items():
            if op not in _CONDITIONS:
                raise ConfigError(f"unknown condition {op!r} in an explanation rule")
            if not isinstance(value, int | float) or not _CONDITIONS[op](float(value), threshold):
                return False
        return True


@dataclass(frozen=True)
class _Entry:
    pattern: re.Pattern[str]
    label_zh: str | None
    label_en: str | None
    rules: tuple[_Rule, ...]


class FactorTexts:
    """The sentence table: feature name (pattern) -> conditional zh/en sentences.

    Parameters
    ----------
    table : Mapping
        ``{"generic": {zh, en}, "missing": {zh, en}, "factors": {key: {label: {zh,
        en}, rules: [{when: {...}, zh, en}]}}}``; see
        ``resources/risk/explanations.yaml`` for the documented format.
    """

    def __init__(self, table: Mapping[str, Any]) -> None:
        try:
            self.generic = (str(table["generic"]["zh"]), str(table["generic"]["en"]))
            self.missing = (str(table["missing"]["zh"]), str(table["missing"]["en"]))
            entries = []
            for key, spec in (table.get("factors") or {}).items():
                label = spec.get("label") or {}
                rules = tuple(
                    _Rule(dict(r.get("when") or {}), str(r["zh"]), str(r["en"]))
                    for r in spec.get("rules") or []
                )
                entries.append(
                    _Entry(self._compile(str(key)), label.get("zh"), label.get("en"), rules)
                )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"invalid explanation table: {exc!r}") from exc
        # exact keys first, then patterns, each in table order
        self._entries = sorted(entries, key=lambda e: "(?P<" in e.pattern.pattern)

    @staticmethod
    def _compile(key: str) -> re.Pattern[str]:
        parts = re.split(r"\{(\w+)\}", key)
        regex = "".join(
            re.escape(p) if i % 2 == 0 else f"(?P<{p}>\\d+)" for i, p in enumerate(parts)
        )
        return re.compile(f"^{regex}$")

    @classmethod
    def default(cls) -> FactorTexts:
        """The built-in table (``resources/risk/explanations.yaml``).

        Returns
        -------
        FactorTexts
            The shipped sentence table.
        """
        return _default_texts()

    def describe(self, feature: str, value: Any) -> tuple[str, str]:
        """Chinese and English sentence for one factor.

        Parameters
        ----------
        feature : str
            Feature name.
        value : float, str or None
            The household's value (NaN or None: unknown; str: a category).

        Returns
        -------
        tuple[str, str]
            ``(zh, en)``.
        """
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        fields: dict[str, Any] = {"label": feature}
        label_en = feature
        for entry in self._entries:
            match = entry.pattern.match(feature)
            if match is None:
                continue
            fields.update(match.groupdict())
            label_zh = (entry.label_zh or feature).format(**fields)
            label_en = (entry.label_en or feature).format(**fields)
            if not missing or any(r.when.get("missing") for r in entry.rules):
                fields.update(self._value_fields(value))
                for rule in entry.rules:
                    if rule.holds(value):
                        return rule.zh.format(**fields), rule.en.format(**fields)
            fields["label"] = label_zh
            break
        fields.update(self._value_fields(value))
        zh_tpl, en_tpl = self.missing if missing else self.generic
        zh = zh_tpl.format(**fields)
        fields["label"] = label_en
        return zh, en_tpl.format(**fields)

    @staticmethod
    def _value_fields(value: Any) -> dict[str, str]:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return {"value": "?", "pct": "?", "int": "?", "yuan": "?"}
        if not isinstance(value, int | float | np.number):
            text = str(value)
            return {"value": text, "pct": text, "int": text, "yuan": text}
        v = float(value)
        return {
            "value": _number(v),
            "pct": f"{abs(v) * 100:.0f}%",
            "int": f"{round(v)}",
            "yuan": f"{v:,.0f}",
        }


@lru_cache(maxsize=1)
def _default_texts() -> FactorTexts:
    path = importlib.resources.files("povguard.resources").joinpath("risk", "explanations.yaml")
    return FactorTexts(yaml.safe_load(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Factor:
    """One factor that raises a household's risk.

    Attributes
    ----------
    feature : str
        Feature name.
    value : float, str or None
        The household's value (category label for categorical features; None: unknown).
    contribution : float
        SHAP contribution to the raw score (log-odds); positive.
    zh, en : str
        The sentence in Chinese and English.
    """

    feature: str
    value: float | str | None
    contribution: float
    zh: str
    en: str


@dataclass(frozen=True)
class Explanation:
    """Why one household got its score.

    Attributes
    ----------
    row : object
        The household's row label (DataFrame index) or position.
    probability : float
        Predicted probability of the positive class.
    raw_score : float
        The model's raw score (log-odds); equals ``base_value + sum(contributions)``.
    base_value : float
        The model's expected raw score (the SHAP bias term).
    contributions : dict[str, float]
        SHAP contribution of every feature.
    factors : tuple[Factor, ...]
        The top factors raising the risk, largest first.
    """

    row: Any
    probability: float
    raw_score: float
    base_value: float
    contributions: dict[str, float] = field(repr=False)
    factors: tuple[Factor, ...]

    @property
    def zh(self) -> str:
        """The factors as one Chinese sentence ("；"-separated)."""
        return "；".join(f.zh for f in self.factors)

    @property
    def en(self) -> str:
        """The factors as one English sentence ("; "-separated)."""
        return "; ".join(f.en for f in self.factors)


def _display_values(model: RiskClassifier, encoded: np.ndarray[Any, Any]) -> list[list[Any]]:
    values: list[list[Any]] = [
        [None if math.isnan(v) else float(v) for v in row] for row in encoded
    ]
    for j, cats in zip(model.categorical_features_, model.categories_.values(), strict=True):
        for row in values:
            code = row[j]
            row[j] = None if code is None else str(cats[int(code)])
    return values


def explain(
    model: RiskClassifier,
    X: Any,
    top: int = 3,
    *,
    texts: FactorTexts | Mapping[str, Any] | None = None,
    min_contribution: float = 0.0,
) -> list[Explanation]:
    """Top factors raising each household's risk, in Chinese and English.

    Parameters
    ----------
    model : RiskClassifier
        A fitted binary ``RiskClassifier`` with the LightGBM backend.
    X : DataFrame or array-like of shape (n_samples, n_features)
        Households' features, in the columns the model was fitted on.
    top : int, default=3
        Most factors described per household.
    texts : FactorTexts or Mapping, optional
        Sentence table; the built-in one by default.
    min_contribution : float, default=0.0
        Only contributions above this (in log-odds) are described.

    Returns
    -------
    list[Explanation]
        One per row of ``X``, in order.

    Raises
    ------
    ConfigError
        If the model is not a fitted binary LightGBM ``RiskClassifier``.
    """
    if not isinstance(model, RiskClassifier):
        raise ConfigError(f"explain() needs a RiskClassifier, got {type(model).__name__}")
    check_is_fitted(model)
    if model.backend != "lightgbm":
        raise ConfigError("explain() needs RiskClassifier(backend='lightgbm') (exact TreeSHAP)")
    if len(model.classes_) != 2:
        raise ConfigError("explain() supports two-class models only")
    if top < 0:
        raise ConfigError(f"top must be >= 0, got {top}")
    table = (
        texts
        if isinstance(texts, FactorTexts)
        else (FactorTexts.default() if texts is None else FactorTexts(texts))
    )
    encoded = model.encode(X)
    contrib = np.asarray(model.estimator_.booster_.predict(encoded, pred_contrib=True), dtype=float)
    raw = contrib.sum(axis=1)
    proba = 1.0 / (1.0 + np.exp(-raw))
    names = model.feature_names
    values = _display_values(model, encoded)
    labels: Sequence[Any] = list(X.index) if hasattr(X, "index") else list(range(len(encoded)))
    out = []
    for i in range(encoded.shape[0]):
        phi = contrib[i, :-1]
        order = sorted(
            (j for j in range(len(names)) if phi[j] > min_contribution),
            key=lambda j: (-phi[j], j),
        )[:top]
        factors = []
        for j in order:
            zh, en = table.describe(names[j], values[i][j])
            factors.append(Factor(names[j], values[i][j], float(phi[j]), zh, en))
        out.append(
            Explanation(
                row=labels[i],
                probability=float(proba[i]),
                raw_score=float(raw[i]),
                base_value=float(contrib[i, -1]),
                contributions={n: float(c) for n, c in zip(names, phi, strict=True)},
                factors=tuple(factors),
            )
        )
    return out
