"""Pushed batches: a department's CSV or JSON body through the same ingest as a file.

A batch is read by the same readers as a file (:func:`~povguard.ingest.readers.read_csv`
or :func:`~povguard.ingest.readers.read_json`: encoding detection, header aliases,
required columns) and every sheet goes through
:func:`~povguard.ingest.process.process_sheet` (normalisation, validation,
quarantine), so a pushed row is loaded or quarantined exactly as the same row in a
file would be.

Lineage and idempotency
-----------------------
A batch is named by its content: ``batch_id`` is the first 16 hex digits of the
body's SHA-256 and the rows carry ``_file = "push:<batch_id>"`` (and the full hash in
``_file_sha256``). Storing a batch deletes that batch's earlier rows of the period
(in ``raw_<source>``, ``quarantine`` and ``ingest_files``) and inserts the new ones,
in one transaction on DuckDB: a retried batch changes nothing, and rows of other
batches or of files delivered for the same period are left alone.

Two steps, so a server can parse outside its write lock::

    batch = prepare_batch(mapping, "2025-05", body, "csv", pushed_by="县医保局")
    report = store_batch(engine, mapping, batch)   # or push_batch(...) for both
"""

from __future__ import annotations

import codecs
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import pyarrow as pa

from povguard.engine import DuckDBEngine, Engine
from povguard.errors import DataError
from povguard.ingest.mapping import SourceMapping
from povguard.ingest.messages import Message
from povguard.ingest.process import QUARANTINE_SCHEMA, FileContext, process_sheet, raw_schema
from povguard.ingest.readers import ReadResult, read_csv, read_json
from povguard.ingest.run import (
    FILES_TABLE,
    PUSH_FILE_PREFIX,
    QUARANTINE_TABLE,
    FileReport,
    _check_columns,
    _files_table,
    _unmapped_note,
    period_end,
    raw_table_name,
)

__all__ = [
    "PUSH_FILE_PREFIX",
    "BatchReport",
    "PreparedBatch",
    "PushFormat",
    "batch_file_name",
    "is_pushed_file",
    "prepare_batch",
    "push_batch",
    "store_batch",
]

log = logging.getLogger(__name__)

_BATCH_ID_LEN: Final = 16

PushFormat = Literal["csv", "json"]


def batch_file_name(batch_id: str) -> str:
    """The ``_file`` value of a pushed batch (``push:<batch_id>``)."""
    return PUSH_FILE_PREFIX + batch_id


def is_pushed_file(name: str | None) -> bool:
    """Whether a ``_file`` value names a pushed batch rather than a delivered file."""
    return bool(name) and str(name).startswith(PUSH_FILE_PREFIX)


@dataclass
class PreparedBatch:
    """A batch read, normalised and validated, not yet stored.

    Attributes
    ----------
    report:
        The batch's ledger row (``ingest_files``): counts, hash, format, encoding,
        notes; ``report.path.name`` is the batch's ``_file``.
    loaded:
        Rows to load (schema :func:`~povguard.ingest.raw_schema`).
    quarantined:
        Rejected rows (schema :data:`~povguard.ingest.QUARANTINE_SCHEMA`).
    """

    batch_id: str
    source: str
    period: str
    report: FileReport
    loaded: pa.Table
    quarantined: pa.Table


@dataclass
class BatchReport:
    """What happened to a pushed batch.

    Attributes
    ----------
    batch_id, file:
        The batch's id and its ``_file`` (``push:<batch_id>``).
    rows_read, rows_loaded, rows_quarantined:
        ``rows_read == rows_loaded + rows_quarantined``.
    quarantine:
        The rejected rows (schema :data:`~povguard.ingest.QUARANTINE_SCHEMA`).
    duplicate:
        True when the same batch was already stored for the period (a retry):
        its rows were replaced by identical ones.
    """

    batch_id: str
    file: str
    source: str
    period: str
    sha256: str
    format: str
    encoding: str | None
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    quarantine: pa.Table
    notes: list[Message] = field(default_factory=list)
    duplicate: bool = False


def _json_records_path(data: bytes) -> str | None:
    """``None`` when the JSON body is a list of records, else ``data`` (``{"data": [...]}``)."""
    head = data[:4096].removeprefix(codecs.BOM_UTF8).lstrip(b" \t\r\n")
    return None if head.startswith(b"[") else "data"


