"""Masking of personal data before it leaves the server (by role once auth exists).

Used by every layer that shows or exports personal data: the API and web pages
(:mod:`povguard.api.privacy` re-exports these names), and the printable forms the
services make (:mod:`povguard.store.services.case_forms`).
"""

from __future__ import annotations

import re
from typing import Any, Final

#: Characters kept visible at each end of an ID number.
KEEP: Final = 4
#: An 18-digit resident ID (last character may be X) or a legacy 15-digit one,
#: possibly with lowercase x.
ID_NUMBER_RE: Final = re.compile(r"^(\d{17}[\dXx]|\d{15})$")
_ID_IN_TEXT_RE: Final = re.compile(r"(?<![\dA-Za-z])(\d{17}[\dXx]|\d{15})(?![\dA-Za-z])")


def mask_id_number(value: str | None) -> str | None:
    """Mask an ID number, keeping its first and last four characters.

    Parameters
    ----------
    value
        ``520102199001011234`` or any other identifier.

    Returns
    -------
    str or None
        ``5201**********1234``; a value of at most eight characters is fully masked;
        None stays None.
    """
    if value is None:
        return None
    text = str(value).strip()
    if len(text) <= 2 * KEEP:
        return "*" * len(text)
    return text[:KEEP] + "*" * (len(text) - 2 * KEEP) + text[-KEEP:]


def mask_ids_in(value: Any) -> Any:
    """A copy of a JSON value with every resident ID number in it masked.

    Strings that are, or contain, a 15- or 18-character ID number are masked;
    mappings and lists are walked recursively; other values are returned as they are.
    """
    if isinstance(value, str):
        return _ID_IN_TEXT_RE.sub(lambda m: mask_id_number(m.group(0)) or "", value)
    if isinstance(value, dict):
        return {k: mask_ids_in(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_ids_in(v) for v in value]
    return value
