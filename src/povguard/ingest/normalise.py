"""Normalisers: department strings to typed, comparable values.

Every array function takes one column of a file as an Arrow string array (raw
text, null for an empty cell) and returns typed values plus, per row, an *issue*
code that is null when the value is fine or simply absent. Well-formed values go
through Arrow compute kernels or numpy; the few odd ones (another date format,
full-width digits, ``1.2万元``) go through a scalar parser once per distinct value,
so a column of a million rows costs a few vectorised passes.

Resident ID numbers (:func:`normalise_ids`)
-------------------------------------------
The normalised ID is the 18-character number (upper-case ``X``) or null; a status
says why:

============== ======================================================================
``ok``          valid 18-character ID (whitespace incl. U+3000 removed, full-width
                digits made half-width, ``x`` made ``X``)
``upgraded15``  legacy 15-digit ID upgraded to 18 characters (``19`` inserted into
                the year, check character computed)
``missing``     empty cell
``invalid_format`` not 15 or 18 characters of digits (and a final ``X``)
``invalid_date`` the birth date inside the ID does not exist, is before 1880 or
                after the delivery period
``invalid_check`` the MOD 11-2 check character is wrong (mistyped digit, swapped
                digits, wrong check character)
``excel_mangled`` the ID went through an Excel number cell: scientific notation
                (``5.22123E+17``), a decimal point, or an Excel remnant (see
                below). Excel keeps 15 significant digits, so the last digits are
                lost and cannot be recovered.
============== ======================================================================

The check uses the GB 11643 MOD 11-2 rule (the same as
:func:`stdnum.cn.ric.calc_check_digit`) and a calendar check of the birth date, not
:func:`stdnum.cn.ric.is_valid`, which also requires the birthplace code to be in
stdnum's table of current region codes (old and new codes both occur).

*Excel remnants.* What is left of an 18-digit ID that went through an Excel number
cell (15 significant digits) and back to text is ``522123199001011000`` (the first 15
digits and three zeros) or, after a float-to-integer conversion (pandas
``astype(int64)``), the double's exact value ``522123199001011008``. Exactly 1 in
1,000 18-digit numbers has one of these shapes, so a genuine ID can too (sequence
code ending in ``00`` and check ``0``, about 1 ID in 1,100). In text formats (CSV,
JSON) a remnant is Excel-mangled when its check character is wrong. When its check
character is right (1 mangled ID in 11) it is taken as a valid ID, unless the
column of this file is *Excel-touched*: it holds an ID in scientific or decimal
notation, or at least two remnants with a wrong check character that make up more
than a third of its remnants (genuine remnant-shaped IDs rarely fail the check,
mangled ones do 10 times in 11). In XLSX the cell type tells: a number cell is
always mangled, a text cell never (``text_only=False``).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from stdnum.cn import ric

__all__ = [
    "EXCEL_EPOCH",
    "ID_STATUSES",
    "VALID_ID_STATUSES",
    "Normalised",
    "NormalisedIds",
    "normalise_codes",
    "normalise_id_value",
    "normalise_ids",
    "normalise_name_value",
    "normalise_names",
    "normalise_pinyin",
    "normalise_regions",
    "normalise_texts",
    "parse_date_value",
    "parse_dates",
    "parse_float_value",
    "parse_floats",
    "parse_int_value",
    "parse_ints",
    "parse_money",
    "parse_money_value",
]

#: Day 0 of Excel's (1900) date system as Python sees it (serial 1 = 1900-01-01,
#: counting Excel's phantom 1900-02-29 so that modern serials are right).
EXCEL_EPOCH = dt.date(1899, 12, 30)
#: Every ID status, in code order.
ID_STATUSES: tuple[str, ...] = (
    "ok",
    "upgraded15",
    "missing",
    "invalid_format",
    "invalid_check",
    "invalid_date",
    "excel_mangled",
)
#: Statuses whose normalised ID is usable.
VALID_ID_STATUSES: frozenset[str] = frozenset({"ok", "upgraded15"})

_OK, _UPGRADED, _MISSING, _INVALID_FORMAT, _INVALID_CHECK, _INVALID_DATE, _EXCEL = range(7)
# Internal status of the scalar path: Excel damage that is certain (a number form).
_EXCEL_NUMBER = 7
_INTERNAL_STATUSES = (*ID_STATUSES, "excel_number")
_ID_EARLIEST = dt.date(1880, 1, 1)
_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int32)
_CHECK_BYTES = np.frombuffer(b"10X98765432", dtype=np.uint8)
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int32)
_ZERO = ord("0")

# RE2 (Arrow) and Python patterns for whitespace, including U+3000, NBSP, BOM, ZWSP.
_RE2_SPACE = r"[\s\x{00A0}\x{3000}\x{FEFF}\x{200B}-\x{200D}]+"
_PY_SPACE = re.compile(r"[\s\u200b-\u200d\ufeff]+")
_TRIM_CHARS = " \t\r\n\x0b\x0c\u00a0\u3000\ufeff\u200b"
_ID18 = re.compile(r"^[0-9]{17}[0-9X]$")
_ID15 = re.compile(r"^[0-9]{15}$")
_NUMBER_FORM = re.compile(r"^[+-]?[0-9]+\.?[0-9]*(?:E[+-]?[0-9]+)?$")
_DATE_SEP = re.compile(r"^([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})$")
_DATE_ZH = re.compile(r"^([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})[日号]?$")
_DATE_8 = re.compile(r"^([0-9]{4})([0-9]{2})([0-9]{2})$")
_DATE_SERIAL = re.compile(r"^([0-9]{5})(?:\.[0-9]+)?$")
_TIME_SUFFIX = re.compile(r"(?:[T ]+[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)$")
_DECIMAL = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_INTEGER = re.compile(r"^[+-]?[0-9]+(?:\.0*)?$")
_MONEY_UNITS = (("亿", Decimal(100_000_000)), ("万", Decimal(10_000)), ("千", Decimal(1000)))
_NAME_DOTS = r"[.•・‧∙⋅]"

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Normalised:
    """Typed values of one column and, per row, an issue code (null when fine)."""

    values: pa.Array
    issues: pa.Array


@dataclass(frozen=True)
class NormalisedIds:
    """Normalised resident IDs.

    Attributes
    ----------
    values:
        18-character IDs, null unless the status is ``ok`` or ``upgraded15``.
    status:
        One of :data:`ID_STATUSES` per row (never null).
    raw:
        The original text of the cell, as it was (null for an empty cell).
    """

    values: pa.Array
    status: pa.Array
    raw: pa.Array


# --------------------------------------------------------------------------- helpers


def _strings(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A single-chunk Arrow string array."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    return arr


def _null_strings(n: int) -> pa.Array:
    return pa.nulls(n, pa.string())


def _empty_to_null(arr: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def _mask(values: pa.Array, mask: pa.Array) -> pa.Array:
    """``values`` with nulls where ``mask`` is true."""
    return pc.if_else(mask, pa.scalar(None, values.type), values)


def _map_distinct(
    arr: pa.Array,
    fn: Callable[[str], tuple[Any, str | None]],
    out_type: pa.DataType,
) -> tuple[pa.Array, pa.Array]:
    """Apply a scalar parser once per distinct non-null value; nulls stay null."""
    if arr.null_count == len(arr):
        return pa.nulls(len(arr), out_type), _null_strings(len(arr))
    encoded = pc.dictionary_encode(arr)
    results = [fn(v) for v in encoded.dictionary.to_pylist()]
    values = pa.array([r[0] for r in results], type=out_type)
    issues = pa.array([r[1] for r in results], type=pa.string())
    return values.take(encoded.indices), issues.take(encoded.indices)


def _fast_then_slow(
    arr: pa.Array,
    fast_pattern: str,
    fast_type: pa.DataType,
    slow: Callable[[str], tuple[Any, str | None]],
) -> Normalised:
    """Cast values matching ``fast_pattern``; parse the others with ``slow``."""
    arr = _strings(arr)
    fast = pc.fill_null(pc.match_substring_regex(arr, fast_pattern), False)
    fast_values = pc.cast(_mask(arr, pc.invert(fast)), fast_type)
    rest = _mask(arr, fast)
    if rest.null_count == len(rest):
        return Normalised(fast_values, _null_strings(len(arr)))
    slow_values, slow_issues = _map_distinct(rest, slow, fast_type)
    return Normalised(pc.if_else(fast, fast_values, slow_values), slow_issues)


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _ymd_ok(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


# ------------------------------------------------------------------------ resident ID


def _integer_digits(text: str) -> str | None:
    """Exact integer digits of a decimal-point form (``522325700722653.0``), if integral."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if number != number.to_integral_value() or number < 0:
        return None
    return str(int(number))


