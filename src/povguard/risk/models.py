"""Risk models that follow scikit-learn's estimator contract.

:class:`RiskClassifier` is the default forward-looking risk model: gradient-boosted
trees (LightGBM, or scikit-learn's ``HistGradientBoostingClassifier`` when asked)
behind a plain scikit-learn estimator, so it clones, pipelines and grid-searches like
any other. :func:`paper_models` gives the algorithms the research literature compares
(logistic regression, decision tree, random forest, SVM, naive Bayes, a small neural
network) as scikit-learn pipelines with the imputation and scaling each one needs.

Feature tables may hold missing values (``NaN``: unknown is not safe, so the model
sees that a value is unknown rather than a guess). A pandas DataFrame may also hold
categorical columns (``category``, ``object`` or ``string`` dtype); the classifier
encodes them with the categories seen in ``fit`` (unseen and missing categories
become ``NaN``) and hands them to the booster as categorical features.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils import Tags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from povguard.errors import ConfigError

__all__ = [
    "RISK_CLASSIFIER_EXPECTED_FAILED_CHECKS",
    "RiskClassifier",
    "paper_models",
]

Backend = Literal["lightgbm", "sklearn"]
#: float32 input stays float32 (half the memory of a large feature table).
_FLOAT_DTYPES = (np.float64, np.float32)

#: scikit-learn estimator checks that cannot pass for :class:`RiskClassifier`, with the
#: reason. Pass it as ``expected_failed_checks`` to ``check_estimator`` or
#: ``parametrize_with_checks`` (scikit-learn >= 1.6 replaced the ``_xfail_checks`` tag
#: with this argument).
RISK_CLASSIFIER_EXPECTED_FAILED_CHECKS: dict[str, str] = {
    "check_sample_weight_equivalence_on_dense_data": (
        "the minimum leaf size (LightGBM's min_child_samples, HistGradientBoosting's "
        "min_samples_leaf) and row/feature sampling count rows, not weight, so a row "
        "with weight 2 is not the same as the row repeated twice; LGBMClassifier("
        "min_child_samples=5) and HistGradientBoostingClassifier(min_samples_leaf=5) "
        "fail this check too (scikit-learn 1.9.1, lightgbm 4.7.0)"
    ),
}


def _is_dataframe(X: object) -> bool:
    return hasattr(X, "columns") and hasattr(X, "dtypes") and hasattr(X, "iloc")


class RiskClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Gradient-boosted risk classifier following scikit-learn's estimator contract.

    Parameters
    ----------
    n_estimators : int, default=400
        Boosting rounds.
    learning_rate : float, default=0.05
        Shrinkage per round; small with many rounds generalises better.
    num_leaves : int, default=31
        Maximum leaves per tree.
    max_depth : int, default=-1
        Maximum tree depth (-1: no limit besides ``num_leaves``).
    min_child_samples : int, default=50
        Minimum rows per leaf. With rare positives (a few percent of households fall
        each quarter) a high value keeps leaves from being fitted to a handful of
        cases.
    subsample : float, default=0.8
        Share of rows drawn (without replacement) for each tree (LightGBM only).
    colsample_bytree : float, default=0.8
        Share of features considered for each tree (``max_features``, per split,
        with the ``"sklearn"`` backend).
    reg_lambda : float, default=1.0
        L2 penalty on leaf values; shrinks the extreme scores of sparse leaves.
    class_weight : dict, "balanced" or None, default=None
        Class weights. Left unweighted by default: re-weighting barely changes the
        ranking (what recall at capacity measures) but distorts the probabilities
        (what the Brier score and the reliability curve measure).
    random_state : int or None, default=0
        Seed of row and feature sampling; with a fixed seed training is
        deterministic (LightGBM runs with ``deterministic=True``).
    n_jobs : int or None, default=None
        Threads used in training and scoring (None: all cores).
    backend : {"lightgbm", "sklearn"}, default="lightgbm"
        ``"lightgbm"`` uses ``lightgbm.LGBMClassifier``; ``"sklearn"`` uses
        ``HistGradientBoostingClassifier`` (no extra dependency, no
        :func:`povguard.risk.explain` support).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in ``fit``.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``fit`` was given a DataFrame with string column names.
    categories_ : dict[str, list]
        Categories of each categorical DataFrame column (by column name as text), in
        code order.
    categorical_features_ : list[int]
        Positions of the categorical columns, in the order of ``categories_``.
    estimator_ : object
        The fitted booster wrapper (``LGBMClassifier`` or
        ``HistGradientBoostingClassifier``).
    """

    def __init__(
        self,
        n_estimators: int = 400,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        max_depth: int = -1,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        class_weight: dict[Any, float] | str | None = None,
        random_state: int | None = 0,
        n_jobs: int | None = None,
        backend: Backend = "lightgbm",
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.class_weight = class_weight
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.backend = backend

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        return tags

    # -- input handling -------------------------------------------------------------
    def _encode(self, X: Any, *, fitting: bool) -> Any:
        """Replace categorical DataFrame columns by float codes (NaN: missing/unseen)."""
        if not _is_dataframe(X):
            if fitting:
                self.categories_ = {}
                self.categorical_features_ = []
            return X
        import pandas as pd

        frame = X
        if fitting:
            categories: dict[str, list[Any]] = {}
            positions: list[int] = []
            for i, (name, dtype) in enumerate(frame.dtypes.items()):
                if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
                    continue
                if isinstance(dtype, pd.CategoricalDtype):
                    cats = list(dtype.categories)
                else:
                    cats = sorted(frame[name].dropna().unique().tolist(), key=str)
                categories[str(name)] = cats
                positions.append(i)
            self.categories_ = categories
            self.categorical_features_ = positions
        if not self.categories_:
            return frame
        columns = {str(c): c for c in frame.columns}
        # a shallow copy shares the numeric columns (copy-on-write) with the caller's table
        encoded = frame.copy(deep=False)
        for name, cats in self.categories_.items():
            if name not in columns:
                continue  # validate_data reports the missing column by name
            col = columns[name]
            code = pd.Index(cats).get_indexer(frame[col].astype(object)).astype(np.float64)
            code[code < 0] = np.nan
            encoded[col] = code
        return encoded

    def _validate(self, X: Any) -> NDArray[np.floating[Any]]:
        out: NDArray[np.floating[Any]] = validate_data(
            self,
            self._encode(X, fitting=False),
            reset=False,
            dtype=_FLOAT_DTYPES,
            ensure_all_finite="allow-nan",
        )
        return out

    def _make_booster(self) -> Any:
        if self.backend == "lightgbm":
            try:
                from lightgbm import LGBMClassifier
            except ImportError as exc:  # pragma: no cover - lightgbm is a dependency
                raise ConfigError(
                    "RiskClassifier(backend='lightgbm') needs the lightgbm package: "
                    "pip install lightgbm, or use backend='sklearn'"
                ) from exc
            return LGBMClassifier(
                n_estimators=self.n_estimators,
                learning_rate=self.learning_rate,
                num_leaves=self.num_leaves,
                max_depth=self.max_depth,
                min_child_samples=self.min_child_samples,
                subsample=self.subsample,
                subsample_freq=1 if self.subsample < 1.0 else 0,
                colsample_bytree=self.colsample_bytree,
                reg_lambda=self.reg_lambda,
                class_weight=self.class_weight,
                random_state=self.random_state,
                n_jobs=self.n_jobs,
                deterministic=True,
                force_row_wise=True,
                verbose=-1,
            )
        if self.backend == "sklearn":
            from sklearn.ensemble import HistGradientBoostingClassifier

            return HistGradientBoostingClassifier(
                learning_rate=self.learning_rate,
                max_iter=self.n_estimators,
                max_leaf_nodes=self.num_leaves,
                max_depth=None if self.max_depth < 1 else self.max_depth,
                min_samples_leaf=self.min_child_samples,
                l2_regularization=self.reg_lambda,
                max_features=self.colsample_bytree,
                categorical_features=self.categorical_features_ or None,
                class_weight=self.class_weight,
                early_stopping=False,
                random_state=self.random_state,
            )
        raise ConfigError(f"unknown backend {self.backend!r}; use 'lightgbm' or 'sklearn'")

    # -- estimator API --------------------------------------------------------------
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> RiskClassifier:
        """Fit the model on a feature table and a label.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Features; NaN allowed. DataFrame categorical/string columns are encoded.
        y : array-like of shape (n_samples,)
            Labels (usually 1 = falls into at-risk status within the horizon).
        sample_weight : array-like of shape (n_samples,), optional
            Row weights.

        Returns
        -------
        RiskClassifier
            ``self``, fitted.
        """
        Xv, y_arr = validate_data(
            self,
            self._encode(X, fitting=True),
            y,
            dtype=_FLOAT_DTYPES,
            ensure_all_finite="allow-nan",
        )
        check_classification_targets(y_arr)
        classes, y_codes = np.unique(y_arr, return_inverse=True)
        if classes.shape[0] < 2:
            raise ValueError(
                f"RiskClassifier needs samples of at least 2 classes; got 1 class ({classes[0]!r})"
            )
        self.classes_ = classes
        weights = (
            None if sample_weight is None else _check_sample_weight(sample_weight, Xv, dtype=float)
        )
        booster = self._make_booster()
        if self.backend == "lightgbm":
            booster.fit(
                Xv,
                y_codes,
                sample_weight=weights,
                categorical_feature=list(self.categorical_features_) or "auto",
            )
        else:
            booster.fit(Xv, y_codes, sample_weight=weights)
        self.estimator_ = booster
        return self

    def _transform_for_booster(self, X: Any) -> NDArray[np.floating[Any]]:
        check_is_fitted(self)
        return self._validate(X)

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """Class probabilities.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Features in the columns seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probability of each class in ``classes_`` order.
        """
        Xv = self._transform_for_booster(X)
        proba: NDArray[np.float64] = np.asarray(self.estimator_.predict_proba(Xv), dtype=float)
        return proba

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        """Raw score (log-odds for two classes) before the link function.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Features in the columns seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            Raw scores; for two classes the log-odds of ``classes_[1]``.
        """
        Xv = self._transform_for_booster(X)
        if self.backend == "lightgbm":
            raw = self.estimator_.predict_proba(Xv, raw_score=True)
        else:
            raw = self.estimator_.decision_function(Xv)
        out: NDArray[np.float64] = np.asarray(raw, dtype=float)
        return out

    def predict(self, X: Any) -> NDArray[Any]:
        """Most probable class.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Features in the columns seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples,)
            Predicted labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        out: NDArray[Any] = self.classes_[np.argmax(proba, axis=1)]
        return out

    def encode(self, X: Any) -> NDArray[np.floating[Any]]:
        """The numeric matrix the booster sees (categorical columns as codes).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Features in the columns seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_features_in_)
            Float matrix (float32 input stays float32); NaN where a value is missing
            or a category unseen.
        """
        return self._transform_for_booster(X)

    @property
    def feature_names(self) -> list[str]:
        """Feature names seen in ``fit`` (``x0``, ``x1``, ... for arrays)."""
        check_is_fitted(self)
        return fitted_feature_names(self)


def fitted_feature_names(estimator: Any) -> list[str]:
    """Column names a fitted estimator saw (``x0``, ``x1``, ... when fitted on arrays).

    Parameters
    ----------
    estimator : estimator
        A fitted scikit-learn estimator (``n_features_in_``, maybe ``feature_names_in_``).

    Returns
    -------
    list[str]
        The names, in column order.
    """
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return [f"x{i}" for i in range(estimator.n_features_in_)]
    return [str(n) for n in names]


def paper_models(random_state: int | None = 0, n_jobs: int | None = None) -> dict[str, Pipeline]:
    """The algorithms compared in the literature, as scikit-learn pipelines.

    Every pipeline accepts a numeric feature table with missing values: the linear,
    Bayesian and neural models impute the median and add missing-value indicators
    (so "unknown" stays visible) and scale where the algorithm is scale-sensitive;
    the tree models handle NaN natively.

    Parameters
    ----------
    random_state : int or None, default=0
        Seed of every randomised step.
    n_jobs : int or None, default=None
        Threads for the random forest.

    Returns
    -------
    dict[str, Pipeline]
        ``logistic_regression``, ``decision_tree``, ``random_forest``, ``svm``
        (``LinearSVC`` calibrated with Platt scaling, so it gives probabilities and
        scales to a million rows), ``naive_bayes`` and ``neural_network``
        (``MLPClassifier``), each unfitted.
    """

    def impute() -> SimpleImputer:
        return SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)

    return {
        "logistic_regression": make_pipeline(
            impute(), StandardScaler(), LogisticRegression(C=1.0, max_iter=1000)
        ),
        "decision_tree": make_pipeline(
            DecisionTreeClassifier(max_depth=8, min_samples_leaf=50, random_state=random_state)
        ),
        "random_forest": make_pipeline(
            RandomForestClassifier(
                n_estimators=200,
                min_samples_leaf=20,
                max_features="sqrt",
                n_jobs=n_jobs,
                random_state=random_state,
            )
        ),
        "svm": make_pipeline(
            impute(),
            StandardScaler(),
            CalibratedClassifierCV(
                LinearSVC(C=0.1, random_state=random_state), method="sigmoid", cv=3
            ),
        ),
        "naive_bayes": make_pipeline(impute(), GaussianNB()),
        "neural_network": make_pipeline(
            impute(),
            StandardScaler(),
            MLPClassifier(
                hidden_layer_sizes=(32, 16),
                alpha=1e-3,
                early_stopping=True,
                max_iter=200,
                random_state=random_state,
            ),
        ),
    }
