"""Resident identity numbers (公民身份号码, GB 11643-1999), vectorised with numpy.

An 18-character number is::

    RRRRRR YYYYMMDD SSS C
    region birth    seq check

* ``RRRRRR``: the county-level administrative code (GB/T 2260) where the birth was
  first registered;
* ``YYYYMMDD``: the date of birth;
* ``SSS``: a sequence code that tells apart people with the same region and birth
  date; its last digit is odd for men and even for women;
* ``C``: the ISO 7064 MOD 11-2 check character (``0``-``9`` or ``X``).

The legacy 15-digit number (issued until 1999) is ``RRRRRR YYMMDD SSS``: a two-digit
year (always 19xx) and no check character.

All functions work on whole arrays (millions of rows) without Python loops, except
the rare repair of collisions with already issued numbers in :func:`make_ids`.
Strings are turned into ``uint32`` code-point matrices with ``view``: an array of
dtype ``<U18`` is a contiguous block of 18 code points per row.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from povguard.synth._arrays import as_str_array, code_matrix, matrix_to_str

__all__ = [
    "WEIGHTS",
    "birth_dates",
    "check_chars",
    "from_legacy15",
    "is_male",
    "make_ids",
    "to_legacy15",
    "valid_mask",
]

#: Weights of the 17 body digits in the MOD 11-2 check (GB 11643-1999, 2^(17-i) mod 11).
WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
#: Check character for each value of (weighted sum mod 11).
_CHECK_TABLE = "10X98765432"
_CHECK_CODES = np.array([ord(c) for c in _CHECK_TABLE], dtype=np.uint32)
_ZERO = ord("0")
_X_UPPER = ord("X")
_X_LOWER = ord("x")
#: Number of sequence codes of one parity (000-998 even, 001-999 odd).
_SEQ_PER_SEX = 500
_MIN_YEAR = 1000
_MAX_YEAR = 9999


# --------------------------------------------------------------------------- helpers
def _has_length(codes: NDArray[np.uint32], length: int) -> NDArray[np.bool_]:
    """Per-row flag: the string has exactly ``length`` characters.

    numpy strips trailing NULs, so a row is longer than ``length`` iff a code point
    after position ``length`` is non-zero, and shorter iff position ``length - 1``
    is zero (embedded NULs are not digits and fail the digit checks anyway).
    """
    width = codes.shape[1]
    if width < length:
        return np.zeros(codes.shape[0], dtype=bool)
    ok: NDArray[np.bool_] = codes[:, length - 1] != 0
    if width > length:
        ok &= ~codes[:, length:].any(axis=1)
    return ok


def _digits_ok(codes: NDArray[np.uint32]) -> NDArray[np.bool_]:
    """Per-row flag: every code point of the matrix is an ASCII digit."""
    shifted = codes - np.uint32(_ZERO)  # wraps around below '0'
    out: NDArray[np.bool_] = np.all(shifted < 10, axis=1)
    return out


def _int_from_codes(codes: NDArray[np.uint32], start: int, stop: int) -> NDArray[np.int64]:
    """Integer value of the digit columns ``start:stop`` of a code matrix (<= 18 digits)."""
    value = np.zeros(codes.shape[0], dtype=np.int64)
    for j in range(start, stop):
        value *= 10
        value += codes[:, j].astype(np.int64) - _ZERO
    return value


def _check_from_codes(codes: NDArray[np.uint32]) -> NDArray[np.uint32]:
    """Check-character code points for the first 17 (digit) columns of a code matrix.

    Accumulates column by column in int32 (the weighted sum is at most 900), which
    keeps memory at one int32 per row instead of a full int64 digit matrix.
    """
    total = np.zeros(codes.shape[0], dtype=np.int32)
    for j, weight in enumerate(WEIGHTS.tolist()):
        total += (codes[:, j].astype(np.int32) - _ZERO) * weight
    out: NDArray[np.uint32] = _CHECK_CODES[total % 11]
    return out


def _put_digits(
    codes: NDArray[np.uint32], value: NDArray[np.int64], start: int, width: int
) -> None:
    """Write ``value`` zero-padded as ``width`` digit code points into columns from ``start``."""
    rest = value.copy()
    for j in range(start + width - 1, start - 1, -1):
        rest, digit = np.divmod(rest, 10)
        codes[:, j] = digit + _ZERO


def _ymd_to_dates(
    year: NDArray[np.int64], month: NDArray[np.int64], day: NDArray[np.int64]
) -> tuple[NDArray[np.datetime64], NDArray[np.bool_]]:
    """Build ``datetime64[D]`` values from year/month/day; invalid dates become NaT."""
    ok = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
    safe_month = np.where(ok, month, 1)
    months = ((year - 1970) * 12 + (safe_month - 1)).astype("datetime64[M]")
    first = months.astype("datetime64[D]")
    days_in_month = ((months + 1).astype("datetime64[D]") - first).astype(np.int64)
    ok &= day <= days_in_month
    dates = first + np.where(ok, day - 1, 0).astype("timedelta64[D]")
    dates = np.where(ok, dates, np.datetime64("NaT", "D"))
    return dates.astype("datetime64[D]"), ok


def _split_dates(
    dates: NDArray[np.datetime64],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Year, month and day of ``datetime64[D]`` values (proleptic Gregorian).

    Integer arithmetic (H. Hinnant's ``civil_from_days``), several times faster than
    casting through ``datetime64[M]`` and ``datetime64[Y]``.
    """
    z = dates.astype(np.int64) + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return year, month, day


