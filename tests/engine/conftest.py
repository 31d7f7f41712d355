"""A small twin shared by the engine tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from povguard.synth import TwinConfig, generate_twin


@pytest.fixture(scope="session")
def small_twin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,500 households, 4 months, one county."""
    out = tmp_path_factory.mktemp("small-twin")
    generate_twin(TwinConfig(out=out, households=1500, months=4, seed=2, counties=1))
    return out
