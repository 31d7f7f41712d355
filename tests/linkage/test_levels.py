"""Unit tests for every comparison level of every built-in kind, and a conformance check.

Each case is a (left record, right record, expected level) triple that goes through
the real linker: ``link(left, right, spec, min_probability=0.0)`` with a spec of one
comparison, so the SQL levels Splink builds (not only the pure functions of
:mod:`povguard.linkage.compare`) are exercised. All cases of a kind run in one call;
case ``i`` has unique id ``c<i>`` on both sides and the spec blocks on that id, so
exactly the crafted pairs are scored. (Blocking on an extra constant column does not
work: the linker drops columns the comparisons do not use, see test_linker.py.)

:func:`check_comparison_conformance` is the contract a new comparison kind must pass.
"""

from __future__ import annotations

import functools
import itertools
import random
import sys
from collections.abc import Sequence

import pyarrow as pa
import pytest
from stdnum.cn import ric

from povguard.linkage.linker import estimate_u, link
from povguard.linkage.spec import DEFAULT_LEVELS, Comparison, Level, LinkSpec

Record = dict[str, str | None]
Case = tuple[Record, Record, str]  # left, right, expected level label
UID = "uid"


# --------------------------------------------------------------------------- IDs


def make_id(region: str = "522625", birth: str = "19720329", seq: str = "123") -> str:
    """A valid 18-character resident ID (stdnum ignores the check character given)."""
    body = region + birth + seq
    return body + ric.calc_check_digit(body + "0")


def put(text: str, index: int, ch: str) -> str:
    """``text`` with the character at ``index`` replaced."""
    assert text[index] != ch
    return text[:index] + ch + text[index + 1 :]


ID = make_id()  # 522625 19720329 123 8: born 1972-03-29, 17th digit 3 (odd) = male
OWN = {"birth_date": "1972-03-29", "sex": "男"}  # the record's own fields, consistent with ID
OTHER_ID = make_id("110101", "19900101", "456")


def test_the_crafted_ids_are_what_the_cases_assume() -> None:
    assert ric.is_valid(ID) and ric.is_valid(OTHER_ID)
    assert ID == "522625197203291238"
    assert ric.get_birth_date(ID).isoformat() == OWN["birth_date"]
    assert int(ID[16]) % 2 == 1  # male
    # the Excel remnant keeps 15 significant digits; no rounding carry into digit 14
    assert float(f"{ID[0]}.{ID[1:15]}e+17") == pytest.approx(float(ID), rel=1e-14)


# --------------------------------------------------------------------------- cases


def _id(left: str, right: str | None, label: str, *, right_own: Record | None = None) -> Case:
    return (
        {"id_number": left, **OWN},
        {"id_number": right, **(OWN if right_own is None else right_own)},
        label,
    )


COMPARISONS: dict[str, Comparison] = {
    "chinese_name": Comparison(name="name", kind="chinese_name"),
    "resident_id": Comparison(name="id_number", kind="resident_id", birth="birth_date", sex="sex"),
    "birth_date": Comparison(name="birth_date", kind="birth_date"),
    "region_code": Comparison(name="village_code", kind="region_code"),
    "exact": Comparison(name="sex", kind="exact"),
    "levenshtein": Comparison(name="surname", kind="levenshtein", thresholds=[1, 2]),
    "jaro_winkler": Comparison(name="surname", kind="jaro_winkler", thresholds=[0.9, 0.8]),
    "custom": Comparison(
        name="code",
        kind="custom",
        levels=[
            Level(label="same", sql='"code_l" = "code_r"', m=0.8),
            Level(
                label="same_prefix", sql='substr("code_l", 1, 2) = substr("code_r", 1, 2)', m=0.15
            ),
        ],
    ),
}


def _pairs(column: str, rows: Sequence[tuple[str | None, str | None, str]]) -> list[Case]:
    return [({column: a}, {column: b}, label) for a, b, label in rows]


