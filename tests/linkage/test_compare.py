"""Tests for povguard.linkage.compare: Chinese name, resident-ID and birth-date comparisons."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from povguard.linkage import compare
from povguard.linkage.compare import (
    RELATIONS,
    birth_relation,
    chars_similar,
    id18,
    id_birth,
    id_consistent,
    id_relation,
    id_sex,
    name_pinyin,
    name_relation,
)
from povguard.linkage.names import name_key

Relation = Callable[[str | None, str | None], str | None]


# --------------------------------------------------------------------------- helpers


def make_id(region: str = "520102", birth: str = "19850101", seq: str = "001") -> str:
    """A valid 18-character ID; stdnum's calc_check_digit ignores the last character."""
    body = region + birth + seq
    return body + ric.calc_check_digit(body + "0")


def id_with_x() -> str:
    """A valid ID whose check character is X."""
    for seq in range(1000):
        candidate = make_id("110101", "19751231", f"{seq:03d}")
        if candidate.endswith("X"):
            return candidate
    raise AssertionError("no check character X")  # pragma: no cover


def legacy_id(region: str = "520102", birth: str = "19850101", seq: str = "001") -> str:
    """The 15-digit form of the same person's ID (two-digit year, no check character)."""
    return region + birth[2:] + seq


def check_relation_conformance(fn: Relation, name: str, samples: Iterable[str]) -> None:
    """Contract every pairwise comparison must meet (apply it to any new one).

    Nulls and empty strings give None; the result of two non-null samples is one of
    ``RELATIONS[name]``; the function is symmetric; a sample compared with itself
    gives the best level, ``RELATIONS[name][0]``.
    """
    allowed = RELATIONS[name]
    values = list(samples)
    assert values, "conformance needs samples"
    assert len(set(allowed)) == len(allowed)
    assert fn(None, None) is None
    assert fn("", "") is None
    for s in values:
        assert fn(None, s) is None and fn(s, None) is None
        assert fn("", s) is None and fn(s, "") is None
        assert fn(s, s) == allowed[0], (s, fn(s, s))
    for a in values:
        for b in values:
            result = fn(a, b)
            assert result in allowed, (a, b, result)
            assert fn(b, a) == result, (a, b)


# --------------------------------------------------------------------------- RELATIONS


def test_relations_table_is_the_contract() -> None:
    assert RELATIONS == {
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
    assert set(compare.__all__) == {
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
    }


NAME_SAMPLES = [
    "张伟",
    "张炜",
    "曾伟",
    "增伟",
    "王明",
    "玉明",
    "王小明",
    "欧阳娜娜",
    "尉迟恭",
    "Zhang Wei",
    "Wei Zhang",
    "ZHANG Xiaoming",
    "李淑芬",
    "陈建国",
    "陈国建",
    "买买提·艾力",
    "ＺＨＡＮＧ　ＷＥＩ",
]
ID_SAMPLES = [
    make_id(),
    make_id(seq="002"),
    make_id("110101", "19751231", "123"),
    id_with_x(),
    make_id("520102", "19800110", "001"),
    make_id().lower(),
    "52010219850101001O",  # letter O typed for a digit: compared as text
    "ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲ",  # 18 characters, not an ID
]
BIRTH_SAMPLES = ["1980-01-05", "1980-05-01", "1981-01-05", "1980-03-07", "1990-12-31", "1980-1-5"]


@pytest.mark.parametrize(
    ("fn", "name", "samples"),
    [
        (name_relation, "name_relation", NAME_SAMPLES),
        (id_relation, "id_relation", ID_SAMPLES),
        (birth_relation, "birth_relation", BIRTH_SAMPLES),
    ],
    ids=["name_relation", "id_relation", "birth_relation"],
)
def test_pairwise_conformance(fn: Relation, name: str, samples: list[str]) -> None:
    check_relation_conformance(fn, name, samples)


# --------------------------------------------------------------------------- Jaro-Winkler


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("MARTHA", "MARHTA", 0.9611),
        ("DWAYNE", "DUANE", 0.84),
        ("DIXON", "DICKSONX", 0.8133),
        ("JELLYFISH", "SMELLYFISH", 0.8963),
        ("abc", "abc", 1.0),
        ("abc", "xyz", 0.0),
        ("", "abc", 0.0),
    ],
)
def test_jaro_winkler_known_values(a: str, b: str, expected: float) -> None:
    assert compare._jaro_winkler(a, b) == pytest.approx(expected, abs=1e-4)
    assert compare._jaro_winkler(b, a) == pytest.approx(expected, abs=1e-4)


