"""Monthly drift monitor of a risk model: feature and score shift, and calibration.

Once a model is in use, the households it scores drift away from the ones it was
trained on: a department changes a code list, an allowance is raised, a data feed
stops and a feature goes unknown. The monitor compares each month with the
training data and with the outcomes that became known since:

- :func:`reference_distribution` summarises the training features (and the
  training scores, as the column ``"score"``) as quantile bins plus a share of
  unknown values, in a JSON-safe dict that can be saved next to the model card;
- :func:`psi` is the population stability index of one column of a month against
  its reference (unknown values are a bin of their own, so a feed that stops shows
  up as drift);
- :func:`drift_report` puts it together for one month: PSI of every feature and of
  the scores, and the calibration of the scores of earlier months whose outcome is
  now known (observed rate against mean predicted risk by score decile, Brier
  score, expected calibration error).

The usual reading of the PSI: below :data:`PSI_MODERATE` stable, from
:data:`PSI_MODERATE` a moderate shift worth a look, from :data:`PSI_MAJOR` a major
shift (retrain or find the data problem).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from povguard.errors import ConfigError, DataError

__all__ = [
    "PSI_MAJOR",
    "PSI_MODERATE",
    "DriftReport",
    "drift_report",
    "psi",
    "reference_distribution",
]

#: PSI at or above it: a moderate shift.
PSI_MODERATE = 0.1
#: PSI at or above it: a major shift.
PSI_MAJOR = 0.25

#: The reference entry of the model scores.
SCORE = "score"

_FEATURE_COLUMNS = ["feature", "psi", "null_share_reference", "null_share_now", "status"]
_CALIBRATION_COLUMNS = ["bin", "n", "mean_predicted", "observed"]
_TOP = 10
#: Quantile levels are lowered by this much: ``0.3 * 1000`` is ``300.00000000000006``
#: in floating point, which would push the cut point of an exact level one value up.
_LEVEL_TOLERANCE = 1e-12

_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "风险模型漂移监测",
        "model": "模型",
        "status": "总体状态",
        "score_psi": "评分 PSI",
        "features": "特征漂移（PSI 最高的 {n} 个，共 {total} 个）",
        "feature": "特征",
        "null_ref": "缺失率（训练）",
        "null_now": "缺失率（本月）",
        "state": "状态",
        "calibration": "校准（结果已知的月份）",
        "bin": "评分分组",
        "n": "户月数",
        "mean_predicted": "平均预测风险",
        "observed": "实际发生率",
        "no_outcomes": "暂无结果已知的月份，无法评估校准。",
        "summary": (
            "月份 {periods}；户月数 {n}，发生 {positives}；平均预测风险 {mean_predicted}，"
            "实际发生率 {observed_rate}（实际/预测 = {ratio}）；Brier {brier}；"
            "期望校准误差 ECE {ece}。"
        ),
        "stable": "稳定",
        "moderate": "中度偏移",
        "major": "严重偏移",
        "exempt": "不计入（季节或政策）",
        "sep": "，",
        "colon": "：",
        "open": "（",
        "close": "）",
    },
    "en": {
        "title": "Risk model drift monitor",
        "model": "model",
        "status": "Overall status",
        "score_psi": "Score PSI",
        "features": "Feature drift (top {n} by PSI of {total})",
        "feature": "feature",
        "null_ref": "unknown share (training)",
        "null_now": "unknown share (this month)",
        "state": "status",
        "calibration": "Calibration (months whose outcome is known)",
        "bin": "score bin",
        "n": "household-months",
        "mean_predicted": "mean predicted risk",
        "observed": "observed rate",
        "no_outcomes": "No month with a known outcome yet: calibration cannot be assessed.",
        "summary": (
            "Months {periods}; {n} household-months, {positives} positive; mean predicted "
            "risk {mean_predicted}, observed rate {observed_rate} (observed/predicted = "
            "{ratio}); Brier {brier}; expected calibration error {ece}."
        ),
        "stable": "stable",
        "moderate": "moderate shift",
        "major": "major shift",
        "exempt": "not counted (seasonal or policy)",
        "sep": ", ",
        "colon": ": ",
        "open": " (",
        "close": ")",
    },
}


def _status(value: float) -> str:
    if value >= PSI_MAJOR:
        return "major"
    if value >= PSI_MODERATE:
        return "moderate"
    return "stable"


def _floats(values: Any, what: str) -> NDArray[np.float64]:
    """``values`` as a 1-D float array (unknown = NaN), or ``DataError``."""
    arr: NDArray[np.float64]
    try:
        if isinstance(values, pd.Series | pd.Index):
            arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} must be numeric (floats, unknown as NaN): {exc}") from exc
    if arr.ndim != 1:
        raise DataError(f"{what} must be one-dimensional, got shape {arr.shape}")
    return arr


def _levels(bins: int) -> NDArray[np.float64]:
    """The interior quantile levels ``1/bins, ..., (bins-1)/bins`` (slightly lowered)."""
    return np.arange(1, bins, dtype=np.float64) / bins - _LEVEL_TOLERANCE


def _bin_index(edges: NDArray[np.float64], values: NDArray[np.float64]) -> NDArray[np.intp]:
    """Bin of each (non-null) value for the bins (-inf, e1], (e1, e2], ..., (ek, inf)."""
    return np.searchsorted(edges, values, side="left")


def reference_distribution(
    X: pd.DataFrame, weights: ArrayLike | None = None, *, bins: int = 10
) -> dict[str, Any]:
    """The reference distribution of each numeric column of ``X``, JSON-safe.

    Parameters
    ----------
    X:
        Training features (floats, unknown as NaN); add the training scores as a
        column ``"score"`` to monitor them too. Columns that are not numeric are
        left out.
    weights:
        Optional non-negative row weights (e.g. sampling weights); quantiles and
        shares are then weighted.
    bins:
        Quantile bins per column (at least 2).

    Returns
    -------
    dict
        ``{"bins": bins, "columns": {name: {"edges", "shares", "null_share"}}}``.
        ``edges`` are the distinct interior quantile cut points (levels
        ``1/bins, ..., (bins-1)/bins``) of the known values (``np.quantile`` with
        ``method="inverted_cdf"``, weighted when ``weights`` are given, so every
        cut point is a value of the column), so the bins are ``(-inf, e1], (e1, e2], ...,
        (ek, inf)``; ``shares`` are the (weighted) shares of the known values in
        each bin (``len(edges) + 1`` values summing to 1); ``null_share`` is the
        (weighted) share of unknown values. A column that is never known gets
        ``edges == shares == []`` and ``null_share == 1.0``; a constant column
        ``c`` gets ``edges == [c]``. Only plain Python numbers, so
        ``json.dumps`` works.
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise ConfigError(f"bins must be an integer of at least 2, got {bins!r}")
    if weights is None:
        w = np.ones(len(X), dtype=np.float64)
    else:
        w = _floats(weights, "weights")
        if len(w) != len(X):
            raise DataError(f"weights has {len(w)} values but X has {len(X)} rows")
        if not np.isfinite(w).all() or (w < 0).any():
            raise DataError("weights must be finite and non-negative")
        if len(X) and w.sum() <= 0:
            raise DataError("weights sum to zero")
    probs = _levels(bins)
    columns: dict[str, Any] = {}
    for name in X.columns:
        col = X[name]
        if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
            continue
        v = _floats(col.astype("float64"), f"column {name!r}")
        known = ~np.isnan(v) & (w > 0)
        total = float(w.sum())
        known_weight = float(w[known].sum())
        if not known.any() or known_weight <= 0:
            columns[str(name)] = {"edges": [], "shares": [], "null_share": 1.0}
            continue
        vk, wk = v[known], w[known]
        if weights is None:
            cuts = np.quantile(vk, probs, method="inverted_cdf")
        else:
            cuts = np.quantile(vk, probs, weights=wk, method="inverted_cdf")
        edges = np.unique(cuts[np.isfinite(cuts)])
        counts = np.bincount(_bin_index(edges, vk), weights=wk, minlength=len(edges) + 1)
        columns[str(name)] = {
            "edges": [float(e) for e in edges],
            "shares": [float(s) for s in counts / known_weight],
            "null_share": float(w[np.isnan(v)].sum() / total),
        }
    return {"bins": bins, "columns": columns}


