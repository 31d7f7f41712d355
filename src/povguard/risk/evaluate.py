"""Out-of-time evaluation of risk scores, against the rules-only baseline.

Models are trained on months up to a cutoff and tested on later months, never
mixed: :func:`out_of_time_split` keeps only training months whose label was
already known at the cutoff (``t + horizon <= cutoff``) and tests on the months
after it; :func:`compare_models` refuses a train and a test set that share or
interleave periods.

What counts for a village is how many of the households that will fall are on the
short list its cadres can visit: :func:`recall_at_capacity` takes the top ``k``
households by score in each village and month and reports the share of the test
positives on those lists. Besides it: ROC-AUC, PR-AUC (average precision), Brier
score, a reliability curve, and fairness of the capacity lists (recall and
false-positive rate by group, with fairlearn's ``MetricFrame``; gaps above a
threshold are flagged).

The evaluation works on bounded pandas frames of household-months that the caller
fetched from the engine (features joined with labels).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, false_positive_rate
from numpy.typing import NDArray
from sklearn.base import clone
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, recall_score, roc_auc_score
from sklearn.utils.validation import has_fit_parameter

from povguard.errors import DataError
from povguard.risk.features import FEATURE_COLUMNS

#: Fairness attributes: report name -> column of the evaluation frame.
FAIRNESS_GROUPS: dict[str, str] = {
    "ethnicity": "head_ethnicity",
    "sex_of_head": "head_sex",
    "elderly_headed": "head_elderly",
    "remote_village": "remote_village",
}


def shift_period(period: str, months: int) -> str:
    """The ``YYYY-MM`` period ``months`` after ``period`` (before it when negative)."""
    m = int(period[:4]) * 12 + int(period[5:7]) - 1 + months
    return f"{m // 12:04d}-{m % 12 + 1:02d}"


def check_out_of_time(train: pd.DataFrame, test: pd.DataFrame, period: str = "period") -> None:
    """Raise ``ValueError`` unless every training period is before every test period."""
    if train.empty or test.empty:
        raise ValueError("out-of-time evaluation needs a non-empty train and test set")
    last, first = str(train[period].max()), str(test[period].min())
    if last >= first:
        raise ValueError(
            f"train and test periods overlap: training runs to {last}, testing starts at "
            f"{first}; train on earlier months only"
        )


def out_of_time_split(
    frame: pd.DataFrame,
    cutoff: str,
    horizon: int,
    *,
    period: str = "period",
    test_end: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split household-months at ``cutoff`` without leaking the future.

    Parameters
    ----------
    frame:
        Features and labels, one row per household-month.
    cutoff:
        The last month whose data the model may see (``YYYY-MM``).
    horizon:
        Months of the label: training keeps the months ``t`` with
        ``t + horizon <= cutoff`` (their outcome is known at the cutoff).
    test_end:
        Last test month (default: every month after the cutoff).

    Returns
    -------
    tuple
        ``(train, test)``; test holds the months after ``cutoff``.
    """
    if horizon < 1:
        raise ValueError("horizon must be at least one month")
    last_train = shift_period(cutoff, -horizon)
    train = frame[frame[period] <= last_train]
    test = frame[frame[period] > cutoff]
    if test_end is not None:
        test = test[test[period] <= test_end]
    check_out_of_time(train, test, period)
    return train, test


