"""Record linkage: department records -> registry persons and households."""

from povguard.linkage.link import LINK_SCHEMA, LINKS, LinkKeys, LinkReport, link_period
from povguard.linkage.names import name_key, name_keys
from povguard.linkage.registry import load_registry

__all__ = [
    "LINKS",
    "LINK_SCHEMA",
    "LinkKeys",
    "LinkReport",
    "link_period",
    "load_registry",
    "name_key",
    "name_keys",
]
