"""Typology: named profiles on synthetic groups, stability, estimator contract."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from povguard.errors import ConfigError
from povguard.risk.typology import RiskTypology, default_naming_table

_BASE = {
    "elderly_members": (0.3, 0.3),
    "illness_12m": (0.2, 0.3),
    "labour_members": (2.5, 0.4),
    "wage_share": (0.3, 0.05),
    "income_pc_12m": (9000.0, 800.0),
    "disaster_12m": (0.05, 0.03),
}
_GROUPS = {
    "elderly": (120, {"elderly_members": 2.0, "illness_12m": 1.5, "labour_members": 0.2,
                      "wage_share": 0.05}),
    "migrant": (150, {"wage_share": 0.8, "labour_members": 3.0}),
    "disaster": (100, {"disaster_12m": 0.5}),
}  # fmt: skip
_EXPECTED = {
    "elderly": ("老年、患病、无劳动力", "elderly, illness, no labour"),
    "migrant": ("务工收入依赖", "migrant-income dependent"),
    "disaster": ("灾害冲击", "disaster-hit"),
}


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Small fits: one OpenMP thread avoids oversubscription on a busy machine."""
    with threadpool_limits(1):
        yield


def blobs(seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frames, groups = [], []
    for group, (n, means) in _GROUPS.items():
        frames.append(
            pd.DataFrame({f: rng.normal(means.get(f, mu), sd, n) for f, (mu, sd) in _BASE.items()})
        )
        groups += [group] * n
    X = pd.concat(frames, ignore_index=True)
    X.iloc[::17, 1] = np.nan  # unknown values are imputed, not dropped
    return X, np.asarray(groups)


@pytest.fixture(scope="module")
def fitted() -> tuple[RiskTypology, pd.DataFrame, np.ndarray]:
    X, groups = blobs()
    with threadpool_limits(1):
        return RiskTypology(k_range=(2, 6), n_bootstrap=20).fit(X), X, groups


def test_names_known_groups(fitted: tuple[RiskTypology, pd.DataFrame, np.ndarray]) -> None:
    model, _, groups = fitted
    assert model.n_clusters_ == 3
    assert max(model.silhouette_scores_, key=model.silhouette_scores_.__getitem__) == 3
    assert sorted(model.silhouette_scores_) == [2, 3, 4, 5, 6]
    assert adjusted_rand_score(groups, model.labels_) > 0.95
    for group, (zh, en) in _EXPECTED.items():
        cluster = np.bincount(model.labels_[groups == group]).argmax()
        profile = model.profiles_[cluster]
        assert (profile.name_zh, profile.name_en) == (zh, en)
        assert profile.cluster == cluster
        assert profile.size == int((model.labels_ == cluster).sum())
    assert sum(p.share for p in model.profiles_) == pytest.approx(1.0)
    elderly = next(p for p in model.profiles_ if p.name_en.startswith("elderly"))
    assert elderly.centroid["elderly_members"] == pytest.approx(2.0, abs=0.15)
    assert {f for f, _ in elderly.distinctive[:3]} == {
        "elderly_members",
        "illness_12m",
        "labour_members",
    }


def test_stability(fitted: tuple[RiskTypology, pd.DataFrame, np.ndarray]) -> None:
    model, _, _ = fitted
    assert model.stability_scores_.shape == (20,)
    assert model.stability_ > 0.9
    assert model.stability_ == pytest.approx(model.stability_scores_.mean())
    # pure noise has no stable structure
    noise = np.random.default_rng(0).normal(size=(300, 4))
    unstable = RiskTypology(n_clusters=5, n_bootstrap=10).fit(noise)
    assert unstable.stability_ < 0.9
    assert np.isnan(RiskTypology(n_clusters=2, n_bootstrap=0).fit(noise).stability_)


def test_predict_new_households(fitted: tuple[RiskTypology, pd.DataFrame, np.ndarray]) -> None:
    model, _, _ = fitted
    new, groups = blobs(seed=7)
    names = model.profile_names(new)
    expected = [_EXPECTED[g][0] for g in groups]
    assert np.mean(np.asarray(names) == np.asarray(expected)) > 0.97
    assert model.profile_names(new.head(1), language="en") == [_EXPECTED["elderly"][1]]
    with pytest.raises(ConfigError):
        model.profile_names(new, language="fr")


def test_naming_fallbacks_and_given_k() -> None:
    X, groups = blobs()
    # without named profiles: built from the per-feature words, then "<feature> high"
    table = dict(default_naming_table(), profiles=[])
    table["features"] = {"wage_share": {"high": {"zh": "务工为主", "en": "mainly wages"}}}
    model = RiskTypology(n_clusters=3, n_bootstrap=0, naming=table).fit(X)
    by_group = {
        g: model.profiles_[np.bincount(model.labels_[groups == g]).argmax()] for g in _GROUPS
    }
    assert by_group["migrant"].name_zh.startswith("务工为主")
    assert by_group["migrant"].name_en.startswith("mainly wages")
    assert by_group["disaster"].name_zh.startswith("disaster_12m偏高")
    assert by_group["disaster"].name_en.startswith("disaster_12m high")
    assert model.silhouette_scores_ == {}
    with pytest.raises(ConfigError):
        RiskTypology(n_clusters=2, n_bootstrap=0, naming={"profiles": [{"high": ["x0"]}]}).fit(
            X.to_numpy()
        )


def test_clone_and_params() -> None:
    model = RiskTypology(n_clusters=4, k_range=(3, 5), random_state=3)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "labels_")


@parametrize_with_checks(
    [RiskTypology(n_bootstrap=2, n_init=2)],
)
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)


def test_most_specific_profile_wins_and_needs_all_its_features(
    fitted: tuple[RiskTypology, pd.DataFrame, np.ndarray],
) -> None:
    model, X, groups = fitted
    elderly = model.profiles_[np.bincount(model.labels_[groups == "elderly"]).argmax()]
    z = dict(elderly.distinctive)
    # the broad profile alone would score higher (mean |z| of one feature) ...
    assert abs(z["labour_members"]) > np.mean(
        [abs(z[f]) for f in ("elderly_members", "illness_12m", "labour_members")]
    )
    table = {
        "min_z": 0.5,
        "profiles": [
            {"name": {"zh": "缺劳力", "en": "short of labour"}, "low": ["labour_members"]},
            {
                "name": {"zh": "老病无劳", "en": "old, ill, no labour"},
                "high": ["elderly_members", "illness_12m"],
                "low": ["labour_members"],
            },
            {  # "absent_feature" is not in the table: never claimed
                "name": {"zh": "不可能", "en": "impossible"},
                "high": ["wage_share", "absent_feature"],
            },
        ],
        "features": {},
    }
    named = RiskTypology(n_clusters=3, n_bootstrap=0, naming=table).fit(X)
    names = {
        g: named.profiles_[np.bincount(named.labels_[groups == g]).argmax()].name_en
        for g in _GROUPS
    }
    # ... but the profile with more matching features names the cluster
    assert names["elderly"] == "old, ill, no labour"
    assert names["migrant"] == "wage_share high, labour_members high, elderly_members low"