CASES: dict[str, list[Case]] = {
    "chinese_name": _pairs(
        "name",
        [
            ("张伟", "张伟", "exact"),
            ("张伟", "张炜", "homophone"),  # same pinyin zhangwei
            ("Zhang Wei", "Wei Zhang", "swapped"),
            ("王明", "玉明", "similar_char"),  # 王 is a component of 玉
            ("王小明", "王明", "one_char"),  # one character dropped
            ("张伟明", "张卫民", "pinyin_close"),  # zhangweiming / zhangweimin
            ("张伟", "李娜", "else"),
            (None, "张伟", "null"),
        ],
    ),
    "resident_id": [
        _id(ID, ID, "exact"),
        _id(ID[:6] + ID[8:17], ID, "legacy15"),  # 15-digit form: no century, no check char
        _id(ID, ID[:17] + "X", "check_char"),
        _id(ID, ID[:14] + ID[15] + ID[14] + ID[16:], "transposition"),  # sequence 123 -> 213
        _id(ID, put(ID, 14, "9"), "one_digit"),  # sequence digit: still consistent
        # a birth digit: the right ID says 1972-03-28 but its record says 1972-03-29
        _id(ID, put(ID, 13, "8"), "near_inconsistent"),
        _id(ID, put(put(ID, 14, "9"), 16, "5"), "two_digits"),  # two sequence digits
        _id(f"{ID[0]}.{ID[1:15]}e+17", ID, "prefix14"),  # Excel number-cell remnant
        _id(ID, OTHER_ID, "else", right_own={"birth_date": "1990-01-01", "sex": "女"}),
        _id(ID, None, "null"),
    ],
    "birth_date": _pairs(
        "birth_date",
        [
            ("1972-03-29", "1972-03-29", "exact"),
            ("1972-03-04", "1972-04-03", "swapped"),
            ("1972-03-29", "1972-03-28", "one_part"),
            ("1972-03-29", "1972-05-11", "year_only"),
            ("1972-03-29", "1980-01-01", "else"),
            ("1972-03-29", None, "null"),
        ],
    ),
    "region_code": _pairs(
        "village_code",
        [
            ("522625101201", "522625101201", "exact"),
            ("522625101201", "522625101202", "township"),  # same 9-digit township
            ("522625101201", "522625102201", "county"),  # same 6-digit county
            ("522625101201", "522626101201", "city"),  # same 4-digit prefecture
            ("522625101201", "110101001001", "else"),
            (None, None, "null"),
        ],
    ),
    "exact": _pairs("sex", [("男", "男", "exact"), ("男", "女", "else"), ("男", None, "null")]),
    "levenshtein": _pairs(
        "surname",
        [
            ("smith", "smith", "exact"),
            ("smith", "smyth", "distance<=1"),
            ("smith", "smiht", "distance<=2"),  # a transposition is two edits
            ("smith", "jones", "else"),
            (None, "smith", "null"),
        ],
    ),
    "jaro_winkler": _pairs(
        "surname",
        [
            ("martha", "martha", "exact"),
            ("martha", "marhta", "similarity>=0.9"),  # 0.961
            ("dwayne", "duane", "similarity>=0.8"),  # 0.84
            ("martha", "jones", "else"),
            ("martha", None, "null"),
        ],
    ),
    "custom": _pairs(
        "code",
        [
            ("AB12", "AB12", "same"),
            ("AB12", "AB99", "same_prefix"),
            ("AB12", "XY12", "else"),
            (None, "AB12", "null"),
        ],
    ),
}


# --------------------------------------------------------------------------- running


def one_comparison_spec(comparison: Comparison) -> LinkSpec:
    """A spec of ``comparison`` alone that blocks on the unique id."""
    return LinkSpec(name="one", unique_id=UID, comparisons=[comparison], blocking=[[UID]])


def _side(spec: LinkSpec, records: Sequence[Record]) -> pa.Table:
    cols = spec.input_columns()
    rows = [{c: rec.get(c) for c in cols} | {UID: f"c{i}"} for i, rec in enumerate(records)]
    return pa.Table.from_pylist(rows, schema=pa.schema([(c, pa.string()) for c in cols]))


def run_cases(
    comparison: Comparison,
    cases: Sequence[Case],
    *,
    swap: bool = False,
    u: dict[str, float] | None = None,
) -> list[tuple[str | None, float | None]]:
    """(level, weight) of every case, in order, from one ``link`` call."""
    spec = one_comparison_spec(comparison)
    left = _side(spec, [c[1] if swap else c[0] for c in cases])
    right = _side(spec, [c[0] if swap else c[1] for c in cases])
    result = link(
        left,
        right,
        spec,
        min_probability=0.0,
        u=None if u is None else {comparison.name: u},
    )
    assert (result.pairs["method"].unique().to_pylist() or ["scored"]) == ["scored"]
    by_id = {
        r["unique_id_l"]: (r[comparison.name], r[f"{comparison.name}__w"])
        for r in result.pairs.to_pylist()
    }
    assert set(by_id) <= {f"c{i}" for i in range(len(cases))}
    assert all(r["unique_id_l"] == r["unique_id_r"] for r in result.pairs.to_pylist())
    return [by_id.get(f"c{i}", (None, None)) for i in range(len(cases))]


# --------------------------------------------------------------------------- conformance


