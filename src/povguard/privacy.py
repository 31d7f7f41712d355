"""Masking of personal data before it leaves the server (full view only by role).

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


def mask_name(value: str | None) -> str | None:
    """Mask a personal name, keeping its first character (and last, from three on).

    Parameters
    ----------
    value
        ``张三``, ``王小明``, ``欧阳娜娜`` or a Latin name.

    Returns
    -------
    str or None
        ``张*``, ``王*明``, ``欧**娜``; a one-character name becomes ``*``; None
        and ``''`` stay as they are.
    """
    if value is None:
        return None
    text = str(value).strip()
    if len(text) <= 1:
        return "*" * len(text)
    if len(text) == 2:
        return text[0] + "*"
    return text[0] + "*" * (len(text) - 2) + text[-1]


#: Keys of aggregate answers whose values are counts of households or persons.
COUNT_KEYS: Final = frozenset(
    {
        "count",
        "households",
        "persons",
        "former_poor",
        "warnings",
        "warned_households",
        "monitored",
        "eliminated",
        "relapsed",
        "cases",
    }
)


def suppress_small_counts(value: Any, threshold: int, keys: frozenset[str] = COUNT_KEYS) -> Any:
    """A copy of an aggregate answer with small counts replaced by None.

    Parameters
    ----------
    value
        A JSON-like value (mappings, lists, scalars).
    threshold
        Counts from 1 to ``threshold - 1`` under a key in ``keys`` become None
        (zero stays: it identifies nobody); 0 or 1 disables suppression.
    keys
        Keys whose integer values are counts.

    Returns
    -------
    Any
        The suppressed copy.
    """
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            small = (
                key in keys
                and isinstance(item, int)
                and not isinstance(item, bool)
                and 0 < item < threshold
            )
            out[key] = None if small else suppress_small_counts(item, threshold, keys)
        return out
    if isinstance(value, list | tuple):
        return [suppress_small_counts(v, threshold, keys) for v in value]
    return value


#: Keys whose values are personal names (masked by :func:`mask_ids_in`).
NAME_KEYS: Final = frozenset(
    {"name", "head_name", "person_name", "member_name", "姓名", "户主姓名"}
)


def mask_ids_in(value: Any) -> Any:
    """A copy of a JSON value with every resident ID number and personal name masked.

    Strings that are, or contain, a 15- or 18-character ID number are masked; the
    values of name fields (:data:`NAME_KEYS`) are masked with :func:`mask_name`;
    mappings and lists are walked recursively; other values are returned as they are.
    """
    if isinstance(value, str):
        return _ID_IN_TEXT_RE.sub(lambda m: mask_id_number(m.group(0)) or "", value)
    if isinstance(value, dict):
        return {
            k: mask_name(v) if k in NAME_KEYS and isinstance(v, str) else mask_ids_in(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_ids_in(v) for v in value]
    return value
