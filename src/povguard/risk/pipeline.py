"""Train, score and monitor the risk model on the analytics store.

These are the plans behind ``povguard risk ...`` and the cycle's predict stage:

- :func:`build_panel` materialises the panel (features and labels of every
  household-month) as table ``risk_panel`` in the engine;
- :func:`train_model` draws the training rows in the engine (every positive, a
  deterministic hash sample of the negatives, weighted back by the inverse rate),
  fits the model, evaluates it out of time on held-out later months against the
  rules-only baseline, and saves it with its card (metrics, training periods, drift
  reference);
- :func:`score_period` scores one month's households, ranks them within their
  village and explains the top ``capacity`` of each (store ``risk_scores``);
- :func:`prediction_warnings` turns the listed households into "预测预警" warnings
  beside the rule warnings, and :func:`predict_period` is the cycle stage that
  stores both;
- :func:`monitor_period` is the monthly drift report (feature and score PSI, and
  the calibration of earlier months whose outcome is now known);
- :func:`profile_period` sorts the month's monitored and at-risk households into
  named risk profiles (store ``risk_profiles``, for assistance planning).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.base import clone
from sklearn.utils.validation import has_fit_parameter

from povguard.engine import Engine
from povguard.errors import ConfigError, DataError
from povguard.policy import PackLibrary, PolicyPack
from povguard.policy.screen import PREDICTION_KIND, WARNING_SCHEMA, WARNINGS
from povguard.risk.baselines import ProxyMeansScore, RulesBaseline
from povguard.risk.drift import DriftReport, drift_report, reference_distribution
from povguard.risk.evaluate import compare_models, feature_matrix, panel_table, shift_period
from povguard.risk.explain import explain
from povguard.risk.features import FEATURE_COLUMNS, build_features
from povguard.risk.models import RiskClassifier, paper_models
from povguard.risk.registry import LoadedModel, ModelCard, save_model
from povguard.risk.target import build_labels
from povguard.risk.typology import RiskTypology, default_naming_table

log = logging.getLogger(__name__)

#: Engine table of the materialised panel (features, group columns, labels).
PANEL_TABLE = "risk_panel"
#: Engine table of every scored household-month (period-partitioned).
SCORES_TABLE = "risk_scores"
#: Engine table of the households' risk profiles (period-partitioned).
PROFILES_TABLE = "risk_profiles"
#: Rule id of the model's warnings (their kind is ``PREDICTION_KIND``).
PREDICTION_RULE = "risk_model"
#: Features expected to shift, reported by the drift monitor but not counted: the
#: calendar month (seasonal by design) and the monitoring line (set by policy each year).
DRIFT_EXEMPT = ("calendar_month", "monitoring_line")
#: Training rows the drift reference is computed from (a fixed-seed subsample).
REFERENCE_ROWS = 200_000
#: Households a village can visit per month, by default.
DEFAULT_CAPACITY = 2

SCORE_SCHEMA = pa.schema(
    [
        ("period", pa.string()),
        ("household_id", pa.string()),
        ("village_code", pa.string()),
        ("model_id", pa.string()),
        ("score", pa.float64()),
        ("village_rank", pa.int64()),
        ("listed", pa.bool_()),
        ("at_risk_now", pa.bool_()),
        ("reason_zh", pa.string()),
        ("reason_en", pa.string()),
        ("factors", pa.string()),
    ]
)


def build_panel(
    engine: Engine,
    pack: PolicyPack | PackLibrary,
    horizons: Sequence[int] = (3, 6),
    *,
    periods: Sequence[str] | None = None,
) -> int:
    """Materialise the features and labels of every household-month as ``risk_panel``.

    Parameters
    ----------
    engine : Engine
        The analytics store after the monthly cycles (indicators, warnings).
    pack : PolicyPack or PackLibrary
        The policy whose at-risk definition gives the labels.
    horizons : Sequence[int], default=(3, 6)
        Label horizons in months (``y_<h>``).
    periods : Sequence[str], optional
        Periods to keep (default: all of the indicators).

    Returns
    -------
    int
        Rows written.
    """
    return engine.replace_table(PANEL_TABLE, panel_table(engine, pack, horizons, periods))


def panel_periods(engine: Engine) -> list[str]:
    """The periods of ``risk_panel``, in order (empty when it was not built)."""
    if not engine.exists(PANEL_TABLE):
        return []
    t = engine.table(PANEL_TABLE)
    return sorted(engine.fetch(t.select("period").distinct())["period"].to_pylist())


def training_sample(
    engine: Engine,
    label: str,
    first: str | None,
    last: str,
    *,
    max_negatives: int = 1_000_000,
    seed: int = 0,
    sample: bool = True,
) -> tuple[pd.DataFrame, float]:
    """The labelled rows of ``risk_panel`` from ``first`` to ``last`` with sampled negatives.

    Every positive is kept; negatives are kept with probability
    ``rate = min(1, max_negatives / negatives)`` by a hash of household, period and
    ``seed`` computed in the engine (the same rows on every run), and carry the
    weight ``1 / rate`` in column ``weight`` so that weighted fits stay calibrated.

    Parameters
    ----------
    engine : Engine
        Store holding ``risk_panel``.
    label : str
        Label column (``y_3``, ``y_6``).
    first, last : str or None
        Inclusive period range (``first`` None: from the start).
    max_negatives : int, default=1_000_000
        Expected number of negatives kept.
    seed : int, default=0
        Seed of the negative sample.
    sample : bool, default=True
        False: keep every negative (e.g. for evaluation, where a capacity list needs
        every household of its village and month).

    Returns
    -------
    tuple[pandas.DataFrame, float]
        The rows (sorted by period and household) and the negative sampling rate.
    """
    if not engine.exists(PANEL_TABLE):
        raise ConfigError("no risk_panel in the store: build it first (povguard risk train)")
    t = engine.table(PANEL_TABLE)
    if label not in t.columns:
        raise ConfigError(f"risk_panel has no label {label!r} (labels: build the panel again)")
    keep = t[label].notnull() & (t.period <= last)
    if first is not None:
        keep &= t.period >= first
    t = t.filter(keep)
    counts = engine.fetch(
        t.aggregate(positives=(t[label] == 1).cast("int64").sum(), rows=t.count())
    ).to_pylist()[0]
    positives, rows = int(counts["positives"] or 0), int(counts["rows"] or 0)
    negatives = rows - positives
    rate = 1.0
    if sample and negatives > max_negatives:  # keep buckets < kept of 1,000,000 (at least one)
        kept = max(1, round(max_negatives / negatives * 1_000_000))
        rate = kept / 1_000_000
        bucket = (t.household_id.concat("|", t.period, f"|{seed}").hash() % 1_000_000).abs()
        t = t.filter((t[label] == 1) | (bucket < kept))
    frame: pd.DataFrame = engine.fetch(t).to_pandas()
    frame["weight"] = np.where(frame[label] == 1, 1.0, 1.0 / rate)
    return frame.sort_values(["period", "household_id"], ignore_index=True), rate


def default_model() -> RiskClassifier:
    """The default risk model: gradient boosting with povguard's fixed parameters."""
    return RiskClassifier()


