"""Write a (dirty) department feed as the department's physical file.

Three formats, each the way real county files look:

* **XLSX**: a merged title row, a "填报单位 / 填报日期" row, a one- or two-row
  header (group labels merged over their sub-headers, ungrouped headers merged
  vertically), the data, an empty row wherever ``_blank_after`` is set, and a
  footer (``合计：N 条`` then ``制表人：``). Excel-mangled IDs and Excel date
  serials are numeric cells; everything else is text.
* **CSV**: Chinese header row then the rows, ``\\r\\n`` line ends, minimal quoting
  (as Excel saves), encoded in GBK, UTF-8 with BOM or UTF-8; a blank row is a line
  of delimiters only.
* **JSON**: an API export ``{"code": 0, "message": "success", "total": N,
  "data": [...]}`` with the columns' ``json_key`` in column order; a blank row is
  an object whose values are all null.

Files are reproducible: the same inputs give byte-identical files.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import xlsxwriter

from povguard.errors import ConfigError, DataError
from povguard.synth.feeds.spec import FeedSpec, Role

__all__ = ["format_title", "write_feed"]

#: Hidden column: write an empty row after this row (optional in the input).
_BLANK_AFTER = "_blank_after"

_PERIOD = re.compile(r"^(\d{4})-?(\d{1,2})$")
_FLOAT_TEXT = re.compile(r"^[0-9]+(\.[0-9]+)?[eE][+-]?[0-9]+$")
_SERIAL_TEXT = re.compile(r"^[0-9]{5}$")
_CSV_LINE_END = "\r\n"
_XLSX_MAX_ROWS = 1_048_576
_HEADER_ROW = 2  # the header follows the title and the "填报单位" rows


def _year_month(period: str) -> tuple[int, int]:
    match = _PERIOD.match(period)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ConfigError(f"period must look like '2025-05', got {period!r}")
    return int(match.group(1)), int(match.group(2))


def format_title(spec: FeedSpec, county: str, period: str) -> str:
    """Fill ``spec.title`` with county, year and month.

    Parameters
    ----------
    spec:
        The feed specification.
    county:
        County name as the department writes it (``"XX县"``).
    period:
        Delivery period, ``"YYYY-MM"`` or ``"YYYYMM"``.

    Returns
    -------
    str
        For example ``"贵州省XX县2025年5月房屋安全等级鉴定结果"``.
    """
    year, month = _year_month(period)
    return spec.title.format(county=county, year=year, month=month)


def _chinese_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _columns_check(table: pa.Table, spec: FeedSpec) -> None:
    missing = [c.key for c in spec.columns if c.key not in table.column_names]
    if missing:
        raise DataError(f"{spec.source}: table lacks columns {missing}")
    for col in spec.columns:
        arr = table.column(col.key)
        if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
            raise DataError(f"{spec.source}: column {col.key!r} must be string, got {arr.type}")


def _columns(table: pa.Table, spec: FeedSpec) -> tuple[list[list[str | None]], list[bool]]:
    """Column values as Python lists (spec order) and the blank-after flags."""
    _columns_check(table, spec)
    cols = [table.column(col.key).to_pylist() for col in spec.columns]
    if _BLANK_AFTER in table.column_names:
        blank = [bool(b) for b in table.column(_BLANK_AFTER).to_pylist()]
    else:
        blank = [False] * table.num_rows
    return cols, blank


# ------------------------------------------------------------------------------- CSV


def _encode(text: str, encoding: str, source: str) -> bytes:
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as exc:
        line_start = text.rfind("\n", 0, exc.start) + 1
        line_end = text.find("\n", exc.start)
        line = text[line_start : line_end if line_end >= 0 else len(text)].rstrip("\r")
        line_no = text.count("\n", 0, exc.start) + 1
        field = next((v for v in next(csv.reader([line])) if text[exc.start] in v), text[exc.start])
        raise DataError(
            f"{source}: cannot encode {text[exc.start]!r} in value {field!r} "
            f"(line {line_no}) as {encoding}"
        ) from exc


def _with_blank_rows(table: pa.Table, spec: FeedSpec) -> tuple[pa.Table, int]:
    """Spec columns only, with an all-null row after each ``_blank_after`` row."""
    data = table.select([c.key for c in spec.columns])
    if _BLANK_AFTER not in table.column_names:
        return data, int(table.num_rows)
    blank = np.asarray(table.column(_BLANK_AFTER).fill_null(False).to_numpy(zero_copy_only=False))
    n = int(table.num_rows)
    if not blank.any():
        return data, n
    order = np.argsort(
        np.concatenate([np.arange(n) * 2, np.flatnonzero(blank) * 2 + 1]), kind="stable"
    )
    index = np.concatenate([np.arange(n), np.full(int(blank.sum()), -1)])[order]
    return data.take(pa.array(index, mask=index < 0)), n


def _csv_text_python(table: pa.Table, spec: FeedSpec) -> str:
    """CSV body with Python's csv module (minimal quoting, as Excel saves)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=_CSV_LINE_END)
    writer.writerows(zip(*(table.column(c.key).to_pylist() for c in spec.columns), strict=True))
    return buf.getvalue()


