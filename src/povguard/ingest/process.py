"""Apply a source mapping to the raw rows of a sheet: normalise, validate, quarantine.

Quarantine rule
---------------
A row is loaded unless

* a ``required`` field is unusable: empty (``required_missing``), invalid
  (``required_invalid``; for an ID: Excel-mangled gives ``id_excel_mangled``), or
* the mapping has ``identified_by`` alternatives and the row satisfies none of them
  (``unidentifiable``, or ``id_excel_mangled`` when an ID of the row was mangled), or
* the row could not be split into the header's columns (``malformed_row``).

Everything else is loaded: an invalid optional value loads as null, with the
problem and the original text in the row's ``_issues`` (JSON
``{"field": {"issue": code, "raw": text}}``); an ID field instead gets
``<field>_status`` and ``<field>_raw`` (see :mod:`povguard.ingest.normalise`), so
linkage can still use a mistyped or mangled ID's digits.

Duplicate rows (every value equal) are loaded as they are, each with its own
``_row``: telling a resent row from two real events is linkage's job, and the
file's row count must reconcile.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from povguard.ingest.mapping import ID_RAW_SUFFIX, ID_STATUS_SUFFIX, FieldSpec, SourceMapping
from povguard.ingest.messages import Message, issue_text, quarantine_message
from povguard.ingest.normalise import (
    NormalisedIds,
    normalise_codes,
    normalise_ids,
    normalise_names,
    normalise_pinyin,
    normalise_regions,
    normalise_texts,
    parse_dates,
    parse_floats,
    parse_ints,
    parse_money,
)
from povguard.ingest.readers import RawSheet

__all__ = ["QUARANTINE_SCHEMA", "FileContext", "SheetOutcome", "process_sheet", "raw_schema"]

_ARROW_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(),
    "name": pa.string(),
    "pinyin": pa.string(),
    "code": pa.string(),
    "region": pa.string(),
    "text": pa.string(),
    "date": pa.date32(),
    "money": pa.float64(),
    "float": pa.float64(),
    "int": pa.int64(),
}

#: Schema of table ``quarantine``.
QUARANTINE_SCHEMA = pa.schema(
    [
        ("period", pa.string()),
        ("source", pa.string()),
        ("file", pa.string()),
        ("sheet", pa.string()),
        ("row", pa.int64()),
        ("raw", pa.string()),
        ("reason", pa.string()),
        ("message_zh", pa.string()),
        ("message_en", pa.string()),
    ]
)


def raw_schema(mapping: SourceMapping) -> pa.Schema:
    """Schema of table ``raw_<source>`` for a mapping.

    Parameters
    ----------
    mapping:
        The source mapping.

    Returns
    -------
    pyarrow.Schema
        The fields in mapping order (``id``/``name``/``pinyin``/``code``/``region``/
        ``text`` string, ``date`` date32, ``money``/``float`` float64, ``int``
        int64; an ``id`` field followed by ``<field>_status`` and ``<field>_raw``),
        then ``_issues``, ``period``, ``_source``, ``_file``, ``_file_sha256``,
        ``_sheet`` (strings) and ``_row`` (int64).
    """
    cols: list[tuple[str, pa.DataType]] = []
    for f in mapping.fields:
        cols.append((f.name, _ARROW_TYPES[f.type]))
        if f.type == "id":
            cols.append((f.name + ID_STATUS_SUFFIX, pa.string()))
            cols.append((f.name + ID_RAW_SUFFIX, pa.string()))
    cols += [
        ("_issues", pa.string()),
        ("period", pa.string()),
        ("_source", pa.string()),
        ("_file", pa.string()),
        ("_file_sha256", pa.string()),
        ("_sheet", pa.string()),
        ("_row", pa.int64()),
    ]
    return pa.schema(cols)


@dataclass(frozen=True)
class FileContext:
    """Where the rows come from."""

    source: str
    period: str
    period_end: dt.date
    file: str
    sha256: str
    regions: frozenset[str] | None = None  # known region codes (the registry's region table)


@dataclass
class SheetOutcome:
    """Loaded rows and quarantined rows of one sheet."""

    loaded: pa.Table
    quarantined: pa.Table
    rows_read: int
    notes: list[Message] = field(default_factory=list)


@dataclass
class _Column:
    values: pa.Array
    issues: pa.Array | None = None  # non-ID fields
    ids: NormalisedIds | None = None  # ID fields
    raw: pa.Array | None = None


def _normalise(f: FieldSpec, raw: pa.Array, ctx: FileContext, text_only: bool) -> _Column:
    if f.type == "id":
        ids = normalise_ids(raw, latest=ctx.period_end, text_only=text_only)
        return _Column(ids.values, ids=ids, raw=raw)
    if f.type == "name":
        return _Column(normalise_names(raw), raw=raw)
    if f.type == "pinyin":
        return _Column(normalise_pinyin(raw), raw=raw)
    if f.type == "text":
        return _Column(normalise_texts(raw), raw=raw)
    if f.type == "code":
        out = normalise_codes(raw, values=f.values, value_map=f.value_map)
    elif f.type == "region":
        out = normalise_regions(raw, known=ctx.regions)
    elif f.type == "date":
        latest = (
            None if f.max_future_days is None else ctx.period_end + dt.timedelta(f.max_future_days)
        )
        out = parse_dates(raw, earliest=f.min_date, latest=latest)
    elif f.type == "money":
        out = parse_money(raw)
    elif f.type == "int":
        out = parse_ints(raw)
    else:
        out = parse_floats(raw)
    return _Column(out.values, issues=out.issues, raw=raw)


def _bools(arr: pa.Array) -> npt.NDArray[np.bool_]:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _has_text(raw: pa.Array) -> npt.NDArray[np.bool_]:
    trimmed = pc.utf8_trim(raw, characters=" \t\r\n\u00a0\u3000\ufeff")
    return _bools(pc.not_equal(trimmed, ""))


def _row_json(labels: list[str], cells: list[Any]) -> str:
    return json.dumps(dict(zip(labels, cells, strict=False)), ensure_ascii=False)


class _Checker:
    """Per-row usability of fields, for the required and identity checks."""

    def __init__(self, mapping: SourceMapping, columns: dict[str, _Column], n: int) -> None:
        self.mapping = mapping
        self.columns = columns
        self.n = n
        self._cache: dict[str, npt.NDArray[np.bool_]] = {}

    def usable(self, name: str) -> npt.NDArray[np.bool_]:
        if name not in self._cache:
            if name.endswith(ID_RAW_SUFFIX) and name[: -len(ID_RAW_SUFFIX)] in self.columns:
                raw = self.columns[name[: -len(ID_RAW_SUFFIX)]].raw
                assert raw is not None
                self._cache[name] = _has_text(raw)
            else:
                self._cache[name] = _bools(pc.is_valid(self.columns[name].values))
        return self._cache[name]

    def required_failures(self) -> npt.NDArray[np.bool_]:
        bad = np.zeros(self.n, dtype=bool)
        for f in self.mapping.fields:
            if f.required:
                bad |= ~self.usable(f.name)
        return bad

    def unidentified(self) -> npt.NDArray[np.bool_]:
        if not self.mapping.identified_by:
            return np.zeros(self.n, dtype=bool)
        ok = np.zeros(self.n, dtype=bool)
        for option in self.mapping.identified_by:
            both = np.ones(self.n, dtype=bool)
            for name in option:
                both &= self.usable(name)
            ok |= both
        return ~ok


def _consistency(mapping: SourceMapping, columns: dict[str, _Column]) -> dict[int, dict[str, Any]]:
    """Rows whose valid ID disagrees with the record's own birth date or sex.

    Both values are kept (one of them is wrong, the record cannot say which); the
    disagreement is noted under the ID field as ``id_birth_mismatch`` or
    ``id_sex_mismatch`` so linkage and quality reports can weigh it.
    """
    keys = mapping.person_keys
    if keys is None or keys.id is None or keys.id not in columns:
        return {}
    ids = columns[keys.id].values
    out: dict[int, dict[str, Any]] = {}
    checks = []
    if keys.birth_date and keys.birth_date in columns:
        births = pc.strftime(columns[keys.birth_date].values, format="%Y%m%d")
        checks.append(("id_birth_mismatch", pc.utf8_slice_codeunits(ids, 6, 14), births))
    if keys.sex and keys.sex in columns:
        parity = pc.utf8_slice_codeunits(ids, 16, 17)
        male = pc.is_in(parity, value_set=pa.array(list("13579")))
        from_id = pc.if_else(male, pa.scalar("男"), pa.scalar("女"))
        checks.append(("id_sex_mismatch", from_id, columns[keys.sex].values))
    for code, from_id, own in checks:
        bad = pc.fill_null(pc.not_equal(from_id, own), False)
        for i in np.flatnonzero(_bools(bad)).tolist():
            out.setdefault(i, {})[keys.id] = {"issue": code, "raw": own[i].as_py()}
    return out


def _issues_column(mapping: SourceMapping, columns: dict[str, _Column], n: int) -> pa.Array:
    """JSON ``{"field": {"issue": code, "raw": text}}`` for rows with an invalid value.

    Also notes IDs that disagree with the record's birth date or sex (values kept).
    """
    per_row: dict[int, dict[str, dict[str, Any]]] = {}
    for i, issues in _consistency(mapping, columns).items():
        per_row.setdefault(i, {}).update(issues)
    for f in mapping.fields:
        col = columns[f.name]
        if col.issues is None or col.issues.null_count == len(col.issues):
            continue
        where = np.flatnonzero(_bools(pc.is_valid(col.issues)))
        codes = col.issues.take(pa.array(where)).to_pylist()
        assert col.raw is not None
        raws = col.raw.take(pa.array(where)).to_pylist()
        for i, code, raw in zip(where.tolist(), codes, raws, strict=True):
            per_row.setdefault(i, {})[f.name] = {"issue": code, "raw": raw}
    if not per_row:
        return pa.nulls(n, pa.string())
    texts: list[str | None] = [None] * n
    for i, issues in per_row.items():
        texts[i] = json.dumps(issues, ensure_ascii=False)
    return pa.array(texts, pa.string())


def _header_of(sheet: RawSheet, name: str, f: FieldSpec) -> str:
    col = sheet.assignment.get(name)
    return sheet.labels[col] if col is not None else f.headers[0]


def _reason(
    i: int,
    mapping: SourceMapping,
    sheet: RawSheet,
    columns: dict[str, _Column],
    checker: _Checker,
) -> Message:
    """Why row ``i`` is quarantined."""
    for f in mapping.fields:
        if not f.required or checker.usable(f.name)[i]:
            continue
        col = columns[f.name]
        assert col.raw is not None
        value = col.raw[i].as_py()
        header = _header_of(sheet, f.name, f)
        if col.ids is not None:
            status = col.ids.status[i].as_py()
            if status == "excel_mangled":
                return quarantine_message(
                    "id_excel_mangled", header=header, field=f.name, value=value
                )
            issue = None if status == "missing" else status
        else:
            issue = col.issues[i].as_py() if col.issues is not None else None
        if issue is None and not (value or "").strip():
            return quarantine_message("required_missing", header=header, field=f.name)
        zh, en = issue_text(issue or "invalid")
        return quarantine_message(
            "required_invalid", header=header, field=f.name, value=value, issue_zh=zh, issue_en=en
        )
    for name in mapping.id_fields:
        ids = columns[name].ids
        if ids is not None and ids.status[i].as_py() == "excel_mangled":
            raw = columns[name].raw
            assert raw is not None
            f = mapping.field(name)
            return quarantine_message(
                "id_excel_mangled",
                header=_header_of(sheet, name, f),
                field=name,
                value=raw[i].as_py(),
            )
    options_zh = " / ".join(
        "+".join(_option_label(sheet, mapping, name) for name in option)
        for option in mapping.identified_by
    )
    options_en = " | ".join(" + ".join(option) for option in mapping.identified_by)
    return quarantine_message("unidentifiable", options_zh=options_zh, options_en=options_en)


def _option_label(sheet: RawSheet, mapping: SourceMapping, name: str) -> str:
    if name.endswith(ID_RAW_SUFFIX) and name not in {f.name for f in mapping.fields}:
        base = name[: -len(ID_RAW_SUFFIX)]
        return _header_of(sheet, base, mapping.field(base)) + "（原文）"
    return _header_of(sheet, name, mapping.field(name))


def _quarantine_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA)


def process_sheet(mapping: SourceMapping, sheet: RawSheet, ctx: FileContext) -> SheetOutcome:
    """Normalise and validate one sheet's rows.

    Parameters
    ----------
    mapping:
        The source mapping.
    sheet:
        Raw rows from a reader.
    ctx:
        Source, period and file of the rows (lineage).

    Returns
    -------
    SheetOutcome
        Rows to load (schema :func:`raw_schema`), quarantined rows (schema
        :data:`QUARANTINE_SCHEMA`) and the number of rows read.
    """
    n = sheet.data.num_rows
    text_only = not sheet.typed_cells
    columns: dict[str, _Column] = {}
    for f in mapping.fields:
        idx = sheet.assignment.get(f.name)
        raw = pa.nulls(n, pa.string()) if idx is None else sheet.data.column(idx).combine_chunks()
        columns[f.name] = _normalise(f, raw, ctx, text_only)

    checker = _Checker(mapping, columns, n)
    rejected = checker.required_failures() | checker.unidentified()
    keep = pa.array(~rejected)

    arrays: list[pa.Array] = []
    for f in mapping.fields:
        col = columns[f.name]
        arrays.append(col.values)
        if col.ids is not None:
            arrays += [col.ids.status, col.ids.raw]
    arrays.append(_issues_column(mapping, columns, n))
    lineage = {
        "period": ctx.period,
        "_source": ctx.source,
        "_file": ctx.file,
        "_file_sha256": ctx.sha256,
        "_sheet": sheet.sheet,
    }
    schema = raw_schema(mapping)
    arrays += [pa.array([value] * n, pa.string()) for value in lineage.values()]
    arrays.append(pa.array(sheet.rows, pa.int64()))
    table = pa.Table.from_arrays(arrays, schema=schema)
    loaded = table.filter(keep) if rejected.any() else table

    quarantined: list[dict[str, Any]] = []
    base = {"period": ctx.period, "source": ctx.source, "file": ctx.file, "sheet": sheet.sheet}
    rejected_rows = np.flatnonzero(rejected)
    raw_rows = sheet.data.take(pa.array(rejected_rows)).to_pylist() if rejected_rows.size else []
    for i, record in zip(rejected_rows.tolist(), raw_rows, strict=True):
        message = _reason(i, mapping, sheet, columns, checker)
        cells = list(record.values())
        quarantined.append(
            {
                **base,
                "row": int(sheet.rows[i]),
                "raw": _row_json(sheet.labels, cells),
                "reason": message.code,
                "message_zh": message.zh,
                "message_en": message.en,
            }
        )
    width = len(sheet.labels)
    for number, cells, found in sheet.malformed:
        message = quarantine_message("malformed_row", found=found, expected=width)
        labels = sheet.labels + [f"列{j + 1}" for j in range(width, len(cells))]
        quarantined.append(
            {
                **base,
                "row": number,
                "raw": _row_json(labels, cells),
                "reason": message.code,
                "message_zh": message.zh,
                "message_en": message.en,
            }
        )
    quarantined.sort(key=lambda r: r["row"])
    return SheetOutcome(
        loaded=loaded,
        quarantined=_quarantine_table(quarantined),
        rows_read=n + len(sheet.malformed),
    )