@settings(max_examples=400)
@given(st.text(alphabet="aeiouzhngwx", max_size=14), st.text(alphabet="aeiouzhngwx", max_size=14))
def test_jaro_winkler_floor_only_prunes(a: str, b: str) -> None:
    full = compare._jaro_winkler(a, b)
    assert 0.0 <= full <= 1.0
    assert full == compare._jaro_winkler(b, a)
    for floor in (0.75, 0.88, 0.95):
        fast = compare._jaro_winkler(a, b, floor)
        assert (fast >= floor) == (full >= floor)
        assert fast in (0.0, full)


def test_jaro_winkler_agrees_with_duckdb() -> None:
    """Same values as DuckDB's jaro_winkler_similarity, which Splink's SQL levels use."""
    duckdb = pytest.importorskip("duckdb")
    rng = random.Random(20261126)
    pairs = [
        tuple("".join(rng.choice("aeiouzhngwx") for _ in range(rng.randrange(1, 14))) for _ in "ab")
        for _ in range(500)
    ]
    con = duckdb.connect()
    try:
        for a, b in pairs:
            (expected,) = con.execute("select jaro_winkler_similarity(?, ?)", [a, b]).fetchone()
            assert compare._jaro_winkler(a, b) == pytest.approx(expected, abs=1e-12), (a, b)
    finally:
        con.close()


# --------------------------------------------------------------------------- name_pinyin

SURNAME_READINGS = {
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
}


@pytest.mark.parametrize(("surname", "reading"), sorted(SURNAME_READINGS.items()))
def test_name_pinyin_uses_surname_reading(surname: str, reading: str) -> None:
    assert name_pinyin(surname + "明") == reading + "ming"
    assert name_pinyin(surname + "小明") == reading + "xiaoming"


def test_surname_reading_only_for_the_first_character() -> None:
    assert name_pinyin("曾曾") == "zengceng"  # given-name 曾 keeps the common reading
    assert name_pinyin("李单") == "lidan"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("欧阳娜娜", "ouyangnana"),
        ("司马光", "simaguang"),
        ("诸葛亮", "zhugeliang"),
        ("上官婉儿", "shangguanwaner"),
        ("东方朔", "dongfangshuo"),
        ("皇甫嵩", "huangfusong"),
        ("尉迟恭", "yuchigong"),
        ("公孙策", "gongsunce"),
        ("慕容复", "murongfu"),
        ("令狐冲", "linghuchong"),
        ("长孙无忌", "zhangsunwuji"),
        ("宇文泰", "yuwentai"),
        ("司徒雷", "situlei"),
        ("夏侯惇", "xiahoudun"),
        ("端木蓉", "duanmurong"),
        ("独孤信", "duguxin"),
        ("万俟卨", "moqixie"),
    ],
)
def test_name_pinyin_compound_surnames(name: str, key: str) -> None:
    assert name_pinyin(name) == key


def test_compound_surname_needs_a_given_name() -> None:
    # 单于 as a two-character name is surname 单 plus given name 于
    assert name_pinyin("单于") == "shanyu"
    assert name_pinyin("长江") == "changjiang"  # single surname 长 reads chang


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("张伟", "zhangwei"),
        ("张 伟", "zhangwei"),
        ("张\u3000伟", "zhangwei"),
        ("ZHANG Wei", "zhangwei"),
        ("Wei Zhang", "weizhang"),
        ("ＺＨＡＮＧ　ＷＥＩ", "zhangwei"),
        ("Zhāng Wěi", "zhangwei"),
        ("Lü Bu", "lvbu"),
        ("吕布", "lvbu"),
        ("买买提·艾力", "maimaitiaili"),
    ],
)
def test_name_pinyin_normalises(name: str, key: str) -> None:
    assert name_pinyin(name) == key