def _read(mapping: SourceMapping, data: bytes, fmt: PushFormat, encoding: str) -> ReadResult:
    if fmt == "csv":
        return read_csv(data, mapping.model_copy(update={"format": "csv", "encoding": encoding}))
    update: dict[str, Any] = {
        "format": "json",
        "encoding": encoding,
        "records_path": _json_records_path(data),
    }
    return read_json(data, mapping.model_copy(update=update))


def prepare_batch(
    mapping: SourceMapping,
    period: str,
    data: bytes,
    fmt: PushFormat,
    encoding: str = "auto",
    pushed_by: str | None = None,
) -> PreparedBatch:
    """Read, normalise and validate a pushed batch (nothing is stored).

    Parameters
    ----------
    mapping:
        The source's mapping (its header aliases, types and rules apply whatever
        format its files come in).
    period:
        Delivery period ``YYYY-MM`` the batch belongs to.
    data:
        The body: CSV (a header row, then data rows) or JSON (a list of records or
        ``{"data": [...]}``).
    fmt:
        ``csv`` or ``json``.
    encoding:
        ``auto`` (UTF-8 with or without BOM, GBK/GB18030, detection: as for files)
        or a codec name (the body's declared charset).
    pushed_by:
        Who pushed it (kept as a note in ``ingest_files``).

    Returns
    -------
    PreparedBatch

    Raises
    ------
    ConfigError
        If ``period`` is not ``YYYY-MM``.
    IngestFileError
        If the body cannot be read (undecodable, invalid JSON, no list of records,
        no recognisable header, a missing required column); carries the reason in
        Chinese and English.
    DataError
        If rows read differ from rows loaded + quarantined (a bug).
    """
    end = period_end(period)
    sha = hashlib.sha256(data).hexdigest()
    batch_id = sha[:_BATCH_ID_LEN]
    name = batch_file_name(batch_id)
    report = FileReport(path=Path(name), source=mapping.source, sha256=sha, format=fmt)
    result = _read(mapping, data, fmt, encoding)
    report.encoding = result.encoding
    report.notes += result.notes
    if pushed_by:
        report.notes.append(
            Message(
                "pushed",
                f"由“{pushed_by}”通过接口推送",
                f"pushed through the API by {pushed_by}",
            )
        )
    ctx = FileContext(mapping.source, period, end, name, sha)
    loaded: list[pa.Table] = []
    quarantined: list[pa.Table] = []
    for sheet in result.sheets:
        outcome = process_sheet(mapping, sheet, ctx)
        loaded.append(outcome.loaded)
        quarantined.append(outcome.quarantined)
        report.rows_read += outcome.rows_read
        note = _unmapped_note(sheet.labels, set(sheet.assignment.values()), sheet.sheet)
        if note is not None:
            report.notes.append(note)
        if sheet.footer_total is not None and sheet.footer_total != outcome.rows_read:
            report.notes.append(
                Message(
                    "footer_count_differs",
                    f"批次写明 {sheet.footer_total} 条，实际读到 {outcome.rows_read} 条",
                    f"the batch says {sheet.footer_total} rows, {outcome.rows_read} were read",
                )
            )
    loaded_table = pa.concat_tables(loaded) if loaded else raw_schema(mapping).empty_table()
    q_table = pa.concat_tables(quarantined) if quarantined else QUARANTINE_SCHEMA.empty_table()
    report.rows_loaded, report.rows_quarantined = loaded_table.num_rows, q_table.num_rows
    if report.rows_read != report.rows_loaded + report.rows_quarantined:
        raise DataError(
            f"{name}: rows read ({report.rows_read}) != loaded ({report.rows_loaded}) + "
            f"quarantined ({report.rows_quarantined})"
        )
    return PreparedBatch(batch_id, mapping.source, period, report, loaded_table, q_table)


@dataclass(frozen=True)
class _Write:
    table: str
    file_column: str
    source_column: str | None
    data: pa.Table


def _writes(mapping: SourceMapping, batch: PreparedBatch) -> list[_Write]:
    return [
        _Write(raw_table_name(mapping.source), "_file", None, batch.loaded),
        _Write(QUARANTINE_TABLE, "file", "source", batch.quarantined),
        _Write(FILES_TABLE, "file", "source", _files_table(batch.period, [batch.report])),
    ]