def normalise_id_value(
    text: str | None, *, latest: dt.date | None = None, text_only: bool = True
) -> tuple[str | None, str]:
    """Normalise one resident ID number (the scalar reference of :func:`normalise_ids`).

    Parameters
    ----------
    text:
        The ID as found in the file.
    latest:
        Latest plausible birth date (the delivery period's last day); default today.
    text_only:
        True for text formats (CSV, JSON), where an Excel remnant with a wrong check
        character is taken as Excel damage; False for XLSX text cells.

    Returns
    -------
    tuple[str | None, str]
        The 18-character ID (or None) and its status (one of :data:`ID_STATUSES`).
    """
    value, status = _id_value(text, latest=latest, text_only=text_only)
    return value, "excel_mangled" if status == "excel_number" else status


def _id_value(  # noqa: PLR0911 - one return per status
    text: str | None, *, latest: dt.date | None, text_only: bool
) -> tuple[str | None, str]:
    if text is None:
        return None, "missing"
    s = _PY_SPACE.sub("", _nfkc(text)).strip("'\"`").upper()
    if not s:
        return None, "missing"
    if not s.isascii():
        return None, "invalid_format"
    if _NUMBER_FORM.match(s) and ("." in s or "E" in s):
        # A number written by Excel or a float conversion. Scientific notation is a
        # display rounding; a decimal form keeps its digits only up to 15 of them.
        if "E" in s:
            return None, "excel_number"
        digits = _integer_digits(s)
        if digits is None:
            return None, "invalid_format"
        if len(digits) > 15:
            return None, "excel_number"
        s = digits
    upper = latest or dt.date.today()
    if _ID18.match(s):
        birth = _ymd_ok(int(s[6:10]), int(s[10:12]), int(s[12:14]))
        birth_ok = birth is not None and _ID_EARLIEST <= birth <= upper
        if birth_ok and ric.calc_check_digit(s) == s[17]:
            return s, "ok"
        if text_only and _is_remnant(s):
            return None, "excel_mangled"
        return None, "invalid_check" if birth_ok else "invalid_date"
    if _ID15.match(s):
        birth = _ymd_ok(1900 + int(s[6:8]), int(s[8:10]), int(s[10:12]))
        if birth is None or not _ID_EARLIEST <= birth <= upper:
            return None, "invalid_date"
        body = s[:6] + "19" + s[6:]
        return body + ric.calc_check_digit(body + "0"), "upgraded15"
    return None, "invalid_format"


