"""Record linkage: department records -> registry persons and households."""

from povguard.linkage.link import LINKS, LinkKeys, LinkReport, link_period
from povguard.linkage.names import name_key, name_keys
from povguard.linkage.registry import load_registry

__all__ = [
    "LINKS",
    "LinkKeys",
    "LinkReport",
    "link_period",
    "load_registry",
    "name_key",
    "name_keys",
]