@pytest.mark.parametrize("value", [None, "", "   ", "\u3000", "·"])
def test_name_pinyin_null(value: str | None) -> None:
    assert name_pinyin(value) is None


@pytest.mark.parametrize("name", ["张伟", "王小明", "李淑芬", "刘德华", "陈建国"])
def test_name_pinyin_compatible_with_name_key(name: str) -> None:
    assert name_pinyin(name) == name_key(name)


# --------------------------------------------------------------------------- name_relation


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("张伟", "张伟", "exact"),
        ("张伟", " 张 伟 ", "exact"),
        ("Zhang Wei", "ZHANG WEI", "exact"),
        ("ＺＨＡＮＧ　ＷＥＩ", "zhang wei", "exact"),
        ("张伟", "张炜", "homophone"),
        ("曾伟", "增伟", "homophone"),  # surname reading zeng
        ("单伟", "善伟", "homophone"),  # surname reading shan
        ("王晓明", "王小明", "homophone"),
        ("欧阳娜娜", "欧阳那娜", "homophone"),
        ("张伟", "Zhang Wei", "homophone"),
        ("Zhang Wei", "Wei Zhang", "swapped"),
        ("张伟", "Wei Zhang", "swapped"),
        ("欧阳娜娜", "Nana Ouyang", "swapped"),
        ("ZHANG Xiaoming", "Xiao Ming Zhang", "swapped"),
        ("王明", "玉明", "similar_char"),  # 王 is a component of 玉
        ("李己", "李已", "similar_char"),  # same decomposition
        ("张伟", "张玮", "homophone"),
        ("王乐", "王岳", "similar_char"),  # 乐 can read yue
        ("李曾", "李增", "similar_char"),
        ("王明", "王亮", "one_char"),
        ("王小明", "王明", "one_char"),
        ("欧阳娜娜", "欧娜娜", "one_char"),
        ("liu yang", "liu yan", "one_char"),
        ("陈建国", "陈国建", "pinyin_close"),
        ("zhang wei", "zhang wie", "pinyin_close"),
        ("张伟", "李娜", "different"),
        ("张伟", "伟张", "different"),  # Chinese two-token swaps are not looked for
    ],
)
def test_name_relation_categories(a: str, b: str, expected: str) -> None:
    assert name_relation(a, b) == expected
    assert name_relation(b, a) == expected


def test_name_relation_covers_every_category() -> None:
    examples = [
        ("张伟", "张伟"),
        ("张伟", "张炜"),
        ("Zhang Wei", "Wei Zhang"),
        ("王明", "玉明"),
        ("王明", "王亮"),
        ("陈建国", "陈国建"),
        ("张伟", "李娜"),
    ]
    assert tuple(name_relation(a, b) for a, b in examples) == RELATIONS["name_relation"]


@pytest.mark.parametrize(
    ("a", "b"), [(None, "张伟"), ("张伟", None), (None, None), ("", "张伟"), ("  ", "张伟")]
)
def test_name_relation_null(a: str | None, b: str | None) -> None:
    assert name_relation(a, b) is None
    assert name_relation(b, a) is None


# --------------------------------------------------------------------------- chars_similar


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("己", "已", True),  # identical decomposition
        ("未", "末", True),  # same components, another arrangement
        ("王", "玉", True),  # component of the other
        ("曾", "增", True),
        ("伟", "炜", True),  # share 韦
        ("伟", "玮", True),
        ("炜", "玮", True),
        ("杨", "扬", True),
        ("干", "千", True),
        ("末", "天", False),  # share only the stroke 一
        ("王", "干", False),
        ("乐", "岳", False),
        ("明", "亮", False),
        ("张", "李", False),
        ("张", "张", True),
        ("x", "x", True),  # unknown but identical
        ("x", "y", False),  # unknown
        ("长", "张", True),  # 长 has no decomposition but is a component of 张
        ("长", "李", False),
    ],
)
def test_chars_similar(a: str, b: str, expected: bool) -> None:
    assert chars_similar(a, b) is expected
    assert chars_similar(b, a) is expected


