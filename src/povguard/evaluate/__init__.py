"""Evaluation against the twin's truth (only evaluation code reads the truth)."""

from povguard.evaluate.clean import load_clean_period
from povguard.evaluate.fidelity import TRUTH_RULES, RuleFidelity, clean_run, truth_fidelity
from povguard.evaluate.metrics import Evaluation, evaluate
from povguard.evaluate.scores import Score, score

__all__ = [
    "TRUTH_RULES",
    "Evaluation",
    "RuleFidelity",
    "Score",
    "clean_run",
    "evaluate",
    "load_clean_period",
    "score",
    "truth_fidelity",
]