def _entry(reference: Mapping[str, Any]) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """Edges, shares and null share of one reference column (checked)."""
    try:
        edges = np.asarray(reference["edges"], dtype=np.float64)
        shares = np.asarray(reference["shares"], dtype=np.float64)
        null_share = float(reference["null_share"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(
            "a reference column needs 'edges', 'shares' and 'null_share' "
            f"(made by reference_distribution): {exc!r}"
        ) from exc
    if edges.ndim != 1 or shares.ndim != 1:
        raise DataError("reference 'edges' and 'shares' must be flat lists")
    if len(shares) == 0:
        if len(edges) or not math.isclose(null_share, 1.0):
            raise DataError("a reference column without shares must have no edges and null_share 1")
    elif len(shares) != len(edges) + 1:
        raise DataError(
            f"reference has {len(edges)} edges but {len(shares)} shares (need edges + 1)"
        )
    if len(edges) > 1 and not (np.diff(edges) > 0).all():
        raise DataError("reference edges must be strictly increasing")
    if not 0.0 <= null_share <= 1.0 or (shares < 0).any():
        raise DataError("reference shares must be between 0 and 1")
    return edges, shares, null_share


def _psi(
    edges: NDArray[np.float64],
    shares: NDArray[np.float64],
    null_share: float,
    v: NDArray[np.float64],
    epsilon: float,
) -> float:
    if len(v) == 0:
        return float("nan")
    null = np.isnan(v)
    known = v[~null]
    n_bins = len(edges) + 1
    q = np.append(shares * (1.0 - null_share) if len(shares) else np.zeros(n_bins), null_share)
    counts = np.bincount(_bin_index(edges, known), minlength=n_bins).astype(np.float64)
    p = np.append(counts, null.sum()) / len(v)
    p, q = np.maximum(p, epsilon), np.maximum(q, epsilon)
    return float(np.sum((p - q) * np.log(p / q)))


def psi(reference: Mapping[str, Any], values: ArrayLike, *, epsilon: float = 1e-4) -> float:
    """Population stability index of ``values`` against one reference column.

    Parameters
    ----------
    reference:
        One column's entry of :func:`reference_distribution`
        (``ref["columns"][name]``).
    values:
        This month's values of the column (unknown as NaN).
    epsilon:
        Floor of every share (so that an empty bin does not give an infinite PSI).

    Returns
    -------
    float
        ``sum((p - q) * ln(p / q))`` over the reference bins plus a bin of unknown
        values, with ``p`` the shares now and ``q`` the reference shares, both
        floored at ``epsilon``. NaN when ``values`` is empty.
    """
    if not epsilon > 0:
        raise ConfigError(f"epsilon must be positive, got {epsilon!r}")
    edges, shares, null_share = _entry(reference)
    return _psi(edges, shares, null_share, _floats(values, "values"), epsilon)


def _nan_to_none(value: Any) -> Any:
    """``value`` with numpy scalars as Python ones and NaN / infinity as ``None``."""
    if isinstance(value, Mapping):
        return {str(k): _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_to_none(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{float(value):.{digits}f}"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


@dataclass
class DriftReport:
    """The drift of one month against the training data, and the calibration so far.

    Attributes
    ----------
    period:
        The month monitored (``YYYY-MM``).
    model_id:
        The model whose scores are monitored.
    features:
        One row per feature: ``feature``, ``psi``, ``null_share_reference``,
        ``null_share_now``, ``status`` (``"stable"``, ``"moderate"``, ``"major"``),
        sorted by PSI descending.
    score_psi:
        PSI of this month's scores against the training scores.
    calibration:
        Per score bin of the earlier months whose outcome is known: ``bin``
        (1 = lowest scores), ``n``, ``mean_predicted``, ``observed``.
    calibration_summary:
        ``periods``, ``n``, ``positives``, ``mean_predicted``, ``observed_rate``,
        ``brier``, ``expected_calibration_error`` (mean absolute gap between
        ``mean_predicted`` and ``observed`` over the bins, weighted by ``n``),
        ``ratio`` (``observed_rate / mean_predicted``).
    """

    period: str
    model_id: str
    features: pd.DataFrame
    score_psi: float
    calibration: pd.DataFrame
    calibration_summary: dict[str, Any] = field(default_factory=dict)

    def status(self) -> str:
        """``"major"``, ``"moderate"`` or ``"stable"``: the worst PSI of features and scores.

        Exempt features (seasonal or set by policy) are shown but not counted.
        """
        counted = self.features[self.features["status"] != "exempt"]
        values = [float(v) for v in counted["psi"]] + [float(self.score_psi)]
        worst = max((v for v in values if not math.isnan(v)), default=0.0)
        return _status(worst)

    def to_markdown(self, language: str = "zh") -> str:
        """A short Markdown report: status, score PSI, top drifted features, calibration.

        Parameters
        ----------
        language:
            ``"zh"`` (Chinese labels, default) or ``"en"``.
        """
        if language not in _LABELS:
            raise ConfigError(f"language must be one of {sorted(_LABELS)}, got {language!r}")
        t = _LABELS[language]
        status = self.status()
        c, o, e = t["colon"], t["open"], t["close"]
        score_status = "—" if math.isnan(self.score_psi) else t[_status(self.score_psi)]
        lines = [
            f"# {t['title']}{c}{self.period}{o}{t['model']} {self.model_id}{e}",
            "",
            f"- {t['status']}{c}**{t[status]}**",
            f"- {t['score_psi']}{c}{_fmt(self.score_psi)}{o}{score_status}{e}",
            "",
            f"## {t['features'].format(n=min(_TOP, len(self.features)), total=len(self.features))}",
            "",
            f"| {t['feature']} | PSI | {t['null_ref']} | {t['null_now']} | {t['state']} |",
            "|---|---|---|---|---|",
        ]
        for _, r in self.features.head(_TOP).iterrows():
            lines.append(
                f"| {_cell(r['feature'])} | {_fmt(r['psi'])} | {_fmt(r['null_share_reference'])} "
                f"| {_fmt(r['null_share_now'])} | {t[str(r['status'])]} |"
            )
        lines += ["", f"## {t['calibration']}", ""]
        s = self.calibration_summary
        if self.calibration.empty or not s.get("n"):
            lines.append(t["no_outcomes"])
            return "\n".join(lines)
        lines += [
            f"| {t['bin']} | {t['n']} | {t['mean_predicted']} | {t['observed']} |",
            "|---|---|---|---|",
        ]
        for _, r in self.calibration.iterrows():
            lines.append(
                f"| {int(r['bin'])} | {int(r['n'])} | {_fmt(r['mean_predicted'])} "
                f"| {_fmt(r['observed'])} |"
            )
        lines += [
            "",
            t["summary"].format(
                periods=t["sep"].join(s.get("periods", [])),
                n=s.get("n"),
                positives=s.get("positives"),
                mean_predicted=_fmt(s.get("mean_predicted")),
                observed_rate=_fmt(s.get("observed_rate")),
                ratio=_fmt(s.get("ratio"), 2),
                brier=_fmt(s.get("brier"), 4),
                ece=_fmt(s.get("expected_calibration_error")),
            ),
        ]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-safe data (NaN as ``None``)."""
        out = {
            "period": self.period,
            "model_id": self.model_id,
            "status": self.status(),
            "score_psi": float(self.score_psi),
            "features": self.features.to_dict(orient="records"),
            "calibration": self.calibration.to_dict(orient="records"),
            "calibration_summary": dict(self.calibration_summary),
        }
        result: dict[str, Any] = _nan_to_none(out)
        return result


def _calibration(
    outcomes: pd.DataFrame | None, period: str, bins: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    nan = float("nan")
    empty_summary: dict[str, Any] = {
        "periods": [],
        "n": 0,
        "positives": 0,
        "mean_predicted": nan,
        "observed_rate": nan,
        "brier": nan,
        "expected_calibration_error": nan,
        "ratio": nan,
    }
    empty = pd.DataFrame(
        {
            "bin": pd.Series(dtype="int64"),
            "n": pd.Series(dtype="int64"),
            "mean_predicted": pd.Series(dtype="float64"),
            "observed": pd.Series(dtype="float64"),
        }
    )
    if outcomes is None:
        return empty, empty_summary
    missing = [c for c in ("period", "score", "y") if c not in outcomes.columns]
    if missing:
        raise DataError(f"outcomes needs the columns period, score, y; missing {missing}")
    y_all = _floats(outcomes["y"], "outcomes y")
    s_all = _floats(outcomes["score"], "outcomes score")
    keep = ~np.isnan(y_all) & ~np.isnan(s_all)
    y, s = y_all[keep], s_all[keep]
    periods = outcomes["period"].astype(str).to_numpy()[keep]
    if len(y) == 0:
        return empty, empty_summary
    if not np.isin(y, (0.0, 1.0)).all():
        raise DataError("outcomes y must be 0 or 1 (unknown as NaN)")
    if (s < 0).any() or (s > 1).any():
        raise DataError("outcomes score must be probabilities between 0 and 1")
    late = sorted({p for p in periods if p >= period})
    if late:
        raise DataError(
            f"outcomes must be of months before {period} (their outcome known now), got {late}"
        )
    cuts = np.unique(np.quantile(s, _levels(bins), method="inverted_cdf"))
    idx = _bin_index(cuts, s)
    n = np.bincount(idx, minlength=len(cuts) + 1)
    sum_s = np.bincount(idx, weights=s, minlength=len(cuts) + 1)
    sum_y = np.bincount(idx, weights=y, minlength=len(cuts) + 1)
    used = n > 0
    n, sum_s, sum_y = n[used], sum_s[used], sum_y[used]
    mean_predicted, observed = sum_s / n, sum_y / n
    table = pd.DataFrame(
        {
            "bin": np.arange(1, len(n) + 1, dtype=np.int64),
            "n": n.astype(np.int64),
            "mean_predicted": mean_predicted,
            "observed": observed,
        }
    )
    mean_s, rate = float(s.mean()), float(y.mean())
    summary: dict[str, Any] = {
        "periods": sorted(set(periods.tolist())),
        "n": len(y),
        "positives": int(y.sum()),
        "mean_predicted": mean_s,
        "observed_rate": rate,
        "brier": float(np.mean((s - y) ** 2)),
        "expected_calibration_error": float(
            np.sum(n * np.abs(mean_predicted - observed)) / n.sum()
        ),
        "ratio": rate / mean_s if mean_s > 0 else nan,
    }
    return table, summary


def drift_report(
    reference: Mapping[str, Any],
    current: pd.DataFrame,
    scores: ArrayLike,
    *,
    period: str,
    model_id: str,
    outcomes: pd.DataFrame | None = None,
    bins: int = 10,
    exempt: Sequence[str] = (),
) -> DriftReport:
    """The drift report of one month.

    Parameters
    ----------
    reference:
        :func:`reference_distribution` of the training features with the training
        scores as an extra column ``"score"``
        (``reference_distribution(X_train.assign(score=train_scores))``).
    current:
        This month's feature matrix (floats, unknown as NaN). The columns it shares
        with the reference (other than ``"score"``) are compared; others are
        ignored.
    scores:
        The model's scores of this month, one per row of ``current``.
    period:
        This month (``YYYY-MM``).
    model_id:
        The model monitored.
    outcomes:
        Earlier scored months whose outcome is now known: columns ``period``,
        ``score`` and ``y`` (0/1). Rows with an unknown ``y`` (or score) are
        dropped; every period must be before ``period``.
    bins:
        Quantile bins of the scores for the calibration table (at most; empty bins
        are dropped).
    exempt:
        Features expected to shift (the calendar month, a line set by policy): their
        PSI is reported with status ``"exempt"`` and does not count in
        :meth:`DriftReport.status`.

    Returns
    -------
    DriftReport
        Without outcomes (or no known one), the calibration table is empty and the
        summary has ``n == 0`` and NaN metrics.
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ConfigError(f"bins must be a positive integer, got {bins!r}")
    columns = reference.get("columns") if isinstance(reference, Mapping) else None
    if not isinstance(columns, Mapping):
        raise DataError("reference must be the dict made by reference_distribution")
    if SCORE not in columns:
        raise DataError(
            "reference has no entry 'score' for the training scores; build it with "
            "reference_distribution(X_train.assign(score=train_scores))"
        )
    if len(current) == 0:
        raise DataError(f"no rows to monitor for {period}")
    s = _floats(scores, "scores")
    if len(s) != len(current):
        raise DataError(f"{len(s)} scores for {len(current)} rows of {period}")
    names = [str(c) for c in current.columns if str(c) in columns and str(c) != SCORE]
    if not names:
        raise DataError("no column of the current feature matrix is in the reference")
    rows: list[dict[str, Any]] = []
    for name in names:
        edges, shares, null_share = _entry(columns[name])
        v = _floats(current[name], f"column {name!r}")
        value = _psi(edges, shares, null_share, v, 1e-4)
        rows.append(
            {
                "feature": name,
                "psi": value,
                "null_share_reference": null_share,
                "null_share_now": float(np.isnan(v).mean()),
                "status": "exempt" if name in exempt else _status(value),
            }
        )
    features = (
        pd.DataFrame(rows, columns=_FEATURE_COLUMNS)
        .sort_values("psi", ascending=False, kind="mergesort")
        .reset_index(drop=True)
    )
    score_edges, score_shares, score_null = _entry(columns[SCORE])
    score_psi = _psi(score_edges, score_shares, score_null, s, 1e-4)
    calibration, summary = _calibration(outcomes, period, bins)
    return DriftReport(
        period=period,
        model_id=model_id,
        features=features,
        score_psi=score_psi,
        calibration=calibration,
        calibration_summary=summary,
    )