HAN_SAMPLE = "王玉主干千土士己已巳未末天夫伟炜玮韦张长李杨扬明亮日目曾增乐岳人入八大太"


@given(st.sampled_from(HAN_SAMPLE + "xy"), st.sampled_from(HAN_SAMPLE + "xy"))
def test_chars_similar_symmetric(a: str, b: str) -> None:
    assert chars_similar(a, b) == chars_similar(b, a)
    assert chars_similar(a, a)


# --------------------------------------------------------------------------- IDs


def test_make_id_is_valid() -> None:
    assert ric.is_valid(make_id())
    assert compare._check_char(make_id()[:17]) == make_id()[17]


@pytest.mark.parametrize(
    ("region", "birth", "seq"),
    [("520102", "19850101", "001"), ("110101", "19751231", "123"), ("310104", "19990228", "998")],
)
def test_id18_converts_legacy_15_to_valid_18(region: str, birth: str, seq: str) -> None:
    converted = id18(legacy_id(region, birth, seq))
    assert converted == make_id(region, birth, seq)
    assert converted is not None and ric.is_valid(converted)


def test_id18_normalises() -> None:
    with_x = id_with_x()
    assert ric.is_valid(with_x)
    assert id18(with_x.lower()) == with_x
    assert id18(" ".join([with_x[:6], with_x[6:14], with_x[14:]])) == with_x
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in with_x.lower())
    assert id18(full_width) == with_x
    assert id18(make_id()[:17] + "5") == make_id()[:17] + "5"  # check character not validated


@pytest.mark.parametrize(
    "value",
    [None, "", "   ", "5201021985010100", "52010219850101001A", "X20102198501010012", "abc"],
)
def test_id18_rejects(value: str | None) -> None:
    assert id18(value) is None


def _swap(s: str, i: int) -> str:
    return s[:i] + s[i + 1] + s[i] + s[i + 2 :]


def _set(s: str, i: int, ch: str) -> str:
    return s[:i] + ch + s[i + 1 :]


REAL = make_id("520102", "19850101", "123")
LEGACY = legacy_id("520102", "19850101", "123")
WRONG_CHECK = REAL[:17] + ("0" if REAL[17] != "0" else "1")


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (REAL, REAL, "exact"),
        (id_with_x(), id_with_x().lower(), "exact"),
        (REAL, " ".join(REAL), "exact"),
        (LEGACY, REAL, "legacy15"),
        (LEGACY, LEGACY, "legacy15"),
        (REAL, WRONG_CHECK, "check_char"),
        (LEGACY, WRONG_CHECK, "check_char"),
        (REAL, _swap(REAL, 15), "transposition"),  # 123 -> 132, check kept as written
        (REAL, _swap(REAL, 10), "transposition"),  # month digits 01 -> 10
        (_swap(LEGACY, 12), REAL, "transposition"),  # legacy compared on the first 17
        (REAL, _set(REAL, 16, "4"), "one_digit"),
        (REAL, make_id("520102", "19850101", "124"), "one_digit"),  # check recomputed
        (_set(LEGACY, 3, "9"), REAL, "one_digit"),
        (REAL, _set(REAL, 17, "Z"), "check_char"),
        (REAL, _set(_set(REAL, 2, "9"), 9, "9"), "two_digits"),
        (REAL, _set(_set(REAL, 14, "9"), 16, "9"), "two_digits"),
        (_set(_set(LEGACY, 0, "9"), 14, "9"), REAL, "two_digits"),
        (REAL, make_id("110101", "19751231", "456"), "different"),
        (REAL, "12345", "different"),
        (REAL, LEGACY[:14], "different"),
        ("52010219850101001O", "520102198501010010", "check_char"),
        ("5201O2198501010010", "520102198501010010", "one_digit"),
        ("ABCDE", "ABCED", "transposition"),
        ("ABCDE", "ABCDE", "different"),  # not an ID: never exact unless 18 characters
    ],
)
def test_id_relation_categories(a: str, b: str, expected: str) -> None:
    assert id_relation(a, b) == expected
    assert id_relation(b, a) == expected


