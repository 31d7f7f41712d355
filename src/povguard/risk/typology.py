"""Household typology: cluster monitored households into named risk profiles.

Households' feature vectors are imputed (median) and standardised, then clustered
with K-Means; the number of clusters is given or chosen by the silhouette score over
a small range. Each cluster is named from its centroid's most distinctive features
(in standard deviations from the mean) with a data-driven naming table
(``resources/risk/typology.yaml``, or a mapping of the same shape), e.g.
"老年、患病、无劳动力" / "elderly, illness, no labour". Stability is the mean
adjusted Rand index between the clustering and clusterings of bootstrap resamples,
compared on the households each resample contains.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.impute import SimpleImputer
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Tags, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from povguard.errors import ConfigError
from povguard.risk.models import fitted_feature_names

__all__ = ["Profile", "RiskTypology", "default_naming_table"]


@dataclass(frozen=True)
class Profile:
    """One named cluster of households.

    Attributes
    ----------
    cluster : int
        Cluster label (as in ``labels_``).
    name_zh, name_en : str
        Profile name in Chinese and English.
    size : int
        Households in the cluster.
    share : float
        Share of all clustered households.
    centroid : dict[str, float]
        Mean feature values of the cluster in original units (after imputation).
    distinctive : tuple[tuple[str, float], ...]
        Features ordered by how far the centroid is from the mean, in standard
        deviations (signed), largest first.
    """

    cluster: int
    name_zh: str
    name_en: str
    size: int
    share: float
    centroid: dict[str, float]
    distinctive: tuple[tuple[str, float], ...]


@lru_cache(maxsize=1)
def _default_table() -> dict[str, Any]:
    path = importlib.resources.files("povguard.resources").joinpath("risk", "typology.yaml")
    table: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return table


def default_naming_table() -> dict[str, Any]:
    """The built-in naming table (``resources/risk/typology.yaml``).

    Returns
    -------
    dict
        ``{"min_z", "max_terms", "profiles": [...], "features": {...}}``.
    """
    return dict(_default_table())


def _name_clusters(
    z: NDArray[np.float64], features: list[str], table: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """Name each centroid row of ``z`` (standard deviations) from the table."""
    try:
        min_z = float(table.get("min_z", 0.5))
        max_terms = int(table.get("max_terms", 3))
        profiles = list(table.get("profiles") or [])
        words: Mapping[str, Any] = table.get("features") or {}
        index = {f: j for j, f in enumerate(features)}
        candidates: list[tuple[int, float, int, int]] = []
        for p, spec in enumerate(profiles):
            wanted = [*(spec.get("high") or []), *(spec.get("low") or [])]
            if not wanted or any(f not in index for f in wanted):
                continue  # a profile is only claimed with evidence for all its features
            high = [index[f] for f in spec.get("high") or []]
            low = [index[f] for f in spec.get("low") or []]
            for c in range(z.shape[0]):
                if all(z[c, j] >= min_z for j in high) and all(z[c, j] <= -min_z for j in low):
                    score = float(np.mean([abs(z[c, j]) for j in high + low]))
                    candidates.append((len(wanted), score, c, p))
        names: dict[int, tuple[str, str]] = {}
        used: set[int] = set()
        # the most specific profile (most features) first, then the most distinctive
        for _n, _score, c, p in sorted(candidates, key=lambda t: (-t[0], -t[1], t[2], t[3])):
            if c in names or p in used:
                continue
            names[c] = (str(profiles[p]["name"]["zh"]), str(profiles[p]["name"]["en"]))
            used.add(p)
        for c in range(z.shape[0]):
            if c in names:
                continue
            zh_terms: list[str] = []
            en_terms: list[str] = []
            for j in np.argsort(-np.abs(z[c]), kind="stable"):
                if abs(z[c, j]) < min_z or len(zh_terms) >= max_terms:
                    break
                side = "high" if z[c, j] > 0 else "low"
                word = (words.get(features[j]) or {}).get(side)
                zh = (
                    str(word["zh"])
                    if word
                    else f"{features[j]}{'偏高' if side == 'high' else '偏低'}"
                )
                en = str(word["en"]) if word else f"{features[j]} {side}"
                if zh not in zh_terms:
                    zh_terms.append(zh)
                    en_terms.append(en)
            names[c] = (
                ("、".join(zh_terms), ", ".join(en_terms)) if zh_terms else ("一般", "average")
            )
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ConfigError(f"invalid typology naming table: {exc!r}") from exc
    seen: dict[str, int] = {}
    out = []
    for c in range(z.shape[0]):
        zh, en = names[c]
        seen[zh] = seen.get(zh, 0) + 1
        if seen[zh] > 1:  # two clusters with the same name: number the later ones
            zh, en = f"{zh}（{seen[zh]}）", f"{en} ({seen[zh]})"
        out.append((zh, en))
    return out


class RiskTypology(ClusterMixin, BaseEstimator):  # type: ignore[misc]
    """K-Means typology of households with named profiles and bootstrap stability.

    Parameters
    ----------
    n_clusters : int or None, default=None
        Number of profiles; None chooses it by silhouette score over ``k_range``.
    k_range : tuple[int, int], default=(2, 8)
        Smallest and largest number of clusters tried when ``n_clusters`` is None.
    n_bootstrap : int, default=20
        Bootstrap resamples for the stability score (0: not computed, NaN).
    naming : Mapping or None, default=None
        Naming table; the built-in one (:func:`default_naming_table`) by default.
    n_init : int, default=10
        K-Means restarts.
    silhouette_sample : int, default=5000
        Households sampled to compute each silhouette score (bounds the cost).
    random_state : int or None, default=0
        Seed of K-Means, the silhouette sample and the resamples.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Cluster of each household.
    n_clusters_ : int
        Number of clusters used.
    cluster_centers_ : ndarray of shape (n_clusters_, n_features_in_)
        Centroids in standard deviations from the mean.
    profiles_ : list[Profile]
        Named profiles, one per cluster, by cluster label.
    silhouette_scores_ : dict[int, float]
        Silhouette score of each number of clusters tried (empty when given).
    stability_ : float
        Mean adjusted Rand index over the bootstrap resamples.
    stability_scores_ : ndarray of shape (n_bootstrap,)
        Adjusted Rand index of each resample.
    """

    def __init__(
        self,
        n_clusters: int | None = None,
        k_range: tuple[int, int] = (2, 8),
        n_bootstrap: int = 20,
        naming: Mapping[str, Any] | None = None,
        n_init: int = 10,
        silhouette_sample: int = 5000,
        random_state: int | None = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.k_range = k_range
        self.n_bootstrap = n_bootstrap
        self.naming = naming
        self.n_init = n_init
        self.silhouette_sample = silhouette_sample
        self.random_state = random_state

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _kmeans(self, k: int, seed: int) -> KMeans:
        return KMeans(n_clusters=k, n_init=self.n_init, random_state=seed)

    def fit(self, X: Any, y: Any = None) -> RiskTypology:
        """Cluster households and name the clusters.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Households' numeric features; NaN allowed (median-imputed).
        y : None
            Ignored.

        Returns
        -------
        RiskTypology
            ``self``, fitted.
        """
        Xv = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        n = Xv.shape[0]
        rng = check_random_state(self.random_state)
        self.imputer_ = SimpleImputer(strategy="median", keep_empty_features=True).fit(Xv)
        filled = self.imputer_.transform(Xv)
        self.scaler_ = StandardScaler().fit(filled)
        Z = self.scaler_.transform(filled)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        self.silhouette_scores_: dict[int, float] = {}
        if self.n_clusters is not None:
            if not 1 <= self.n_clusters <= n:
                raise ValueError(f"n_clusters={self.n_clusters} must be in [1, {n}]")
            k = int(self.n_clusters)
        else:
            lo, hi = int(self.k_range[0]), min(int(self.k_range[1]), n - 1)
            if lo < 2 or hi < lo:
                raise ValueError(f"k_range={self.k_range} needs 2 <= low <= high < n_samples ({n})")
            for k in range(lo, hi + 1):
                labels = self._kmeans(k, seed).fit_predict(Z)
                if len(np.unique(labels)) < 2:
                    continue
                self.silhouette_scores_[k] = float(
                    silhouette_score(
                        Z, labels, sample_size=min(n, self.silhouette_sample), random_state=seed
                    )
                )
            if not self.silhouette_scores_:
                raise ValueError("all households are identical: no clustering to choose")
            k = max(self.silhouette_scores_, key=lambda kk: (self.silhouette_scores_[kk], -kk))
        self.kmeans_ = self._kmeans(k, seed).fit(Z)
        self.labels_: NDArray[np.intp] = self.kmeans_.labels_
        self.n_clusters_ = int(self.kmeans_.n_clusters)
        self.cluster_centers_: NDArray[np.float64] = self.kmeans_.cluster_centers_

        names = fitted_feature_names(self)
        table = default_naming_table() if self.naming is None else self.naming
        titles = _name_clusters(self.cluster_centers_, names, table)
        profiles = []
        for c in range(self.n_clusters_):
            members = self.labels_ == c
            size = int(members.sum())
            order = np.argsort(-np.abs(self.cluster_centers_[c]), kind="stable")
            profiles.append(
                Profile(
                    cluster=c,
                    name_zh=titles[c][0],
                    name_en=titles[c][1],
                    size=size,
                    share=size / n,
                    centroid={
                        f: float(filled[members, j].mean()) if size else float("nan")
                        for j, f in enumerate(names)
                    },
                    distinctive=tuple(
                        (names[j], float(self.cluster_centers_[c, j])) for j in order
                    ),
                )
            )
        self.profiles_ = profiles

        scores = []
        for _ in range(self.n_bootstrap):
            idx = rng.randint(0, n, n)
            seen = np.unique(idx)
            if self.n_clusters_ > len(seen):
                continue
            boot = self._kmeans(self.n_clusters_, int(rng.randint(np.iinfo(np.int32).max)))
            boot.fit(Z[idx])
            scores.append(adjusted_rand_score(self.labels_[seen], boot.predict(Z[seen])))
        self.stability_scores_ = np.asarray(scores, dtype=float)
        self.stability_ = float(self.stability_scores_.mean()) if scores else float("nan")
        return self

    def transform_standardised(self, X: Any) -> NDArray[np.float64]:
        """Households' features imputed and standardised as in ``fit``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Features in the columns seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_features_in_)
            Standard deviations from the fitted mean.
        """
        check_is_fitted(self)
        Xv = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite="allow-nan")
        out: NDArray[np.float64] = self.scaler_.transform(self.imputer_.transform(Xv))
        return out

    def predict(self, X: Any) -> NDArray[np.intp]:
        """Profile (cluster label) of each household: the nearest centroid.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Features in the columns seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples,)
            Cluster labels; names in ``profiles_[label]``.
        """
        Z = self.transform_standardised(X)
        out: NDArray[np.intp] = self.kmeans_.predict(Z)
        return out

    def profile_names(self, X: Any, language: str = "zh") -> list[str]:
        """Profile name of each household.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Features in the columns seen in ``fit``.
        language : {"zh", "en"}, default="zh"
            Language of the names.

        Returns
        -------
        list[str]
            One name per household.
        """
        if language not in ("zh", "en"):
            raise ConfigError(f"language must be 'zh' or 'en', got {language!r}")
        attr = "name_zh" if language == "zh" else "name_en"
        return [getattr(self.profiles_[c], attr) for c in self.predict(X)]