def capacity_lists(
    frame: pd.DataFrame,
    scores: Any,
    k: int = 2,
    *,
    by: Sequence[str] = ("village_code", "period"),
    tie_break: str = "household_id",
) -> NDArray[np.bool_]:
    """Whether each row is among the top ``k`` scores of its village and month.

    Ties are broken by ``tie_break`` (ascending), so the lists are reproducible.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    d = pd.DataFrame(
        {
            "_score": np.asarray(scores, dtype=np.float64),
            "_tie": frame[tie_break].to_numpy() if tie_break in frame else np.arange(len(frame)),
            **{f"_by{i}": frame[c].to_numpy() for i, c in enumerate(by)},
            "_pos": np.arange(len(frame)),
        }
    )
    d = d.sort_values(["_score", "_tie"], ascending=[False, True], kind="mergesort")
    rank = d.groupby([f"_by{i}" for i in range(len(by))], dropna=False).cumcount()
    chosen = np.zeros(len(frame), dtype=bool)
    chosen[d["_pos"].to_numpy()[(rank < k).to_numpy()]] = True
    return chosen


def recall_at_capacity(
    frame: pd.DataFrame,
    scores: Any,
    label: str,
    k: int = 2,
    *,
    by: Sequence[str] = ("village_code", "period"),
) -> float:
    """Share of the positives that are on their village-month's top-``k`` list.

    Rows with an unknown label are neither listed nor counted (the list is drawn
    from the households that can enter at-risk status). NaN when there is no
    positive.
    """
    known = frame[label].notna().to_numpy()
    sub = frame[known]
    y = sub[label].to_numpy(dtype=np.float64)
    if not (y == 1).any():
        return float("nan")
    chosen = capacity_lists(sub, np.asarray(scores, dtype=np.float64)[known], k, by=by)
    return float(((y == 1) & chosen).sum() / (y == 1).sum())


def feature_matrix(frame: pd.DataFrame, features: Sequence[str] = FEATURE_COLUMNS) -> pd.DataFrame:
    """The feature columns as floats (booleans 0/1, unknown NaN).

    Raises
    ------
    DataError
        If a feature column is missing from ``frame``.
    """
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise DataError(
            f"{len(missing)} feature columns missing ({', '.join(missing[:5])}): the model "
            "was trained on other features; train it again"
        )
    return pd.DataFrame(
        {c: pd.to_numeric(frame[c].astype("float64"), errors="coerce") for c in features},
        index=frame.index,
    )


@dataclass
class ModelReport:
    """The comparison of several models on one out-of-time split.

    Attributes
    ----------
    table:
        One row per model: ``auc``, ``pr_auc``, ``brier``, ``recall_at_k``,
        ``listed`` (households on the lists), ``ratio_to_baseline`` (recall at
        capacity over the baseline's), ``fairness_flags``.
    reliability:
        Per model, the reliability curve (``mean_predicted``, ``observed``).
    fairness:
        Per model, attribute and group: ``n``, ``positives``, ``recall``, ``fpr``
        of the capacity lists.
    gaps:
        Per model and attribute: largest ``recall_gap`` and ``fpr_gap`` between the
        groups large enough to compare (``groups_compared``) and whether either is
        above the threshold (``flagged``).
    split:
        Train and test periods, label, ``k``, row and positive counts, and the
        features dropped because they are unknown in every training row.
    fitted:
        The fitted models by name (fitted on the features of ``split``, without
        the unknown ones).
    """

    table: pd.DataFrame
    reliability: dict[str, pd.DataFrame]
    fairness: pd.DataFrame
    gaps: pd.DataFrame
    split: dict[str, Any] = field(default_factory=dict)
    fitted: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_markdown(self) -> str:
        """The comparison table and flagged fairness gaps as Markdown."""
        s = self.split
        lines = [
            f"Out-of-time: train {s.get('train_periods')}, test {s.get('test_periods')}, "
            f"label {s.get('label')}, k = {s.get('k')} per village and month; "
            f"test rows {s.get('test_rows')}, positives {s.get('test_positives')}.",
            "",
            "| model | AUC | PR-AUC | Brier | recall@k | x baseline | fairness flags |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, r in self.table.iterrows():
            lines.append(
                f"| {name} | {r['auc']:.3f} | {r['pr_auc']:.3f} | {r['brier']:.4f} | "
                f"{r['recall_at_k']:.3f} | {r['ratio_to_baseline']:.2f} | "
                f"{int(r['fairness_flags'])} |"
            )
        flagged = self.gaps[self.gaps["flagged"]]
        if not flagged.empty:
            lines += ["", "Fairness gaps above the threshold:", ""]
            for _, g in flagged.iterrows():
                lines.append(
                    f"- {g['model']}, {g['attribute']}: recall gap {g['recall_gap']:.3f}, "
                    f"false-positive-rate gap {g['fpr_gap']:.3f}"
                )
        return "\n".join(lines)


def _safe(metric: Any, y: NDArray[np.float64], s: NDArray[np.float64]) -> float:
    try:
        return float(metric(y, s))
    except ValueError:  # one class only
        return float("nan")


def _fairness(
    name: str,
    test: pd.DataFrame,
    y: NDArray[np.int64],
    chosen: NDArray[np.bool_],
    groups: Mapping[str, str],
    threshold: float,
    min_group_size: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    gaps: list[dict[str, Any]] = []
    for attribute, column in groups.items():
        if column not in test.columns:
            continue
        sensitive = test[column].astype("object").where(test[column].notna(), "unknown")
        sensitive = sensitive.astype(str).to_numpy()
        mf = MetricFrame(
            metrics={
                "recall": lambda a, b: recall_score(a, b, zero_division=np.nan),
                "fpr": false_positive_rate,
                "n": lambda a, b: len(a),
                "positives": lambda a, b: int(np.sum(a)),
            },
            y_true=y,
            y_pred=chosen.astype(np.int64),
            sensitive_features=sensitive,
        )
        by = mf.by_group
        for group, r in by.iterrows():
            rows.append(
                {
                    "model": name,
                    "attribute": attribute,
                    "group": group,
                    "n": int(r["n"]),
                    "positives": int(r["positives"]),
                    "recall": float(r["recall"]),
                    "fpr": float(r["fpr"]),
                }
            )
        # groups too small to estimate a rate are listed but not compared
        recall_ok = by["recall"][by["positives"] >= min_group_size].dropna()
        fpr_ok = by["fpr"][(by["n"] - by["positives"]) >= min_group_size].dropna()
        recall_gap = float(recall_ok.max() - recall_ok.min()) if len(recall_ok) > 1 else 0.0
        fpr_gap = float(fpr_ok.max() - fpr_ok.min()) if len(fpr_ok) > 1 else 0.0
        gaps.append(
            {
                "model": name,
                "attribute": attribute,
                "groups_compared": len(recall_ok),
                "recall_gap": recall_gap,
                "fpr_gap": fpr_gap,
                "flagged": bool(recall_gap > threshold or fpr_gap > threshold),
            }
        )
    return rows, gaps


def compare_models(
    train: pd.DataFrame,
    test: pd.DataFrame,
    models: Mapping[str, Any],
    *,
    label: str = "y_6",
    k: int = 2,
    features: Sequence[str] = FEATURE_COLUMNS,
    baseline: str = "rules",
    groups: Mapping[str, str] = FAIRNESS_GROUPS,
    gap_threshold: float = 0.1,
    min_group_size: int = 10,
    n_bins: int = 10,
    by: Sequence[str] = ("village_code", "period"),
    weight: str | None = None,
) -> ModelReport:
    """Fit every model on ``train`` and compare them on the later months of ``test``.

    Parameters
    ----------
    train, test:
        Household-months with the feature columns, ``label``, ``household_id``,
        ``period``, the ``by`` columns and the fairness group columns. Every train
        period must be before every test period (else ``ValueError``). Rows with an
        unknown label are dropped.
    models:
        Name -> scikit-learn estimator with ``predict_proba`` (cloned, then fit).
    label:
        The label column (``y_3``, ``y_6``).
    k:
        Households a village can visit per month (the capacity list).
    features:
        Feature columns handed to the models (as a float DataFrame).
    baseline:
        Name of the model the others' recall at capacity is compared with.
    groups:
        Fairness attribute -> column.
    gap_threshold:
        A recall or false-positive-rate gap between groups above it is flagged.
    min_group_size:
        Groups with fewer positives (for recall) or negatives (for the false-positive
        rate) are listed in ``fairness`` but left out of the gaps (too few to compare).
    n_bins:
        Bins of the reliability curve.
    by:
        The capacity unit (village and month).
    weight:
        Column of ``train`` with sample weights, handed to the models whose ``fit``
        takes ``sample_weight`` (e.g. the inverse sampling rate of subsampled
        negatives, so probabilities stay calibrated).

    Returns
    -------
    ModelReport
    """
    check_out_of_time(train, test)
    train = train[train[label].notna()]
    test = test[test[label].notna()].reset_index(drop=True)
    check_out_of_time(train, test)
    y_train = train[label].to_numpy(dtype=np.int64)
    y = test[label].to_numpy(dtype=np.int64)
    X_train = feature_matrix(train, features)
    # a feature never known in training carries nothing (and breaks some estimators)
    unknown = [c for c in X_train.columns if X_train[c].isna().all()]
    X_train = X_train.drop(columns=unknown)
    X_test = feature_matrix(test, [c for c in features if c not in unknown])
    rows: list[dict[str, Any]] = []
    reliability: dict[str, pd.DataFrame] = {}
    fairness: list[dict[str, Any]] = []
    gaps: list[dict[str, Any]] = []
    w_train = None if weight is None else train[weight].to_numpy(dtype=np.float64)
    fitted: dict[str, Any] = {}
    for name, estimator in models.items():
        model = clone(estimator)
        if w_train is not None and has_fit_parameter(model, "sample_weight"):
            model.fit(X_train, y_train, sample_weight=w_train)
        else:
            model.fit(X_train, y_train)
        fitted[name] = model
        s = np.asarray(model.predict_proba(X_test)[:, 1], dtype=np.float64)
        chosen = capacity_lists(test, s, k, by=by)
        recall = float(((y == 1) & chosen).sum() / max((y == 1).sum(), 1))
        prob = np.clip(s, 0.0, 1.0)
        true, pred = calibration_curve(y, prob, n_bins=n_bins, strategy="quantile")
        reliability[name] = pd.DataFrame({"mean_predicted": pred, "observed": true})
        f_rows, f_gaps = _fairness(name, test, y, chosen, groups, gap_threshold, min_group_size)
        fairness += f_rows
        gaps += f_gaps
        rows.append(
            {
                "model": name,
                "auc": _safe(roc_auc_score, y, s),
                "pr_auc": _safe(average_precision_score, y, s),
                "brier": float(brier_score_loss(y, prob)),
                "recall_at_k": recall,
                "listed": int(chosen.sum()),
                "fairness_flags": sum(g["flagged"] for g in f_gaps),
            }
        )
    table = pd.DataFrame(rows).set_index("model")
    base = table["recall_at_k"].get(baseline, np.nan) if baseline in table.index else np.nan
    table["ratio_to_baseline"] = table["recall_at_k"] / base if base else np.nan
    split = {
        "train_periods": f"{train['period'].min()}..{train['period'].max()}",
        "test_periods": f"{test['period'].min()}..{test['period'].max()}",
        "label": label,
        "k": k,
        "train_rows": len(train),
        "train_positives": int(y_train.sum()),
        "test_rows": len(test),
        "test_positives": int(y.sum()),
        "unknown_features": unknown,
    }
    return ModelReport(
        table=table,
        reliability=reliability,
        fairness=pd.DataFrame(fairness),
        gaps=pd.DataFrame(gaps),
        split=split,
        fitted=fitted,
    )


def panel_frame(
    engine: Any,
    pack: Any,
    horizons: Sequence[int] = (3, 6),
    *,
    periods: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Features joined with labels, fetched as a pandas frame for training and evaluation.

    Parameters
    ----------
    engine:
        The analytics store (indicators and, for the rule features, warnings).
    pack:
        The policy pack or library: defines the label and the monitoring line.
    horizons:
        Label horizons in months (``y_<h>`` columns).
    periods:
        Periods to keep (default: all).

    Returns
    -------
    pandas.DataFrame
        :data:`~povguard.risk.features.KEY_COLUMNS`, the features, the group columns,
        ``risk_now`` and ``y_<h>``; one row per household-month.
    """
    frame: pd.DataFrame = engine.fetch(panel_table(engine, pack, horizons, periods)).to_pandas()
    return frame.sort_values(["period", "household_id"], ignore_index=True)


def panel_table(
    engine: Any,
    pack: Any,
    horizons: Sequence[int] = (3, 6),
    periods: Sequence[str] | None = None,
) -> Any:
    """The features of every household-month joined with its labels (an Ibis table).

    Parameters are those of :func:`panel_frame`; nothing is executed.
    """
    from povguard.risk.features import build_features
    from povguard.risk.target import build_labels

    features = build_features(engine, periods, pack=pack)
    labels = build_labels(engine, pack, horizons, periods=periods)
    labels = labels.rename(l_household="household_id", l_period="period")
    return features.join(
        labels,
        (features.household_id == labels.l_household) & (features.period == labels.l_period),
    ).drop("l_household", "l_period")
