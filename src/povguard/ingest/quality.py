"""Data-quality report per source and delivery period (issue 4, item 6).

:func:`build_quality` measures, in the engine, what each department delivered for a
period and stores one row per source in table ``quality`` (replaced per period, so a
re-run changes nothing). Only the small per-source aggregates leave the engine.

Measures (rates are shares in ``[0, 1]``; NULL when there is nothing to measure,
because unknown is not good):

* **volume**: files and failed files, rows read / loaded / quarantined (from
  ``ingest_files``) and the quarantine rate (quarantined / read);
* **completeness**: share of non-null loaded values over the mapping's fields
  (``completeness``), over its required fields (``completeness_required``) and per
  field (``field_completeness``, JSON ``{field: share}``);
* **validity**: share of loaded rows without ``_issues`` entries and without an
  invalid ID (any ``<id>_status`` other than ``ok``, ``upgraded15`` or ``missing``);
* **ID-valid rate**: share of ID values that are valid (``ok`` or ``upgraded15``)
  among the ID values present (status not ``missing``), over all ID fields;
* **uniqueness**: share of loaded rows whose record key occurs once in the period
  (NULLs in a key compare equal, as in SQL ``GROUP BY``);
* **timeliness**: lag in days from the record's main date to the last day of the
  delivery period (``period end - date``): 0 for a record dated on the period's last
  day, larger for older records, negative for dates after the period. The main
  date is the record's own date: the mapping's last ``date`` field that is neither
  the person's birth date nor a date without a future bound (a loan's due date),
  e.g. ``settle_date`` of medical claims (after admission and discharge),
  ``change_date`` of civil affairs, ``report_date`` of agriculture; see
  :func:`main_date_field`; ``date_fields`` overrides it per source;
* **quarantine reasons**: JSON ``{reason: rows}``;
* **linkage** (when table ``links`` has the period): share of the source's records
  linked to a household, and the method mix (JSON ``{method: records}``).

Files that matched no mapping are reported under the source ``_unmatched``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from povguard.engine import Engine
from povguard.errors import ConfigError, DataError
from povguard.ingest.mapping import (
    ID_RAW_SUFFIX,
    ID_STATUS_SUFFIX,
    LINEAGE_COLUMNS,
    SourceMapping,
    load_mappings,
)
from povguard.ingest.run import FILES_TABLE, QUARANTINE_TABLE, period_end, raw_table_name

__all__ = [
    "QUALITY_COLUMNS",
    "QUALITY_SCHEMA",
    "QUALITY_TABLE",
    "UNMATCHED_SOURCE",
    "build_quality",
    "export_quality_html",
    "export_quality_xlsx",
    "ingested_periods",
    "main_date_field",
    "quality_rich_table",
    "quality_trend",
]

#: Name of the table holding the report (one row per period and source).
QUALITY_TABLE = "quality"
#: Source name of the row counting files that matched no source mapping.
UNMATCHED_SOURCE = "_unmatched"
_LINKS_TABLE = "links"  # povguard.linkage.LINKS (not imported: ingest must not need linkage)
_VALID_ID = ("ok", "upgraded15")
_NOT_INVALID_ID = ("ok", "upgraded15", "missing")

#: Schema of table ``quality``.
QUALITY_SCHEMA = pa.schema(
    [
        ("period", pa.string()),
        ("source", pa.string()),
        ("department", pa.string()),
        ("department_en", pa.string()),
        ("files", pa.int64()),
        ("files_failed", pa.int64()),
        ("rows_read", pa.int64()),
        ("rows_loaded", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("quarantine_rate", pa.float64()),
        ("completeness", pa.float64()),
        ("completeness_required", pa.float64()),
        ("field_completeness", pa.string()),
        ("validity", pa.float64()),
        ("id_values", pa.int64()),
        ("id_valid_rate", pa.float64()),
        ("record_key", pa.string()),
        ("uniqueness", pa.float64()),
        ("duplicate_rows", pa.int64()),
        ("date_field", pa.string()),
        ("dated_rows", pa.int64()),
        ("lag_median_days", pa.float64()),
        ("lag_max_days", pa.int64()),
        ("quarantine_reasons", pa.string()),
        ("linked_rows", pa.int64()),
        ("link_rate", pa.float64()),
        ("link_methods", pa.string()),
    ]
)

#: Column labels (Chinese, English) and display kinds (``text``, ``int``, ``pct``,
#: ``days``, ``json``) for exports, in display order.
QUALITY_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("period", "期次", "Period", "text"),
    ("source", "数据源", "Source", "text"),
    ("department", "部门", "Department", "text"),
    ("department_en", "部门（英文）", "Department (English)", "text"),
    ("files", "文件数", "Files", "int"),
    ("files_failed", "失败文件数", "Failed files", "int"),
    ("rows_read", "读入行数", "Rows read", "int"),
    ("rows_loaded", "载入行数", "Rows loaded", "int"),
    ("rows_quarantined", "隔离行数", "Rows quarantined", "int"),
    ("quarantine_rate", "隔离率", "Quarantine rate", "pct"),
    ("completeness", "完整性", "Completeness", "pct"),
    ("completeness_required", "必填字段完整性", "Required-field completeness", "pct"),
    ("validity", "有效性", "Validity", "pct"),
    ("id_values", "身份证号数", "ID values", "int"),
    ("id_valid_rate", "身份证号有效率", "ID-valid rate", "pct"),
    ("uniqueness", "唯一性", "Uniqueness", "pct"),
    ("duplicate_rows", "重复记录数", "Rows with a repeated key", "int"),
    ("record_key", "记录键", "Record key", "text"),
    ("date_field", "时效日期字段", "Timeliness date field", "text"),
    ("dated_rows", "有日期行数", "Rows with a date", "int"),
    ("lag_median_days", "滞后中位数（天）", "Median lag (days)", "days"),
    ("lag_max_days", "最大滞后（天）", "Max lag (days)", "days"),
    ("linked_rows", "已关联行数", "Rows linked", "int"),
    ("link_rate", "关联率", "Link rate", "pct"),
    ("link_methods", "关联方式", "Link methods", "json"),
    ("quarantine_reasons", "隔离原因", "Quarantine reasons", "json"),
    ("field_completeness", "各字段完整性", "Completeness per field", "json"),
)

_REASON_LABELS: dict[str, str] = {
    "required_missing": "必填缺失",
    "required_invalid": "必填无效",
    "id_excel_mangled": "身份证号被Excel损坏",
    "unidentifiable": "无法识别对象",
    "malformed_row": "列数不符",
}
_METHOD_LABELS: dict[str, str] = {
    "id": "身份证号",
    "relative": "亲属",
    "household_no": "户编号",
    "name_birth": "姓名+出生日期",
    "name_village": "姓名+村",
    "unlinked": "未关联",
    "ambiguous": "多个候选",
}


# ----------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class _Spec:
    """What the report needs to know of a source."""

    source: str
    department: str | None
    department_en: str | None
    fields: tuple[str, ...]
    required: tuple[str, ...]
    id_fields: tuple[str, ...]
    record_key: tuple[str, ...]
    date_field: str | None


def main_date_field(mapping: SourceMapping) -> str | None:
    """The date field whose lag behind the period measures a source's timeliness.

    Parameters
    ----------
    mapping:
        A source mapping.

    Returns
    -------
    str or None
        The record's own date: the last ``date`` field in mapping order that is
        neither the person's birth date (``person_keys.birth_date``, or a field
        named ``birth_date``) nor a date without a future bound
        (``max_future_days: null``, e.g. a loan's due date). Mappings list a
        record's dates in the order things happen (admission, discharge,
        settlement), so the last one is when the department recorded it. The
        first ``date`` field if every one is excluded; None without date fields.
    """
    dates = [f for f in mapping.fields if f.type == "date"]
    birth = mapping.person_keys.birth_date if mapping.person_keys else None
    own = [
        f for f in dates if f.name not in (birth, "birth_date") and f.max_future_days is not None
    ]
    if own:
        return own[-1].name
    return dates[0].name if dates else None


def _spec_of_mapping(mapping: SourceMapping, date_field: str | None) -> _Spec:
    return _Spec(
        source=mapping.source,
        department=mapping.department,
        department_en=mapping.department_en,
        fields=tuple(f.name for f in mapping.fields),
        required=tuple(f.name for f in mapping.fields if f.required),
        id_fields=tuple(mapping.id_fields),
        record_key=tuple(mapping.record_key),
        date_field=date_field or main_date_field(mapping),
    )


def _spec_of_table(source: str, schema: Any, date_field: str | None) -> _Spec:
    """A spec read off a raw table whose mapping is not known (no required fields, no key)."""
    names = [c for c in schema.names if c not in LINEAGE_COLUMNS]
    ids = tuple(c for c in names if c + ID_STATUS_SUFFIX in names and c + ID_RAW_SUFFIX in names)
    generated = {c + s for c in ids for s in (ID_STATUS_SUFFIX, ID_RAW_SUFFIX)}
    fields = tuple(c for c in names if c not in generated)
    dates = [c for c in fields if schema[c].is_date()]
    return _Spec(
        source=source,
        department=None,
        department_en=None,
        fields=fields,
        required=(),
        id_fields=ids,
        record_key=(),
        date_field=date_field or (dates[0] if dates else None),
    )


# --------------------------------------------------------------------------- measures


def _share(part: int | None, whole: int | None) -> float | None:
    if part is None or not whole:
        return None
    return part / whole


def _as_int(value: Any) -> int:
    return 0 if value is None else int(value)


def _source_measures(engine: Engine, period: str, end: dt.date, spec: _Spec) -> dict[str, Any]:
    """Completeness, validity, ID validity, timeliness and uniqueness of one source."""
    name = raw_table_name(spec.source)
    out: dict[str, Any] = {
        "record_key": "+".join(spec.record_key) or None,
        "date_field": spec.date_field,
    }
    if not engine.exists(name):
        return out
    t = engine.table(name)
    t = t.filter(t.period == period)
    cols = set(t.columns)
    fields = [f for f in spec.fields if f in cols]
    required = [f for f in spec.required if f in cols]
    ids = [f for f in spec.id_fields if f + ID_STATUS_SUFFIX in cols]
    aggs: dict[str, Any] = {"n": t.count()}
    for i, f in enumerate(fields):
        aggs[f"nn{i}"] = t[f].count()
    valid = t["_issues"].isnull() | t["_issues"].isin(["", "{}"])
    for j, f in enumerate(ids):
        status = t[f + ID_STATUS_SUFFIX]
        valid = valid & (status.isnull() | status.isin(list(_NOT_INVALID_ID)))
        aggs[f"idp{j}"] = t.count(where=(status.notnull() & (status != "missing")).fill_null(False))
        aggs[f"idv{j}"] = t.count(where=status.isin(list(_VALID_ID)).fill_null(False))
    aggs["valid"] = t.count(where=valid.fill_null(False))
    date = spec.date_field if spec.date_field in cols else None
    if date is not None:
        lag = ibis.date(end).delta(t[date], unit="day")
        aggs["dated"] = t[date].count()
        aggs["lag_median"] = lag.median().cast("float64")
        aggs["lag_max"] = lag.max().cast("int64")
    row = engine.fetch(t.aggregate(**aggs)).to_pylist()[0]
    n = _as_int(row["n"])
    nonnull = {f: _as_int(row[f"nn{i}"]) for i, f in enumerate(fields)}
    out["completeness"] = _share(sum(nonnull.values()), n * len(fields))
    out["completeness_required"] = _share(sum(nonnull[f] for f in required), n * len(required))
    out["field_completeness"] = (
        json.dumps({f: round(c / n, 6) for f, c in nonnull.items()}, ensure_ascii=False)
        if n
        else None
    )
    out["validity"] = _share(_as_int(row["valid"]), n)
    present = sum(_as_int(row[f"idp{j}"]) for j in range(len(ids)))
    out["id_values"] = present if ids else None
    out["id_valid_rate"] = _share(sum(_as_int(row[f"idv{j}"]) for j in range(len(ids))), present)
    if date is not None:
        out["dated_rows"] = _as_int(row["dated"])
        out["lag_median_days"] = row["lag_median"]
        out["lag_max_days"] = row["lag_max"]
    keys = [k for k in spec.record_key if k in cols]
    if keys and len(keys) == len(spec.record_key) and n:
        groups = t.group_by(keys).aggregate(_k=ibis._.count())
        unique = groups.aggregate(u=groups.count(where=groups["_k"] == 1))
        unique_rows = _as_int(engine.fetch(unique).to_pylist()[0]["u"])
        out["uniqueness"] = unique_rows / n
        out["duplicate_rows"] = n - unique_rows
    return out


def _files_by_source(engine: Engine, period: str) -> dict[str, dict[str, Any]]:
    f = engine.table(FILES_TABLE)
    f = f.filter(f.period == period).mutate(source=f.source.fill_null(UNMATCHED_SOURCE))
    expr = f.group_by("source").aggregate(
        files=f.count(),
        files_failed=f.count(where=(f.status == "failed").fill_null(False)),
        rows_read=f.rows_read.sum(),
        rows_loaded=f.rows_loaded.sum(),
        rows_quarantined=f.rows_quarantined.sum(),
    )
    return {str(r.pop("source")): r for r in engine.fetch(expr).to_pylist()}


def _counts_by(engine: Engine, table: str, period: str, key: str) -> dict[str, dict[str, int]]:
    """``{source: {key value: rows}}`` of a period (table ``quarantine`` or ``links``)."""
    if not engine.exists(table):
        return {}
    t = engine.table(table)
    t = t.filter(t.period == period)
    expr = t.group_by(["source", key]).aggregate(n=t.count())
    out: dict[str, dict[str, int]] = {}
    for r in engine.fetch(expr).to_pylist():
        out.setdefault(str(r["source"]), {})[str(r[key])] = int(r["n"])
    return out


def _linked_by_source(engine: Engine, period: str) -> dict[str, tuple[int, int]]:
    """``{source: (records, records linked to a household)}`` of a period."""
    if not engine.exists(_LINKS_TABLE):
        return {}
    t = engine.table(_LINKS_TABLE)
    t = t.filter(t.period == period)
    expr = t.group_by("source").aggregate(n=t.count(), linked=t.household_id.count())
    return {
        str(r["source"]): (int(r["n"]), int(r["linked"])) for r in engine.fetch(expr).to_pylist()
    }


def _dumps(counts: Mapping[str, int]) -> str:
    ordered = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return json.dumps(ordered, ensure_ascii=False)


def ingested_periods(engine: Engine) -> list[str]:
    """Periods that have an ingest ledger (rows in ``ingest_files``), in order.

    Parameters
    ----------
    engine:
        The analytics store.

    Returns
    -------
    list[str]
        ``YYYY-MM`` periods, oldest first; empty when nothing was ingested.
    """
    if not engine.exists(FILES_TABLE):
        return []
    t = engine.table(FILES_TABLE)
    periods = engine.fetch(t.select("period").distinct())["period"].to_pylist()
    return sorted(str(p) for p in periods if p is not None)


def build_quality(
    engine: Engine,
    period: str,
    mappings: Mapping[str, SourceMapping] | None = None,
    *,
    date_fields: Mapping[str, str] | None = None,
    store: bool = True,
) -> pa.Table:
    """Measure the data quality of every source delivered in ``period``.

    Parameters
    ----------
    engine:
        The analytics store, after the ingest (and, for link rates, the link) stage
        of ``period``.
    period:
        Delivery period ``YYYY-MM``.
    mappings:
        Source mappings by source id (default: the packaged ones). A source
        without a mapping is measured from its table's columns (no required
        fields, no record key).
    date_fields:
        Per source, the date field to measure timeliness with, instead of
        :func:`main_date_field`.
    store:
        Write the result to table ``quality`` (replacing the period's rows).

    Returns
    -------
    pyarrow.Table
        One row per source that had a file in the period (schema
        :data:`QUALITY_SCHEMA`), sorted by source, ``_unmatched`` last.

    Raises
    ------
    ConfigError
        If ``period`` is not ``YYYY-MM``, or ``date_fields`` names a field that is
        not a date field of the source's mapping.
    DataError
        If the store has no ingest for ``period``.
    """
    end = period_end(period)
    files = _files_by_source(engine, period) if engine.exists(FILES_TABLE) else {}
    if not files:
        raise DataError(
            f"no ingest for period {period} in the analytics store: run the cycle first"
        )
    mappings = load_mappings() if mappings is None else mappings
    date_fields = date_fields or {}
    for source, name in date_fields.items():
        mapping = mappings.get(source)
        if mapping is not None and name not in {f.name for f in mapping.fields if f.type == "date"}:
            raise ConfigError(f"date_fields: {name!r} is not a date field of source {source!r}")
    reasons = _counts_by(engine, QUARANTINE_TABLE, period, "reason")
    methods = _counts_by(engine, _LINKS_TABLE, period, "method")
    linked = _linked_by_source(engine, period)
    rows: list[dict[str, Any]] = []
    for source in sorted(files, key=lambda s: (s == UNMATCHED_SOURCE, s)):
        counts = files[source]
        row: dict[str, Any] = {
            "period": period,
            "source": source,
            "files": _as_int(counts["files"]),
            "files_failed": _as_int(counts["files_failed"]),
            "rows_read": _as_int(counts["rows_read"]),
            "rows_loaded": _as_int(counts["rows_loaded"]),
            "rows_quarantined": _as_int(counts["rows_quarantined"]),
        }
        row["quarantine_rate"] = _share(row["rows_quarantined"], row["rows_read"])
        if source == UNMATCHED_SOURCE:
            row["department"], row["department_en"] = "未匹配任何数据源的文件", "unmatched files"
            rows.append(row)
            continue
        row["quarantine_reasons"] = _dumps(reasons.get(source, {}))
        if source in linked:
            total, hits = linked[source]
            row["linked_rows"] = hits
            row["link_rate"] = _share(hits, total)
            row["link_methods"] = _dumps(methods.get(source, {}))
        mapping = mappings.get(source)
        if mapping is not None:
            spec = _spec_of_mapping(mapping, date_fields.get(source))
        elif engine.exists(raw_table_name(source)):
            schema = engine.table(raw_table_name(source)).schema()
            spec = _spec_of_table(source, schema, date_fields.get(source))
        else:
            rows.append(row)
            continue
        row["department"], row["department_en"] = spec.department, spec.department_en
        row.update(_source_measures(engine, period, end, spec))
        rows.append(row)
    table = pa.Table.from_pylist(rows, schema=QUALITY_SCHEMA)
    if store:
        engine.replace_period(QUALITY_TABLE, period, table)
    return table


def quality_trend(
    engine: Engine,
    sources: Iterable[str] | None = None,
    *,
    until: str | None = None,
) -> pa.Table:
    """The stored quality rows across periods, for trends.

    Parameters
    ----------
    engine:
        The analytics store.
    sources:
        Only these sources (default: all).
    until:
        Only periods up to and including this one (default: all).

    Returns
    -------
    pyarrow.Table
        Rows of table ``quality`` (schema :data:`QUALITY_SCHEMA`) sorted by period
        and source; empty when nothing was computed yet.
    """
    if not engine.exists(QUALITY_TABLE):
        return QUALITY_SCHEMA.empty_table()
    t = engine.table(QUALITY_TABLE)
    if sources is not None:
        t = t.filter(t.source.isin(list(sources)))
    if until is not None:
        t = t.filter(t.period <= until)
    t = t.select(*QUALITY_SCHEMA.names).order_by(["period", "source"])
    return engine.fetch(t).cast(QUALITY_SCHEMA)


# ---------------------------------------------------------------------------- display


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _days(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:g}"


def _json_text(column: str, text: str | None) -> str:
    """``无法识别对象 unidentifiable 3；…`` for a JSON column, readable by people."""
    if not text:
        return ""
    data: dict[str, Any] = json.loads(text)
    if column == "field_completeness":
        return "；".join(f"{k} {_pct(v)}" for k, v in data.items())
    labels = _REASON_LABELS if column == "quarantine_reasons" else _METHOD_LABELS
    return "；".join(f"{labels.get(k, k)} {k} {v}" for k, v in data.items())


def _display(column: str, kind: str, value: Any) -> str:
    if kind == "pct":
        return _pct(value)
    if kind == "json":
        return _json_text(column, value)
    if kind == "days":
        return _days(value)
    if kind == "int":
        return "—" if value is None else f"{value:,}"
    return "" if value is None else str(value)


def quality_rich_table(table: pa.Table, period: str | None = None) -> Any:
    """A rich table of the main measures of one period, for the terminal.

    Parameters
    ----------
    table:
        Quality rows (schema :data:`QUALITY_SCHEMA`).
    period:
        The period to show (default: the latest in ``table``).

    Returns
    -------
    rich.table.Table
        Source, rows, quarantine, completeness, validity, ID-valid rate,
        uniqueness, lag and link rate.
    """
    from rich import box
    from rich.table import Table

    rows = table.to_pylist()
    if period is None and rows:
        period = max(str(r["period"]) for r in rows)
    shown = [r for r in rows if r["period"] == period]
    out = Table(
        title=f"数据质量 data quality {period or ''}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        caption="完整/有效/证号有效/唯一/关联: 占比 shares; 滞后 lag: 天 days to period end",
    )
    columns = [
        ("source", "数据源\nsource", "text"),
        ("rows_read", "读入\nread", "int"),
        ("rows_loaded", "载入\nloaded", "int"),
        ("rows_quarantined", "隔离\nquar.", "int"),
    ]
    if any(r["files_failed"] for r in shown):
        columns.append(("files_failed", "失败文件\nfailed", "int"))
    columns += [
        ("completeness", "完整\ncompl.", "pct"),
        ("validity", "有效\nvalid", "pct"),
        ("id_valid_rate", "证号有效\nID ok", "pct"),
        ("uniqueness", "唯一\nunique", "pct"),
        ("lag_median_days", "滞后中位\nlag med", "days"),
        ("lag_max_days", "最大滞后\nlag max", "days"),
        ("link_rate", "关联\nlinked", "pct"),
    ]
    for _key, label, kind in columns:
        out.add_column(label, justify="left" if kind == "text" else "right", no_wrap=True)
    for r in shown:
        out.add_row(*(_display(key, kind, r[key]) for key, _, kind in columns))
    return out


# ----------------------------------------------------------------------------- export


def _periods(table: pa.Table) -> list[str]:
    return sorted({str(p) for p in table.column("period").to_pylist()})


def export_quality_xlsx(table: pa.Table, path: Path | str) -> Path:
    """Write the report to an XLSX workbook, one sheet per period.

    Each sheet has a header row in Chinese and a second one in English, then one
    row per source; rates are numbers formatted as percentages, JSON columns
    (quarantine reasons, link methods, completeness per field) readable text.

    Parameters
    ----------
    table:
        Quality rows (schema :data:`QUALITY_SCHEMA`), one or more periods.
    path:
        The ``.xlsx`` file to write (its folder is created).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import xlsxwriter

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = table.to_pylist()
    book = xlsxwriter.Workbook(str(target))
    try:
        head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        head_en = book.add_format({"italic": True, "bg_color": "#F2F2F2", "border": 1})
        pct = book.add_format({"num_format": "0.0%"})
        integer = book.add_format({"num_format": "#,##0"})
        days = book.add_format({"num_format": "0.#"})
        formats = {"pct": pct, "int": integer, "days": days}
        periods = _periods(table) or ["-"]
        for period in periods:
            sheet = book.add_worksheet(period)
            for c, (_, zh, en, kind) in enumerate(QUALITY_COLUMNS):
                sheet.write_string(0, c, zh, head)
                sheet.write_string(1, c, en, head_en)
                width = 28 if kind == "json" else max(10, len(en) + 2)
                sheet.set_column(c, c, width, formats.get(kind))
            sheet.freeze_panes(2, 2)
            shown = [r for r in rows if r["period"] == period]
            for i, r in enumerate(shown, start=2):
                for c, (key, _, _, kind) in enumerate(QUALITY_COLUMNS):
                    value = r[key]
                    if value is None:
                        continue
                    if kind == "json":
                        sheet.write_string(i, c, _json_text(key, value))
                    elif kind in formats:
                        sheet.write_number(i, c, value, formats[kind])
                    else:
                        sheet.write_string(i, c, str(value))
    finally:
        book.close()
    return target


_HTML = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.3rem .45rem;vertical-align:top}
th{background:#eef3f8;text-align:center;min-width:3.5em}
th small,td small{color:#666;font-weight:normal}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.low{background:#fde8e8}td.mid{background:#fff6dd}
td.note{font-size:.75rem;max-width:18rem}
svg.spark rect{fill:#4a7ab5}svg.spark rect.now{fill:#d9822b}
p.legend{font-size:.8rem;color:#555}
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p class="legend">完整性：映射字段非空值占比；有效性：无无效值且身份证号有效的行占比；
身份证号有效率：已填身份证号中有效的占比；唯一性：记录键在本期唯一的行占比；
滞后：记录日期到本期最后一天的天数；关联率：关联到户的记录占比。<br>
Completeness: share of non-null values of the mapped fields; validity: share of rows
without invalid values or IDs; ID-valid rate: share of valid ID numbers among those
given; uniqueness: share of rows whose record key is unique in the period; lag: days
from the record's date to the period's last day; link rate: share of records linked
to a household.</p>
{% for section in sections %}
<h2>{{ section.period }} 期 <small>period {{ section.period }}</small></h2>
<table>
<thead><tr>{% for zh, en in headers %}
<th>{{ zh }}<br><small>{{ en }}</small></th>{% endfor %}
</tr></thead>
<tbody>
{% for row in section.rows %}<tr>
{% for cell in row %}<td class="{{ cell.cls }}"
{%- if cell.title %} title="{{ cell.title }}"{% endif %}>
{%- if cell.svg %}{{ cell.svg | safe }} {% endif %}{{ cell.text }}
{%- if cell.sub %}<br><small>{{ cell.sub }}</small>{% endif %}</td>
{% endfor %}</tr>
{% endfor %}</tbody>
</table>
{% endfor %}
</body>
</html>
"""

_HTML_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("source", "数据源", "Source", "text"),
    ("files", "文件（失败）", "Files (failed)", "int"),
    ("rows_read", "读入", "Read", "int"),
    ("rows_loaded", "载入", "Loaded", "int"),
    ("rows_quarantined", "隔离", "Quarantined", "int"),
    ("completeness", "完整性", "Completeness", "pct"),
    ("validity", "有效性", "Validity", "pct"),
    ("id_valid_rate", "身份证号有效率", "ID-valid rate", "pct"),
    ("uniqueness", "唯一性", "Uniqueness", "pct"),
    ("lag_median_days", "滞后中位数／最大（天）", "Lag median / max (days)", "days"),
    ("link_rate", "关联率", "Link rate", "pct"),
    ("quarantine_reasons", "隔离原因", "Quarantine reasons", "json"),
    ("trend", "有效性趋势", "Validity trend", "trend"),
)


def _rate_class(value: float | None) -> str:
    if value is None:
        return "num"
    if value < 0.9:
        return "num low"
    if value < 0.98:
        return "num mid"
    return "num"


def _sparkline(values: Sequence[float], now: int) -> str:
    """An inline SVG bar chart of rates (the bar at index ``now`` highlighted)."""
    lo = min(0.9, *values) - 0.01
    bars = []
    for i, v in enumerate(values):
        h = 2 + round(16 * (v - lo) / (1 - lo), 1)
        cls = ' class="now"' if i == now else ""
        bars.append(f'<rect x="{i * 7}" y="{18 - h:.1f}" width="5" height="{h:.1f}"{cls}/>')
    width = 7 * len(values)
    return (
        f'<svg class="spark" width="{width}" height="18" viewBox="0 0 {width} 18" '
        f'role="img" aria-label="validity trend">{"".join(bars)}</svg>'
    )


def _html_cell(key: str, kind: str, row: dict[str, Any], history: list[tuple[str, float]]) -> Any:
    cell: dict[str, Any] = {"cls": "", "text": "", "sub": "", "title": "", "svg": ""}
    if key == "source":
        cell["text"] = row["source"]
        dept = " ".join(x for x in (row["department"], row["department_en"]) if x)
        cell["sub"] = dept
    elif key == "files":
        cell["cls"] = "num"
        cell["text"] = f"{row['files']}（{row['files_failed']}）"
        cell["cls"] += " low" if row["files_failed"] else ""
    elif kind == "pct":
        cell["cls"] = _rate_class(row[key])
        cell["text"] = _pct(row[key])
    elif kind == "int":
        cell["cls"] = "num"
        cell["text"] = _display(key, kind, row[key])
    elif key == "lag_median_days":
        cell["cls"] = "num"
        cell["text"] = f"{_days(row['lag_median_days'])}／{_days(row['lag_max_days'])}"
        cell["sub"] = row["date_field"] or ""
    elif kind == "json":
        cell["cls"] = "note"
        cell["text"] = _json_text(key, row[key])
    elif kind == "trend":
        cell["cls"] = "note"
        points = history + (
            [(row["period"], row["validity"])] if row["validity"] is not None else []
        )
        if points:
            cell["svg"] = _sparkline([v for _, v in points], len(points) - 1)
            cell["text"] = " → ".join(_pct(v) for _, v in points[-4:])
            cell["title"] = "；".join(f"{p} {_pct(v)}" for p, v in points)
    return cell


def export_quality_html(
    table: pa.Table,
    path: Path | str,
    *,
    periods: Iterable[str] | None = None,
    title: str = "数据质量报告 Data-quality report",
) -> Path:
    """Write the report as one self-contained HTML page (inline CSS, no external assets).

    Headers are in Chinese with English below; one section per period, newest
    first; the trend column shows, per source, the validity of the earlier periods
    in ``table`` and of the period itself (an inline SVG bar chart and the last
    values).

    Parameters
    ----------
    table:
        Quality rows (schema :data:`QUALITY_SCHEMA`); earlier periods feed the trend.
    path:
        The ``.html`` file to write (its folder is created).
    periods:
        The periods to show a section for (default: every period in ``table``).
    title:
        The page title.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import jinja2

    rows = table.to_pylist()
    shown = sorted(set(periods) if periods is not None else set(_periods(table)), reverse=True)
    sections = []
    for period in shown:
        lines = []
        for r in (r for r in rows if r["period"] == period):
            history = sorted(
                (str(o["period"]), float(o["validity"]))
                for o in rows
                if o["source"] == r["source"] and o["period"] < period and o["validity"] is not None
            )
            lines.append([_html_cell(k, kind, r, history) for k, _, _, kind in _HTML_COLUMNS])
        sections.append({"period": period, "rows": lines})
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    page = env.from_string(_HTML).render(
        title=title,
        headers=[(zh, en) for _, zh, en, _ in _HTML_COLUMNS],
        sections=sections,
    )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target
