"""Baseline scores the risk models must beat, as scikit-learn estimators.

- :class:`RulesBaseline`: what the current rules already know. Households the rules
  flag this month (warnings of the pack's screen) come first, then those with a risk
  trigger (a recent shock, unsafe house, no labour...), each group ranked by its
  income gap to the monitoring line. Nothing is learnt.
- :class:`ProxyMeansScore`: a proxy-means test. A linear regression of (log)
  per-capita income on household characteristics that are cheap to verify; the
  score grows with the predicted shortfall to the line.

Both take a pandas DataFrame of the panel features (:mod:`povguard.risk.features`),
follow the estimator contract (hyper-parameters in ``__init__``, ``fit`` returns
self, learned state ends in ``_``) and give ``predict_proba`` scores in ``[0, 1]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

#: Rule warnings of the month that flag a household (needs verification, screening...).
RULE_FLAGS = ("warn_needs_verification", "warn_screening", "warn_guarantee", "warn_risk")
#: Feature columns that mirror the pack's risk triggers (shocks in 12 months, house,
#: labour, disability, monitoring status).
RULE_TRIGGERS = (
    "illness_12m",
    "severe_disability_12m",
    "working_age_death_12m",
    "disaster_12m",
    "job_loss_12m",
    "project_failure_12m",
    "loan_overdue_12m",
    "house_unsafe",
    "no_labour",
    "severe_disabled_members",
    "uninsured_members",
    "monitored",
)
#: Household characteristics of the proxy-means test (no income, no events).
PMT_FEATURES = (
    "members",
    "labour_members",
    "elderly_members",
    "severe_disabled_members",
    "dependency_ratio",
    "elderly_share",
    "no_labour",
    "former_poor",
    "dibao",
    "tekun",
    "house_unsafe",
    "vehicles",
    "businesses",
    "village_distance_km",
)


def _frame(X: Any, where: str) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"{where} needs a pandas DataFrame of named feature columns")
    return X


def _numeric(X: pd.DataFrame, columns: Sequence[str]) -> NDArray[np.float64]:
    """The columns as floats (booleans 0/1, unknown NaN)."""
    out = np.empty((len(X), len(columns)), dtype=np.float64)
    for i, c in enumerate(columns):
        out[:, i] = pd.to_numeric(X[c].astype("float64"), errors="coerce").to_numpy()
    return out


class RulesBaseline(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Score from the rules' own signals (no learning).

    ``score = 0.5 * flagged + 0.25 * triggered + 0.25 * gap`` where ``flagged``: any
    of ``flag_columns`` is positive (a rule warning this month); ``triggered``: any
    of ``trigger_columns`` is positive (a pack trigger holds); ``gap``: shortfall of
    income to the line, ``clip(1 - signal_column, 0, 1)`` (0.5 when unknown: unknown
    is not safe). Rankings: flagged first, then triggered, each by income gap.

    Parameters
    ----------
    flag_columns, trigger_columns:
        Feature columns (missing ones are ignored; at least one must be present).
    signal_column:
        Income relative to the line (``income_line_ratio``).
    """

    def __init__(
        self,
        flag_columns: Sequence[str] = RULE_FLAGS,
        trigger_columns: Sequence[str] = RULE_TRIGGERS,
        signal_column: str = "income_line_ratio",
    ) -> None:
        self.flag_columns = flag_columns
        self.trigger_columns = trigger_columns
        self.signal_column = signal_column

    def fit(self, X: Any, y: Any = None) -> RulesBaseline:
        """Check the columns (nothing is learnt); returns self."""
        X = _frame(X, "RulesBaseline")
        self.flags_ = [c for c in self.flag_columns if c in X.columns]
        self.triggers_ = [c for c in self.trigger_columns if c in X.columns]
        if not self.flags_ and not self.triggers_ and self.signal_column not in X.columns:
            raise ValueError("RulesBaseline: none of the rule columns is in X")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        """The rule score in ``[0, 1]``."""
        check_is_fitted(self, "classes_")
        X = _frame(X, "RulesBaseline")
        n = len(X)
        flagged = np.zeros(n)
        if self.flags_:
            flagged = (np.nan_to_num(_numeric(X, self.flags_)) > 0).any(axis=1).astype(float)
        triggered = np.zeros(n)
        if self.triggers_:
            triggered = (np.nan_to_num(_numeric(X, self.triggers_)) > 0).any(axis=1).astype(float)
        gap = np.full(n, 0.5)
        if self.signal_column in X.columns:
            ratio = _numeric(X, [self.signal_column])[:, 0]
            gap = np.where(np.isnan(ratio), 0.5, np.clip(1.0 - ratio, 0.0, 1.0))
        return 0.5 * flagged + 0.25 * triggered + 0.25 * gap

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """``[1 - score, score]`` per row."""
        s = self.decision_function(X)
        return np.column_stack([1.0 - s, s])

    def predict(self, X: Any) -> NDArray[np.int64]:
        """1 where the rules flag the household."""
        return (self.decision_function(X) >= 0.5).astype(np.int64)


