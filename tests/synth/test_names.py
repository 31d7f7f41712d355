"""Tests of povguard.synth.names (Chinese names, typos, romanisation)."""

from __future__ import annotations

import csv
import io
from importlib import resources

import numpy as np
import pytest
from pypinyin import Style, pinyin

from povguard.synth.names import (
    NameGenerator,
    full_names,
    homophones,
    mistype_names,
    mistype_names_kind,
    romanise,
    shape_neighbours,
    split_name,
)


def _resource_text(name: str) -> str:
    return resources.files("povguard").joinpath("resources", "synth", name).read_text("utf-8")


def _rows(name: str) -> list[dict[str, str]]:
    lines = [x for x in _resource_text(name).splitlines() if x and not x.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


def _readings(ch: str) -> set[str]:
    return {p.replace("ü", "v") for p in pinyin(ch, style=Style.NORMAL, heteronym=True)[0]}


@pytest.fixture(scope="module")
def gen() -> NameGenerator:
    return NameGenerator()


@pytest.fixture(scope="module")
def population(gen: NameGenerator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2024)
    n = 200_000
    male = rng.random(n) < 0.5
    year = rng.integers(1930, 2025, n)
    surname = gen.surnames(n, rng)
    given = gen.given_names(male, year, rng)
    return surname, given, male, year


# --------------------------------------------------------------------------- tables
def test_surname_table_content() -> None:
    text = _resource_text("surnames.csv")
    first = text.splitlines()[0]
    assert first.startswith("#")
    assert "2020年全国姓名报告" in first
    assert "after rank 100 assumed" in first
    rows = _rows("surnames.csv")
    assert len(rows) >= 120
    per_mille = [float(r["per_mille"]) for r in rows]
    assert per_mille == sorted(per_mille, reverse=True)
    assert [r["surname"] for r in rows[:5]] == ["王", "李", "张", "刘", "陈"]
    reading = {r["surname"]: r["pinyin"] for r in rows}
    expected = {
        "覃": "qin",
        "曾": "zeng",
        "单": "shan",
        "区": "ou",
        "仇": "qiu",
        "解": "xie",
        "查": "zha",
        "朴": "piao",
        "盖": "ge",
        "乐": "yue",
        "欧阳": "ouyang",
        "诸葛": "zhuge",
    }
    for surname, py in expected.items():
        assert reading[surname] == py
    for surname in "罗杨吴龙石潘韦蒙覃":
        assert surname in reading
    for compound in ["欧阳", "司马", "诸葛", "上官", "司徒", "东方", "皇甫", "令狐"]:
        assert compound in reading
    # every single-character reading is one of the character's readings
    for surname, py in reading.items():
        if len(surname) == 1:
            assert py.replace("ü", "v") in _readings(surname), surname


def test_given_char_table_content() -> None:
    rows = _rows("given_chars.csv")
    assert len(rows) >= 280
    chars = {r["char"]: r["sex"] for r in rows}
    assert len(chars) == len(rows)
    assert set(chars.values()) == {"m", "f", "n"}
    assert all(float(r["weight"]) > 0 for r in rows)
    groups = (
        "伟炜玮 军君钧 丽莉俐立 静婧靖敬 杰洁婕 明铭鸣 红虹宏鸿 玲琳林霖凌 平萍苹 斌彬滨 辉晖徽"
    )
    for group in (groups + " 建健剑 峰锋丰 燕艳雁 英瑛颖 兰岚 梅玫媚 秀绣 华桦 涛韬 刚钢").split():
        assert all(c in chars for c in group), group


# --------------------------------------------------------------------------- generation
def test_surname_frequencies_follow_table(gen: NameGenerator, population: tuple) -> None:
    surname = population[0]
    n = len(surname)
    table = gen.surname_table
    p = gen.surname_probabilities()
    assert p.sum() == pytest.approx(1.0)
    for s in ["王", "李", "张"]:
        expected = p[table == s][0]
        observed = (surname == s).mean()
        assert abs(observed - expected) < 4 * np.sqrt(expected * (1 - expected) / n), s
    assert set(np.unique(surname).tolist()) <= set(table.tolist())


def test_surname_multipliers(gen: NameGenerator) -> None:
    rng = np.random.default_rng(0)
    base = (gen.surnames(50_000, rng) == "蒙").mean()
    boosted = (gen.surnames(50_000, rng, multipliers={"蒙": 20.0}) == "蒙").mean()
    assert boosted > 5 * base
    only = gen.surnames(100, rng, multipliers={s: 0.0 for s in gen.surname_table if s != "杨"})
    assert set(only.tolist()) == {"杨"}


def test_given_names_are_sex_appropriate(population: tuple) -> None:
    _, given, male, _ = population
    sex = {r["char"]: r["sex"] for r in _rows("given_chars.csv")}
    lengths = np.strings.str_len(given)
    assert set(np.unique(lengths).tolist()) == {1, 2}
    male_chars = set("".join(np.unique(given[male]).tolist()))
    female_chars = set("".join(np.unique(given[~male]).tolist()))
    assert {sex[c] for c in male_chars} <= {"m", "n"}
    assert {sex[c] for c in female_chars} <= {"f", "n"}


def test_single_character_share_by_cohort(population: tuple) -> None:
    _, given, _, year = population
    single = np.strings.str_len(given) == 1
    share_80s_90s = single[(year >= 1980) & (year < 2000)].mean()
    share_2010s = single[year >= 2010].mean()
    share_60s = single[(year >= 1960) & (year < 1970)].mean()
    assert share_80s_90s == pytest.approx(0.276, abs=0.01)
    assert share_2010s == pytest.approx(0.063, abs=0.01)
    assert share_60s == pytest.approx(0.18, abs=0.015)
    assert share_80s_90s > share_60s > share_2010s


def test_era_fashion_of_characters(population: tuple) -> None:
    _, given, _, year = population
    has_zi = np.strings.find(given, "梓") >= 0
    assert has_zi[year >= 2000].mean() > 5 * has_zi[year < 1960].mean()


def test_full_names_concatenate(gen: NameGenerator) -> None:
    out = gen.full_names(np.array(["张", "欧阳"]), np.array(["伟", "娜娜"]))
    assert out.tolist() == ["张伟", "欧阳娜娜"]
    assert full_names(np.array(["王"], dtype=object), np.array(["芳"], dtype=object)).tolist() == [
        "王芳"
    ]


def test_generation_is_deterministic(gen: NameGenerator) -> None:
    def draw(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        male = rng.random(1000) < 0.5
        year = rng.integers(1940, 2020, 1000)
        return gen.full_names(gen.surnames(1000, rng), gen.given_names(male, year, rng))

    assert (draw(5) == draw(5)).all()
    assert (draw(5) != draw(6)).any()
    assert (
        NameGenerator().surnames(10, np.random.default_rng(1))
        == gen.surnames(10, np.random.default_rng(1))
    ).all()


# --------------------------------------------------------------------------- split / romanise
def test_split_name() -> None:
    names = np.array(["张伟", "欧阳娜娜", "司马光", "王", "欧阳", "覃明", "诸葛亮"])
    surname, given = split_name(names)
    assert surname.tolist() == ["张", "欧阳", "司马", "王", "欧", "覃", "诸葛"]
    assert given.tolist() == ["伟", "娜娜", "光", "", "阳", "明", "亮"]


def test_split_name_round_trips_generated_names(gen: NameGenerator, population: tuple) -> None:
    surname, given, _, _ = population
    s, g = split_name(full_names(surname, given))
    ok = (s == surname) & (g == given)
    # only 欧 + a given name starting with 阳 is ambiguous
    assert ok.mean() > 0.9999
    assert all(
        a == "欧" and b.startswith("阳") for a, b in zip(surname[~ok], given[~ok], strict=True)
    )


def test_romanise_examples() -> None:
    names = np.array(["张伟", "欧阳娜娜", "覃明", "曾丽", "单雄", "吕芳", "诸葛亮", "王", "解放"])
    assert romanise(names).tolist() == [
        "ZHANG WEI",
        "OUYANG NANA",
        "QIN MING",
        "ZENG LI",
        "SHAN XIONG",
        "LYU FANG",
        "ZHUGE LIANG",
        "WANG",
        "XIE FANG",
    ]


def test_romanise_given_first() -> None:
    names = np.array(["张伟", "欧阳娜娜", "覃明"])
    out = romanise(names, given_first=np.array([True, True, False]))
    assert out.tolist() == ["WEI ZHANG", "NANA OUYANG", "QIN MING"]
    with pytest.raises(ValueError):
        romanise(names, given_first=np.array([True]))


def test_romanise_generated_names_are_upper_ascii(population: tuple) -> None:
    surname, given, _, _ = population
    out = romanise(full_names(surname[:5000], given[:5000]))
    for x in out.tolist():
        _, rest = x.split(" ", 1)
        assert x.isascii()
        assert x == x.upper()
        assert " " not in rest


# --------------------------------------------------------------------------- typos
def _changed_positions(a: str, b: str) -> list[int]:
    assert len(a) == len(b)
    return [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]


def test_mistype_changes_exactly_one_character(population: tuple) -> None:
    surname, given, _, _ = population
    names = full_names(surname[:20_000], given[:20_000])
    rng = np.random.default_rng(9)
    kind = rng.random(len(names)) < 0.5
    new, applied = mistype_names_kind(names, kind, rng)
    assert new.shape == names.shape
    assert not (applied & ~kind).any()
    assert applied[kind].mean() > 0.95
    surname_changes = 0
    for old, nw in zip(names.tolist(), new.tolist(), strict=True):
        (pos,) = _changed_positions(old, nw)
        surname_changes += pos < len(old) - len(split_name(np.array([old]))[1][0])
    assert 0.05 < surname_changes / len(names) < 0.15


def test_homophone_typos_share_pinyin(population: tuple) -> None:
    surname, given, _, _ = population
    names = full_names(surname[:5000], given[:5000])
    rng = np.random.default_rng(10)
    new, applied = mistype_names_kind(names, np.ones(len(names), bool), rng)
    for old, nw in zip(names[applied].tolist(), new[applied].tolist(), strict=True):
        (pos,) = _changed_positions(old, nw)
        assert old[pos] != nw[pos]
        assert _readings(old[pos]) & _readings(nw[pos]), (old, nw)


def test_shape_typos_use_similar_characters(population: tuple) -> None:
    surname, given, _, _ = population
    names = full_names(surname[:5000], given[:5000])
    rng = np.random.default_rng(11)
    new, applied = mistype_names_kind(names, np.zeros(len(names), bool), rng)
    assert not applied.any()
    similar = 0
    for old, nw in zip(names.tolist(), new.tolist(), strict=True):
        (pos,) = _changed_positions(old, nw)
        similar += nw[pos] in shape_neighbours(old[pos])
    assert similar / len(names) > 0.97


def test_mistype_prefers_given_name_and_handles_short_names() -> None:
    rng = np.random.default_rng(12)
    names = np.array(["张伟", "欧阳娜娜", "王"] * 200)
    new, _ = mistype_names_kind(names, rng.random(len(names)) < 0.5, rng, surname_share=0.0)
    for old, nw in zip(names.tolist(), new.tolist(), strict=True):
        (pos,) = _changed_positions(old, nw)
        assert pos >= {"张伟": 1, "欧阳娜娜": 2, "王": 0}[old]


def test_mistype_known_homophone_and_fallback() -> None:
    rng = np.random.default_rng(13)
    new, applied = mistype_names_kind(
        np.array(["张伟"] * 50), np.ones(50, bool), rng, surname_share=0.0
    )
    assert applied.all()
    assert {x[1] for x in new.tolist()} <= set(homophones("伟"))
    assert {"炜", "玮"} <= set(homophones("伟"))
    # 森 has no homophone in the pool: falls back to a shape-similar character
    assert homophones("森") == ()
    new, applied = mistype_names_kind(np.array(["李森"]), np.array([True]), rng, surname_share=0.0)
    assert not applied[0]
    assert new[0][1] in shape_neighbours("森")


def test_homophones_use_surname_reading() -> None:
    assert "秦" in homophones("覃", as_surname=True)
    assert "谭" in homophones("覃")
    assert "增" in homophones("曾", as_surname=True)
    assert "覃" not in homophones("覃", as_surname=True)


def test_mistype_names_wrapper_and_determinism() -> None:
    names = np.array(["张伟", "王芳", "李娜", "刘洋", "陈静"], dtype=object)
    kind = np.array([True, False, True, False, True])
    a = mistype_names(names, kind, np.random.default_rng(3))
    b = mistype_names(names, kind, np.random.default_rng(3))
    assert a.tolist() == b.tolist()
    assert all(x != y for x, y in zip(a.tolist(), names.tolist(), strict=True))


def test_mistype_rejects_bad_input() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        mistype_names(np.array(["张伟", ""]), np.array([True, True]), rng)
    with pytest.raises(ValueError):
        mistype_names(np.array(["张伟"]), np.array([True, True]), rng)