def check_levels(comparison: Comparison, cases: Sequence[Case]) -> None:
    """Every level is reached by a case, symmetrically, and missing values give 'null'."""
    labels = [label for label, _ in comparison.ladder()]
    assert len(set(labels)) == len(labels), f"duplicate level labels {labels}"
    assert "null" not in labels
    expected = [c[2] for c in cases]
    missing = (set(labels) | {"null"}) - set(expected)
    assert not missing, f"{comparison.kind}: no case reaches level(s) {sorted(missing)}"
    assert set(expected) <= set(labels) | {"null"}, "a case expects an unknown level"
    col = comparison.col
    swapped = [(right, left, label) for left, right, label in cases]
    nulls: list[Case] = []
    for left, right, _ in cases:
        nulls += [
            ({**left, col: None}, right, "null"),
            (left, {**right, col: None}, "null"),
            ({**left, col: None}, {**right, col: None}, "null"),
        ]
    n = len(cases)
    got = [level for level, _ in run_cases(comparison, [*cases, *swapped, *nulls])]
    assert got[:n] == expected, list(zip(expected, got[:n], strict=True))
    assert got[n : 2 * n] == expected, (
        f"not symmetric: {list(zip(expected, got[n : 2 * n], strict=True))}"
    )
    assert got[2 * n :] == ["null"] * len(nulls)


def level_weights(
    comparison: Comparison, cases: Sequence[Case], population: pa.Table
) -> dict[str, float]:
    """Match weight of every level, with u estimated on ``population`` (random pairs)."""
    spec = one_comparison_spec(comparison).model_copy(update={"u_max_pairs": 20_000})
    u = estimate_u(population, spec)[comparison.name]
    labels = [label for label, _ in comparison.ladder()]
    assert list(u) == labels
    assert all(0 < p <= 1 for p in u.values()), u
    weights: dict[str, float] = {}
    for (_, _, label), (level, weight) in zip(
        cases, run_cases(comparison, cases, u=u), strict=True
    ):
        assert level == label and weight is not None
        if label in weights:  # no term-frequency adjustment: one weight per level
            assert weight == pytest.approx(weights[label])
        weights[label] = weight
    return weights


def check_weight_order(comparison: Comparison, cases: Sequence[Case], population: pa.Table) -> None:
    """A better level never carries less evidence than a worse one; null is neutral."""
    weights = level_weights(comparison, cases, population)
    labels = [label for label, _ in comparison.ladder()]
    assert weights["null"] == 0.0
    assert weights[labels[0]] > 0 > weights["else"]
    inversions = [
        (better, round(weights[better], 2), worse, round(weights[worse], 2))
        for better, worse in itertools.combinations(labels, 2)
        if weights[better] < weights[worse]
    ]
    assert not inversions, f"{comparison.kind}: weights not ordered {inversions}"


def check_comparison_conformance(
    comparison: Comparison, cases: Sequence[Case], population: pa.Table
) -> None:
    """The contract every comparison kind (built-in or new) must meet.

    ``cases`` are (left, right, expected level) triples. For every level of the
    comparison's ladder and for 'null' a case reaches it; every case lands on its
    level through the real linker, in both directions; a missing value on either
    side gives 'null'; with the spec's default m and u estimated by random sampling
    of ``population``, the match weights fall from the best level to 'else', the
    best level is evidence for a match, 'else' against, and 'null' is neutral.
    """
    check_levels(comparison, cases)
    check_weight_order(comparison, cases, population)


# --------------------------------------------------------------------------- populations

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"


def population(
    n: int = 400, counties: Sequence[str] = ("522625", "522626", "522601", "520102")
) -> pa.Table:
    """Random, distinct people: the non-matching pairs u is estimated from."""
    rng = random.Random(7)
    rows = []
    for i in range(n):
        y, m, d = rng.randint(1940, 2010), rng.randint(1, 12), rng.randint(1, 28)
        seq = f"{rng.randint(0, 999):03d}"
        county = rng.choice(counties)
        rows.append(
            {
                UID: str(i),
                "name": rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.randint(1, 2))),
                "id_number": make_id(county, f"{y}{m:02d}{d:02d}", seq),
                "birth_date": f"{y}-{m:02d}-{d:02d}",
                "sex": "男" if int(seq[2]) % 2 else "女",
                "village_code": f"{county}{rng.randint(100, 105)}{rng.randint(200, 215)}",
                "surname": "".join(rng.choices("abcdefghiklmnoprstuwy", k=rng.randint(4, 7))),
                "code": rng.choice(["AB", "CD", "EF", "GH"]) + f"{rng.randint(0, 99):02d}",
            }
        )
    return pa.Table.from_pylist(rows)


@functools.cache
def default_population() -> pa.Table:
    return population()


# --------------------------------------------------------------------------- tests

KINDS = list(COMPARISONS)


def test_every_builtin_kind_has_a_comparison_and_cases() -> None:
    assert set(KINDS) == set(DEFAULT_LEVELS) | {"custom"}
    for kind, comparison in COMPARISONS.items():
        assert comparison.kind == kind