def comparison_models(paper: bool = False) -> dict[str, Any]:
    """The models of the out-of-time comparison, by name (unfitted).

    Parameters
    ----------
    paper : bool, default=False
        Add the paper's algorithms (:func:`~povguard.risk.models.paper_models`).

    Returns
    -------
    dict[str, estimator]
        ``rules`` (the baseline), ``pmt``, ``default``, ``hist_gradient_boosting`` and,
        with ``paper``, logistic regression, decision tree, random forest, SVM, naive
        Bayes and a neural network.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    models: dict[str, Any] = {
        "rules": RulesBaseline(),
        "pmt": ProxyMeansScore(),
        "default": default_model(),
        "hist_gradient_boosting": HistGradientBoostingClassifier(random_state=0),
    }
    return models | paper_models() if paper else models


@dataclass
class TrainResult:
    """What :func:`train_model` did.

    Attributes
    ----------
    card : ModelCard or None
        The saved model's card (None with ``save=False``).
    model : estimator
        The fitted model.
    features : list[str]
        Features the model uses (card order).
    metrics : dict[str, float]
        Out-of-time metrics on the held-out months (empty without a holdout).
    report : ModelReport or None
        The comparison with the rules-only baseline on the held-out months.
    timings : dict[str, float]
        Seconds per step: ``panel``, ``sample``, ``fit`` (or ``fit_and_evaluate`` with
        a holdout), ``reference`` (the drift reference) and ``save``.
    details : dict[str, Any]
        Training periods, sampling rate, rows and positives (kept on the card).
    """

    card: ModelCard | None
    model: Any
    features: list[str]
    metrics: dict[str, float]
    report: Any
    timings: dict[str, float]
    details: dict[str, Any]


def train_model(
    engine: Engine,
    pack: PolicyPack | PackLibrary,
    *,
    horizon: int = 3,
    cutoff: str | None = None,
    holdout_months: int = 6,
    capacity: int = DEFAULT_CAPACITY,
    max_negatives: int = 1_000_000,
    estimator: Any = None,
    build: bool = True,
    save: bool = True,
    home: Path | str | None = None,
    model_id: str | None = None,
    seed: int = 0,
) -> TrainResult:
    """Train the risk model on the store's panel, evaluate it out of time and save it.

    The label ``y_<horizon>`` of month ``t`` is known once month ``t + horizon`` is
    observed, so with data up to ``cutoff`` the labelled months end at
    ``cutoff - horizon``. The last ``holdout_months`` of them are held out: the model
    is fitted on months up to ``split - horizon`` (their outcome known by the split)
    and evaluated on the held-out months against the rules-only baseline; that model
    is the one saved, so the card's metrics describe it.

    Parameters
    ----------
    engine : Engine
        The analytics store after the monthly cycles.
    pack : PolicyPack or PackLibrary
        Policy defining "at risk" (the label) and the monitoring line.
    horizon : int, default=3
        Months ahead (3 or 6).
    cutoff : str, optional
        Last month the training may see (default: the last month of the store).
    holdout_months : int, default=6
        Labelled months held out for the out-of-time evaluation (0: none, fit on all).
        The held-out months are fetched whole (capacity lists need every household),
        so at national scale hold out fewer months or evaluate per province.
    capacity : int, default=2
        Households per village and month on the lists (recall at capacity).
    max_negatives : int, default=1_000_000
        Negatives kept in training (sampled in the engine, weighted back).
    estimator : estimator, optional
        The model to fit (default :func:`default_model`).
    build : bool, default=True
        Build ``risk_panel`` first (False: use the one in the store).
    save : bool, default=True
        Save the model in the registry.
    home : Path or str, optional
        Data directory of the registry (settings' home by default).
    model_id : str, optional
        Registry id (default: generated).
    seed : int, default=0
        Seed of the negative sample.

    Returns
    -------
    TrainResult
    """
    if horizon < 1 or holdout_months < 0 or capacity < 1:
        raise ConfigError("horizon and capacity must be >= 1 and holdout_months >= 0")
    label = f"y_{horizon}"
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if build:
        build_panel(engine, pack, horizons=sorted({3, 6, horizon}))
    timings["panel"] = time.perf_counter() - t0
    periods = panel_periods(engine)
    if not periods:
        raise DataError("no household-months to train on: run the monthly cycles first")
    cutoff = cutoff or periods[-1]
    if cutoff > periods[-1]:
        raise DataError(f"cutoff {cutoff} is after the last month of the store ({periods[-1]})")
    labelled_end = shift_period(cutoff, -horizon)
    split = shift_period(labelled_end, -holdout_months)
    train_end = shift_period(split, -horizon) if holdout_months else labelled_end
    if train_end < periods[0]:
        raise DataError(
            f"too few months to train: labels of {label} are known up to {labelled_end}, and "
            f"{holdout_months} held-out months leave no training month from {periods[0]}"
        )
    t0 = time.perf_counter()
    train, rate = training_sample(
        engine, label, None, train_end, max_negatives=max_negatives, seed=seed
    )
    timings["sample"] = time.perf_counter() - t0
    if int((train[label] == 1).sum()) == 0:
        raise DataError(f"no household entered at-risk status in {periods[0]}..{train_end}")
    estimator = default_model() if estimator is None else estimator
    metrics: dict[str, float] = {}
    report = None
    t0 = time.perf_counter()
    if holdout_months:
        # never sampled: a capacity list needs every household of its village and month
        first_test = shift_period(split, 1)
        test, _ = training_sample(engine, label, first_test, labelled_end, sample=False)
        if test.empty:
            raise DataError(f"no labelled household-months in {first_test}..{labelled_end}")
        report = compare_models(
            train,
            test,
            {"rules": RulesBaseline(), "model": estimator},
            label=label,
            k=capacity,
            weight="weight",
        )
        model = report.fitted["model"]
        row = report.table.loc["model"]
        metrics = {
            "auc": float(row["auc"]),
            "pr_auc": float(row["pr_auc"]),
            "brier": float(row["brier"]),
            "recall_at_capacity": float(row["recall_at_k"]),
            "rules_recall_at_capacity": float(report.table.loc["rules", "recall_at_k"]),
            "ratio_to_rules": float(row["ratio_to_baseline"]),
            "fairness_flags": float(row["fairness_flags"]),
        }
        # undefined metrics (e.g. AUC without a positive) are left out, not NaN
        metrics = {k: v for k, v in metrics.items() if math.isfinite(v)}
        features = [c for c in FEATURE_COLUMNS if c not in report.split["unknown_features"]]
        X_train = feature_matrix(train, features)
        timings["fit_and_evaluate"] = time.perf_counter() - t0
    else:
        X = feature_matrix(train)
        features = [c for c in X.columns if not X[c].isna().all()]
        X_train = X[features]
        model = clone(estimator)
        y, w = train[label].to_numpy(dtype=np.int64), train["weight"].to_numpy()
        if has_fit_parameter(model, "sample_weight"):
            model.fit(X_train, y, sample_weight=w)
        else:
            model.fit(X_train, y)
        timings["fit"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    # the drift reference: weighted distributions of features and scores, from at most
    # REFERENCE_ROWS training rows (a fixed-seed subsample; deciles need no more)
    rows = np.arange(len(train))
    if len(rows) > REFERENCE_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, REFERENCE_ROWS, replace=False))
    sub = X_train.iloc[rows]
    scores = np.asarray(model.predict_proba(sub)[:, 1], dtype=np.float64)
    weights = train["weight"].to_numpy(dtype=np.float64)[rows]
    reference = reference_distribution(sub.assign(score=scores), weights)
    timings["reference"] = time.perf_counter() - t0
    details: dict[str, Any] = {
        "label": label,
        "cutoff": cutoff,
        "train_periods": [str(train["period"].min()), train_end],
        "test_periods": [shift_period(split, 1), labelled_end] if holdout_months else [],
        "capacity": capacity,
        "negative_rate": rate,
        "train_rows": len(train),
        "train_positives": int((train[label] == 1).sum()),
        "reference": reference,
    }
    if report is not None:
        details["holdout_table"] = report.table.reset_index().to_dict(orient="records")
        details["fairness_gaps"] = report.gaps.to_dict(orient="records")
    card = None
    if save:
        t0 = time.perf_counter()
        card = save_model(
            model,
            X_train,
            y=train[label].to_numpy(dtype=np.int64),
            policy_pack_id=_pack_id(pack, cutoff),
            policy_pack_version=_pack_version(pack, cutoff),
            horizon_months=horizon,
            metrics=metrics,
            home=home,
            model_id=model_id,
            details=details,
        )
        timings["save"] = time.perf_counter() - t0
    return TrainResult(card, model, features, metrics, report, timings, details)


def _packs(pack: PolicyPack | PackLibrary, period: str) -> list[PolicyPack]:
    return pack.in_force(period) if isinstance(pack, PackLibrary) else [pack]


def _pack_id(pack: PolicyPack | PackLibrary, period: str) -> str:
    return ",".join(p.id for p in _packs(pack, period)) or "?"


def _pack_version(pack: PolicyPack | PackLibrary, period: str) -> str:
    return ",".join(str(p.version) for p in _packs(pack, period)) or "?"


def period_features(
    engine: Engine, period: str, pack: PolicyPack | PackLibrary | None
) -> pd.DataFrame:
    """The keys, features and group columns of one month's households (pandas)."""
    frame: pd.DataFrame = engine.fetch(build_features(engine, [period], pack=pack)).to_pandas()
    if frame.empty:
        raise DataError(f"no indicators for {period}: run the cycle of {period} first")
    return frame.sort_values("household_id", ignore_index=True)


def score_period(
    engine: Engine,
    loaded: LoadedModel,
    period: str,
    pack: PolicyPack | PackLibrary | None,
    *,
    capacity: int = DEFAULT_CAPACITY,
    top_factors: int = 3,
    frame: pd.DataFrame | None = None,
    store: bool = True,
) -> pa.Table:
    """Score every household of ``period``, rank them per village, explain the lists.

    Households already at risk this month (a rule's ``risk`` warning) are scored but
    not listed: the rules already send a cadre there. The top ``capacity`` of the
    others in each village are listed and explained (the factors raising the risk,
    in Chinese and English).

    Parameters
    ----------
    engine : Engine
        Analytics store after the period's screen.
    loaded : LoadedModel
        The model and its card (:func:`~povguard.risk.registry.load_model`).
    period : str
        ``YYYY-MM``.
    pack : PolicyPack or PackLibrary or None
        Policy giving the monitoring line of the features.
    capacity : int, default=2
        Households listed per village.
    top_factors : int, default=3
        Factors explained per listed household.
    frame : pandas.DataFrame, optional
        The period's features when already built (:func:`period_features`).
    store : bool, default=True
        Replace the period's rows of ``risk_scores``.

    Returns
    -------
    pyarrow.Table
        One row per household (:data:`SCORE_SCHEMA`).
    """
    if capacity < 1:
        raise ConfigError(f"capacity must be >= 1, got {capacity}")
    frame = period_features(engine, period, pack) if frame is None else frame
    X = feature_matrix(frame, loaded.card.features)
    scores = np.asarray(loaded.model.predict_proba(X)[:, 1], dtype=np.float64)
    at_risk = (frame["warn_risk"].fillna(0) > 0).to_numpy()
    eligible = np.flatnonzero(~at_risk)
    ranked = pd.DataFrame(
        {
            "s": scores[eligible],
            "h": frame["household_id"].to_numpy()[eligible],
            "v": frame["village_code"].to_numpy()[eligible],
            "pos": eligible,
        }
    ).sort_values(["s", "h"], ascending=[False, True], kind="mergesort")
    order = np.full(len(frame), -1, dtype=np.int64)
    order[ranked["pos"].to_numpy()] = ranked.groupby("v", dropna=False).cumcount().to_numpy() + 1
    listed = (order >= 1) & (order <= capacity)
    reason_zh: list[str | None] = [None] * len(frame)
    reason_en: list[str | None] = [None] * len(frame)
    factors: list[str | None] = [None] * len(frame)
    where = np.flatnonzero(listed)
    if len(where) and isinstance(loaded.model, RiskClassifier) and top_factors:
        for i, e in zip(where, explain(loaded.model, X.iloc[where], top=top_factors), strict=True):
            reason_zh[i], reason_en[i] = e.zh, e.en
            factors[i] = json.dumps(
                [
                    {
                        "feature": f.feature,
                        "value": f.value,
                        "contribution": round(f.contribution, 4),
                    }
                    for f in e.factors
                ],
                ensure_ascii=False,
            )
    table = pa.Table.from_pydict(
        {
            "period": [period] * len(frame),
            "household_id": frame["household_id"].tolist(),
            "village_code": frame["village_code"].tolist(),
            "model_id": [loaded.card.id] * len(frame),
            "score": scores,
            "village_rank": pa.array([int(r) if r > 0 else None for r in order], pa.int64()),
            "listed": listed,
            "at_risk_now": at_risk,
            "reason_zh": reason_zh,
            "reason_en": reason_en,
            "factors": factors,
        },
        schema=SCORE_SCHEMA,
    )
    if store:
        engine.replace_period(SCORES_TABLE, period, table)
    return table


def prediction_warnings(scores: pa.Table, card: ModelCard) -> pa.Table:
    """The listed households of :func:`score_period` as "预测预警" warning rows.

    Parameters
    ----------
    scores : pyarrow.Table
        Output of :func:`score_period`.
    card : ModelCard
        The model's card (id and horizon go into the warning).

    Returns
    -------
    pyarrow.Table
        Rows of the ``warnings`` schema: kind ``prediction``, rule ``risk_model``,
        rule version the model id.
    """
    h = card.horizon_months
    rows = []
    for r in scores.filter(scores["listed"]).to_pylist():
        p = r["score"]
        zh = f"预测预警：未来 {h} 个月陷入风险的概率 {p:.0%}，本村第 {r['village_rank']} 位"
        en = (
            f"predicted: {p:.0%} probability of falling into risk within {h} months, "
            f"#{r['village_rank']} in the village"
        )
        if r["reason_zh"]:
            zh, en = f"{zh}；{r['reason_zh']}", f"{en}; {r['reason_en']}"
        values = {
            "score": round(p, 6),
            "village_rank": r["village_rank"],
            "horizon_months": h,
            "model_id": card.id,
            "factors": json.loads(r["factors"]) if r["factors"] else [],
        }
        rows.append(
            {
                "period": r["period"],
                "household_id": r["household_id"],
                "rule_id": PREDICTION_RULE,
                "rule_version": card.id,
                "kind": PREDICTION_KIND,
                "severity": "medium",
                "household_type": None,
                "reason_zh": zh,
                "reason_en": en,
                "values": json.dumps(values, ensure_ascii=False, sort_keys=True),
                "evidence": "[]",
            }
        )
    return pa.Table.from_pylist(rows, schema=WARNING_SCHEMA)


def predict_period(
    engine: Engine,
    loaded: LoadedModel,
    period: str,
    pack: PolicyPack | PackLibrary | None,
    *,
    capacity: int = DEFAULT_CAPACITY,
) -> pa.Table:
    """The cycle's predict stage: score ``period`` and store its model warnings.

    Replaces the period's ``risk_scores`` and its ``prediction`` warnings, keeping
    the rule warnings of the screen; idempotent like every stage.

    Returns
    -------
    pyarrow.Table
        All the period's warnings: the rules' and the model's.
    """
    scores = score_period(engine, loaded, period, pack, capacity=capacity)
    predicted = prediction_warnings(scores, loaded.card)
    rules = pa.Table.from_pylist([], schema=WARNING_SCHEMA)
    if engine.exists(WARNINGS):
        w = engine.table(WARNINGS)
        kept = w.filter((w.period == period) & (w.kind != PREDICTION_KIND))
        rules = engine.fetch(kept.select(*WARNING_SCHEMA.names)).cast(WARNING_SCHEMA)
    combined = pa.concat_tables([rules, predicted])
    engine.replace_period(WARNINGS, period, combined)
    return combined


def monitor_period(
    engine: Engine,
    loaded: LoadedModel,
    period: str,
    pack: PolicyPack | PackLibrary,
) -> DriftReport:
    """The monthly drift report of a model for ``period``.

    Compares the month's features and scores with the training reference on the
    model's card (population stability index), and checks the calibration of the
    earlier months this model scored (``risk_scores``) whose outcome ``y_<h>`` is
    known by ``period``.

    Parameters
    ----------
    engine : Engine
        Analytics store after the period's cycle.
    loaded : LoadedModel
        The model and its card (the card must carry the drift reference).
    period : str
        ``YYYY-MM``.
    pack : PolicyPack or PackLibrary
        Policy defining the outcome and the monitoring line.

    Returns
    -------
    DriftReport
    """
    reference = loaded.card.details.get("reference")
    if not reference:
        raise DataError(f"model {loaded.card.id!r} has no drift reference on its card")
    frame = period_features(engine, period, pack)
    # the population the model was trained on and ranks: households not at risk now
    frame = frame[(frame["warn_risk"].fillna(0) == 0).to_numpy()]
    if frame.empty:
        raise DataError(f"{period}: every household is at risk; nothing to monitor")
    X = feature_matrix(frame, loaded.card.features)
    scores = np.asarray(loaded.model.predict_proba(X)[:, 1], dtype=np.float64)
    h = loaded.card.horizon_months
    outcomes = None
    last_known = shift_period(period, -h)
    trained = loaded.card.details.get("train_periods") or [None, ""]
    if engine.exists(SCORES_TABLE):
        s = engine.table(SCORES_TABLE)
        s = s.filter(
            (s.model_id == loaded.card.id)
            & (s.period <= last_known)
            & (s.period > trained[1])  # out of sample only
            & ~s.at_risk_now
        )
        past = engine.fetch(s.select("period", "household_id", "score")).to_pandas()
        if not past.empty:
            wanted = [str(past["period"].min())]
            while wanted[-1] < period:
                wanted.append(shift_period(wanted[-1], 1))
            labels = engine.fetch(build_labels(engine, pack, [h], periods=wanted)).to_pandas()
            labels = labels.rename(columns={f"y_{h}": "y"})[["period", "household_id", "y"]]
            outcomes = past.merge(labels, on=["period", "household_id"], how="inner")
    return drift_report(
        reference,
        X,
        scores,
        period=period,
        model_id=loaded.card.id,
        outcomes=outcomes,
        exempt=DRIFT_EXEMPT,
    )


def profile_period(
    engine: Engine,
    period: str,
    pack: PolicyPack | PackLibrary | None,
    *,
    n_clusters: int | None = None,
    n_bootstrap: int = 20,
    store: bool = True,
) -> tuple[RiskTypology, pa.Table]:
    """Cluster the month's monitored and at-risk households into named risk profiles.

    The households are those registered as monitored (监测户) or with a ``risk``
    warning this month; their features are the ones the naming table
    (``resources/risk/typology.yaml``) can name (demographics, income structure,
    costs, shocks, village context).

    Parameters
    ----------
    engine : Engine
        Analytics store after the period's cycle.
    period : str
        ``YYYY-MM``.
    pack : PolicyPack or PackLibrary or None
        Policy giving the monitoring line of the features.
    n_clusters : int, optional
        Number of profiles (default: chosen by silhouette).
    n_bootstrap : int, default=20
        Resamples of the stability score.
    store : bool, default=True
        Replace the period's rows of ``risk_profiles``.

    Returns
    -------
    tuple[RiskTypology, pyarrow.Table]
        The fitted typology (profiles, stability) and one row per household:
        ``period``, ``household_id``, ``village_code``, ``cluster``,
        ``profile_zh``, ``profile_en``.
    """
    frame = period_features(engine, period, pack)
    chosen = (frame["monitored"].fillna(False).astype(bool)) | (frame["warn_risk"].fillna(0) > 0)
    frame = frame[chosen.to_numpy()]
    columns = [c for c in default_naming_table()["features"] if c in FEATURE_COLUMNS]
    if len(frame) < 10:
        raise DataError(
            f"{period}: {len(frame)} monitored or at-risk households, too few to profile"
        )
    X = feature_matrix(frame, columns)
    model = RiskTypology(n_clusters=n_clusters, n_bootstrap=n_bootstrap).fit(X)
    labels = model.labels_
    table = pa.Table.from_pydict(
        {
            "period": [period] * len(frame),
            "household_id": frame["household_id"].tolist(),
            "village_code": frame["village_code"].tolist(),
            "cluster": pa.array(labels, pa.int64()),
            "profile_zh": [model.profiles_[c].name_zh for c in labels],
            "profile_en": [model.profiles_[c].name_en for c in labels],
        }
    )
    if store:
        engine.replace_period(PROFILES_TABLE, period, table)
    return model, table
