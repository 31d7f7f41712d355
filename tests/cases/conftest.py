"""Shared fixtures of the case-management tests: policy parameters from the packaged packs."""

from __future__ import annotations

from typing import Any

import pytest

from povguard.policy import load_packs

PERIOD = "2024-06"
REGION = "520102001001"  # a Guizhou village: the provincial pack over the national one


@pytest.fixture(scope="session")
def pack_params() -> dict[str, Any]:
    """Parameters of the pack in force for a Guizhou village in June 2024."""
    return dict(load_packs().select(PERIOD, REGION).params_for(PERIOD))


@pytest.fixture(scope="session")
def params(pack_params: dict[str, Any]) -> dict[str, Any]:
    """The pack's parameters (every one the cases package reads is there)."""
    return pack_params
