"""Policy packs (versioned YAML rules and parameters) and the screen stage."""

from povguard.policy.pack import (
    INDICATOR_FIELDS,
    PackLibrary,
    PolicyPack,
    Rule,
    Trigger,
    load_pack,
    load_packs,
    load_policy,
)
from povguard.policy.screen import WARNING_SCHEMA, WARNINGS, screen_period

__all__ = [
    "INDICATOR_FIELDS",
    "WARNINGS",
    "WARNING_SCHEMA",
    "PackLibrary",
    "PolicyPack",
    "Rule",
    "Trigger",
    "load_pack",
    "load_packs",
    "load_policy",
    "screen_period",
]
