"""Name keys for matching Chinese names across departments."""

from __future__ import annotations

import functools
import unicodedata

import numpy as np
from pypinyin import Style, lazy_pinyin


@functools.lru_cache(maxsize=100_000)
def _char_key(ch: str) -> str:
    return "".join(lazy_pinyin(ch, style=Style.NORMAL, errors="default")).lower()


def name_key(name: str) -> str:
    """Toneless pinyin of a name without spaces (张伟 and 张炜 both give ``zhangwei``).

    Full-width characters and spaces are normalised first; non-Chinese names are
    lower-cased. Characters are romanised one by one (the same on both sides of a
    comparison, so multi-reading characters still match themselves).
    """
    text = "".join(unicodedata.normalize("NFKC", name).split())
    return "".join(_char_key(ch) for ch in text)


def name_keys(names: np.ndarray | list[str | None]) -> list[str | None]:
    """:func:`name_key` of many names (None and "" give None); each distinct name once."""
    cache: dict[str, str] = {}
    out: list[str | None] = []
    for n in np.asarray(names, dtype=object).tolist():
        if not n:
            out.append(None)
            continue
        key = cache.get(n)
        if key is None:
            key = cache[n] = name_key(n)
        out.append(key)
    return out
