"""Name keys for matching Chinese names across departments."""

from __future__ import annotations

import functools
import unicodedata

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