class ProxyMeansScore(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Proxy-means test: predicted shortfall of per-capita income to the line.

    A ridge regression of ``log(income)`` on ``features`` (imputed, scaled) is fit on
    the rows with a known, positive income; ``y`` is not used. The score is
    ``1 / (1 + exp(-slope * (log(line) - log(predicted income))))``: 0.5 at the
    line, higher the deeper the predicted shortfall.

    Parameters
    ----------
    features:
        Household characteristics (missing columns are ignored).
    income_column:
        The income to predict (per capita, 12 months).
    line:
        The monitoring line; used when ``line_column`` is absent or unknown.
    line_column:
        Column with each row's line (from the policy pack).
    alpha:
        Ridge penalty.
    slope:
        Steepness of the score in log income.
    """

    def __init__(
        self,
        features: Sequence[str] = PMT_FEATURES,
        income_column: str = "income_pc_12m",
        line: float | None = None,
        line_column: str = "monitoring_line",
        alpha: float = 1.0,
        slope: float = 3.0,
    ) -> None:
        self.features = features
        self.income_column = income_column
        self.line = line
        self.line_column = line_column
        self.alpha = alpha
        self.slope = slope

    def fit(self, X: Any, y: Any = None) -> ProxyMeansScore:
        """Fit the income regression on the rows with a known income; returns self."""
        X = _frame(X, "ProxyMeansScore")
        if self.income_column not in X.columns:
            raise ValueError(f"ProxyMeansScore: no {self.income_column!r} column")
        self.columns_ = [c for c in self.features if c in X.columns]
        if not self.columns_:
            raise ValueError("ProxyMeansScore: none of the features is in X")
        income = _numeric(X, [self.income_column])[:, 0]
        known = np.isfinite(income) & (income > 0)
        if not known.any():
            raise ValueError("ProxyMeansScore: no row with a known income")
        base: Pipeline = make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
            Ridge(alpha=self.alpha),
        )
        self.model_ = clone(base).fit(_numeric(X, self.columns_)[known], np.log(income[known]))
        fallback = self.line
        if fallback is None and self.line_column in X.columns:
            lines = _numeric(X, [self.line_column])[:, 0]
            lines = lines[np.isfinite(lines)]
            fallback = float(np.median(lines)) if lines.size else None
        if fallback is None:
            raise ValueError("ProxyMeansScore: give line= or a line_column in X")
        self.line_ = float(fallback)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.classes_ = np.array([0, 1])
        return self

    def predict_income(self, X: Any) -> NDArray[np.float64]:
        """The predicted per-capita income."""
        check_is_fitted(self, "model_")
        X = _frame(X, "ProxyMeansScore")
        return np.asarray(np.exp(self.model_.predict(_numeric(X, self.columns_))), np.float64)

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        """The score in ``(0, 1)``: logistic of the predicted log shortfall."""
        X = _frame(X, "ProxyMeansScore")
        line = np.full(len(X), self.line_)
        if self.line_column in X.columns:
            row_line = _numeric(X, [self.line_column])[:, 0]
            line = np.where(np.isfinite(row_line), row_line, line)
        z = self.slope * (np.log(line) - np.log(self.predict_income(X)))
        return np.asarray(1.0 / (1.0 + np.exp(-z)), np.float64)

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """``[1 - score, score]`` per row."""
        s = self.decision_function(X)
        return np.column_stack([1.0 - s, s])

    def predict(self, X: Any) -> NDArray[np.int64]:
        """1 where the predicted income is below the line."""
        return (self.decision_function(X) > 0.5).astype(np.int64)
