"""Readers: department files to raw string tables, with the spreadsheet row of each row.

* **CSV**: the bytes are decoded (``auto``: UTF-8 BOM, strict UTF-8, GB18030, then
  charset detection), the header is found among the first rows, and the data is
  split by Arrow's CSV reader (or Python's csv module when the file has quoted
  values, so that line numbers stay exact). A row's number is its line number.
* **XLSX**: openpyxl in read-only mode, cached values only. Number cells become text
  carefully: whole numbers below 10^15 as digits, larger or fractional numbers in
  Python's shortest form (so an ID typed into a number cell shows up as
  ``5.22325197007226e+17`` and is recognised as Excel-mangled), date cells as ISO
  dates. A row's number is the row Excel shows.
* **JSON**: the list of records at ``records_path`` (``data``); its keys are the
  header. A row's number is its index + 1.

Blank rows and footer rows (``合计…``, ``制表人…`` with at most two filled cells) are
dropped and not counted; the ``合计：N 条`` count is kept to check the row count.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import math
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from povguard.ingest.header import Header, HeaderMatcher
from povguard.ingest.mapping import SourceMapping
from povguard.ingest.messages import IngestFileError, Message

__all__ = ["RawSheet", "cell_text", "decode_text", "read_file"]

_CHUNK = 65_536
_FOOTER = re.compile(
    r"^(?:合计|总计|小计|共计|制表|填表|填报人|审核|审批|负责人|单位负责人|统计人|备注|说明|注[:：])"
)
_FOOTER_TOTAL = re.compile(r"^(?:合计|总计|共计)[:：]?\s*([0-9]+)\s*(?:条|人|户|行|项|笔)?\s*$")
_TRIM = " \t\r\n\u00a0\u3000\ufeff"
_MAX_EXACT = 10**15  # Excel keeps 15 significant digits
_CHAOS_LIMIT = 0.2


@dataclass
class RawSheet:
    """The data rows of one sheet (or CSV/JSON file) as raw strings.

    Attributes
    ----------
    sheet:
        Sheet name (XLSX) or None.
    labels:
        Display label of every column (as in the file, unique).
    assignment:
        Column index of every field the header matched.
    data:
        One string column per file column (``c0``, ``c1``...); blank and footer rows
        removed; empty cells are null or ``""``.
    rows:
        Spreadsheet row / line number / JSON index + 1 of every data row.
    malformed:
        Rows that could not be split into the header's columns:
        ``(row number, raw values, number of fields)``.
    footer_total:
        The count of a ``合计：N 条`` footer row, if any.
    typed_cells:
        True when cell types are known (XLSX), so text cells were typed as text.
    """

    sheet: str | None
    labels: list[str]
    assignment: dict[str, int]
    data: pa.Table
    rows: npt.NDArray[np.int64]
    malformed: list[tuple[int, list[str | None], int]] = field(default_factory=list)
    footer_total: int | None = None
    typed_cells: bool = False


@dataclass
class ReadResult:
    """What a reader found in one file."""

    sheets: list[RawSheet]
    encoding: str | None
    notes: list[Message] = field(default_factory=list)


# -------------------------------------------------------------------------- helpers


def cell_text(value: Any) -> str | None:  # noqa: PLR0911 - one return per type
    """The text of a spreadsheet or JSON value, keeping what the department typed.

    Parameters
    ----------
    value:
        A cell value (str, int, float, bool, date, datetime, time, Decimal) or
        a JSON value.

    Returns
    -------
    str | None
        Whole numbers below 10^15 as digits (``45778``, ``522325100201``);
        other numbers in Python's shortest round-trip form (``1234.5``,
        ``5.22325197007226e+17``); midnight datetimes as ``YYYY-MM-DD``; None for
        None.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value) if abs(value) < _MAX_EXACT else repr(float(value))
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < _MAX_EXACT:
            return str(int(value))
        return repr(value)
    if isinstance(value, Decimal):
        return cell_text(float(value)) if value == value.to_integral_value() else str(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def decode_text(data: bytes, encoding: str = "auto") -> tuple[str, str]:
    """Decode a text file.

    Parameters
    ----------
    data:
        The file's bytes.
    encoding:
        A codec name, or ``auto``: UTF-8 with BOM, UTF-16 with BOM, strict UTF-8,
        strict GB18030 (a superset of GBK and GB2312), then charset-normalizer.

    Returns
    -------
    tuple[str, str]
        The text (without BOM) and the encoding used.

    Raises
    ------
    IngestFileError
        ``not_text`` for binary content, ``undecodable`` otherwise.
    """
    if encoding != "auto":
        try:
            return data.decode(encoding).removeprefix("\ufeff"), encoding
        except UnicodeDecodeError as exc:
            raise IngestFileError.of("undecodable") from exc
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise IngestFileError.of("undecodable") from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16").removeprefix("\ufeff"), "utf-16"
        except UnicodeDecodeError as exc:
            raise IngestFileError.of("undecodable") from exc
    if b"\x00" in data:
        raise IngestFileError.of("not_text")
    for candidate in ("utf-8", "gb18030"):
        try:
            return data.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.chaos > _CHAOS_LIMIT:
        raise IngestFileError.of("undecodable")
    return str(best), str(best.encoding)


def _table_from_rows(rows: list[list[str | None]], width: int) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [()] * width
    return pa.table(
        {f"c{i}": pa.array(col, pa.string()) for i, col in enumerate(columns)},
    )


class _Collector:
    """Accumulates rows (lists of text) into Arrow chunks."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.rows: list[list[str | None]] = []
        self.numbers: list[int] = []
        self.tables: list[pa.Table] = []
        self.all_numbers: list[npt.NDArray[np.int64]] = []

    def add(self, number: int, cells: list[str | None]) -> None:
        if len(cells) < self.width:
            cells = cells + [None] * (self.width - len(cells))
        elif len(cells) > self.width:
            cells = cells[: self.width]
        self.rows.append(cells)
        self.numbers.append(number)
        if len(self.rows) >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.tables.append(_table_from_rows(self.rows, self.width))
            self.all_numbers.append(np.array(self.numbers, dtype=np.int64))
            self.rows, self.numbers = [], []

    def result(self) -> tuple[pa.Table, npt.NDArray[np.int64]]:
        self.flush()
        if not self.tables:
            return _empty_table(self.width), np.zeros(0, dtype=np.int64)
        return pa.concat_tables(self.tables), np.concatenate(self.all_numbers)


def _empty_table(width: int) -> pa.Table:
    return pa.table({f"c{i}": pa.array([], pa.string()) for i in range(width)})


def _drop_blank_and_footer(
    table: pa.Table, rows: npt.NDArray[np.int64]
) -> tuple[pa.Table, npt.NDArray[np.int64], int | None]:
    """Remove blank rows and footer rows; return the footer's ``合计`` count."""
    n = table.num_rows
    if n == 0 or table.num_columns == 0:
        return table, rows, None
    filled = np.zeros(n, dtype=np.int32)
    first: pa.Array = pa.nulls(n, pa.string())
    for i in range(table.num_columns - 1, -1, -1):
        col = table.column(i).combine_chunks()
        trimmed = pc.utf8_trim(col, characters=_TRIM)
        nonempty = pc.fill_null(pc.not_equal(trimmed, ""), False)
        filled += np.asarray(nonempty.to_numpy(zero_copy_only=False), dtype=np.int32)
        first = pc.if_else(nonempty, trimmed, first)
    blank = filled == 0
    footer_like = np.asarray(
        pc.fill_null(pc.match_substring_regex(first, _FOOTER.pattern), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    footer = footer_like & (filled <= 2)
    total: int | None = None
    for text in first.filter(pa.array(footer)).to_pylist():
        m = _FOOTER_TOTAL.match(text or "")
        if m and total is None:
            total = int(m.group(1))
    keep = ~(blank | footer)
    if keep.all():
        return table, rows, total
    return table.filter(pa.array(keep)), rows[keep], total


# ------------------------------------------------------------------------------ CSV


def _split_csv_record(text: str, delimiter: str) -> list[str]:
    return next(csv.reader([text], delimiter=delimiter), [])


def _fit(cells: list[str], width: int) -> list[str] | None:
    """The row cut to ``width`` when only empty cells are extra; None if malformed."""
    if len(cells) == width:
        return cells
    if len(cells) > width and all(not c.strip() for c in cells[width:]):
        return cells[:width]
    return None


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their line ends, without copying the whole text."""
    pos, end = 0, len(text)
    while pos < end:
        nl = text.find("\n", pos)
        stop = end if nl < 0 else nl + 1
        yield text[pos:stop]
        pos = stop


def _scan_csv(text: str, delimiter: str, n: int) -> list[tuple[int, list[str]]]:
    """The first ``n`` records with the number of the line each one ends on."""
    reader = csv.reader(_lines(text), delimiter=delimiter)
    out: list[tuple[int, list[str]]] = []
    for record in reader:
        out.append((reader.line_num, record))
        if len(out) >= n:
            break
    return out


def _byte_offset(data: bytes, lines: int, start: int = 0) -> int:
    """Byte offset just after the first ``lines`` lines from ``start``."""
    pos = start
    for _ in range(lines):
        nl = data.find(b"\n", pos)
        if nl < 0:
            return len(data)
        pos = nl + 1
    return pos


def _csv_arrow(
    buffer: pa.Buffer, first_line: int, width: int, delimiter: str
) -> tuple[pa.Table, npt.NDArray[np.int64], list[tuple[int, list[str | None], int]]]:
    """Split UTF-8 data lines (no quotes anywhere) with Arrow; exact line numbers."""
    names = [f"c{i}" for i in range(width)]
    bad: list[tuple[int, str]] = []

    def handler(row: Any) -> str:
        bad.append((int(row.number), str(row.text)))
        return "skip"

    table = pacsv.read_csv(
        pa.BufferReader(buffer),
        read_options=pacsv.ReadOptions(use_threads=False, column_names=names, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter,
            quote_char=False,
            ignore_empty_lines=False,
            invalid_row_handler=handler,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    # Arrow numbers lines from 1 within the text it was given.
    skipped = {number + first_line - 1 for number, _ in bad}
    total = table.num_rows + len(bad)
    candidates = np.arange(first_line, first_line + total, dtype=np.int64)
    if skipped:
        candidates = candidates[~np.isin(candidates, np.fromiter(skipped, dtype=np.int64))]
    rows = candidates[: table.num_rows]
    malformed: list[tuple[int, list[str | None], int]] = []
    extra: list[list[str | None]] = []
    extra_rows: list[int] = []
    for number, line in bad:
        cells = _split_csv_record(line, delimiter)
        fitted = _fit(cells, width)
        if not line.strip() or not any(c.strip() for c in cells):
            continue  # blank line
        if fitted is None:
            malformed.append((number + first_line - 1, list(cells), len(cells)))
        else:
            extra.append(list(fitted))
            extra_rows.append(number + first_line - 1)
    if extra:
        table = pa.concat_tables([table, _table_from_rows(extra, width)])
        rows = np.concatenate([rows, np.array(extra_rows, dtype=np.int64)])
        order = np.argsort(rows, kind="stable")
        table, rows = table.take(pa.array(order)), rows[order]
    return table, rows, malformed


def _csv_python(
    text: str, header_end: int, width: int, delimiter: str
) -> tuple[pa.Table, npt.NDArray[np.int64], list[tuple[int, list[str | None], int]]]:
    """Split the records after line ``header_end`` with Python's csv module."""
    reader = csv.reader(_lines(text), delimiter=delimiter)
    collector = _Collector(width)
    malformed: list[tuple[int, list[str | None], int]] = []
    previous = 0
    for record in reader:
        start, previous = previous + 1, reader.line_num
        if previous <= header_end:
            continue
        if not any(c.strip() for c in record):
            continue
        fitted = _fit(record, width)
        if fitted is None:
            malformed.append((start, list(record), len(record)))
        else:
            collector.add(start, list(fitted))
    table, rows = collector.result()
    return table, rows, malformed


def _no_header(mapping: SourceMapping, matcher: HeaderMatcher) -> IngestFileError:
    return IngestFileError.of(
        "no_header", rows=mapping.header.scan_rows, needed=matcher.min_matches
    )


def _check_required(matcher: HeaderMatcher, header: Header, sheet: str | None) -> None:
    missing = matcher.missing_required(header.assignment)
    if missing:
        mapping = matcher.mapping
        names = ", ".join(f"{mapping.field(m).headers[0]} ({m})" for m in missing)
        where = f"{sheet}: " if sheet else ""
        raise IngestFileError.of("missing_required_column", columns=where + names)


def read_csv(data: bytes, mapping: SourceMapping) -> ReadResult:
    """Read a CSV file (see the module documentation).

    A file Python's CSV parser cannot split (e.g. a bare carriage return inside an
    unquoted field) is ``unreadable``, with the parser's message and line.
    """
    try:
        return _read_csv(data, mapping)
    except csv.Error as exc:
        raise IngestFileError.of("unreadable", detail=f"CSV: {exc}") from None


def _read_csv(data: bytes, mapping: SourceMapping) -> ReadResult:
    text, encoding = decode_text(data, mapping.encoding)
    matcher = HeaderMatcher(mapping)
    scanned = _scan_csv(text, mapping.delimiter, mapping.header.scan_rows)
    header = matcher.detect([cells for _, cells in scanned])
    if header is None:
        raise _no_header(mapping, matcher)
    _check_required(matcher, header, None)
    header_end = scanned[header.last][0]
    width = len(header.labels)
    if '"' in text:
        table, rows, malformed = _csv_python(text, header_end, width, mapping.delimiter)
    else:
        # Arrow splits the UTF-8 bytes: the file's own when it is UTF-8 (no copy).
        if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig"):
            utf8, start = data, 3 if data.startswith(codecs.BOM_UTF8) else 0
        else:
            utf8, start = text.encode("utf-8"), 0
        del text, scanned
        offset = _byte_offset(utf8, header_end, start)
        buffer = pa.py_buffer(utf8).slice(offset)
        table, rows, malformed = _csv_arrow(buffer, header_end + 1, width, mapping.delimiter)
        del utf8, buffer
    table, rows, total = _drop_blank_and_footer(table, rows)
    sheet = RawSheet(None, header.labels, header.assignment, table, rows, malformed, total)
    return ReadResult([sheet], encoding)


# ----------------------------------------------------------------------------- XLSX


def _xlsx_rows(ws: Any) -> Iterator[tuple[int, list[str | None]]]:
    ws.reset_dimensions()  # do not trust the <dimension> the writer recorded
    for number, row in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1):
        yield number, [cell_text(v) for v in row]


def _read_sheet(ws: Any, matcher: HeaderMatcher) -> RawSheet | None:
    rows = _xlsx_rows(ws)
    scanned: list[tuple[int, list[str | None]]] = []
    for item in rows:
        scanned.append(item)
        if len(scanned) >= matcher.mapping.header.scan_rows:
            break
    header = matcher.detect([cells for _, cells in scanned])
    if header is None:
        return None
    _check_required(matcher, header, str(ws.title))
    width = len(header.labels)
    collector = _Collector(width)
    remaining: Iterable[tuple[int, list[str | None]]] = scanned[header.last + 1 :]
    for source in (remaining, rows):
        for number, cells in source:
            if any(c is not None and c.strip(_TRIM) for c in cells):
                collector.add(number, cells)
    table, numbers = collector.result()
    table, numbers, total = _drop_blank_and_footer(table, numbers)
    return RawSheet(
        str(ws.title), header.labels, header.assignment, table, numbers, [], total, True
    )


def read_xlsx(data: bytes, mapping: SourceMapping) -> ReadResult:
    """Read an XLSX workbook: the mapping's sheet, or every sheet with a recognised header."""
    import openpyxl

    matcher = HeaderMatcher(mapping)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError) as exc:
        raise IngestFileError.of("corrupt_xlsx", detail=str(exc) or type(exc).__name__) from exc
    except Exception as exc:  # lxml / ElementTree parse errors and the like
        raise IngestFileError.of("corrupt_xlsx", detail=str(exc) or type(exc).__name__) from exc
    try:
        if mapping.sheet is not None:
            if mapping.sheet not in workbook.sheetnames:
                raise IngestFileError.of("no_sheet", sheet=mapping.sheet)
            worksheets = [workbook[mapping.sheet]]
        else:
            worksheets = list(workbook.worksheets)
        sheets: list[RawSheet] = []
        notes: list[Message] = []
        for ws in worksheets:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    sheet = _read_sheet(ws, matcher)
            except IngestFileError:
                raise
            except Exception as exc:
                raise IngestFileError.of(
                    "corrupt_xlsx", detail=f"{ws.title}: {exc or type(exc).__name__}"
                ) from exc
            if sheet is None:
                notes.append(
                    Message(
                        "sheet_skipped",
                        f"工作表“{ws.title}”没有可识别的表头，已跳过",
                        f'sheet "{ws.title}" has no recognisable header and was skipped',
                    )
                )
            else:
                sheets.append(sheet)
        if not sheets:
            raise _no_header(mapping, matcher)
        return ReadResult(sheets, None, notes)
    finally:
        workbook.close()


# ----------------------------------------------------------------------------- JSON


def _records(document: Any, path: str | None) -> list[Any]:
    node = document
    for key in path.split(".") if path else []:
        if not isinstance(node, dict) or key not in node:
            raise IngestFileError.of("no_records", path=path)
        node = node[key]
    if not isinstance(node, list):
        raise IngestFileError.of("no_records", path=path or "(top level)")
    return node


def read_json(data: bytes, mapping: SourceMapping) -> ReadResult:
    """Read a JSON export: the list of objects at ``records_path``."""
    text, encoding = decode_text(data, mapping.encoding)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestFileError.of("invalid_json", detail=str(exc)) from exc
    records = _records(document, mapping.records_path)
    keys: dict[str, None] = {}
    for record in records:
        if isinstance(record, dict):
            keys.update(dict.fromkeys(str(k) for k in record))
    labels = list(keys)
    matcher = HeaderMatcher(mapping)
    assignment = matcher.assign(labels)
    if len(assignment) < matcher.min_matches and records:
        raise _no_header(mapping, matcher)
    header = Header(0, 1, labels, assignment)
    if records:
        _check_required(matcher, header, None)
    width = len(labels)
    collector = _Collector(width)
    malformed: list[tuple[int, list[str | None], int]] = []
    for i, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            if record is not None:
                malformed.append((i, [cell_text(record)], 1))
            continue
        cells = [cell_text(record.get(k)) for k in labels]
        if any(c is not None and c.strip(_TRIM) for c in cells):
            collector.add(i, cells)
    table, rows = collector.result()
    total = document.get("total") if isinstance(document, dict) else None
    footer_total = total if isinstance(total, int) and not isinstance(total, bool) else None
    sheet = RawSheet(None, labels, assignment, table, rows, malformed, footer_total)
    return ReadResult([sheet], encoding)


def read_file(data: bytes, mapping: SourceMapping) -> ReadResult:
    """Read one file's bytes in the mapping's format.

    Parameters
    ----------
    data:
        The file's bytes.
    mapping:
        Its source mapping (format, encoding, header aliases).

    Returns
    -------
    ReadResult
        The sheets' data rows as raw strings, the encoding used, notes.

    Raises
    ------
    IngestFileError
        When the file cannot be read (the error carries the reason in Chinese and
        English).
    """
    if mapping.format == "csv":
        return read_csv(data, mapping)
    if mapping.format == "xlsx":
        return read_xlsx(data, mapping)
    return read_json(data, mapping)
