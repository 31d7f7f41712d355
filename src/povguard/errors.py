"""The one exception hierarchy of povguard."""

from __future__ import annotations


class PovguardError(Exception):
    """Base class of every error povguard raises on purpose."""


class ConfigError(PovguardError):
    """A parameter, option or configuration file is invalid."""


class DataError(PovguardError):
    """Input data cannot be read or violates its contract."""
