"""The one exception hierarchy of povguard."""

from __future__ import annotations


class PovguardError(Exception):
    """Base class of every error povguard raises on purpose."""


class ConfigError(PovguardError):
    """A parameter, option or configuration file is invalid."""


class DataError(PovguardError):
    """Input data cannot be read or violates its contract."""


class NotFoundError(DataError, LookupError):
    """A requested record (by its key) does not exist."""


class ConflictError(DataError):
    """A change conflicts with the stored state: the record is not in a state that
    allows it, or someone else changed it meanwhile (optimistic locking)."""
