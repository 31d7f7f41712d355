"""Record linkage: department records -> registry persons and households.

A generic Splink-based linker with declarative specs (:func:`link`,
:func:`dedupe`, :func:`load_spec`), Chinese comparisons (:mod:`.compare`), and
the monthly link stage (:func:`link_period`) with its clerical review queue.
"""

from povguard.linkage.link import (
    LINK_SCHEMA,
    LINKS,
    REVIEW,
    REVIEW_SCHEMA,
    LinkKeys,
    LinkReport,
    link_period,
    pair_key,
)
from povguard.linkage.linker import Backend, LinkResult, backend_for, dedupe, link, prepare
from povguard.linkage.names import name_key
from povguard.linkage.registry import REGISTRY_HEADS, REGISTRY_PERSONS, load_registry
from povguard.linkage.spec import Comparison, Level, LinkSpec, load_spec, parse_spec

__all__ = [
    "LINKS",
    "LINK_SCHEMA",
    "REGISTRY_HEADS",
    "REGISTRY_PERSONS",
    "REVIEW",
    "REVIEW_SCHEMA",
    "Backend",
    "Comparison",
    "Level",
    "LinkKeys",
    "LinkReport",
    "LinkResult",
    "LinkSpec",
    "backend_for",
    "dedupe",
    "link",
    "link_period",
    "load_registry",
    "load_spec",
    "name_key",
    "pair_key",
    "parse_spec",
    "prepare",
]