def test_id_relation_covers_every_category() -> None:
    examples = [
        (REAL, REAL.lower()),
        (LEGACY, REAL),
        (REAL, WRONG_CHECK),
        (REAL, _swap(REAL, 15)),
        (REAL, _set(REAL, 16, "4")),
        (REAL, _set(_set(REAL, 2, "9"), 9, "9")),
        (REAL, make_id("110101", "19751231", "456")),
    ]
    assert tuple(id_relation(a, b) for a, b in examples) == RELATIONS["id_relation"]


@pytest.mark.parametrize(
    ("a", "b"), [(None, REAL), (REAL, None), (None, None), ("", REAL), (" ", REAL)]
)
def test_id_relation_null(a: str | None, b: str | None) -> None:
    assert id_relation(a, b) is None
    assert id_relation(b, a) is None


def test_id_birth_and_sex() -> None:
    assert id_birth(make_id("520102", "19850101", "001")) == "1985-01-01"
    assert id_birth(legacy_id("110101", "19751231", "123")) == "1975-12-31"
    assert id_birth(make_id("520102", "19800230", "001")) is None  # not a real date
    assert id_birth("garbage") is None
    assert id_birth(None) is None
    assert id_sex(make_id(seq="001")) == "男"
    assert id_sex(make_id(seq="002")) == "女"
    assert id_sex(legacy_id(seq="003")) == "男"
    assert id_sex(legacy_id(seq="010")) == "女"
    assert id_sex("12345") is None
    assert id_sex(None) is None


@pytest.mark.parametrize(
    ("value", "birth", "sex", "expected"),
    [
        (make_id(seq="001"), "1985-01-01", "男", True),
        (legacy_id(seq="002"), "1985-01-01", "女", True),
        (make_id(seq="001"), "1985-01-01", None, True),
        (make_id(seq="001"), None, "男", True),
        (make_id(seq="001"), "1985-01-02", "男", False),
        (make_id(seq="001"), "1985-01-01", "女", False),
        (make_id(seq="001"), "1985-01-02", "女", False),
        (make_id(seq="001"), None, None, None),
        (make_id(seq="001"), "", "", None),
        (None, "1985-01-01", "男", None),
        ("not an id", "1985-01-01", "男", None),
        (make_id("520102", "19800230", "001"), "1980-02-28", None, None),  # ID date unreal
        (make_id("520102", "19800230", "001"), "1980-02-28", "男", True),  # sex still checks
    ],
)
def test_id_consistent(
    value: str | None, birth: str | None, sex: str | None, expected: bool | None
) -> None:
    assert id_consistent(value, birth, sex) is expected


# --------------------------------------------------------------------------- birth_relation


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1980-01-05", "1980-01-05", "exact"),
        ("1980-1-5", "1980-01-05", "exact"),
        ("1980-01-05", "1980-05-01", "swapped"),
        ("1980-12-11", "1980-11-12", "swapped"),
        ("1980-01-05", "1981-01-05", "one_part"),
        ("1980-01-05", "1980-02-05", "one_part"),
        ("1980-01-05", "1980-01-06", "one_part"),
        ("1980-01-13", "1980-13-01", "year_only"),  # day 13 cannot be a month: no swap
        ("1980-01-05", "1980-03-07", "year_only"),
        ("1980-01-05", "1990-02-06", "different"),
        ("1980-01-05", "1990-01-06", "different"),
        ("1980-01-05", "unknown", "different"),
    ],
)
def test_birth_relation_categories(a: str, b: str, expected: str) -> None:
    assert birth_relation(a, b) == expected
    assert birth_relation(b, a) == expected


