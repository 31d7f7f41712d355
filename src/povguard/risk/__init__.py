"""Forward-looking risk models: panel features, labels, models, evaluation."""

from povguard.risk.baselines import ProxyMeansScore, RulesBaseline
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
    fingerprint,
    list_models,
    load_model,
    models_dir,
    save_model,
)
from povguard.risk.target import build_labels, labels_from_flags, risk_flags
from povguard.risk.typology import Profile, RiskTypology, default_naming_table

__all__ = [
    "FAIRNESS_GROUPS",
    "FEATURE_COLUMNS",
    "GROUP_COLUMNS",
    "KEY_COLUMNS",
    "RISK_CLASSIFIER_EXPECTED_FAILED_CHECKS",
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
    "build_features",
    "build_labels",
    "capacity_lists",
    "check_out_of_time",
    "compare_models",
    "default_naming_table",
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
    "recall_at_capacity",
    "risk_flags",
    "save_model",
]
