"""Tests of povguard.synth.idcard (GB 11643 resident ID numbers)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from povguard.synth.idcard import (
    WEIGHTS,
    birth_dates,
    check_chars,
    from_legacy15,
    is_male,
    make_ids,
    to_legacy15,
    valid_mask,
)

# county codes that stdnum's region table knows without a validity period
REGIONS = np.array(["522622", "522323", "522701", "110105", "522631"])
KNOWN = "11010519491231002X"


def _reference_check(body: str) -> str:
    """Scalar GB 11643 MOD 11-2 reference implementation."""
    total = sum(int(d) * w for d, w in zip(body, WEIGHTS.tolist(), strict=True))
    return "10X98765432"[total % 11]


def _population(
    n: int, seed: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(seed)
    region = REGIONS[rng.integers(0, len(REGIONS), n)]
    birth = np.datetime64("1925-01-01") + rng.integers(0, 36_000, n).astype("timedelta64[D]")
    male = rng.random(n) < 0.5
    return region, birth, male, rng


# --------------------------------------------------------------------------- check_chars
def test_check_chars_known_examples() -> None:
    bodies = np.array(["11010519491231002", "36042619910101007"])
    assert check_chars(bodies).tolist() == ["X", "1"]
    assert ric.is_valid(KNOWN)
    assert ric.is_valid("360426199101010071")


def test_check_chars_keeps_shape_and_dtype() -> None:
    bodies = np.array([["11010519491231002", "36042619910101007"]] * 3)
    out = check_chars(bodies)
    assert out.shape == (3, 2)
    assert out.dtype == np.dtype("<U1")


@pytest.mark.parametrize("bad", ["1101051949123100", "110105194912310021", "1101051949123100A", ""])
def test_check_chars_rejects_malformed_bodies(bad: str) -> None:
    with pytest.raises(ValueError):
        check_chars(np.array(["11010519491231002", bad]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="0123456789", min_size=17, max_size=17), min_size=1, max_size=30))
def test_check_chars_matches_reference_and_stdnum(bodies: list[str]) -> None:
    out = check_chars(np.array(bodies)).tolist()
    assert out == [_reference_check(b) for b in bodies]
    # stdnum computes the check character from a number that includes one
    assert out == [ric.calc_check_digit(b + "0") for b in bodies]


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(REGIONS.tolist()),
    st.dates(
        min_value=np.datetime64("1900-01-01").item(), max_value=np.datetime64("2025-12-31").item()
    ),
    st.integers(0, 999),
)
def test_check_chars_gives_ids_stdnum_accepts(region: str, day: object, seq: int) -> None:
    body = f"{region}{np.datetime64(day, 'D').astype(str).replace('-', '')}{seq:03d}"
    assert ric.is_valid(body + str(check_chars(np.array([body]))[0]))


# --------------------------------------------------------------------------- make_ids
def test_make_ids_valid_unique_and_faithful() -> None:
    region, birth, male, rng = _population(100_000)
    ids = make_ids(region, birth, male, rng)
    assert ids.dtype == np.dtype("<U18")
    assert len(np.unique(ids)) == len(ids)
    assert all(ric.is_valid(x) for x in ids.tolist())
    assert valid_mask(ids).all()
    assert (ids.astype("<U6") == region).all()
    assert (birth_dates(ids) == birth).all()
    assert (is_male(ids) == male).all()
    seq_last = np.array([int(x[16]) for x in ids.tolist()])
    assert ((seq_last % 2 == 1) == male).all()


def test_make_ids_uses_random_sequence_codes() -> None:
    region, birth, male, rng = _population(20_000)
    ids = make_ids(region, birth, male, rng)
    seq = np.array([int(x[14:17]) for x in ids.tolist()])
    # spread over the whole range, not 000/001, 002/003 ... in order
    assert seq.min() < 50
    assert seq.max() > 950
    assert 400 < seq.mean() < 600


def test_make_ids_is_deterministic() -> None:
    region, birth, male, _ = _population(5_000)
    a = make_ids(region, birth, male, np.random.default_rng(7))
    b = make_ids(region, birth, male, np.random.default_rng(7))
    c = make_ids(region, birth, male, np.random.default_rng(8))
    assert (a == b).all()
    assert (a != c).any()


def test_make_ids_fills_a_crowded_group_and_refuses_overflow() -> None:
    rng = np.random.default_rng(3)
    n = 500
    region = np.full(n, "522622")
    birth = np.full(n, np.datetime64("1980-05-05"))
    male = np.ones(n, dtype=bool)
    ids = make_ids(region, birth, male, rng)
    seq = sorted(int(x[14:17]) for x in ids.tolist())
    assert seq == list(range(1, 1000, 2))
    with pytest.raises(ValueError, match="500"):
        make_ids(np.full(501, "522622"), np.full(501, birth[0]), np.ones(501, bool), rng)


def test_make_ids_avoids_existing() -> None:
    region, birth, male, rng = _population(50_000)
    existing = make_ids(region, birth, male, rng)
    # newborns sharing region, date and sex with existing people
    new = make_ids(region[:20_000], birth[:20_000], male[:20_000], rng, existing=existing)
    assert not np.isin(new, existing).any()
    assert len(np.unique(new)) == len(new)
    assert valid_mask(new).all()
    assert (birth_dates(new) == birth[:20_000]).all()
    assert (is_male(new) == male[:20_000]).all()


def test_make_ids_existing_leaves_one_free_code() -> None:
    rng = np.random.default_rng(4)
    day = np.datetime64("1990-01-01")
    taken = make_ids(np.full(499, "522622"), np.full(499, day), np.zeros(499, bool), rng)
    new = make_ids(np.array(["522622"]), np.array([day]), np.array([False]), rng, existing=taken)
    used = {int(x[14:17]) for x in taken.tolist()}
    (free,) = set(range(0, 1000, 2)) - used
    assert int(new[0][14:17]) == free
    with pytest.raises(ValueError):
        make_ids(np.full(2, "522622"), np.full(2, day), np.zeros(2, bool), rng, existing=taken)


def test_make_ids_ignores_malformed_existing() -> None:
    rng = np.random.default_rng(5)
    existing = np.array(["", "12345", "11010519491231002x", None], dtype=object)
    ids = make_ids(
        np.array(["110105"]),
        np.array(["1949-12-31"], "datetime64[D]"),
        [False],
        rng,
        existing=existing,
    )
    assert valid_mask(ids).all()


@pytest.mark.parametrize(
    ("region", "birth"),
    [
        (["52262"], ["1980-01-01"]),
        (["52262A"], ["1980-01-01"]),
        (["522622"], ["NaT"]),
        (["522622"], ["0999-01-01"]),
    ],
)
def test_make_ids_rejects_bad_input(region: list[str], birth: list[str]) -> None:
    with pytest.raises(ValueError):
        make_ids(
            np.array(region), np.array(birth, "datetime64[D]"), [True], np.random.default_rng(0)
        )


def test_make_ids_empty() -> None:
    out = make_ids(np.array([], "<U6"), np.array([], "datetime64[D]"), [], np.random.default_rng(0))
    assert out.shape == (0,)
    assert out.dtype == np.dtype("<U18")


# --------------------------------------------------------------------------- legacy form
def test_to_legacy15_known_example() -> None:
    assert to_legacy15(np.array([KNOWN])).tolist() == ["110105491231002"]


def test_legacy15_round_trip_follows_the_18_digit_rule() -> None:
    region, birth, male, rng = _population(20_000)
    keep = birth < np.datetime64("2000-01-01")
    ids = make_ids(region[keep], birth[keep], male[keep], rng)
    short = to_legacy15(ids)
    assert short.dtype == np.dtype("<U15")
    for s, full in zip(short.tolist()[:2000], ids.tolist()[:2000], strict=True):
        # 18 = 15 with '19' inserted before the two-digit year, plus the check character
        body = s[:6] + "19" + s[6:]
        assert body + ric.calc_check_digit(body + "0") == full
    assert (from_legacy15(short) == ids).all()


def test_to_legacy15_accepts_object_arrays() -> None:
    out = to_legacy15(np.array([KNOWN, "360426199101010071"], dtype=object))
    assert out.tolist() == ["110105491231002", "360426910101007"]


def test_to_legacy15_rejects_births_after_1999() -> None:
    rng = np.random.default_rng(0)
    ids = make_ids(
        np.array(["522622", "522622"]),
        np.array(["1999-12-31", "2000-01-01"], "datetime64[D]"),
        [True, False],
        rng,
    )
    assert len(to_legacy15(ids[:1])[0]) == 15
    with pytest.raises(ValueError, match="1900-1999"):
        to_legacy15(ids)
    with pytest.raises(ValueError):
        to_legacy15(np.array(["1101051949123100"]))


def test_from_legacy15_rejects_malformed() -> None:
    with pytest.raises(ValueError):
        from_legacy15(np.array(["11010549123100"]))


# --------------------------------------------------------------------------- helpers
def test_birth_dates_and_sex_of_known_example() -> None:
    ids = np.array([KNOWN, "360426199101010071"])
    assert birth_dates(ids).tolist() == [
        np.datetime64("1949-12-31").item(),
        np.datetime64("1991-01-01").item(),
    ]
    assert is_male(ids).tolist() == [False, True]


def test_birth_dates_nat_for_impossible_dates() -> None:
    body = "11010519490230002"
    out = birth_dates(np.array([body + check_chars(np.array([body]))[0]]))
    assert np.isnat(out[0])


def test_helpers_reject_malformed_ids() -> None:
    with pytest.raises(ValueError):
        birth_dates(np.array(["1101051949123100"]))
    with pytest.raises(ValueError):
        is_male(np.array(["11010519491231002XX"]))


def test_valid_mask_cases() -> None:
    feb29 = "11010520000229001"
    feb30 = "11010519490230002"
    values = np.array(
        [
            KNOWN,  # valid
            KNOWN.lower(),  # lower-case x accepted (stdnum does too)
            KNOWN[:-1] + "1",  # wrong check character
            KNOWN[:-1],  # 17 characters
            KNOWN + "1",  # 19 characters
            "1101051949123100AX",  # letter in the body
            feb29 + check_chars(np.array([feb29]))[0],  # leap day: valid
            feb30 + check_chars(np.array([feb30]))[0],  # 30 February: invalid
            "",
            None,
            11010519491231002,
        ],
        dtype=object,
    )
    expected = [True, True, False, False, False, False, True, False, False, False, False]
    assert valid_mask(values).tolist() == expected


def test_valid_mask_agrees_with_stdnum_on_typos() -> None:
    region, birth, male, rng = _population(3_000, seed=11)
    ids = make_ids(region, birth, male, rng).tolist()
    damaged = []
    for i, x in enumerate(ids):
        pos = 6 + i % 11  # date, sequence and check positions (region digits stay valid)
        if i % 3 == 0 and pos < 17:
            damaged.append(x[:pos] + x[pos + 1] + x[pos] + x[pos + 2 :])  # transposition
        else:
            digit = "0123456789X"[(int(x[pos]) + 1 + i) % 10] if x[pos] != "X" else "3"
            damaged.append(x[:pos] + digit + x[pos + 1 :])
    values = np.array(ids + damaged)
    expected = [ric.is_valid(v) for v in values.tolist()]
    assert valid_mask(values).tolist() == expected
    assert sum(expected) < len(ids) + len(damaged) // 5
