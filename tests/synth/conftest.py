"""Shared fixtures: one small twin generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from povguard.synth import TwinConfig, TwinSummary, generate_twin


@pytest.fixture(scope="session")
def twin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TwinSummary]:
    """A 6,000-household, 14-month twin over two counties."""
    out = tmp_path_factory.mktemp("twin")
    summary = generate_twin(
        TwinConfig(out=out, households=6000, months=14, start="2025-01", seed=7, counties=2)
    )
    return out, summary