def _store_duckdb(engine: DuckDBEngine, batch: PreparedBatch, writes: list[_Write]) -> bool:
    """Delete the batch's rows and insert the new ones, every table in one transaction."""
    raw = engine.con.con
    existing = {w.table for w in writes if engine.exists(w.table)}
    duplicate = False
    raw.execute("BEGIN TRANSACTION")
    try:
        for w in writes:
            raw.register("_povguard_push", w.data)
            if w.table not in existing:
                raw.execute(f'CREATE TABLE "{w.table}" AS SELECT * FROM _povguard_push LIMIT 0')
            where = f'"period" = ? AND "{w.file_column}" = ?'
            params: list[Any] = [batch.period, batch.report.path.name]
            if w.source_column is not None:
                where += f' AND "{w.source_column}" = ?'
                params.append(batch.source)
            if w.table == FILES_TABLE:
                found = raw.execute(f'SELECT count(*) FROM "{w.table}" WHERE {where}', params)
                row = found.fetchone()
                duplicate = bool(row and row[0])
            raw.execute(f'DELETE FROM "{w.table}" WHERE {where}', params)
            cols = ", ".join(f'"{c}"' for c in w.data.column_names)
            raw.execute(f'INSERT INTO "{w.table}" ({cols}) SELECT {cols} FROM _povguard_push')
            raw.unregister("_povguard_push")
        raw.execute("COMMIT")
    except Exception:
        raw.execute("ROLLBACK")
        raise
    return duplicate


def _store_generic(engine: Engine, batch: PreparedBatch, writes: list[_Write]) -> bool:
    """Any engine: rewrite the period with the batch's rows swapped (one table at a time).

    Relies on :meth:`Engine.replace_period` materialising ``data`` before it replaces
    the period (the Spark engine checkpoints it), since ``data`` reads the table.
    """
    import ibis

    name = batch.report.path.name
    duplicate = False
    for w in writes:
        if not engine.exists(w.table):
            engine.replace_period(w.table, batch.period, w.data)
            continue
        t = engine.table(w.table)
        mine = (t[w.file_column] == name).fill_null(False)
        if w.source_column is not None:
            mine &= (t[w.source_column] == batch.source).fill_null(False)
        if w.table == FILES_TABLE:
            duplicate = engine.count(t.filter((t["period"] == batch.period) & mine)) > 0
        kept = t.filter((t["period"] == batch.period) & ~mine).select(*w.data.column_names)
        new = ibis.memtable(w.data).cast(kept.schema())
        engine.replace_period(w.table, batch.period, kept.union(new))
    return duplicate


def store_batch(engine: Engine, mapping: SourceMapping, batch: PreparedBatch) -> BatchReport:
    """Store a prepared batch, replacing only that batch's rows of its period.

    Parameters
    ----------
    engine:
        The analytics engine (DuckDB: one transaction for the three tables).
    mapping:
        The source's mapping (the one the batch was prepared with).
    batch:
        From :func:`prepare_batch`.

    Returns
    -------
    BatchReport

    Raises
    ------
    ConfigError
        If an existing table lacks columns the mapping now produces.
    """
    writes = _writes(mapping, batch)
    for w in writes:  # check every table before writing any
        _check_columns(engine, w.table, w.data.schema)
    if isinstance(engine, DuckDBEngine):
        duplicate = _store_duckdb(engine, batch, writes)
    else:
        duplicate = _store_generic(engine, batch, writes)
    r = batch.report
    log.info(
        "%s %s %s: %d read, %d loaded, %d quarantined%s",
        batch.period,
        batch.source,
        r.path.name,
        r.rows_read,
        r.rows_loaded,
        r.rows_quarantined,
        " (same batch again)" if duplicate else "",
    )
    return BatchReport(
        batch_id=batch.batch_id,
        file=r.path.name,
        source=batch.source,
        period=batch.period,
        sha256=r.sha256 or "",
        format=r.format or "",
        encoding=r.encoding,
        rows_read=r.rows_read,
        rows_loaded=r.rows_loaded,
        rows_quarantined=r.rows_quarantined,
        quarantine=batch.quarantined,
        notes=list(r.notes),
        duplicate=duplicate,
    )


def push_batch(
    engine: Engine,
    mapping: SourceMapping,
    period: str,
    data: bytes,
    fmt: PushFormat,
    encoding: str = "auto",
    pushed_by: str | None = None,
) -> BatchReport:
    """Ingest one pushed batch: :func:`prepare_batch` then :func:`store_batch`.

    See :func:`prepare_batch` for the parameters and errors.
    """
    batch = prepare_batch(mapping, period, data, fmt, encoding, pushed_by)
    return store_batch(engine, mapping, batch)
