"""Household-month indicators computed from linked department records."""

from povguard.indicators.build import (
    EVIDENCE_COLUMNS,
    INDICATOR_TYPES,
    INDICATORS,
    build_indicators,
    window,
)

__all__ = ["EVIDENCE_COLUMNS", "INDICATORS", "INDICATOR_TYPES", "build_indicators", "window"]
