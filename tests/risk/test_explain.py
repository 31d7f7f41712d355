"""Explanations: exact sentences and TreeSHAP additivity."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from povguard.errors import ConfigError
from povguard.risk.explain import FactorTexts, explain
from povguard.risk.models import RiskClassifier


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Small fits: one OpenMP thread avoids oversubscription on a busy machine."""
    with threadpool_limits(1):
        yield


@pytest.mark.parametrize(
    ("feature", "value", "zh", "en"),
    [
        (
            "income_wage_change_3m",
            -0.6,
            "近 3 个月务工收入下降 60%",
            "wage income fell 60% in the last 3 months",
        ),
        (
            "income_wage_change_6m",
            -0.125,
            "近 6 个月务工收入下降 12%",
            "wage income fell 12% in the last 6 months",
        ),
        ("chronic_ill_members", 2.0, "家中有慢性病患者", "a member has a chronic illness"),
        (
            "village_disaster_share",
            0.4,
            "所在村近期遭受自然灾害",
            "the village was recently hit by a natural disaster",
        ),
        (
            "medical_oop_12m",
            12345.0,
            "近 12 个月自付医疗费用 12,345 元",
            "out-of-pocket medical costs of 12,345 yuan in the last 12 months",
        ),
        # a known feature whose rule does not hold: generic sentence with its label
        ("chronic_ill_members", 0.0, "慢性病患者人数为 0", "members with a chronic illness is 0"),
        ("income_wage_change_3m", 0.1, "务工收入变化为 0.1", "wage income change is 0.1"),
        # unknown feature: its name and value
        ("mystery_index", 1.23456, "mystery_index为 1.23", "mystery_index is 1.23"),
        # unknown value: needs verification
        (
            "income_wage_change_3m",
            math.nan,
            "务工收入变化不详，需核实",
            "wage income change is unknown and needs verification",
        ),
        (
            "mystery_index",
            None,
            "mystery_index不详，需核实",
            "mystery_index is unknown and needs verification",
        ),
    ],
)
def test_sentences(feature: str, value: float | None, zh: str, en: str) -> None:
    assert FactorTexts.default().describe(feature, value) == (zh, en)


def test_custom_table() -> None:
    texts = FactorTexts(
        {
            "generic": {"zh": "{label}：{value}", "en": "{label}: {value}"},
            "missing": {"zh": "缺{label}", "en": "no {label}"},
            "factors": {
                "debt_{n}y": {
                    "label": {"zh": "{n}年债务", "en": "{n}-year debt"},
                    "rules": [
                        {"when": {"missing": True}, "zh": "债务不详", "en": "debt unknown"},
                        {
                            "when": {"gt": 1000, "le": 5000},
                            "zh": "有债务 {yuan} 元",
                            "en": "owes {yuan}",
                        },
                    ],
                }
            },
        }
    )
    assert texts.describe("debt_2y", 2500.0) == ("有债务 2,500 元", "owes 2,500")
    assert texts.describe("debt_2y", 9000.0) == ("2年债务：9000", "2-year debt: 9000")
    assert texts.describe("debt_2y", math.nan) == ("债务不详", "debt unknown")
    assert texts.describe("other", math.nan) == ("缺other", "no other")
    with pytest.raises(ConfigError):
        FactorTexts({"factors": {}})


def _training(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "income_wage_change_3m": rng.normal(0, 0.3, n),
            "chronic_ill_members": rng.integers(0, 3, n).astype(float),
            "village_disaster_share": rng.uniform(0, 0.5, n),
            "noise": rng.normal(size=n),
            "county": pd.Categorical(rng.choice(["north", "south"], n)),
        }
    )
    logit = (
        -3.0
        + 5.0 * np.clip(-X["income_wage_change_3m"], 0, None)
        + 1.5 * (X["chronic_ill_members"] > 0)
        + 6.0 * X["village_disaster_share"]
        + 1.0 * (X["county"] == "south")
    )
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