def _structure18(ids: ArrayLike) -> tuple[NDArray[np.uint32], NDArray[np.bool_]]:
    """Code matrix ``(n, 18)`` and a flag "exactly 18 characters, first 17 are digits"."""
    arr = as_str_array(ids)
    width = max(arr.dtype.itemsize // 4, 1)
    if width < 18:
        return np.zeros((len(arr), 18), dtype=np.uint32), np.zeros(len(arr), dtype=bool)
    codes = code_matrix(arr, width)
    ok = _has_length(codes, 18)
    codes18 = np.ascontiguousarray(codes[:, :18])
    return codes18, ok & _digits_ok(codes18[:, :17])


def _require18(ids: ArrayLike, what: str) -> NDArray[np.uint32]:
    """Code matrix ``(n, 18)``; raise if any row is not 18 characters with 17 digits."""
    codes, ok = _structure18(ids)
    if not ok.all():
        bad = int(np.flatnonzero(~ok)[0])
        raise ValueError(
            f"{what}: {int((~ok).sum())} value(s) are not 18 characters with a 17-digit "
            f"body (first at index {bad})"
        )
    return codes


def _dates_from_codes(
    codes: NDArray[np.uint32],
) -> tuple[NDArray[np.datetime64], NDArray[np.bool_]]:
    """Dates in columns 6-13 (``YYYYMMDD``) of 18-character code matrices."""
    year = _int_from_codes(codes, 6, 10)
    month = _int_from_codes(codes, 10, 12)
    day = _int_from_codes(codes, 12, 14)
    return _ymd_to_dates(year, month, day)


# --------------------------------------------------------------------------- public API
def check_chars(body17: ArrayLike) -> NDArray[np.str_]:
    """Compute the MOD 11-2 check characters of 17-digit ID bodies.

    Parameters
    ----------
    body17 : array_like of str
        17-digit strings (dtype ``<U17`` or convertible), any shape.

    Returns
    -------
    numpy.ndarray
        Check characters (dtype ``<U1``, ``'0'``-``'9'`` or ``'X'``), same shape as
        the input.

    Raises
    ------
    ValueError
        If any body is not exactly 17 ASCII digits.

    Examples
    --------
    >>> check_chars(np.array(["11010519491231002"]))
    array(['X'], dtype='<U1')
    """
    raw = np.asarray(body17)
    arr = as_str_array(raw)
    codes = code_matrix(arr, max(arr.dtype.itemsize // 4, 17))
    if not (_has_length(codes, 17) & _digits_ok(codes[:, :17])).all():
        raise ValueError("check_chars: every body must be exactly 17 ASCII digits")
    out = matrix_to_str(_check_from_codes(codes)[:, None])
    return out.reshape(raw.shape)


def make_ids(
    region6: ArrayLike,
    birth: ArrayLike,
    male: ArrayLike,
    rng: np.random.Generator,
    existing: ArrayLike | None = None,
) -> NDArray[np.str_]:
    """Issue unique 18-character resident ID numbers.

    Sequence codes are random but collision-free: people are grouped by
    (region, birth date, sex) in random order, and the k-th person of a group gets
    the entry ``(k + offset) mod 500`` of one random permutation of the 500
    parity-appropriate codes (odd ``001``-``999`` for men, even ``000``-``998`` for
    women), with a random offset per group. Numbers that collide with ``existing``
    are then moved to a code that is free in both the batch and ``existing``.

    Parameters
    ----------
    region6 : array_like of str
        Six-digit county codes where each birth was registered (dtype ``<U6``).
    birth : array_like of datetime64
        Dates of birth (converted to ``datetime64[D]``); years 1000-9999.
    male : array_like of bool
        True for men (odd sequence code), False for women (even).
    rng : numpy.random.Generator
        Source of all randomness; the same seed gives the same numbers.
    existing : array_like of str, optional
        Already issued 18-character numbers (e.g. the population when newborns are
        added). Returned numbers never equal one of them. Entries that are not 18
        characters with a 17-digit body are ignored.

    Returns
    -------
    numpy.ndarray
        IDs of dtype ``<U18``, one per input row, unique within the batch.

    Raises
    ------
    ValueError
        If the inputs differ in length, a region is not six digits, a date is NaT or
        out of range, or more than 500 people (including ``existing``) share one
        region, birth date and sex.
    """
    regions = as_str_array(region6)
    dates = np.asarray(birth).astype("datetime64[D]").reshape(-1)
    males = np.asarray(male, dtype=bool).reshape(-1)
    n = len(regions)
    if len(dates) != n or len(males) != n:
        raise ValueError("make_ids: region6, birth and male must have the same length")
    if n == 0:
        return np.empty(0, dtype="<U18")

    region_codes = code_matrix(regions, max(regions.dtype.itemsize // 4, 6))
    if not (_has_length(region_codes, 6) & _digits_ok(region_codes[:, :6])).all():
        raise ValueError("make_ids: every region code must be exactly six digits")
    if np.isnat(dates).any():
        raise ValueError("make_ids: birth dates must not be NaT")
    year, month, day = _split_dates(dates)
    if ((year < _MIN_YEAR) | (year > _MAX_YEAR)).any():
        raise ValueError("make_ids: birth years must have four digits")

    date_int = year * 10_000 + month * 100 + day  # YYYYMMDD
    prefix = _int_from_codes(region_codes, 0, 6) * 100_000_000 + date_int  # 14 digits
    sex = males.astype(np.int64)

    # Group (prefix, sex) in random order inside each group. prefix < 10^14 < 2^47,
    # so prefix * 2 + sex fits in 48 bits and a 15-bit random tie-break still fits.
    group_key = prefix * 2 + sex
    tie_break = rng.integers(0, 1 << 15, size=n, dtype=np.int64)
    order = np.argsort((group_key << 15) | tie_break, kind="stable")
    sorted_key = group_key[order]
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    new_group[1:] = sorted_key[1:] != sorted_key[:-1]
    group_id = np.cumsum(new_group) - 1
    starts = np.flatnonzero(new_group)
    rank_sorted = np.arange(n) - starts[group_id]
    if rank_sorted.max() >= _SEQ_PER_SEX:
        raise ValueError("make_ids: more than 500 people share one region, birth date and sex")
    perm = rng.permutation(_SEQ_PER_SEX)
    offsets = rng.integers(0, _SEQ_PER_SEX, size=len(starts))
    slot = np.empty(n, dtype=np.int64)
    slot[order] = perm[(rank_sorted + offsets[group_id]) % _SEQ_PER_SEX]
    seq = slot * 2 + sex

    if existing is not None:
        seq = _avoid_existing(prefix, seq, sex, existing, rng)

    codes = np.empty((n, 18), dtype=np.uint32)
    codes[:, :6] = region_codes[:, :6]
    _put_digits(codes, date_int, 6, 8)
    _put_digits(codes, seq, 14, 3)
    codes[:, 17] = _check_from_codes(codes)
    return matrix_to_str(codes)


def _existing_bodies(existing: ArrayLike) -> NDArray[np.int64]:
    """Sorted 17-digit bodies (as int64) of the well-formed existing IDs."""
    codes, ok = _structure18(existing)
    return np.sort(_int_from_codes(codes[ok], 0, 17))


def _avoid_existing(
    prefix: NDArray[np.int64],
    seq: NDArray[np.int64],
    sex: NDArray[np.int64],
    existing: ArrayLike,
    rng: np.random.Generator,
) -> NDArray[np.int64]:
    """Move sequence codes whose ID collides with ``existing`` to a free code."""
    taken = _existing_bodies(existing)
    if len(taken) == 0:
        return seq
    body = prefix * 1000 + seq
    pos = np.minimum(np.searchsorted(taken, body), len(taken) - 1)
    clash = np.flatnonzero(taken[pos] == body)
    if len(clash) == 0:
        return seq
    seq = seq.copy()
    batch_sorted = np.sort(body)
    group_of = prefix[clash] * 2 + sex[clash]
    order = np.argsort(group_of, kind="stable")
    keys, first = np.unique(group_of[order], return_index=True)
    for key, rows in zip(keys.tolist(), np.split(clash[order], first[1:]), strict=True):
        group_prefix, male = divmod(key, 2)
        lo, hi = group_prefix * 1000, group_prefix * 1000 + 1000
        used = set((taken[np.searchsorted(taken, lo) : np.searchsorted(taken, hi)] % 1000).tolist())
        in_batch = batch_sorted[
            np.searchsorted(batch_sorted, lo) : np.searchsorted(batch_sorted, hi)
        ]
        used.update((in_batch % 1000).tolist())
        free = np.array([c for c in range(male, 1000, 2) if c not in used], dtype=np.int64)
        if len(free) < len(rows):
            raise ValueError("make_ids: more than 500 people share one region, birth date and sex")
        seq[rows] = rng.choice(free, size=len(rows), replace=False)
    return seq


def to_legacy15(ids18: ArrayLike) -> NDArray[np.str_]:
    """Convert 18-character IDs to the legacy 15-digit form.

    The century digits (always ``19``) and the check character are dropped:
    ``RRRRRR19YYMMDDSSSC`` becomes ``RRRRRRYYMMDDSSS``. The check character itself is
    not verified.

    Parameters
    ----------
    ids18 : array_like of str
        18-character IDs with a 17-digit body.

    Returns
    -------
    numpy.ndarray
        15-digit IDs (dtype ``<U15``).

    Raises
    ------
    ValueError
        If an ID is malformed or its birth year is not 19xx (15-digit numbers were
        only issued to people born in the 1900s).
    """
    codes = _require18(ids18, "to_legacy15")
    century_ok = (codes[:, 6] == _ZERO + 1) & (codes[:, 7] == _ZERO + 9)
    if not century_ok.all():
        raise ValueError(
            f"to_legacy15: {int((~century_ok).sum())} ID(s) have a birth year outside "
            "1900-1999; 15-digit numbers did not exist for them"
        )
    return matrix_to_str(codes[:, np.r_[0:6, 8:17]])


def from_legacy15(ids15: ArrayLike) -> NDArray[np.str_]:
    """Convert legacy 15-digit IDs to 18 characters (insert ``19``, add the check).

    Parameters
    ----------
    ids15 : array_like of str
        15-digit IDs.

    Returns
    -------
    numpy.ndarray
        18-character IDs (dtype ``<U18``).

    Raises
    ------
    ValueError
        If any value is not exactly 15 ASCII digits.
    """
    arr = as_str_array(ids15)
    short = code_matrix(arr, max(arr.dtype.itemsize // 4, 15))
    if not (_has_length(short, 15) & _digits_ok(short[:, :15])).all():
        raise ValueError("from_legacy15: every ID must be exactly 15 ASCII digits")
    codes = np.empty((len(arr), 18), dtype=np.uint32)
    codes[:, :6] = short[:, :6]
    codes[:, 6] = _ZERO + 1
    codes[:, 7] = _ZERO + 9
    codes[:, 8:17] = short[:, 6:15]
    codes[:, 17] = _check_from_codes(codes)
    return matrix_to_str(codes)


def birth_dates(ids18: ArrayLike) -> NDArray[np.datetime64]:
    """Birth dates embedded in 18-character IDs.

    Parameters
    ----------
    ids18 : array_like of str
        18-character IDs with a 17-digit body.

    Returns
    -------
    numpy.ndarray
        ``datetime64[D]`` dates; NaT where the digits are not a calendar date.

    Raises
    ------
    ValueError
        If any value is not 18 characters with a 17-digit body.
    """
    dates, _ = _dates_from_codes(_require18(ids18, "birth_dates"))
    return dates


def is_male(ids18: ArrayLike) -> NDArray[np.bool_]:
    """Sex encoded in 18-character IDs (odd 17th digit = male).

    Parameters
    ----------
    ids18 : array_like of str
        18-character IDs with a 17-digit body.

    Returns
    -------
    numpy.ndarray
        Boolean array, True for men.

    Raises
    ------
    ValueError
        If any value is not 18 characters with a 17-digit body.
    """
    codes = _require18(ids18, "is_male")
    out: NDArray[np.bool_] = ((codes[:, 16] - _ZERO) % 2) == 1
    return out


def valid_mask(ids: ArrayLike) -> NDArray[np.bool_]:
    """Structural validity of 18-character resident IDs.

    A value is valid when it has exactly 18 characters, the first 17 are ASCII
    digits, digits 7-14 are a real calendar date (year >= 1) and the last
    character is the correct MOD 11-2 check character (a lower-case ``x`` is
    accepted, as ``stdnum.cn.ric`` does). The region code is not looked up.

    Parameters
    ----------
    ids : array_like
        Candidate IDs; non-strings (``None``, numbers) are simply invalid.

    Returns
    -------
    numpy.ndarray
        Boolean array, one flag per value (flattened).
    """
    codes, ok = _structure18(ids)
    if not ok.any():
        return ok
    codes = np.where(ok[:, None], codes, _ZERO).astype(np.uint32)
    last = codes[:, 17]
    last = np.where(last == _X_LOWER, _X_UPPER, last)
    _, date_ok = _dates_from_codes(codes)
    out: NDArray[np.bool_] = ok & (last == _check_from_codes(codes)) & date_ok
    return out