def _csv_text(table: pa.Table, spec: FeedSpec) -> str:
    """CSV body: Arrow's writer when no value needs quoting, else Python's."""
    sink = io.BytesIO()
    options = pacsv.WriteOptions(include_header=False, quoting_style="none", eol=_CSV_LINE_END)
    try:
        pacsv.write_csv(table, sink, options)
    except pa.ArrowInvalid:  # a value holds a comma, quote or line break
        return _csv_text_python(table, spec)
    return sink.getvalue().decode("utf-8")


def _write_csv(table: pa.Table, spec: FeedSpec, path: Path) -> int:
    _columns_check(table, spec)
    data, n = _with_blank_rows(table, spec)
    head = io.StringIO()
    csv.writer(head, lineterminator=_CSV_LINE_END).writerow([c.header for c in spec.columns])
    text = head.getvalue() + (_csv_text(data, spec) if data.num_rows else "")
    path.write_bytes(_encode(text, spec.encoding, spec.source))
    return n


# ------------------------------------------------------------------------------ JSON


def _json_keys(spec: FeedSpec) -> list[str]:
    keys = [c.json_key or c.key for c in spec.columns]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{spec.source}: duplicate JSON keys {keys}")
    return keys


def _json_data_python(data: pa.Table, keys: list[str]) -> str:
    """The ``data`` array with the json module (handles any character)."""
    cols = [data.column(i).to_pylist() for i in range(data.num_columns)]
    rows = [dict(zip(keys, row, strict=True)) for row in zip(*cols, strict=True)]
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))


def _json_data(data: pa.Table, keys: list[str]) -> str:
    """The ``data`` array built column-wise with Arrow (same text as json.dumps)."""
    if data.num_rows == 0:
        return "[]"
    literals = []
    for i in range(data.num_columns):
        arr = data.column(i)
        if pc.any(pc.match_substring_regex(arr, r"[\x00-\x1f]")).as_py():
            return _json_data_python(data, keys)
        text = pc.replace_substring(pc.replace_substring(arr, "\\", "\\\\"), '"', '\\"')
        literals.append(pc.binary_join_element_wise('"', text, '"', "").fill_null("null"))
    parts: list[Any] = []
    for i, (key, literal) in enumerate(zip(keys, literals, strict=True)):
        parts += [("{" if i == 0 else ",") + json.dumps(key, ensure_ascii=False) + ":", literal]
    parts.append("}")
    rows = pc.binary_join_element_wise(*parts, "")
    return "[" + ",".join(rows.to_pylist()) + "]"


def _write_json(table: pa.Table, spec: FeedSpec, path: Path) -> int:
    _columns_check(table, spec)
    keys = _json_keys(spec)
    data, n = _with_blank_rows(table, spec)
    head = json.dumps({"code": 0, "message": "success", "total": n}, separators=(",", ":"))
    text = head[:-1] + ',"data":' + _json_data(data, keys) + "}"
    path.write_bytes(text.encode("utf-8"))
    return n


# ------------------------------------------------------------------------------ XLSX


def _group_of_columns(spec: FeedSpec) -> dict[int, tuple[int, int, str]]:
    """Map the first column index of each header group to (first, last, label)."""
    index = {c.key: i for i, c in enumerate(spec.columns)}
    groups: dict[int, tuple[int, int, str]] = {}
    covered: set[int] = set()
    for group in spec.header_groups:
        if group.first not in index or group.last not in index:
            raise ConfigError(f"{spec.source}: header group {group.label!r} names unknown columns")
        first, last = index[group.first], index[group.last]
        span = set(range(first, last + 1))
        if first > last or span & covered:
            raise ConfigError(f"{spec.source}: header group {group.label!r} is misplaced")
        covered |= span
        groups[first] = (first, last, group.label)
    return groups


def _column_width(role: Role, header: str) -> float:
    widths = {Role.ID: 21.0, Role.NAME: 10.0, Role.NAME_PINYIN: 18.0, Role.DATE: 12.0}
    return max(widths.get(role, 12.0), 2.2 * len(header) + 2)


def _write_header(ws: Any, spec: FeedSpec, row: int, fmt: Any) -> int:
    """Write the one- or two-row header at ``row``; return the next free row."""
    ncols = len(spec.columns)
    if not spec.header_groups:
        for c, col in enumerate(spec.columns):
            ws.write_string(row, c, col.header, fmt)
        return row + 1
    groups = _group_of_columns(spec)
    grouped = {c for first, last, _ in groups.values() for c in range(first, last + 1)}
    # constant_memory mode keeps only the current row, so write row by row: a
    # vertical merge is registered with no format (that pads nothing below) and its
    # cell is rewritten with the format; the row below gets formatted blanks.
    for c in range(ncols):
        if c in groups:
            first, last, label = groups[c]
            if last > first:
                ws.merge_range(row, first, row, last, label, fmt)
            else:
                ws.write_string(row, c, label, fmt)
        elif c not in grouped:
            ws.merge_range(row, c, row + 1, c, spec.columns[c].header, None)
            ws.write_string(row, c, spec.columns[c].header, fmt)
    for c, col in enumerate(spec.columns):
        if c in grouped:
            ws.write_string(row + 1, c, col.header, fmt)
        else:
            ws.write_blank(row + 1, c, None, fmt)
    return row + 2


