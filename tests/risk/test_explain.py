"""Explanations: exact sentences and TreeSHAP additivity."""

from __future__ import annotations

import importlib.resources
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from threadpoolctl import threadpool_limits

from povguard.errors import ConfigError
from povguard.risk.explain import FactorTexts, explain
from povguard.risk.features import FEATURE_COLUMNS
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
            "wage_pc_change_3",
            -0.6,
            "近 3 个月人均务工收入下降 60%",
            "wage income per member fell 60% in the last 3 months",
        ),
        (
            "wage_pc_change_6",
            -0.125,
            "近 6 个月人均务工收入下降 12%",
            "wage income per member fell 12% in the last 6 months",
        ),
        (
            "illness_12m",
            2.0,
            "近 12 个月家庭成员新患重病 2 例",
            "2 new serious illnesses among members in the last 12 months",
        ),
        (
            "illness_3m",
            1.0,
            "近 3 个月有家庭成员新患重病",
            "a member fell seriously ill in the last 3 months",
        ),
        ("severe_disabled_members", 1.0, "家中有重度残疾人", "a member has a severe disability"),
        (
            "disaster_12m",
            3.0,
            "近 12 个月中有 3 个月遭受自然灾害损失",
            "suffered disaster losses in 3 of the last 12 months",
        ),
        (
            "village_shock_share",
            0.4,
            "所在村 40% 的农户本月遭受冲击",
            "40% of the village's households had a shock this month",
        ),
        (
            "medical_oop_12m",
            12345.0,
            "近 12 个月自付医疗费用 12,345 元",
            "out-of-pocket medical costs of 12,345 yuan in the last 12 months",
        ),
        (
            "income_line_ratio",
            0.85,
            "人均纯收入低于监测线（为监测线的 85%）",
            "income per member is below the monitoring line (85% of it)",
        ),
        # values that are no hardship get an honest neutral sentence, never the generic one
        (
            "illness_12m",
            0.0,
            "近 12 个月无家庭成员新患重病",
            "no member fell seriously ill in the last 12 months",
        ),
        (
            "wage_pc_change_3",
            0.1,
            "近 3 个月人均务工收入上升 10%",
            "wage income per member rose 10% in the last 3 months",
        ),
        ("calendar_month", 7.0, "月份因素（7 月）", "seasonal factor (month 7)"),
        ("months_since_survey", 14.0, "收入调查已 14 个月未更新", "income survey 14 month(s) old"),
        # unknown feature: its name and value
        ("mystery_index", 1.23456, "mystery_index为 1.23", "mystery_index is 1.23"),
        # unknown value: needs verification, with the feature's label
        (
            "wage_pc_change_3",
            math.nan,
            "人均务工收入变化不详，需核实",
            "wage income per member change is unknown and needs verification",
        ),
        (
            "mystery_index",
            None,
            "mystery_index不详，需核实",
            "mystery_index is unknown and needs verification",
        ),
        # ... unless NULL has a meaning of its own (no shock seen yet)
        (
            "months_since_shock",
            math.nan,
            "观察期内未发生冲击",
            "no shock in the observed history",
        ),
    ],
)
def test_sentences(feature: str, value: float | None, zh: str, en: str) -> None:
    assert FactorTexts.default().describe(feature, value) == (zh, en)


_GENERIC = "<generic>"


def _shipped_table() -> dict[str, Any]:
    path = importlib.resources.files("povguard.resources").joinpath("risk", "explanations.yaml")
    table = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(table, dict)
    return table


@pytest.mark.parametrize("value", [1.0, 0.0])
def test_every_feature_has_its_own_sentence(value: float) -> None:
    # the shipped table with a generic sentence that is easy to spot
    probe = FactorTexts({**_shipped_table(), "generic": {"zh": _GENERIC, "en": _GENERIC}})
    generic = [f for f in FEATURE_COLUMNS if _GENERIC in probe.describe(f, value)]
    assert generic == [], f"features without a sentence of their own: {generic}"
    texts = FactorTexts.default()
    for feature in FEATURE_COLUMNS:
        zh, en = texts.describe(feature, value)
        assert zh and en and feature not in zh, (feature, zh, en)


def test_no_dead_keys() -> None:
    def matches(key: str) -> set[str]:
        """The features the (pattern) key describes, with the real key matching."""
        found = "<matched>"
        probe = FactorTexts(
            {
                "generic": {"zh": "{label}", "en": "{label}"},
                "missing": {"zh": "{label}", "en": "{label}"},
                "factors": {key: {"label": {"zh": found, "en": found}}},
            }
        )
        return {f for f in FEATURE_COLUMNS if probe.describe(f, 1.0) == (found, found)}

    keys = list(_shipped_table()["factors"])
    dead = [key for key in keys if not matches(key)]
    assert dead == [], f"keys that match no feature: {dead}"
    assert matches("illness_{n}m") == {"illness_3m", "illness_6m", "illness_12m"}


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
            "wage_pc_change_3": rng.normal(0, 0.3, n),
            "illness_12m": rng.integers(0, 3, n).astype(float),
            "village_shock_share": rng.uniform(0, 0.5, n),
            "noise": rng.normal(size=n),
            "county": pd.Categorical(rng.choice(["north", "south"], n)),
        }
    )
    logit = (
        -3.0
        + 5.0 * np.clip(-X["wage_pc_change_3"], 0, None)
        + 1.5 * (X["illness_12m"] > 0)
        + 6.0 * X["village_shock_share"]
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
            "wage_pc_change_3": [-0.6, 0.2],
            "illness_12m": [2.0, 0.0],
            "village_shock_share": [0.45, 0.0],
            "noise": [0.0, 0.0],
            "county": pd.Categorical(["north", "north"], categories=["north", "south"]),
        },
        index=["hh-001", "hh-002"],
    )
    risky, safe = explain(model, households, top=3)
    assert risky.row == "hh-001" and safe.row == "hh-002"
    assert risky.probability > 0.5 > safe.probability
    assert {f.feature for f in risky.factors} == {
        "wage_pc_change_3",
        "illness_12m",
        "village_shock_share",
    }
    contributions = [f.contribution for f in risky.factors]
    assert contributions == sorted(contributions, reverse=True) and min(contributions) > 0
    sentences = {f.feature: (f.zh, f.en) for f in risky.factors}
    assert sentences == {
        "wage_pc_change_3": (
            "近 3 个月人均务工收入下降 60%",
            "wage income per member fell 60% in the last 3 months",
        ),
        "illness_12m": (
            "近 12 个月家庭成员新患重病 2 例",
            "2 new serious illnesses among members in the last 12 months",
        ),
        "village_shock_share": (
            "所在村 45% 的农户本月遭受冲击",
            "45% of the village's households had a shock this month",
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
