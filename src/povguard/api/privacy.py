"""Masking of personal data before it leaves the server (full view only by role).

The implementation lives in :mod:`povguard.privacy` (below the API, so that the
services' printable forms mask with the same rules); this module re-exports it for
the API and the web pages.
"""

from __future__ import annotations

from povguard.privacy import (
    ID_NUMBER_RE,
    KEEP,
    mask_id_number,
    mask_ids_in,
    mask_name,
    suppress_small_counts,
)

__all__ = [
    "ID_NUMBER_RE",
    "KEEP",
    "mask_id_number",
    "mask_ids_in",
    "mask_name",
    "suppress_small_counts",
]
