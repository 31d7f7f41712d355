"""Out-of-time evaluation: recall at capacity, the split, baselines and the comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from povguard.risk import (
    ProxyMeansScore,
    RulesBaseline,
    capacity_lists,
    check_out_of_time,
    compare_models,
    out_of_time_split,
    recall_at_capacity,
)


@pytest.fixture
def lists() -> pd.DataFrame:
    """Three village-months; ``i`` has an unknown label (already at risk)."""
    return pd.DataFrame(
        [
            ("a", "V1", "2025-01", 0.9, 1),
            ("b", "V1", "2025-01", 0.8, 0),
            ("c", "V1", "2025-01", 0.7, 1),
            ("d", "V1", "2025-01", 0.1, 1),
            ("j", "V2", "2025-01", 0.5, 1),
            ("e", "V2", "2025-01", 0.5, 1),
            ("f", "V2", "2025-01", 0.4, 0),
            ("g", "V1", "2025-02", 0.3, 0),
            ("h", "V1", "2025-02", 0.2, 1),
            ("i", "V1", "2025-02", 0.95, None),
        ],
        columns=["household_id", "village_code", "period", "score", "y"],
    )


def test_recall_at_capacity_by_hand(lists: pd.DataFrame) -> None:
    # six positives; k=2 lists: {a, b}, {e, j}, {g, h} (i has no label) -> a, e, j, h
    assert recall_at_capacity(lists, lists["score"], "y", k=2) == pytest.approx(4 / 6)
    # k=1: a, e (tie with j broken by id), g -> a, e
    assert recall_at_capacity(lists, lists["score"], "y", k=1) == pytest.approx(2 / 6)
    assert recall_at_capacity(lists, lists["score"], "y", k=10) == pytest.approx(1.0)
    chosen = capacity_lists(lists, lists["score"], k=1)
    assert lists["household_id"][chosen].tolist() == ["a", "e", "i"]
    # a capacity list per village only (both months together)
    by_village = recall_at_capacity(lists, lists["score"], "y", k=1, by=("village_code",))
    assert by_village == pytest.approx(2 / 6)  # a and e
    with pytest.raises(ValueError, match="k must"):
        capacity_lists(lists, lists["score"], k=0)
    none = lists.assign(y=0)
    assert np.isnan(recall_at_capacity(none, none["score"], "y"))


def _panel(periods: list[str], n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for p in periods:
        x = rng.normal(size=n)
        frames.append(
            pd.DataFrame(
                {
                    "household_id": [f"h{i:04d}" for i in range(n)],
                    "period": p,
                    "village_code": [f"V{i % 15:02d}" for i in range(n)],
                    "x": x,
                    "noise": rng.normal(size=n),
                    "y_3": (x > 1.2).astype(float),
                    "head_sex": np.where(np.arange(n) % 2 == 0, "男", "女"),
                    "remote_village": np.arange(n) % 15 < 4,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_out_of_time_split_keeps_the_future_out() -> None:
    frame = _panel([f"2025-{m:02d}" for m in range(1, 13)], n=20)
    train, test = out_of_time_split(frame, "2025-08", 3)
    assert sorted(train["period"].unique()) == [f"2025-{m:02d}" for m in range(1, 6)]
    assert sorted(test["period"].unique()) == ["2025-09", "2025-10", "2025-11", "2025-12"]
    _, test = out_of_time_split(frame, "2025-08", 3, test_end="2025-09")
    assert test["period"].unique().tolist() == ["2025-09"]
    with pytest.raises(ValueError, match="overlap"):
        check_out_of_time(frame[frame.period <= "2025-06"], frame[frame.period >= "2025-06"])
    with pytest.raises(ValueError, match="overlap"):  # interleaved months
        check_out_of_time(frame[frame.period != "2025-03"], frame[frame.period == "2025-03"])
    with pytest.raises(ValueError, match="overlap"):
        compare_models(frame, frame, {"lr": LogisticRegression()}, label="y_3", features=["x"])
    with pytest.raises(ValueError, match="non-empty"):
        out_of_time_split(frame, "2025-12", 3)


def test_compare_models_table_reliability_and_fairness() -> None:
    train = _panel(["2025-01", "2025-02"])
    test = _panel(["2025-05"], seed=1)
    test.loc[test.index[:10], "y_3"] = np.nan  # unknown labels are dropped
    models = {"prior": DummyClassifier(strategy="prior"), "lr": LogisticRegression()}
    report = compare_models(
        train,
        test,
        models,
        label="y_3",
        k=2,
        features=["x", "noise"],
        baseline="prior",
        min_group_size=1,
    )
    t = report.table
    assert list(t.index) == ["prior", "lr"]
    assert t.loc["lr", "auc"] > 0.97  # y is a threshold of x
    assert t.loc["lr", "pr_auc"] > 0.85
    assert np.isnan(t.loc["prior", "auc"]) or t.loc["prior", "auc"] == pytest.approx(0.5)
    assert t.loc["lr", "brier"] < t.loc["prior", "brier"]
    assert t.loc["lr", "listed"] == 30  # 15 villages x 1 month x k=2
    assert t.loc["lr", "recall_at_k"] > t.loc["prior", "recall_at_k"]
    assert t.loc["prior", "ratio_to_baseline"] == pytest.approx(1.0)
    assert t.loc["lr", "ratio_to_baseline"] == pytest.approx(
        t.loc["lr", "recall_at_k"] / t.loc["prior", "recall_at_k"]
    )
    assert report.split["test_rows"] == 290
    assert set(report.reliability) == {"prior", "lr"}
    curve = report.reliability["lr"]
    assert ((curve["observed"] >= 0) & (curve["observed"] <= 1)).all()
    fair = report.fairness
    assert set(fair["attribute"]) == {"sex_of_head", "remote_village"}
    lr_sex = fair[(fair.model == "lr") & (fair.attribute == "sex_of_head")]
    assert lr_sex["n"].sum() == 290
    gaps = report.gaps.set_index(["model", "attribute"])
    recall = lr_sex.set_index("group")["recall"]
    assert gaps.loc[("lr", "sex_of_head"), "recall_gap"] == pytest.approx(
        abs(recall["男"] - recall["女"])
    )
    strict = compare_models(
        train, test, models, label="y_3", features=["x"], baseline="prior", gap_threshold=-1
    )
    assert strict.gaps["flagged"].all()
    # groups with fewer positives than min_group_size are not compared
    tiny = compare_models(
        train, test, models, label="y_3", features=["x"], baseline="prior", min_group_size=10**6
    )
    assert (tiny.gaps["recall_gap"] == 0).all() and not tiny.gaps["flagged"].any()
    assert "| lr |" in strict.to_markdown()


def test_rules_baseline_ranks_flagged_then_triggered_then_by_gap() -> None:
    X = pd.DataFrame(
        {
            "warn_needs_verification": [0, 1, 0, 0, 0],
            "illness_12m": [0, 0, 1, 0, 0],
            "income_line_ratio": [0.5, 1.5, 1.2, 0.9, None],
            "unused": [1, 2, 3, 4, 5],
        }
    )
    model = RulesBaseline().fit(X)
    s = model.predict_proba(X)[:, 1]
    assert s == pytest.approx([0.125, 0.5, 0.25, 0.025, 0.125])
    assert np.argsort(-s, kind="stable").tolist() == [1, 2, 0, 4, 3]
    assert model.predict(X).tolist() == [0, 1, 0, 0, 0]
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(ValueError, match="none of the rule columns"):
        RulesBaseline().fit(X[["unused"]])
    with pytest.raises(TypeError, match="DataFrame"):
        RulesBaseline().fit(X.to_numpy())


def test_proxy_means_score_follows_predicted_shortfall() -> None:
    rng = np.random.default_rng(3)
    n = 500
    labour = rng.integers(0, 4, n)
    X = pd.DataFrame(
        {
            "labour_members": labour,
            "members": labour + rng.integers(1, 3, n),
            "income_pc_12m": np.exp(8.0 + 0.5 * labour + rng.normal(0, 0.05, n)),
            "monitoring_line": 6000.0,
        }
    )
    X.loc[0:49, "income_pc_12m"] = np.nan  # not surveyed: still scored
    model = ProxyMeansScore().fit(X)
    predicted = model.predict_income(X)
    assert np.corrcoef(np.log(predicted[50:]), np.log(X["income_pc_12m"][50:]))[0, 1] > 0.95
    s = model.predict_proba(X)[:, 1]
    # exp(8) = 2,981 and exp(9) = 8,103 around a 6,000 line: no labour -> above 0.5
    assert (s[labour == 0] > 0.5).all() and (s[labour >= 2] < 0.5).all()
    assert model.predict(X).tolist() == (s > 0.5).astype(int).tolist()
    fixed = ProxyMeansScore(line=3000.0).fit(X.drop(columns="monitoring_line"))
    assert fixed.line_ == 3000.0
    with pytest.raises(ValueError, match="line"):
        ProxyMeansScore().fit(X.drop(columns="monitoring_line"))
