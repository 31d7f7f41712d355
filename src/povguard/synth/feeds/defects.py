"""Realistic defects in department feeds, with ground truth of every defect.

:func:`render_clean` turns a typed clean table into the strings a department would
write; :func:`apply_defects` then damages a few percent of the rows the way real
monthly files are damaged (wrong characters in names, mistyped and Excel-mangled
ID numbers, mixed date formats, duplicated and blank rows, values corrected in a
later delivery...) and logs every change with the clean and the dirty value.

Conventions
-----------
* Every defect is drawn independently per row with its rate from
  :class:`~povguard.synth.defect_params.DefectRates`; the column it hits is chosen
  at random among the eligible columns of the right role in that row.
* A cell receives at most one defect, so each log entry's ``dirty_value`` is exactly
  what the dirty table holds and ``clean_value`` is exactly :func:`render_clean`'s
  value. Defects are applied in the order of :data:`DEFECT_ORDER`; a later defect
  that draws an already damaged cell skips it (at the default rates this removes
  well under 0.1% of the draws).
* Rates are per row among the rows where the defect can apply (e.g. the legacy
  15-digit form among people born before 2000, the lowercase ``x`` among IDs ending
  in ``X``).
* Each defect kind gets its own child generator derived from ``rng`` so that
  changing one rate does not reshuffle where the other defects fall.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from povguard.errors import DataError
from povguard.synth.defect_params import DefectRates
from povguard.synth.feeds.spec import FeedSpec, Role
from povguard.synth.idcard import to_legacy15
from povguard.synth.names import mistype_names_kind

__all__ = [
    "BLANK_AFTER",
    "DEFECT_ORDER",
    "DUP_SUFFIX",
    "LOG_SCHEMA",
    "ROW_UID",
    "DefectResult",
    "apply_defects",
    "render_clean",
]

#: Hidden column with the row's unique id (in the clean and the dirty table).
ROW_UID = "_row_uid"
#: Hidden column of the dirty table: the writer inserts an empty row after the row.
BLANK_AFTER = "_blank_after"
#: Suffix of the ``_row_uid`` of a duplicated row's copy.
DUP_SUFFIX = "#dup"

#: Schema of :attr:`DefectResult.log` (``column``, ``clean_value`` and
#: ``dirty_value`` are null for row-level defects and null values).
LOG_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("period", pa.string()),
        ("row_uid", pa.string()),
        ("defect", pa.string()),
        ("column", pa.string()),
        ("clean_value", pa.string()),
        ("dirty_value", pa.string()),
    ]
)

#: Defect kinds in the order they are applied (a rate key may log several kinds).
DEFECT_ORDER: tuple[str, ...] = (
    "missing_id",
    "id_legacy15",
    "id_excel_float",
    "id_digit_error",  # logs id_digit / id_transposition / id_check_char
    "id_lowercase_x",
    "id_fullwidth",
    "name_typo",  # logs name_homophone / name_wrong_char
    "name_order_swap",
    "stray_space",
    "date_format_mixed",
    "late_correction",
    "blank_row",
    "duplicate_row",
)

_STRING_ROLES = frozenset(
    {Role.KEY, Role.ID, Role.NAME, Role.NAME_PINYIN, Role.TEXT, Role.CODE, Role.REGION}
)
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_DIGITS = "0123456789"
_CHECK_CHARS = "0123456789X"
_FULLWIDTH = str.maketrans({**{d: chr(0xFF10 + i) for i, d in enumerate(_DIGITS)}, "X": "Ｘ"})
_ID_LEN = 18
_EXCEL_DIGITS = 15  # precision of an Excel number

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class DefectResult:
    """Outcome of :func:`apply_defects` for one source and period.

    Attributes
    ----------
    table:
        The dirty rows in file order: every spec column as nullable ``string`` in
        spec order, plus ``_row_uid`` (string) and ``_blank_after`` (bool).
    log:
        One row per applied defect (schema :data:`LOG_SCHEMA`).
    corrections:
        Clean rows (input schema) to re-deliver, corrected, in the next period.
    """

    table: pa.Table
    log: pa.Table
    corrections: pa.Table


# --------------------------------------------------------------------------- rendering


def _date_format(spec: FeedSpec) -> str:
    return spec.extra.get("date_format", "%Y-%m-%d")


def _format_dates(arr: pa.Array, fmt: str) -> pa.Array:
    """Render a date32 array with a Python strftime pattern (per distinct value)."""
    arr = arr.cast(pa.date32())
    uniq = pc.unique(arr.drop_null())
    texts = pa.array([d.strftime(fmt) for d in uniq.to_pylist()], pa.string())
    return texts.take(pc.index_in(arr, value_set=uniq))


def _money_strings(values: npt.NDArray[np.float64]) -> pa.Array:
    """Render non-null floats as yuan with two decimals (``-12.50``)."""
    cents = np.rint(values * 100.0).astype(np.int64)
    mag = np.abs(cents)
    whole = pa.array(mag // 100).cast(pa.string())
    frac = pc.utf8_lpad(pa.array(mag % 100).cast(pa.string()), width=2, padding="0")
    sign = pa.array(np.where(cents < 0, "-", ""), pa.string())
    return pc.binary_join_element_wise(sign, whole, ".", frac, "")


def _format_money(arr: pa.Array) -> pa.Array:
    arr = arr.cast(pa.float64())
    valid = arr.is_valid()
    text = _money_strings(arr.fill_null(0.0).to_numpy(zero_copy_only=False))
    return pc.if_else(valid, text, pa.scalar(None, pa.string()))


def _render_column(arr: pa.Array, role: Role, spec: FeedSpec) -> pa.Array:
    if role in _STRING_ROLES:
        return arr.cast(pa.string())
    if role is Role.DATE:
        return _format_dates(arr, _date_format(spec))
    if role is Role.MONEY:
        return _format_money(arr)
    if role is Role.INT:
        return arr.cast(pa.int64()).cast(pa.string())
    if role is Role.FLOAT:
        return arr.cast(pa.float64()).cast(pa.string())
    raise DataError(f"{spec.source}: unsupported role {role!r}")  # pragma: no cover


def _check_input(clean: pa.Table, spec: FeedSpec) -> None:
    missing = [c.key for c in spec.columns if c.key not in clean.column_names]
    if missing:
        raise DataError(f"{spec.source}: clean table lacks columns {missing}")
    if ROW_UID not in clean.column_names:
        raise DataError(f"{spec.source}: clean table lacks {ROW_UID!r}")
    uid = clean.column(ROW_UID)
    if uid.null_count or pc.count_distinct(uid).as_py() != clean.num_rows:
        raise DataError(f"{spec.source}: {ROW_UID!r} must be non-null and unique")


def render_clean(clean: pa.Table, spec: FeedSpec) -> pa.Table:
    """Render clean typed values the way the department writes them.

    Parameters
    ----------
    clean:
        Clean rows: the columns of ``spec.columns`` (by key, typed by role) plus
        ``_row_uid``.
    spec:
        The feed specification.

    Returns
    -------
    pyarrow.Table
        Every spec column as nullable ``string`` in spec order, plus ``_row_uid``.
        Dates use ``spec.extra["date_format"]`` (a strftime pattern, default
        ``%Y-%m-%d``), money has two decimals, ints are plain, floats use the
        shortest round-trip form (``3``, ``12.5``); nulls stay null.
    """
    _check_input(clean, spec)
    clean = clean.combine_chunks()
    arrays = [_render_column(_array(clean, c.key), c.role, spec) for c in spec.columns]
    arrays.append(_array(clean, ROW_UID).cast(pa.string()))
    names = [c.key for c in spec.columns] + [ROW_UID]
    return pa.Table.from_arrays(arrays, names=names)


def _array(table: pa.Table, key: str) -> pa.Array:
    col = table.column(key)
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


# ----------------------------------------------------------------------------- state

_Pick = tuple[int, str, str]  # row, column key, clean rendered value


class _Damage:
    """Edits, the one-defect-per-cell bookkeeping and the log."""

    def __init__(self, rendered: pa.Table, spec: FeedSpec) -> None:
        self.spec = spec
        self.n = rendered.num_rows
        self.rendered = {c.key: _array(rendered, c.key) for c in spec.columns}
        self.taken = {c.key: np.zeros(self.n, dtype=np.bool_) for c in spec.columns}
        self.edits: dict[str, dict[int, str | None]] = {c.key: {} for c in spec.columns}
        # row, defect, column, clean, dirty
        self.log: list[tuple[int, str, str | None, str | None, str | None]] = []

    def values(self, key: str, idx: IntArray) -> list[str | None]:
        out: list[str | None] = self.rendered[key].take(pa.array(idx, pa.int64())).to_pylist()
        return out

    def pick(
        self,
        keys: Sequence[str],
        idx: IntArray,
        rng: np.random.Generator,
        ok: Callable[[str], bool],
    ) -> list[_Pick]:
        """For each row in ``idx`` choose a random eligible column among ``keys``."""
        m = idx.size
        score = rng.random((m, max(len(keys), 1)))
        if m == 0 or not keys:
            return []
        values = []
        for j, key in enumerate(keys):
            vals = self.values(key, idx)
            good = np.fromiter((v is not None and ok(v) for v in vals), np.bool_, m)
            good &= ~self.taken[key][idx]
            score[:, j] = np.where(good, score[:, j], -1.0)
            values.append(vals)
        best = score.argmax(axis=1)
        hit = score[np.arange(m), best] >= 0.0
        picks: list[_Pick] = []
        for r in np.flatnonzero(hit):
            j = int(best[r])
            value = values[j][r]
            assert value is not None
            picks.append((int(idx[r]), keys[j], value))
        return picks

    def edit(self, row: int, key: str, defect: str, clean: str, dirty: str | None) -> None:
        if dirty == clean or self.taken[key][row]:  # pragma: no cover - guarded by callers
            return
        self.taken[key][row] = True
        self.edits[key][row] = dirty
        self.log.append((row, defect, key, clean, dirty))

    def dirty_arrays(self) -> list[pa.Array]:
        out = []
        for col in self.spec.columns:
            arr = self.rendered[col.key]
            edits = self.edits[col.key]
            if edits:
                rows = sorted(edits)
                mask = np.zeros(self.n, dtype=np.bool_)
                mask[rows] = True
                repl = pa.array([edits[r] for r in rows], pa.string())
                arr = pc.replace_with_mask(arr, pa.array(mask), repl)
            out.append(arr)
        return out


def _rows(rng: np.random.Generator, n: int, rate: float) -> IntArray:
    """Rows hit by a defect of the given per-row rate (one uniform draw per row)."""
    draws = rng.random(n)
    return np.flatnonzero(draws < rate).astype(np.int64)


def _is_id18(value: str) -> bool:
    return (
        len(value) == _ID_LEN
        and value.isascii()
        and value[:17].isdigit()
        and value[17] in _CHECK_CHARS
    )


# --------------------------------------------------------------------------- ID defects


def _missing_id(d: _Damage, rng: np.random.Generator, rates: DefectRates) -> None:
    rate = rates.missing_id if d.spec.often_missing_id else rates.missing_id_other
    idx = _rows(rng, d.n, rate)
    for row, key, value in d.pick(d.spec.keys_with_role(Role.ID), idx, rng, lambda v: True):
        d.edit(row, key, "missing_id", value, None)


def _legacy15(d: _Damage, rng: np.random.Generator, rates: DefectRates) -> None:
    idx = _rows(rng, d.n, rates.id_legacy_15)
    picks = d.pick(
        d.spec.keys_with_role(Role.ID), idx, rng, lambda v: _is_id18(v) and v[6:8] == "19"
    )
    if not picks:
        return
    short = to_legacy15(np.array([p[2] for p in picks], dtype=np.str_))
    for (row, key, value), new in zip(picks, short, strict=True):
        d.edit(row, key, "id_legacy15", value, str(new))


def _excel_float(d: _Damage, rng: np.random.Generator, rates: DefectRates) -> None:
    idx = _rows(rng, d.n, rates.id_excel_float)
    if not (d.spec.excel_mangles_ids and d.spec.fmt == "xlsx"):
        return
    picks = d.pick(d.spec.keys_with_role(Role.ID), idx, rng, lambda v: _is_id18(v) and v.isdigit())
    display = rng.random(len(picks)) < 0.5
    for (row, key, value), disp in zip(picks, display, strict=True):
        # Excel keeps 15 significant digits of a typed number: the rest become zeros.
        number = float(int(value[:_EXCEL_DIGITS]) * 10 ** (_ID_LEN - _EXCEL_DIGITS))
        d.edit(row, key, "id_excel_float", value, f"{number:.5E}" if disp else repr(number))


def _swap_positions(body: str) -> list[int]:
    return [i for i in range(len(body) - 1) if body[i] != body[i + 1]]


def _digit_error(d: _Damage, rng: np.random.Generator, rates: DefectRates) -> None:
    idx = _rows(rng, d.n, rates.id_digit_error)
    picks = d.pick(d.spec.keys_with_role(Role.ID), idx, rng, _is_id18)
    kinds = rng.integers(0, 3, size=len(picks))
    pos = rng.integers(0, 17, size=len(picks))
    shift = rng.integers(1, 10, size=len(picks))
    u = rng.random(len(picks))
    for (row, key, value), kind, p, s, w in zip(picks, kinds, pos, shift, u, strict=True):
        body, check = value[:17], value[17]
        swaps = _swap_positions(body)
        if kind == 1 and swaps:
            i = swaps[int(w * len(swaps))]
            new = body[:i] + body[i + 1] + body[i] + body[i + 2 :] + check
            defect = "id_transposition"
        elif kind == 2:
            others = _CHECK_CHARS.replace(check, "")
            new = body + others[int(w * len(others))]
            defect = "id_check_char"
        else:
            digit = str((int(body[p]) + int(s)) % 10)
            new = body[:p] + digit + body[p + 1 :] + check
            defect = "id_digit"
        d.edit(row, key, defect, value, new)


def _lowercase_x(d: _Damage, rng: np.random.Generator, rates: DefectRates) -> None:
    idx = _rows(rng, d.n, rates.id_lowercase_x)
    for row, key, value in d.pick(
        d.spec.keys_with_role(Role.ID), idx, rng, lambda v: v.endswith("X")
    ):
        d.edit(row, key, "id_lowercase_x", value, value[:-1] + "x")


def _fullwidth(d: _Damage, rng: np.random.Generator, rates: DefectRates) -> None:
    idx = _rows(rng, d.n, rates.id_fullwidth)
    for row, key, value in d.pick(
        d.spec.keys_with_role(Role.ID), idx, rng, lambda v: v.translate(_FULLWIDTH) != v
    ):
        d.edit(row, key, "id_fullwidth", value, value.translate(_FULLWIDTH))


# ------------------------------------------------------------------------- name defects


def _name_typo(d: _Damage, rng: np.random.Generator, rates: DefectRates) -> None:
    idx = _rows(rng, d.n, rates.name_typo)
    picks = d.pick(d.spec.keys_with_role(Role.NAME), idx, rng, lambda v: len(v) > 0)
    homophone = rng.random(len(picks)) < rates.name_homophone_share
    if not picks:
        return
    names = np.array([p[2] for p in picks], dtype=np.str_)
    new, applied = mistype_names_kind(names, homophone, rng)
    for (row, key, value), name, hom in zip(picks, new, applied, strict=True):
        if str(name) != value:
            d.edit(row, key, "name_homophone" if hom else "name_wrong_char", value, str(name))


def _swap_pinyin(value: str) -> str:
    family, given = value.split(" ", 1)
    return f"{given} {family}"


def _name_order_swap(d: _Damage, rng: np.random.Generator, rates: DefectRates) -> None:
    idx = _rows(rng, d.n, rates.name_order_swap)
    keys = d.spec.keys_with_role(Role.NAME_PINYIN)
    ok: Callable[[str], bool] = lambda v: " " in v.strip() and _swap_pinyin(v) != v  # noqa: E731
    for row, key, value in d.pick(keys, idx, rng, ok):
        d.edit(row, key, "name_order_swap", value, _swap_pinyin(value))


def _stray_space(d: _Damage, rng: np.random.Generator, rates: DefectRates) -> None:
    idx = _rows(rng, d.n, rates.stray_space)
    keys = d.spec.keys_with_role(Role.NAME, Role.ID)
    picks = d.pick(keys, idx, rng, lambda v: len(v) > 0)
    kinds = rng.integers(0, 4, size=len(picks))  # leading, trailing, inner, full-width
    where = rng.integers(0, 3, size=len(picks))  # position of the full-width space
    u = rng.random(len(picks))
    for (row, key, value), kind, pos, w in zip(picks, kinds, where, u, strict=True):
        space = "\u3000" if kind == 3 else " "
        place = int(pos) if kind == 3 else int(kind)
        if place == 2 and len(value) < 2:
            place = 1
        if place == 0:
            new = space + value
        elif place == 1:
            new = value + space
        else:
            i = 1 + int(w * (len(value) - 1))
            new = value[:i] + space + value[i:]
        d.edit(row, key, "stray_space", value, new)


# ------------------------------------------------------------------------- date defects


def _mixed_forms(day: dt.date, with_serial: bool) -> list[str]:
    forms = [
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}年{day.month}月{day.day}日",
        f"{day.year:04d}{day.month:02d}{day.day:02d}",
        f"{day.year:04d}.{day.month:02d}.{day.day:02d}",
    ]
    if with_serial:
        forms.append(str((day - _EXCEL_EPOCH).days))
    return forms


def _date_format_mixed(
    d: _Damage, rng: np.random.Generator, rates: DefectRates, clean: pa.Table
) -> None:
    idx = _rows(rng, d.n, rates.date_format_mixed)
    picks = d.pick(d.spec.keys_with_role(Role.DATE), idx, rng, lambda v: True)
    u = rng.random(len(picks))
    with_serial = d.spec.fmt != "json"
    for (row, key, value), w in zip(picks, u, strict=True):
        day = clean.column(key)[row].as_py()
        forms = [f for f in _mixed_forms(day, with_serial) if f != value]
        d.edit(row, key, "date_format_mixed", value, forms[int(w * len(forms))])


def _shift_month(day: dt.date, delta: int) -> dt.date:
    month0 = day.month - 1 + delta
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# ---------------------------------------------------------------------- late correction


def _wrong_money(value: float, kind: int, w: float) -> str:
    cents = int(np.rint(value * 100.0))
    if kind == 1:
        text = str(_money_strings(np.array([value]))[0])
        whole = text.lstrip("-").split(".")[0]
        offset = len(text) - len(text.lstrip("-"))
        swaps = _swap_positions(whole)
        if swaps:
            i = offset + swaps[int(w * len(swaps))]
            return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    new = cents // 10 if kind == 2 and abs(cents) >= 10 else cents * 10
    return str(_money_strings(np.array([new / 100.0]))[0])


def _late_correction(
    d: _Damage, rng: np.random.Generator, rates: DefectRates, clean: pa.Table
) -> IntArray:
    idx = _rows(rng, d.n, rates.late_correction)
    spec = d.spec
    done: list[int] = []
    # Money (not zero) first, then dates, then code values.
    money = d.pick(spec.keys_with_role(Role.MONEY), idx, rng, lambda v: v.strip("-0.") != "")
    kinds = rng.integers(0, 3, size=len(money))  # x10, digits swapped, decimal shifted
    u = rng.random(len(money))
    for (row, key, value), kind, w in zip(money, kinds, u, strict=True):
        wrong = _wrong_money(float(clean.column(key)[row].as_py()), int(kind), float(w))
        if wrong != value:
            d.edit(row, key, "late_correction", value, wrong)
            done.append(row)
    rest = np.setdiff1d(idx, np.array(done, dtype=np.int64))
    dates = d.pick(spec.keys_with_role(Role.DATE), rest, rng, lambda v: True)
    signs = rng.integers(0, 2, size=len(dates)) * 2 - 1
    fmt = _date_format(spec)
    for (row, key, value), sign in zip(dates, signs, strict=True):
        day = _shift_month(clean.column(key)[row].as_py(), int(sign))
        d.edit(row, key, "late_correction", value, day.strftime(fmt))
        done.append(row)
    rest = np.setdiff1d(rest, np.array(done, dtype=np.int64))
    code_keys = spec.keys_with_role(Role.CODE)
    levels = {k: sorted(pc.unique(d.rendered[k].drop_null()).to_pylist()) for k in code_keys}
    codes = d.pick([k for k in code_keys if len(levels[k]) > 1], rest, rng, lambda v: True)
    u = rng.random(len(codes))
    for (row, key, value), w in zip(codes, u, strict=True):
        others = [x for x in levels[key] if x != value]
        d.edit(row, key, "late_correction", value, others[int(w * len(others))])
        done.append(row)
    return np.array(sorted(done), dtype=np.int64)


# -------------------------------------------------------------------------------- main


def apply_defects(
    clean: pa.Table,
    spec: FeedSpec,
    rates: DefectRates,
    rng: np.random.Generator,
    period: str,
) -> DefectResult:
    """Damage a clean feed the way real department files are damaged.

    Parameters
    ----------
    clean:
        Clean rows: the columns of ``spec.columns`` typed by role (string roles
        string, DATE date32, MONEY/FLOAT float64, INT int64; nulls allowed) plus a
        unique string ``_row_uid``.
    spec:
        The feed specification (roles decide which defects hit which column).
    rates:
        Per-row defect probabilities.
    rng:
        Source of all randomness; the same generator state and inputs give the same
        result.
    period:
        Delivery period (``"2025-05"``), copied into the log.

    Returns
    -------
    DefectResult
        The dirty table, the defect log and the clean rows to re-deliver corrected
        next period.

    Raises
    ------
    DataError
        If the clean table lacks a spec column or ``_row_uid`` is missing or not
        unique.
    """
    rendered = render_clean(clean, spec)
    original = clean
    clean = _with_date32(clean.combine_chunks(), spec)
    n = clean.num_rows
    seeds = rng.integers(0, 2**63 - 1, size=len(DEFECT_ORDER), dtype=np.int64)
    child = {
        name: np.random.default_rng(int(seed))
        for name, seed in zip(DEFECT_ORDER, seeds, strict=True)
    }
    d = _Damage(rendered, spec)

    _missing_id(d, child["missing_id"], rates)
    _legacy15(d, child["id_legacy15"], rates)
    _excel_float(d, child["id_excel_float"], rates)
    _digit_error(d, child["id_digit_error"], rates)
    _lowercase_x(d, child["id_lowercase_x"], rates)
    _fullwidth(d, child["id_fullwidth"], rates)
    _name_typo(d, child["name_typo"], rates)
    _name_order_swap(d, child["name_order_swap"], rates)
    _stray_space(d, child["stray_space"], rates)
    _date_format_mixed(d, child["date_format_mixed"], rates, clean)
    corrected = _late_correction(d, child["late_correction"], rates, clean)

    blank = child["blank_row"].random(n) < rates.blank_row
    for row in np.flatnonzero(blank):
        d.log.append((int(row), "blank_row", None, None, None))

    dup_rng = child["duplicate_row"]
    dup_rows = _rows(dup_rng, n, rates.duplicate_row)
    # The copy goes right after a random row at or after the original.
    after = dup_rows + (dup_rng.random(dup_rows.size) * (n - dup_rows)).astype(np.int64)
    sort_key = np.concatenate([np.arange(n, dtype=np.int64) * 2, after * 2 + 1])
    order = np.argsort(sort_key, kind="stable")
    source_row = np.concatenate([np.arange(n, dtype=np.int64), dup_rows])[order]
    is_copy = (np.arange(n + dup_rows.size) >= n)[order]

    uid = _array(clean, ROW_UID).cast(pa.string())
    arrays = [*d.dirty_arrays(), uid, pa.array(blank)]
    names = [c.key for c in spec.columns] + [ROW_UID, BLANK_AFTER]
    table = pa.Table.from_arrays(arrays, names=names).take(pa.array(source_row))
    if dup_rows.size:
        copy_mask = pa.array(is_copy)
        new_uid = pc.if_else(
            copy_mask,
            pc.binary_join_element_wise(table.column(ROW_UID), DUP_SUFFIX, ""),
            table.column(ROW_UID),
        )
        new_blank = pc.and_(table.column(BLANK_AFTER), pc.invert(copy_mask))
        table = table.set_column(table.schema.get_field_index(ROW_UID), ROW_UID, new_uid)
        table = table.set_column(table.schema.get_field_index(BLANK_AFTER), BLANK_AFTER, new_blank)
    table = table.combine_chunks()

    log = _build_log(d, uid, dup_rows, spec.source, period)
    corrections = original.take(pa.array(corrected, pa.int64()))
    return DefectResult(table=table, log=log, corrections=corrections)


def _with_date32(table: pa.Table, spec: FeedSpec) -> pa.Table:
    """The table with its DATE columns as date32 (dates are read back per row)."""
    for key in spec.keys_with_role(Role.DATE):
        i = table.schema.get_field_index(key)
        table = table.set_column(i, key, table.column(key).cast(pa.date32()))
    return table


def _build_log(d: _Damage, uid: pa.Array, dup_rows: IntArray, source: str, period: str) -> pa.Table:
    entries = sorted(
        [*d.log, *((int(r), "duplicate_row", None, None, None) for r in dup_rows)],
        key=lambda e: e[0],
    )
    rows = np.array([e[0] for e in entries], dtype=np.int64)
    uids: list[str] = uid.take(pa.array(rows, pa.int64())).to_pylist()
    uids = [
        u + DUP_SUFFIX if e[1] == "duplicate_row" else u for u, e in zip(uids, entries, strict=True)
    ]
    m = len(entries)
    return pa.Table.from_arrays(
        [
            pa.array([source] * m, pa.string()),
            pa.array([period] * m, pa.string()),
            pa.array(uids, pa.string()),
            pa.array([e[1] for e in entries], pa.string()),
            pa.array([e[2] for e in entries], pa.string()),
            pa.array([e[3] for e in entries], pa.string()),
            pa.array([e[4] for e in entries], pa.string()),
        ],
        schema=LOG_SCHEMA,
    )