def _is_remnant(text: str) -> bool:
    """Whether 18 digits are what a 15-significant-digit number leaves (see module doc)."""
    if not text.isdigit():
        return False
    n = int(text)
    low = n // 1000 * 1000
    return n == low or int(float(low)) == n or int(float(low + 1000)) == n


def _remnants(mat: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """:func:`_is_remnant` of every row of an 18-byte ID matrix."""
    digits = mat.astype(np.int64) - _ZERO
    number = np.zeros(len(mat), dtype=np.int64)
    for j in range(18):
        number = number * 10 + np.where(digits[:, j] < 10, digits[:, j], 0)
    low = number // 1000 * 1000
    out: npt.NDArray[np.bool_] = (
        (number == low)
        | (low.astype(np.float64).astype(np.int64) == number)
        | ((low + 1000).astype(np.float64).astype(np.int64) == number)
    )
    no_x: npt.NDArray[np.bool_] = mat[:, 17] != ord("X")
    return out & no_x


def _ascii_matrix(arr: pa.Array, width: int) -> npt.NDArray[np.uint8]:
    """``(n, width)`` bytes of a string array whose values are all ``width`` ASCII bytes."""
    n = len(arr)
    if n == 0:
        return np.zeros((0, width), dtype=np.uint8)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4)
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    start = int(offsets[0])
    return data[start : start + n * width].reshape(n, width)


