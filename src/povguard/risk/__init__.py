"""Forward-looking risk prediction: who falls into risk in the next months, and why.

Panel features of every household-month (:func:`build_features`), labels from the
policy pack's at-risk definition (:func:`build_labels`), the default gradient-boosting
:class:`RiskClassifier` beside the paper's algorithms and the rules-only and
proxy-means baselines, out-of-time evaluation with recall at capacity and fairness
(:func:`compare_models`), SHAP explanations in Chinese and English (:func:`explain`),
named risk profiles (:class:`RiskTypology`), the model registry, and the plans the
CLI and the monthly cycle run (:mod:`povguard.risk.pipeline`: train, score, the
"预测预警" warnings and the drift report of :mod:`povguard.risk.drift`).
"""

from povguard.risk.baselines import ProxyMeansScore, RulesBaseline
from povguard.risk.drift import DriftReport, drift_report, psi, reference_distribution
from povguard.risk.evaluate import (
    FAIRNESS_GROUPS,
    ModelReport,
    capacity_lists,
    check_out_of_time,
    compare_models,
    feature_matrix,
    out_of_time_split,
    panel_frame,
    recall_at_capacity,
)
from povguard.risk.explain import Explanation, Factor, FactorTexts, explain
from povguard.risk.features import FEATURE_COLUMNS, GROUP_COLUMNS, KEY_COLUMNS, build_features
from povguard.risk.models import (
    RISK_CLASSIFIER_EXPECTED_FAILED_CHECKS,
    RiskClassifier,
    paper_models,
)
from povguard.risk.registry import (
    LoadedModel,
    ModelCard,
    active_model,
    fingerprint,
    list_models,
    load_model,
    models_dir,
    save_model,
    set_active,
)
from povguard.risk.target import build_labels, labels_from_flags, risk_flags
from povguard.risk.typology import Profile, RiskTypology, default_naming_table

__all__ = [
    "FAIRNESS_GROUPS",
    "FEATURE_COLUMNS",
    "GROUP_COLUMNS",
    "KEY_COLUMNS",
    "RISK_CLASSIFIER_EXPECTED_FAILED_CHECKS",
    "DriftReport",
    "Explanation",
    "Factor",
    "FactorTexts",
    "LoadedModel",
    "ModelCard",
    "ModelReport",
    "Profile",
    "ProxyMeansScore",
    "RiskClassifier",
    "RiskTypology",
    "RulesBaseline",
    "active_model",
    "build_features",
    "build_labels",
    "capacity_lists",
    "check_out_of_time",
    "compare_models",
    "default_naming_table",
    "drift_report",
    "explain",
    "feature_matrix",
    "fingerprint",
    "labels_from_flags",
    "list_models",
    "load_model",
    "models_dir",
    "out_of_time_split",
    "panel_frame",
    "paper_models",
    "psi",
    "recall_at_capacity",
    "reference_distribution",
    "risk_flags",
    "save_model",
    "set_active",
]