@functools.cache
def forward(kind: str) -> tuple[tuple[str | None, float | None], ...]:
    return tuple(run_cases(COMPARISONS[kind], CASES[kind]))


@pytest.mark.parametrize(
    ("kind", "index"),
    [
        pytest.param(kind, i, id=f"{kind}-{case[2]}")
        for kind, cases in CASES.items()
        for i, case in enumerate(cases)
    ],
)
def test_each_level_is_reached_by_its_case(kind: str, index: int) -> None:
    left, right, label = CASES[kind][index]
    level, weight = forward(kind)[index]
    assert level == label, (left, right)
    assert weight is not None


#: Built-in kinds whose default m priors give inverted weights (see the report).
@pytest.mark.parametrize("kind", ["chinese_name", "resident_id"])
def test_levels_are_reached_symmetric_and_null_safe(kind: str) -> None:
    check_levels(COMPARISONS[kind], CASES[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_builtin_kinds_pass_the_conformance_check(kind: str) -> None:
    check_comparison_conformance(COMPARISONS[kind], CASES[kind], default_population())


def test_estimated_u_keeps_every_ladder_ordered() -> None:
    """Rare levels that random pairs never reach cannot outweigh better levels."""
    for kind in ("chinese_name", "resident_id"):
        weights = level_weights(COMPARISONS[kind], CASES[kind], default_population())
        labels = [label for label, _ in COMPARISONS[kind].ladder()]
        values = [weights[label] for label in labels]
        assert values == sorted(values, reverse=True), (kind, weights)


def test_a_different_region_is_never_evidence_for_a_match_in_a_one_county_registry() -> None:
    comparison = COMPARISONS["region_code"]
    weights = level_weights(comparison, CASES["region_code"], population(counties=["522625"]))
    assert weights["else"] < 0
    assert weights["exact"] > weights["township"] > weights["county"] > weights["else"]


def test_a_new_kind_built_from_custom_levels_passes_the_conformance_check() -> None:
    """The check is usable for a new kind: here a three-level custom code comparison."""
    comparison = Comparison(
        name="code",
        kind="custom",
        levels=[
            Level(label="same", sql='"code_l" = "code_r"', m=0.7),
            Level(label="same_digits", sql='substr("code_l", 3) = substr("code_r", 3)', m=0.2),
            Level(
                label="same_letters", sql='substr("code_l", 1, 2) = substr("code_r", 1, 2)', m=0.05
            ),
        ],
    )
    cases = _pairs(
        "code",
        [
            ("AB12", "AB12", "same"),
            ("AB12", "CD12", "same_digits"),
            ("AB12", "AB34", "same_letters"),
            ("AB12", "CD34", "else"),
            ("AB12", None, "null"),
        ],
    )
    check_comparison_conformance(comparison, cases, default_population())


def test_the_conformance_check_catches_a_case_on_the_wrong_level() -> None:
    wrong: Case = ({"birth_date": "1972-03-29"}, {"birth_date": "1972-03-28"}, "swapped")
    cases = [CASES["birth_date"][0], wrong, *CASES["birth_date"][2:]]
    with pytest.raises(AssertionError, match=r"\('swapped', 'one_part'\)"):
        check_levels(COMPARISONS["birth_date"], cases)


def test_the_conformance_check_catches_an_asymmetric_level() -> None:
    comparison = Comparison(
        name="code",
        kind="custom",
        levels=[Level(label="before", sql='"code_l" < "code_r"', m=0.5)],
    )
    cases = _pairs(
        "code", [("AB12", "CD34", "before"), ("CD34", "AB12", "else"), ("AB", None, "null")]
    )
    with pytest.raises(AssertionError, match="not symmetric"):
        check_levels(comparison, cases)


def test_the_conformance_check_catches_a_missing_level() -> None:
    cases = [c for c in CASES["region_code"] if c[2] != "city"]
    with pytest.raises(AssertionError, match=r"no case reaches level\(s\) \['city'\]"):
        check_levels(COMPARISONS["region_code"], cases)


def test_the_conformance_check_catches_inverted_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    """estimate_u keeps weights ordered; u values from elsewhere may not be."""
    comparison = COMPARISONS["levenshtein"]
    original = estimate_u

    def inverted(population: pa.Table, spec: LinkSpec) -> dict[str, dict[str, float]]:
        u = original(population, spec)
        u[comparison.name]["distance<=2"] = 1e-9
        return u

    monkeypatch.setattr(sys.modules[__name__], "estimate_u", inverted)
    with pytest.raises(AssertionError, match="weights not ordered"):
        check_weight_order(comparison, CASES["levenshtein"], default_population())