def _check_18(
    mat: npt.NDArray[np.uint8], latest: dt.date
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Birth-date and check-character validity of 18-character IDs (byte matrix)."""
    digits = mat[:, :17].astype(np.int32) - _ZERO
    total = digits @ _WEIGHTS
    check_ok: npt.NDArray[np.bool_] = mat[:, 17] == _CHECK_BYTES[total % 11]
    year = digits[:, 6] * 1000 + digits[:, 7] * 100 + digits[:, 8] * 10 + digits[:, 9]
    month = digits[:, 10] * 10 + digits[:, 11]
    day = digits[:, 12] * 10 + digits[:, 13]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    dim = _DAYS_IN_MONTH[np.clip(month, 0, 12)] + (leap & (month == 2))
    ymd = year * 10000 + month * 100 + day
    earliest = _ID_EARLIEST.year * 10000 + _ID_EARLIEST.month * 100 + _ID_EARLIEST.day
    upper = latest.year * 10000 + latest.month * 100 + latest.day
    date_ok: npt.NDArray[np.bool_] = (
        (month >= 1) & (month <= 12) & (day >= 1) & (day <= dim) & (ymd >= earliest)
    ) & (ymd <= upper)
    return date_ok, check_ok


def normalise_ids(
    arr: pa.Array | pa.ChunkedArray,
    *,
    latest: dt.date | None = None,
    text_only: bool = True,
) -> NormalisedIds:
    """Normalise a column of resident ID numbers (vectorised; rules in the module doc).

    Parameters
    ----------
    arr:
        Raw ID text per row (string; null for an empty cell).
    latest:
        Latest plausible birth date (the delivery period's last day); default today.
    text_only:
        True for CSV and JSON, False for XLSX text cells (see *Excel remnants*).

    Returns
    -------
    NormalisedIds
        Normalised IDs, status and raw text.
    """
    raw = _strings(arr)
    n = len(raw)
    upper = latest or dt.date.today()
    compact = pc.replace_substring_regex(raw, _RE2_SPACE, "")
    fast = pc.fill_null(pc.match_substring_regex(compact, _ID18.pattern), False)
    fast_np = np.asarray(fast.to_numpy(zero_copy_only=False), dtype=bool)
    status = np.full(n, _MISSING, dtype=np.int8)
    values = compact
    touched = False
    idx = np.flatnonzero(fast_np)
    if idx.size:
        mat = _ascii_matrix(compact.filter(fast), 18)
        date_ok, check_ok = _check_18(mat, upper)
        codes = np.where(date_ok, np.where(check_ok, _OK, _INVALID_CHECK), _INVALID_DATE)
        if text_only:
            remnant = _remnants(mat)
            remnant_bad = remnant & (codes != _OK)
            codes = np.where(remnant_bad, _EXCEL, codes)
            bad = int(remnant_bad.sum())
            touched = bad >= 2 and 3 * bad > int(remnant.sum())
        status[idx] = codes
    present = pc.fill_null(pc.not_equal(compact, ""), False).to_numpy(zero_copy_only=False)
    slow_np = np.asarray(present, dtype=bool) & ~fast_np
    if slow_np.any():
        slow_mask = pa.array(slow_np)
        rest = _mask(raw, pc.invert(slow_mask))
        slow_values, slow_status = _map_distinct(
            rest, lambda t: _id_value(t, latest=upper, text_only=text_only), pa.string()
        )
        codes_slow = pc.index_in(slow_status, value_set=pa.array(_INTERNAL_STATUSES))
        slow_codes = np.asarray(codes_slow.filter(slow_mask).to_numpy(zero_copy_only=False))
        touched = touched or bool((slow_codes == _EXCEL_NUMBER).any())
        status[slow_np] = np.where(slow_codes == _EXCEL_NUMBER, _EXCEL, slow_codes)
        values = pc.if_else(slow_mask, slow_values, values)
    if text_only and touched and idx.size:
        # The column went through Excel: a "valid" remnant-shaped ID is suspect too.
        suspect = np.zeros(n, dtype=bool)
        suspect[idx] = remnant
        status[(status == _OK) & suspect] = _EXCEL
    usable = pa.array((status == _OK) | (status == _UPGRADED))
    values = _mask(values, pc.invert(usable))
    status_arr = pa.array(ID_STATUSES, pa.string()).take(pa.array(status.astype(np.int32)))
    return NormalisedIds(values=values, status=status_arr, raw=raw)


# ---------------------------------------------------------------------- names, text


@functools.cache
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional Chinese characters to simplified (OpenCC ``t2s``): 張偉 -> 张伟."""
    return str(_t2s().convert(text)) if not text.isascii() else text


def normalise_name_value(text: str | None) -> str | None:
    """Normalise one personal name (scalar reference of :func:`normalise_names`)."""
    if text is None:
        return None
    s = to_simplified(_nfkc(text).strip())
    s = re.sub(r"([^A-Za-z])[\s\u200b-\u200d\ufeff]+", r"\1", s)
    s = re.sub(r"[\s\u200b-\u200d\ufeff]+([^A-Za-z])", r"\1", s)
    s = re.sub(r"[\s\u200b-\u200d\ufeff]+", " ", s)
    s = re.sub(_NAME_DOTS, "·", s)
    return s or None


def normalise_names(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Normalise personal names.

    NFKC (full-width letters and digits to half-width, U+3000 to a space), then every
    whitespace removed except single spaces between Latin letters (``WEI ZHANG``),
    and the separator dot of minority names unified to ``·``; traditional characters
    are converted to simplified ones (OpenCC ``t2s``, once per distinct name).

    Parameters
    ----------
    arr:
        Raw names (string).

    Returns
    -------
    pyarrow.Array
        Normalised names; null for empty cells.
    """
    s = pc.utf8_normalize(_strings(arr), form="NFKC")
    s = pc.utf8_trim(s, characters=_TRIM_CHARS)
    s = pc.replace_substring_regex(s, r"([^A-Za-z])" + _RE2_SPACE, r"\1")
    s = pc.replace_substring_regex(s, _RE2_SPACE + r"([^A-Za-z])", r"\1")
    s = pc.replace_substring_regex(s, _RE2_SPACE, " ")
    s = pc.replace_substring_regex(s, _NAME_DOTS, "·")
    s = _empty_to_null(s)
    if s.null_count < len(s):
        simplified, _ = _map_distinct(s, lambda v: (to_simplified(v), None), pa.string())
        s = simplified
    return s


def normalise_pinyin(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Normalise romanised names: NFKC, upper case, single spaces (``ZHANG WEI``)."""
    s = pc.utf8_upper(pc.utf8_normalize(_strings(arr), form="NFKC"))
    s = pc.utf8_trim(pc.replace_substring_regex(s, _RE2_SPACE, " "), characters=_TRIM_CHARS)
    return _empty_to_null(s)


def normalise_texts(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Free text: surrounding whitespace (incl. U+3000) removed, empty to null."""
    return _empty_to_null(pc.utf8_trim(_strings(arr), characters=_TRIM_CHARS))


def normalise_codes(
    arr: pa.Array | pa.ChunkedArray,
    *,
    values: list[str] | None = None,
    value_map: dict[str, str] | None = None,
) -> Normalised:
    """Normalise code values: NFKC, no whitespace, synonyms mapped, code list checked.

    Parameters
    ----------
    arr:
        Raw code labels.
    values:
        Allowed values; others load as null with issue ``value_not_allowed``.
    value_map:
        Synonyms to canonical values (keys are matched after the same clean-up).

    Returns
    -------
    Normalised
        Codes and issues.
    """
    s = pc.utf8_normalize(_strings(arr), form="NFKC")
    s = _empty_to_null(pc.replace_substring_regex(s, _RE2_SPACE, ""))
    if value_map:
        keys = [_PY_SPACE.sub("", _nfkc(k)) for k in value_map]
        where = pc.index_in(s, value_set=pa.array(keys, pa.string()))
        mapped = pa.array(list(value_map.values()), pa.string()).take(where)
        s = pc.if_else(pc.is_valid(where), mapped, s)
    issues = _null_strings(len(s))
    if values is not None:
        bad = pc.and_(pc.is_valid(s), pc.invert(pc.is_in(s, value_set=pa.array(values))))
        issues = pc.if_else(bad, pa.scalar("value_not_allowed"), issues)
        s = _mask(s, bad)
    return Normalised(s, issues)


def normalise_regions(
    arr: pa.Array | pa.ChunkedArray, known: frozenset[str] | None = None
) -> Normalised:
    """Region codes to 12 digits (6- and 9-digit codes padded with zeros).

    With ``known`` (the region table's codes), a well-formed code that is not in it
    loads as null with the issue ``unknown_region``.
    """
    s = pc.utf8_normalize(_strings(arr), form="NFKC")
    s = _empty_to_null(pc.replace_substring_regex(s, _RE2_SPACE + r"|^'", ""))
    short = pc.fill_null(pc.match_substring_regex(s, r"^(?:[0-9]{6}|[0-9]{9})$"), False)
    s = pc.if_else(short, pc.utf8_rpad(s, width=12, padding="0"), s)
    bad = pc.and_(
        pc.is_valid(s), pc.invert(pc.fill_null(pc.match_substring_regex(s, r"^[0-9]{12}$"), False))
    )
    issues = pc.if_else(bad, pa.scalar("invalid_region"), _null_strings(len(s)))
    if known is not None:
        unknown = pc.and_(
            pc.and_(pc.is_valid(s), pc.invert(bad)),
            pc.invert(pc.is_in(s, value_set=pa.array(sorted(known), pa.string()))),
        )
        issues = pc.if_else(unknown, pa.scalar("unknown_region"), issues)
        bad = pc.or_(bad, unknown)
    return Normalised(_mask(s, bad), issues)


# ----------------------------------------------------------------------------- dates


def parse_date_value(text: str | None) -> tuple[dt.date | None, str | None]:
    """Parse one date in any of the departments' formats.

    Accepted: ``2025-05-01``, ``2025/5/1``, ``2025.05.01``, ``2025年5月1日``,
    ``20250501``, an Excel serial of 5 digits (days since 1899-12-30, a fraction is
    the time of day), each optionally followed by a time (``2025-05-01 08:30:00``).

    Parameters
    ----------
    text:
        The date as found in the file.

    Returns
    -------
    tuple[datetime.date | None, str | None]
        The date and None; (None, None) for an empty cell; (None, ``"invalid_date"``)
        when the text is not a date or names a day that does not exist.
    """
    if text is None:
        return None, None
    s = _nfkc(text).strip(_TRIM_CHARS)
    if not s:
        return None, None
    s = _PY_SPACE.sub("", _TIME_SUFFIX.sub("", s))
    for pattern in (_DATE_SEP, _DATE_ZH, _DATE_8):
        m = pattern.match(s)
        if m:
            day = _ymd_ok(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            return (day, None) if day else (None, "invalid_date")
    m = _DATE_SERIAL.match(s)
    if m:
        return EXCEL_EPOCH + dt.timedelta(days=int(m.group(1))), None
    return None, "invalid_date"


def parse_dates(
    arr: pa.Array | pa.ChunkedArray,
    *,
    earliest: dt.date | None = None,
    latest: dt.date | None = None,
) -> Normalised:
    """Parse a column of dates (formats of :func:`parse_date_value`).

    Parameters
    ----------
    arr:
        Raw date text.
    earliest, latest:
        Plausible range; dates outside load as null with issue ``date_out_of_range``.

    Returns
    -------
    Normalised
        ``date32`` values and issues (``invalid_date``, ``date_out_of_range``).
    """
    values, issues = _map_distinct(_strings(arr), parse_date_value, pa.date32())
    out = pa.array(np.zeros(len(values), dtype=bool))
    if earliest is not None:
        out = pc.or_(out, pc.fill_null(pc.less(values, pa.scalar(earliest, pa.date32())), False))
    if latest is not None:
        out = pc.or_(out, pc.fill_null(pc.greater(values, pa.scalar(latest, pa.date32())), False))
    issues = pc.if_else(out, pa.scalar("date_out_of_range"), issues)
    return Normalised(_mask(values, out), issues)


# ---------------------------------------------------------------------------- numbers


def _number_text(text: str) -> str:
    return _PY_SPACE.sub("", _nfkc(text)).replace(",", "")


def parse_money_value(text: str | None) -> tuple[float | None, str | None]:
    """Parse one amount in yuan: ``1,234.50``, ``￥1234``, ``1.2万元``, ``(12.50)``.

    Parameters
    ----------
    text:
        The amount as found in the file (full-width digits allowed).

    Returns
    -------
    tuple[float | None, str | None]
        The amount and None, (None, None) for an empty cell, or
        (None, ``"not_a_number"``).
    """
    if text is None:
        return None, None
    s = _number_text(text)
    if not s:
        return None, None
    negative = s.startswith("(") and s.endswith(")")
    if negative:
        s = s[1:-1]
    if s[:1] in ("-", "+"):
        negative ^= s[0] == "-"
        s = s[1:]
    for prefix in ("¥", "RMB", "CNY"):
        s = s.removeprefix(prefix)
    s = s.removesuffix("元").removesuffix("人民币")
    factor = Decimal(1)
    for unit, mult in _MONEY_UNITS:
        if s.endswith(unit):
            s, factor = s[: -len(unit)], mult
            break
    if not _DECIMAL.match(s) or s[:1] in ("-", "+"):
        return None, "not_a_number"
    value = Decimal(s) * factor
    return float(-value if negative else value), None


def parse_money(arr: pa.Array | pa.ChunkedArray) -> Normalised:
    """Parse a column of amounts (formats of :func:`parse_money_value`) to float64."""
    return _fast_then_slow(arr, r"^-?[0-9]+(?:\.[0-9]+)?$", pa.float64(), parse_money_value)


def parse_int_value(text: str | None) -> tuple[int | None, str | None]:
    """Parse one integer (``12``, ``1,200``, ``３``, ``12.0``); issue ``not_an_integer``."""
    if text is None:
        return None, None
    s = _number_text(text)
    if not s:
        return None, None
    if not _INTEGER.match(s) or len(s.split(".")[0].lstrip("+-")) > 18:
        return None, "not_an_integer"
    return int(s.split(".")[0]), None


def parse_ints(arr: pa.Array | pa.ChunkedArray) -> Normalised:
    """Parse a column of integers to int64."""
    return _fast_then_slow(arr, r"^-?[0-9]{1,18}$", pa.int64(), parse_int_value)


def parse_float_value(text: str | None) -> tuple[float | None, str | None]:
    """Parse one number (``12.5``, ``1,200``, ``1e3``, full-width); issue ``not_a_number``."""
    if text is None:
        return None, None
    s = _number_text(text)
    if not s:
        return None, None
    if not _DECIMAL.match(s):
        return None, "not_a_number"
    return float(s), None


def parse_floats(arr: pa.Array | pa.ChunkedArray) -> Normalised:
    """Parse a column of numbers to float64."""
    return _fast_then_slow(arr, r"^-?[0-9]+(?:\.[0-9]+)?$", pa.float64(), parse_float_value)
