"""Policy packs (versioned YAML rules and parameters) and the screen stage."""

from povguard.policy.pack import INDICATOR_FIELDS, PolicyPack, Rule, load_pack
from povguard.policy.screen import WARNING_SCHEMA, WARNINGS, screen_period

__all__ = [
    "INDICATOR_FIELDS",
    "WARNINGS",
    "WARNING_SCHEMA",
    "PolicyPack",
    "Rule",
    "load_pack",
    "screen_period",
]