@pytest.fixture(scope="module")
def fitted() -> tuple[RiskClassifier, pd.DataFrame]:
    X, y = _training()
    return RiskClassifier(n_estimators=150, n_jobs=1).fit(X, y), X


def test_explains_a_household_in_zh_and_en(fitted: tuple[RiskClassifier, pd.DataFrame]) -> None:
    model, _ = fitted
    households = pd.DataFrame(
        {
            "income_wage_change_3m": [-0.6, 0.2],
            "chronic_ill_members": [2.0, 0.0],
            "village_disaster_share": [0.45, 0.0],
            "noise": [0.0, 0.0],
            "county": pd.Categorical(["north", "north"], categories=["north", "south"]),
        },
        index=["hh-001", "hh-002"],
    )
    risky, safe = explain(model, households, top=3)
    assert risky.row == "hh-001" and safe.row == "hh-002"
    assert risky.probability > 0.5 > safe.probability
    assert {f.feature for f in risky.factors} == {
        "income_wage_change_3m",
        "chronic_ill_members",
        "village_disaster_share",
    }
    contributions = [f.contribution for f in risky.factors]
    assert contributions == sorted(contributions, reverse=True) and min(contributions) > 0
    sentences = {f.feature: (f.zh, f.en) for f in risky.factors}
    assert sentences == {
        "income_wage_change_3m": (
            "近 3 个月务工收入下降 60%",
            "wage income fell 60% in the last 3 months",
        ),
        "chronic_ill_members": ("家中有慢性病患者", "a member has a chronic illness"),
        "village_disaster_share": (
            "所在村近期遭受自然灾害",
            "the village was recently hit by a natural disaster",
        ),
    }
    assert risky.zh == "；".join(f.zh for f in risky.factors)
    assert risky.en == "; ".join(f.en for f in risky.factors)
    # nothing about the three risk features pushes the safe household up
    assert not {f.feature for f in safe.factors} & set(sentences)
    assert all(f.contribution > 0 for f in safe.factors)


def test_contributions_add_up_to_the_raw_score(fitted: tuple[RiskClassifier, pd.DataFrame]) -> None:
    model, X = fitted
    sample = X.iloc[:200]
    explanations = explain(model, sample, top=2)
    raw = model.decision_function(sample)
    proba = model.predict_proba(sample)[:, 1]
    for e, r, p in zip(explanations, raw, proba, strict=True):
        assert e.base_value + sum(e.contributions.values()) == pytest.approx(r, abs=1e-9)
        assert e.raw_score == pytest.approx(r, abs=1e-9)
        assert e.probability == pytest.approx(p, abs=1e-12)
        assert len(e.factors) <= 2
        assert list(e.contributions) == list(X.columns)


def test_categorical_value_and_limits(fitted: tuple[RiskClassifier, pd.DataFrame]) -> None:
    model, X = fitted
    south = X[X["county"] == "south"].iloc[:50]
    factors = [f for e in explain(model, south, top=5) for f in e.factors if f.feature == "county"]
    assert factors, "living in the southern county raises risk in the training data"
    assert {(f.value, f.zh, f.en) for f in factors} == {
        ("south", "county为 south", "county is south")
    }
    (none,) = explain(model, X.iloc[:1], top=3, min_contribution=1e6)
    assert none.factors == () and none.zh == "" and none.en == ""
    (one,) = explain(model, X.iloc[:1], top=0)
    assert one.factors == ()


def test_refuses_models_without_treeshap() -> None:
    X, y = _training(n=300)
    hgb = RiskClassifier(n_estimators=5, backend="sklearn").fit(X, y)
    with pytest.raises(ConfigError, match="lightgbm"):
        explain(hgb, X)
    with pytest.raises(ConfigError, match="RiskClassifier"):
        explain(object(), X)  # type: ignore[arg-type]