def _span_row(ws: Any, row: int, ncols: int, text: str, fmt: Any) -> None:
    if ncols > 1:
        ws.merge_range(row, 0, row, ncols - 1, text, fmt)
    else:
        ws.write_string(row, 0, text, fmt)


def _numeric_columns(spec: FeedSpec) -> dict[int, re.Pattern[str]]:
    out: dict[int, re.Pattern[str]] = {}
    for c, col in enumerate(spec.columns):
        if col.role is Role.ID:
            out[c] = _FLOAT_TEXT
        elif col.role is Role.DATE:
            out[c] = _SERIAL_TEXT
    return out


def _write_rows(
    ws: Any,
    first_row: int,
    rows: Iterable[tuple[str | None, ...]],
    spec: FeedSpec,
    blank: Sequence[bool],
) -> int:
    numeric = _numeric_columns(spec)
    r = first_row
    for values, blank_after in zip(rows, blank, strict=True):
        for c, value in enumerate(values):
            if value is None or value == "":
                continue
            pattern = numeric.get(c)
            if pattern is not None and pattern.match(value):
                ws.write_number(r, c, float(value))
            else:
                ws.write_string(r, c, value)
        r += 2 if blank_after else 1
    return r


def _write_xlsx(
    table: pa.Table, spec: FeedSpec, path: Path, *, county: str, period: str, created: dt.date
) -> int:
    cols, blank = _columns(table, spec)
    ncols = len(spec.columns)
    title = format_title(spec, county, period)
    needed = _HEADER_ROW + (2 if spec.header_groups else 1) + len(blank) + sum(blank) + 2
    if needed > _XLSX_MAX_ROWS:
        raise DataError(
            f"{spec.source}: {table.num_rows} rows do not fit in one worksheet "
            f"({_XLSX_MAX_ROWS} rows at most)"
        )
    workbook = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    try:
        workbook.set_properties(
            {
                "title": title,
                "company": spec.department,
                "created": dt.datetime(created.year, created.month, created.day),
            }
        )
        ws = workbook.add_worksheet(spec.sheet_name)
        title_fmt = workbook.add_format(
            {"bold": True, "font_size": 16, "align": "center", "valign": "vcenter"}
        )
        info_fmt = workbook.add_format({"align": "left", "valign": "vcenter"})
        head_fmt = workbook.add_format(
            {"bold": True, "align": "center", "valign": "vcenter", "border": 1, "text_wrap": True}
        )
        for c, col in enumerate(spec.columns):
            ws.set_column(c, c, _column_width(col.role, col.header))
        ws.set_row(0, 30)
        _span_row(ws, 0, ncols, title, title_fmt)
        info = f"填报单位：{county}{spec.department}    填报日期：{_chinese_date(created)}"
        _span_row(ws, 1, ncols, info, info_fmt)
        data_row = _write_header(ws, spec, _HEADER_ROW, head_fmt)
        end = _write_rows(ws, data_row, zip(*cols, strict=True), spec, blank)
        ws.write_string(end, 0, f"合计：{table.num_rows} 条")
        ws.write_string(end + 1, 0, "制表人：")
    finally:
        workbook.close()
    return int(table.num_rows)


# ------------------------------------------------------------------------------- API


def write_feed(
    table: pa.Table,
    spec: FeedSpec,
    path: Path,
    *,
    county: str,
    period: str,
    created: dt.date,
) -> int:
    """Write one department file in the spec's format.

    Parameters
    ----------
    table:
        Rows to write: every spec column as nullable string (e.g.
        :attr:`~povguard.synth.feeds.defects.DefectResult.table`); the hidden
        columns ``_row_uid`` and ``_blank_after`` are never written
        (``_blank_after`` is optional and inserts an empty row after the row).
    spec:
        The feed specification (format, encoding, headers, title).
    path:
        Output file; parent folders are created.
    county:
        County name for the XLSX title and "填报单位" row.
    period:
        Delivery period ``"YYYY-MM"`` (fills ``{year}`` and ``{month}`` of the title).
    created:
        Date the department filled in the file ("填报日期", document properties).

    Returns
    -------
    int
        Number of data rows written (blank rows excluded).

    Raises
    ------
    DataError
        If a spec column is missing or not string, or a CSV value cannot be
        encoded in ``spec.encoding`` (the message names the value).
    ConfigError
        If ``period`` or the header groups are malformed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if spec.fmt == "csv":
        return _write_csv(table, spec, path)
    if spec.fmt == "json":
        return _write_json(table, spec, path)
    if spec.fmt == "xlsx":
        return _write_xlsx(table, spec, path, county=county, period=period, created=created)
    raise ConfigError(f"{spec.source}: unknown format {spec.fmt!r}")  # pragma: no cover
