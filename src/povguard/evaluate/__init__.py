"""Evaluation against the twin's truth (only evaluation code reads the truth)."""

from povguard.evaluate.clean import load_clean_period
from povguard.evaluate.metrics import Evaluation, Score, clean_warnings, evaluate, score

__all__ = ["Evaluation", "Score", "clean_warnings", "evaluate", "load_clean_period", "score"]
