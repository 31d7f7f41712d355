"""Drift monitor: reference distributions, PSI, the monthly report and calibration."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from povguard.errors import ConfigError, DataError
from povguard.risk.drift import (
    PSI_MAJOR,
    PSI_MODERATE,
    DriftReport,
    drift_report,
    psi,
    reference_distribution,
)

# --- reference_distribution ---------------------------------------------------


def test_reference_shares_sum_to_one_and_follow_deciles() -> None:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"income": rng.normal(size=1000), "label": ["x"] * 1000})
    ref = reference_distribution(X)
    assert ref["bins"] == 10
    assert list(ref["columns"]) == ["income"]  # the text column is left out
    col = ref["columns"]["income"]
    assert len(col["edges"]) == 9
    assert len(col["shares"]) == 10
    assert sum(col["shares"]) == pytest.approx(1.0)
    assert col["shares"] == pytest.approx([0.1] * 10)
    assert col["null_share"] == 0.0
    assert col["edges"] == sorted(col["edges"])


def test_reference_weighted_quantiles_differ_from_unweighted() -> None:
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]})
    # unweighted median (inverted cdf): F(2) = 0.5 -> 2; half the values on each side
    plain = reference_distribution(X, bins=2)["columns"]["a"]
    assert plain == {"edges": [2.0], "shares": [0.5, 0.5], "null_share": 0.0}
    # weights 1, 1, 1, 5: cumulative shares 1/8, 2/8, 3/8, 1 -> the median is 4
    weighted = reference_distribution(X, [1, 1, 1, 5], bins=2)["columns"]["a"]
    assert weighted == {"edges": [4.0], "shares": [1.0, 0.0], "null_share": 0.0}
    # unit weights are the unweighted reference
    assert reference_distribution(X, np.ones(4), bins=2)["columns"]["a"] == plain


def test_reference_null_share_plain_and_weighted() -> None:
    X = pd.DataFrame({"a": [1.0, np.nan, 3.0, np.nan]})
    assert reference_distribution(X)["columns"]["a"]["null_share"] == 0.5
    weighted = reference_distribution(X, [1, 1, 1, 3])["columns"]["a"]
    assert weighted["null_share"] == pytest.approx(4 / 6)
    assert sum(weighted["shares"]) == pytest.approx(1.0)


def test_reference_all_nan_and_constant_columns() -> None:
    X = pd.DataFrame({"never": [np.nan] * 4, "const": [5.0, 5.0, 5.0, np.nan]})
    cols = reference_distribution(X)["columns"]
    assert cols["never"] == {"edges": [], "shares": [], "null_share": 1.0}
    assert cols["const"] == {"edges": [5.0], "shares": [1.0, 0.0], "null_share": 0.25}


def test_reference_is_json_safe() -> None:
    rng = np.random.default_rng(2)
    X = pd.DataFrame(
        {
            "x": rng.normal(size=200).astype(np.float32),
            "flag": rng.integers(0, 2, 200).astype(bool),
            "never": np.nan,
        }
    )
    ref = reference_distribution(X, rng.uniform(0.5, 2.0, 200))
    assert json.loads(json.dumps(ref, allow_nan=False)) == ref
    for col in ref["columns"].values():
        assert all(type(v) is float for v in col["edges"] + col["shares"])
        assert type(col["null_share"]) is float
    assert ref["columns"]["flag"]["edges"] == [0.0, 1.0]


def test_reference_rejects_bad_arguments() -> None:
    X = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(ConfigError, match="bins"):
        reference_distribution(X, bins=1)
    with pytest.raises(DataError, match="weights has 3 values"):
        reference_distribution(X, [1, 1, 1])
    with pytest.raises(DataError, match="non-negative"):
        reference_distribution(X, [1, -1])


# --- psi ----------------------------------------------------------------------


def test_psi_of_the_same_sample_is_zero() -> None:
    rng = np.random.default_rng(3)
    v = np.where(rng.random(500) < 0.1, np.nan, rng.normal(size=500))
    ref = reference_distribution(pd.DataFrame({"v": v}))["columns"]["v"]
    assert psi(ref, v) == pytest.approx(0.0, abs=1e-12)


def test_psi_hand_computed() -> None:
    ref = {"edges": [0.0], "shares": [0.5, 0.5], "null_share": 0.2}
    # reference q = (0.4, 0.4, 0.2); now: three low, one high, one unknown -> p = (0.6, 0.2, 0.2)
    expected = (0.6 - 0.4) * math.log(0.6 / 0.4) + (0.2 - 0.4) * math.log(0.2 / 0.4)
    assert psi(ref, [-1.0, -2.0, -3.0, 1.0, np.nan]) == pytest.approx(expected, rel=1e-12)
    # a value on the edge is in the lower bin (bins are closed on the right); empty
    # bins are floored at epsilon: p = (1, eps, eps), q = (0.4, 0.4, 0.2)
    eps = 1e-4
    expected = (
        (1 - 0.4) * math.log(1 / 0.4)
        + (eps - 0.4) * math.log(eps / 0.4)
        + (eps - 0.2) * math.log(eps / 0.2)
    )
    assert psi(ref, [0.0, -5.0]) == pytest.approx(expected, rel=1e-12)


def test_psi_of_a_shifted_normal_is_major() -> None:
    rng = np.random.default_rng(4)
    ref = reference_distribution(pd.DataFrame({"v": rng.normal(size=5000)}))["columns"]["v"]
    assert psi(ref, rng.normal(size=5000)) < PSI_MODERATE
    assert psi(ref, rng.normal(1.0, 1.0, size=5000)) > PSI_MAJOR


def test_psi_rises_when_values_go_unknown() -> None:
    rng = np.random.default_rng(5)
    v = rng.normal(size=2000)
    ref = reference_distribution(pd.DataFrame({"v": v}))["columns"]["v"]
    assert ref["null_share"] == 0.0
    half_unknown = np.where(np.arange(2000) % 2 == 0, np.nan, v)
    before, after = psi(ref, v), psi(ref, half_unknown)
    assert before == pytest.approx(0.0, abs=1e-12)
    assert after > PSI_MAJOR
    # the unknown bin alone: p = 0.5 against the floor 1e-4
    assert after > (0.5 - 1e-4) * math.log(0.5 / 1e-4)


def test_psi_empty_and_bad_input() -> None:
    ref = {"edges": [0.0], "shares": [0.5, 0.5], "null_share": 0.0}
    assert math.isnan(psi(ref, []))
    with pytest.raises(ConfigError, match="epsilon"):
        psi(ref, [1.0], epsilon=0)
    with pytest.raises(DataError, match="edges"):
        psi({"edges": [0.0], "shares": [1.0], "null_share": 0.0}, [1.0])
    with pytest.raises(DataError, match="null_share"):
        psi({"edges": [0.0]}, [1.0])
    # a column never known in training: any known value now is a major shift
    never = {"edges": [], "shares": [], "null_share": 1.0}
    assert psi(never, [np.nan, np.nan]) == pytest.approx(0.0)
    assert psi(never, [1.0, 2.0]) > PSI_MAJOR


# --- drift_report ---------------------------------------------------------------


def _train(n: int = 4000, seed: int = 6) -> tuple[pd.DataFrame, np.ndarray, dict[str, object]]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "income": rng.normal(10.0, 2.0, n),
            "age": rng.normal(45.0, 10.0, n),
            "flag": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 2, n)),
        }
    )
    scores = rng.uniform(0.02, 0.6, n)
    return X, scores, reference_distribution(X.assign(score=scores))


def _month(n: int = 3000, seed: int = 7, income_shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "income": rng.normal(10.0 + income_shift, 2.0, n),
            "age": rng.normal(45.0, 10.0, n),
            "flag": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 2, n)),
            "new_feature": rng.normal(size=n),  # not in the reference: ignored
        }
    )


def _outcomes(n: int, seed: int, factor: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    s = rng.uniform(0.02, 0.6, n)
    y = (rng.random(n) < s * factor).astype(np.float64)
    y[:100] = np.nan  # outcome not known yet: dropped
    return pd.DataFrame(
        {"period": np.where(np.arange(n) % 2, "2024-02", "2024-01"), "score": s, "y": y}
    )


def test_drift_report_flags_the_shifted_feature() -> None:
    _, _, ref = _train()
    current = _month(income_shift=2.0)
    scores = np.random.default_rng(8).uniform(0.02, 0.6, len(current))
    report = drift_report(ref, current, scores, period="2025-03", model_id="m1")
    table = report.features
    assert list(table.columns) == [
        "feature",
        "psi",
        "null_share_reference",
        "null_share_now",
        "status",
    ]
    assert set(table["feature"]) == {"income", "age", "flag"}
    assert table["psi"].is_monotonic_decreasing
    top = table.iloc[0]
    assert top["feature"] == "income"
    assert top["status"] == "major"
    assert top["psi"] > PSI_MAJOR
    by = table.set_index("feature")
    assert by.loc["age", "status"] == "stable"
    assert by.loc["age", "psi"] < PSI_MODERATE
    assert by.loc["flag", "null_share_reference"] == ref["columns"]["flag"]["null_share"]
    assert by.loc["flag", "null_share_now"] == pytest.approx(current["flag"].isna().mean())
    assert report.score_psi == pytest.approx(psi(ref["columns"]["score"], scores))
    assert report.score_psi < PSI_MODERATE
    assert report.status() == "major"
    # a feature expected to shift (seasonal, set by policy) is shown, not counted
    exempt = drift_report(ref, current, scores, period="2025-03", model_id="m1", exempt=["income"])
    by = exempt.features.set_index("feature")
    assert by.loc["income", "status"] == "exempt" and by.loc["income", "psi"] > PSI_MAJOR
    assert exempt.status() == "stable"
    assert "不计入" in exempt.to_markdown("zh") and "not counted" in exempt.to_markdown("en")


def test_drift_report_stable_month_and_shifted_scores() -> None:
    _, train_scores, ref = _train()
    current = _month(seed=9)
    stable = drift_report(ref, current, train_scores[:3000], period="2025-03", model_id="m1")
    assert stable.status() == "stable"
    assert (stable.features["status"] == "stable").all()
    shifted = drift_report(
        ref, current, np.clip(train_scores[:3000] + 0.2, 0, 1), period="2025-03", model_id="m1"
    )
    assert shifted.score_psi > PSI_MAJOR
    assert shifted.status() == "major"


def test_drift_report_rejects_bad_input() -> None:
    X, _, ref = _train(n=200)
    with pytest.raises(DataError, match="'score'"):
        drift_report(reference_distribution(X), X, np.zeros(200), period="2025-03", model_id="m")
    with pytest.raises(DataError, match="3 scores for 200 rows"):
        drift_report(ref, X, [0.1, 0.2, 0.3], period="2025-03", model_id="m")
    with pytest.raises(DataError, match="no column"):
        drift_report(ref, pd.DataFrame({"other": [1.0]}), [0.1], period="2025-03", model_id="m")


def test_calibration_of_a_calibrated_model() -> None:
    X, scores, ref = _train(n=500)
    outcomes = _outcomes(20000, seed=10, factor=1.0)
    report = drift_report(
        ref, X, scores, period="2024-05", model_id="m1", outcomes=outcomes, bins=10
    )
    cal, summary = report.calibration, report.calibration_summary
    known = outcomes.dropna(subset=["y"])
    assert list(cal.columns) == ["bin", "n", "mean_predicted", "observed"]
    assert cal["bin"].tolist() == list(range(1, 11))
    assert cal["n"].sum() == len(known) == summary["n"] == 19900
    assert cal["n"].tolist() == [1990] * 10
    assert cal["mean_predicted"].is_monotonic_increasing
    assert summary["periods"] == ["2024-01", "2024-02"]
    assert summary["positives"] == int(known["y"].sum())
    assert summary["mean_predicted"] == pytest.approx(known["score"].mean())
    assert summary["observed_rate"] == pytest.approx(known["y"].mean())
    assert summary["brier"] == pytest.approx(((known["score"] - known["y"]) ** 2).mean())
    ece = (cal["n"] * (cal["mean_predicted"] - cal["observed"]).abs()).sum() / cal["n"].sum()
    assert summary["expected_calibration_error"] == pytest.approx(ece)
    assert summary["expected_calibration_error"] < 0.03
    assert summary["ratio"] == pytest.approx(1.0, abs=0.05)


def test_calibration_of_a_model_that_predicts_twice_the_risk() -> None:
    X, scores, ref = _train(n=500)
    outcomes = _outcomes(20000, seed=11, factor=0.5)
    summary = drift_report(
        ref, X, scores, period="2024-05", model_id="m1", outcomes=outcomes
    ).calibration_summary
    assert summary["ratio"] == pytest.approx(0.5, abs=0.05)
    # the gap is half the mean score, about 0.155
    assert summary["expected_calibration_error"] > 0.1


def test_calibration_without_known_outcomes() -> None:
    X, scores, ref = _train(n=500)
    for outcomes in (None, pd.DataFrame({"period": ["2024-01"], "score": [0.3], "y": [np.nan]})):
        report = drift_report(ref, X, scores, period="2024-05", model_id="m1", outcomes=outcomes)
        assert report.calibration.empty
        assert list(report.calibration.columns) == ["bin", "n", "mean_predicted", "observed"]
        summary = report.calibration_summary
        assert summary["n"] == 0
        assert summary["periods"] == []
        for key in ("mean_predicted", "observed_rate", "brier", "expected_calibration_error"):
            assert math.isnan(summary[key])
        assert math.isnan(summary["ratio"])


def test_calibration_rejects_bad_outcomes() -> None:
    X, scores, ref = _train(n=100)

    def run(outcomes: pd.DataFrame) -> None:
        drift_report(ref, X, scores, period="2024-05", model_id="m", outcomes=outcomes)

    with pytest.raises(DataError, match="missing"):
        run(pd.DataFrame({"period": ["2024-01"], "score": [0.3]}))
    with pytest.raises(DataError, match="0 or 1"):
        run(pd.DataFrame({"period": ["2024-01"], "score": [0.3], "y": [2.0]}))
    with pytest.raises(DataError, match="before 2024-05"):
        run(pd.DataFrame({"period": ["2024-05"], "score": [0.3], "y": [1.0]}))


def _report(psis: dict[str, float], score_psi: float = 0.0) -> DriftReport:
    features = pd.DataFrame(
        {
            "feature": list(psis),
            "psi": list(psis.values()),
            "null_share_reference": 0.0,
            "null_share_now": 0.0,
            "status": [
                "major" if v >= PSI_MAJOR else "moderate" if v >= PSI_MODERATE else "stable"
                for v in psis.values()
            ],
        }
    ).sort_values("psi", ascending=False)
    X = pd.DataFrame({"a": [1.0, 2.0]})
    ref = reference_distribution(X.assign(score=[0.1, 0.2]))
    no_outcomes = drift_report(ref, X, [0.1, 0.2], period="2024-05", model_id="m")
    return DriftReport(
        period="2024-05",
        model_id="m",
        features=features.reset_index(drop=True),
        score_psi=score_psi,
        calibration=no_outcomes.calibration,
        calibration_summary=no_outcomes.calibration_summary,
    )


def test_status_is_the_worst_psi() -> None:
    assert _report({"a": 0.05, "b": 0.09}).status() == "stable"
    assert _report({"a": 0.05, "b": PSI_MODERATE}).status() == "moderate"
    assert _report({"a": 0.05, "b": 0.3}).status() == "major"
    assert _report({"a": 0.05}, score_psi=0.15).status() == "moderate"
    assert _report({"a": 0.15}, score_psi=PSI_MAJOR).status() == "major"
    assert _report({"a": 0.01}, score_psi=float("nan")).status() == "stable"


def test_markdown_in_both_languages() -> None:
    names = [f"feat_{c}" for c in "abcdefghijkl"]  # twelve features, psi falling
    report = _report({n: 0.5 - 0.03 * i for i, n in enumerate(names)}, score_psi=0.12)
    zh, en = report.to_markdown(), report.to_markdown("en")
    for text in (zh, en):
        assert "2024-05" in text
        assert "feat_a" in text
        assert "feat_j" in text  # the tenth
        assert "feat_k" not in text
        assert "feat_l" not in text
        assert "0.120" in text
    assert "特征" in zh
    assert "严重偏移" in zh
    assert "暂无结果已知的月份" in zh
    assert "Feature drift" in en
    assert "major shift" in en
    assert "No month with a known outcome" in en
    with pytest.raises(ConfigError, match="language"):
        report.to_markdown("fr")


def test_markdown_with_calibration() -> None:
    X, scores, ref = _train(n=500)
    outcomes = _outcomes(2000, seed=12, factor=1.0)
    report = drift_report(ref, X, scores, period="2024-05", model_id="m7", outcomes=outcomes)
    zh, en = report.to_markdown(), report.to_markdown("en")
    for text in (zh, en):
        assert "income" in text
        assert "m7" in text
        assert "2024-01" in text
        assert f"{report.calibration_summary['brier']:.4f}" in text
    assert "实际发生率" in zh
    assert "observed rate" in en


def test_as_dict_is_json_safe() -> None:
    X, scores, ref = _train(n=500)
    empty = drift_report(ref, X, scores, period="2024-05", model_id="m1")
    d = json.loads(json.dumps(empty.as_dict(), allow_nan=False))
    assert d["calibration"] == []
    assert d["calibration_summary"]["n"] == 0
    assert d["calibration_summary"]["brier"] is None
    assert d["status"] == empty.status()
    assert [f["feature"] for f in d["features"]] == empty.features["feature"].tolist()
    full = drift_report(
        ref, X, scores, period="2024-05", model_id="m1", outcomes=_outcomes(2000, 13, 1.0)
    )
    d = json.loads(json.dumps(full.as_dict(), allow_nan=False))
    assert len(d["calibration"]) == 10
    assert d["calibration"][0]["bin"] == 1
    assert d["calibration_summary"]["brier"] == pytest.approx(full.calibration_summary["brier"])
    assert d["score_psi"] == pytest.approx(full.score_psi)