@pytest.mark.parametrize(
    ("a", "b"), [(None, "1980-01-05"), ("1980-01-05", None), (None, None), ("", "1980-01-05")]
)
def test_birth_relation_null(a: str | None, b: str | None) -> None:
    assert birth_relation(a, b) is None
    assert birth_relation(b, a) is None


# --------------------------------------------------------------------------- properties

NAME_CHARS = "张王李赵曾增单善欧阳司马尉迟万俟伟炜玮明玉小娜那建国淑芬乐岳己已·"
names = st.one_of(
    st.text(alphabet=NAME_CHARS + " ", min_size=1, max_size=5),
    st.text(alphabet="ZHANGWEIzhangweixiaoming ", min_size=1, max_size=14),
    st.text(max_size=6),
)


@st.composite
def ids(draw: st.DrawFn) -> str:
    """Valid IDs, their typo variants, legacy forms, and arbitrary text."""
    day = draw(st.dates(dt.date(1930, 1, 1), dt.date(2020, 12, 31)))
    real = make_id(
        draw(st.sampled_from(["520102", "110101", "310104"])),
        day.strftime("%Y%m%d"),
        f"{draw(st.integers(0, 999)):03d}",
    )
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return real
    if kind == 1:
        return legacy_id(real[:6], real[6:14], real[14:17]) if real[6:8] == "19" else real.lower()
    if kind == 2:
        i = draw(st.integers(0, 16))
        return _set(real, i, draw(st.sampled_from("0123456789")))
    if kind == 3:
        return _swap(real, draw(st.integers(0, 16)))
    if kind == 4:
        return draw(st.text(alphabet="0123456789xX ", min_size=1, max_size=19))
    return draw(st.text(max_size=19))


births = st.one_of(
    st.dates(dt.date(1930, 1, 1), dt.date(2020, 12, 31)).map(dt.date.isoformat),
    st.tuples(st.integers(1930, 1935), st.integers(1, 13), st.integers(1, 13)).map(
        lambda t: f"{t[0]}-{t[1]:02d}-{t[2]:02d}"
    ),
    st.text(max_size=10),
)


@settings(max_examples=300)
@given(names, names)
def test_name_relation_properties(a: str, b: str) -> None:
    result = name_relation(a, b)
    assert result == name_relation(b, a)
    assert result == compare._name_relation.__wrapped__(b, a)  # the logic, not just the cache
    assert result is None or result in RELATIONS["name_relation"]
    assert (result is None) == (not compare._clean(a) or not compare._clean(b))
    if compare._clean(a):
        assert name_relation(a, a) == "exact"


@settings(max_examples=300)
@given(ids(), ids())
def test_id_relation_properties(a: str, b: str) -> None:
    result = id_relation(a, b)
    assert result == id_relation(b, a)
    assert result == compare._id_relation.__wrapped__(b, a)
    assert result is None or result in RELATIONS["id_relation"]
    normalised = compare._norm_id(a)
    if len(normalised) == 18:
        assert id_relation(a, a) == "exact"
    elif len(normalised) == 15 and normalised.isdigit():
        assert id_relation(a, a) == "legacy15"
    if id18(a) is not None:
        assert id18(a) == id18(id18(a))


@settings(max_examples=300)
@given(births, births)
def test_birth_relation_properties(a: str, b: str) -> None:
    result = birth_relation(a, b)
    assert result == birth_relation(b, a)
    assert result == compare._birth_relation.__wrapped__(b, a)
    assert result is None or result in RELATIONS["birth_relation"]
    if compare._clean(a):
        assert birth_relation(a, a) == "exact"


@settings(max_examples=200)
@given(ids())
def test_id_derived_fields_agree_with_stdnum(value: str) -> None:
    full = id18(value)
    if full is not None and ric.is_valid(full):
        assert id_birth(value) == ric.get_birth_date(full).isoformat()
        assert id_consistent(value, id_birth(value), id_sex(value)) is True
