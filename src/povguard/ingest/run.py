"""Ingest one delivery period: every file of ``<feeds_dir>/<YYYY-MM>/`` into the engine."""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa

from povguard.engine import Engine
from povguard.errors import ConfigError, DataError
from povguard.ingest.mapping import SourceMapping, load_mappings
from povguard.ingest.messages import IngestFileError, Message, file_error
from povguard.ingest.process import (
    QUARANTINE_SCHEMA,
    FileContext,
    SheetOutcome,
    process_sheet,
    raw_schema,
)
from povguard.ingest.readers import read_file

__all__ = [
    "FILES_SCHEMA",
    "FILES_TABLE",
    "QUARANTINE_TABLE",
    "FileReport",
    "IngestReport",
    "ingest_period",
    "raw_table_name",
]

log = logging.getLogger(__name__)

#: Name of the quarantine table and of the per-file ledger.
QUARANTINE_TABLE = "quarantine"
FILES_TABLE = "ingest_files"
_PERIOD = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
_IGNORED_PREFIXES = (".", "~$")

#: Schema of table ``ingest_files`` (one row per file of the period).
FILES_SCHEMA = pa.schema(
    [
        ("period", pa.string()),
        ("source", pa.string()),
        ("file", pa.string()),
        ("sha256", pa.string()),
        ("format", pa.string()),
        ("encoding", pa.string()),
        ("rows_read", pa.int64()),
        ("rows_loaded", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("status", pa.string()),
        ("error_code", pa.string()),
        ("error_zh", pa.string()),
        ("error_en", pa.string()),
        ("sheets", pa.string()),
        ("notes", pa.string()),
    ]
)


def known_regions(engine: Engine) -> frozenset[str] | None:
    """Region codes of the registry's region table, if the store has one (small)."""
    if not engine.exists("regions"):
        return None
    codes = engine.fetch(engine.table("regions").select("region_code"))["region_code"]
    return frozenset(c for c in codes.to_pylist() if c)


#: ``_file`` (``file`` in ``quarantine`` and ``ingest_files``) of a batch pushed
#: through the API starts with this.
PUSH_FILE_PREFIX = "push:"


def _with_pushed(engine: Engine, name: str, period: str, table: pa.Table) -> pa.Table:
    """``table`` plus the period's pushed batches already stored in ``name``.

    Re-ingesting a period's files replaces the file-delivered rows only; batches
    that departments pushed through the API stay (they are few: a bounded read).
    """
    if not engine.exists(name):
        return table
    stored = engine.table(name)
    column = "_file" if "_file" in table.column_names else "file"
    if column not in stored.columns:
        return table
    pushed = stored.filter(
        (stored.period == period) & stored[column].startswith(PUSH_FILE_PREFIX)
    ).select(*table.column_names)
    kept = engine.fetch(pushed)
    if kept.num_rows == 0:
        return table
    return pa.concat_tables([table, kept.cast(table.schema)])


def raw_table_name(source: str) -> str:
    """Name of the table of a source's loaded rows (``raw_<source>``)."""
    return f"raw_{source}"


@dataclass
class FileReport:
    """What happened to one file.

    Attributes
    ----------
    path:
        The file.
    source:
        Source id of the mapping it matched (None when it matched none).
    rows_read, rows_loaded, rows_quarantined:
        Data rows found (blank and footer rows excluded), loaded and quarantined;
        ``rows_read == rows_loaded + rows_quarantined`` for every file.
    status:
        ``ok`` or ``failed`` (the file could not be read; nothing of it loaded).
    error_zh, error_en, error_code:
        Why it failed.
    sha256, format, encoding, sheets:
        Lineage of the file.
    notes:
        Things worth knowing that did not stop the file (skipped sheets, unmapped
        columns, a footer count that differs from the rows read).
    """

    path: Path
    source: str | None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    status: Literal["ok", "failed"] = "ok"
    error_zh: str | None = None
    error_en: str | None = None
    error_code: str | None = None
    sha256: str | None = None
    format: str | None = None
    encoding: str | None = None
    sheets: list[str] = field(default_factory=list)
    notes: list[Message] = field(default_factory=list)

    def fail(self, message: Message) -> None:
        """Mark the file failed with ``message``."""
        self.status = "failed"
        self.error_code, self.error_zh, self.error_en = message.code, message.zh, message.en
        self.rows_read = self.rows_loaded = self.rows_quarantined = 0


@dataclass
class IngestReport:
    """Outcome of :func:`ingest_period`."""

    period: str
    files: list[FileReport]

    @property
    def failed(self) -> list[FileReport]:
        """Files that could not be ingested."""
        return [f for f in self.files if f.status == "failed"]

    @property
    def rows_read(self) -> int:
        """Data rows found in all files."""
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        """Rows loaded into ``raw_<source>`` tables."""
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        """Rows kept in the quarantine table."""
        return sum(f.rows_quarantined for f in self.files)


def period_end(period: str) -> dt.date:
    """Last day of a ``YYYY-MM`` period.

    Raises
    ------
    ConfigError
        If ``period`` is not ``YYYY-MM``.
    """
    if not _PERIOD.match(period):
        raise ConfigError(f"period must look like 2025-05, got {period!r}")
    year, month = int(period[:4]), int(period[5:])
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _match(name: str, mappings: dict[str, SourceMapping]) -> SourceMapping:
    found = [m for m in mappings.values() if m.matches(name)]
    if not found:
        raise IngestFileError.of("no_mapping", file=name)
    if len(found) > 1:
        raise IngestFileError.of(
            "ambiguous_mapping", file=name, sources=", ".join(m.source for m in found)
        )
    mapping = found[0]
    other = mapping.extension_conflict(name)
    if other is not None:
        raise IngestFileError.of(
            "format_mismatch", found=other, expected=mapping.format, source=mapping.source
        )
    return mapping


def _unmapped_note(sheet_labels: list[str], used: set[int], sheet: str | None) -> Message | None:
    extra = [label for i, label in enumerate(sheet_labels) if i not in used]
    if not extra:
        return None
    where = f"{sheet}: " if sheet else ""
    return Message(
        "unmapped_columns",
        f"{where}未映射的列（未载入）：{'、'.join(extra)}",
        f"{where}columns not in the mapping (not loaded): {', '.join(extra)}",
    )


def _ingest_file(
    path: Path,
    mappings: dict[str, SourceMapping],
    period: str,
    end: dt.date,
    regions: frozenset[str] | None = None,
) -> tuple[FileReport, SourceMapping | None, list[SheetOutcome]]:
    """Read and process one file; any failure is reported, never raised."""
    report = FileReport(path=path, source=None)
    mapping: SourceMapping | None = None
    outcomes: list[SheetOutcome] = []
    try:
        mapping = _match(path.name, mappings)
        report.source, report.format = mapping.source, mapping.format
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise IngestFileError.of("unreadable", detail=str(exc)) from exc
        report.sha256 = hashlib.sha256(data).hexdigest()
        result = read_file(data, mapping)
        del data  # the raw rows are in Arrow now; keep memory to one copy
        report.encoding = result.encoding
        report.notes += result.notes
        ctx = FileContext(mapping.source, period, end, path.name, report.sha256, regions)
        for sheet in result.sheets:
            if sheet.sheet is not None:
                report.sheets.append(sheet.sheet)
            outcome = process_sheet(mapping, sheet, ctx)
            outcomes.append(outcome)
            note = _unmapped_note(sheet.labels, set(sheet.assignment.values()), sheet.sheet)
            if note is not None:
                report.notes.append(note)
            missing = [f.name for f in mapping.fields if f.name not in sheet.assignment]
            if missing:
                report.notes.append(
                    Message(
                        "optional_columns_missing",
                        f"文件中没有这些可选字段（载入为空）：{'、'.join(missing)}",
                        f"optional fields not in the file (loaded as null): {', '.join(missing)}",
                    )
                )
            if sheet.footer_total is not None and sheet.footer_total != outcome.rows_read:
                report.notes.append(
                    Message(
                        "footer_count_differs",
                        f"合计行写明 {sheet.footer_total} 条，实际读到 {outcome.rows_read} 条",
                        f"the footer says {sheet.footer_total} rows, {outcome.rows_read} were read",
                    )
                )
    except IngestFileError as exc:
        report.fail(exc.message)
        return report, mapping, []
    except Exception as exc:  # isolate the file: the others still load
        log.exception("ingest of %s failed", path)
        report.fail(file_error("internal_error", detail=f"{type(exc).__name__}: {exc}"))
        return report, mapping, []
    report.rows_read = sum(o.rows_read for o in outcomes)
    report.rows_loaded = sum(o.loaded.num_rows for o in outcomes)
    report.rows_quarantined = sum(o.quarantined.num_rows for o in outcomes)
    if report.rows_read != report.rows_loaded + report.rows_quarantined:
        raise DataError(
            f"{path}: rows read ({report.rows_read}) != loaded ({report.rows_loaded}) + "
            f"quarantined ({report.rows_quarantined})"
        )
    return report, mapping, outcomes


def _files_table(period: str, reports: list[FileReport]) -> pa.Table:
    rows = [
        {
            "period": period,
            "source": r.source,
            "file": r.path.name,
            "sha256": r.sha256,
            "format": r.format,
            "encoding": r.encoding,
            "rows_read": r.rows_read,
            "rows_loaded": r.rows_loaded,
            "rows_quarantined": r.rows_quarantined,
            "status": r.status,
            "error_code": r.error_code,
            "error_zh": r.error_zh,
            "error_en": r.error_en,
            "sheets": ", ".join(r.sheets) if r.sheets else None,
            "notes": json.dumps(
                [{"code": n.code, "zh": n.zh, "en": n.en} for n in r.notes], ensure_ascii=False
            )
            if r.notes
            else None,
        }
        for r in reports
    ]
    return pa.Table.from_pylist(rows, schema=FILES_SCHEMA)


def _period_files(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and not p.name.startswith(_IGNORED_PREFIXES)),
        key=lambda p: p.name,
    )


def ingest_period(
    engine: Engine,
    feeds_dir: Path,
    period: str,
    mappings: dict[str, SourceMapping] | None = None,
    progress: Callable[[FileReport], None] | None = None,
) -> IngestReport:
    """Ingest every file of one delivery period.

    Each file is matched to a source mapping by name, read, normalised and
    validated; its rows go to ``raw_<source>`` (loaded) or ``quarantine``
    (rejected, with the reason), and one row per file to ``ingest_files``. A file
    that cannot be read is reported ``failed`` and the others still load. Every
    table's rows of the period are replaced, so running the same period twice
    gives identical tables.

    Parameters
    ----------
    engine:
        The analytics engine.
    feeds_dir:
        Folder holding one ``YYYY-MM`` sub-folder per delivery period.
    period:
        The period to ingest (``2025-05``).
    mappings:
        Source mappings by source id; default :func:`load_mappings` (packaged).
    progress:
        Called with each file's report as soon as the file is done.

    Returns
    -------
    IngestReport
        One :class:`FileReport` per file.

    Raises
    ------
    ConfigError
        If ``period`` is malformed or has no folder.
    DataError
        If a file's rows read differ from rows loaded + quarantined (a bug).
    """
    end = period_end(period)
    folder = Path(feeds_dir) / period
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no folder for period {period}")
    mappings = load_mappings() if mappings is None else mappings
    regions = known_regions(engine)
    reports: list[FileReport] = []
    loaded: dict[str, list[pa.Table]] = {}
    quarantined: list[pa.Table] = []
    for path in _period_files(folder):
        report, mapping, outcomes = _ingest_file(path, mappings, period, end, regions)
        if mapping is not None:
            loaded.setdefault(mapping.source, []).extend(o.loaded for o in outcomes)
        quarantined += [o.quarantined for o in outcomes]
        reports.append(report)
        log.info(
            "%s %s: %s, %d read, %d loaded, %d quarantined",
            period,
            path.name,
            report.status,
            report.rows_read,
            report.rows_loaded,
            report.rows_quarantined,
        )
        if progress is not None:
            progress(report)
    writes: list[tuple[str, pa.Table]] = []
    for source, mapping in mappings.items():
        name = raw_table_name(source)
        parts = loaded.get(source)
        if parts is None and not engine.exists(name):
            continue
        schema = raw_schema(mapping)
        writes.append((name, pa.concat_tables(parts) if parts else schema.empty_table()))
    q = pa.concat_tables(quarantined) if quarantined else QUARANTINE_SCHEMA.empty_table()
    writes.append((QUARANTINE_TABLE, q))
    writes.append((FILES_TABLE, _files_table(period, reports)))
    for name, table in writes:  # check every table before writing any
        _check_columns(engine, name, table.schema)
    for name, table in writes:
        engine.replace_period(name, period, _with_pushed(engine, name, period, table))
    return IngestReport(period=period, files=reports)


def _check_columns(engine: Engine, name: str, schema: pa.Schema) -> None:
    """Raise if an existing table lacks columns that ingest now writes."""
    if not engine.exists(name):
        return
    have = set(engine.table(name).columns)
    missing = [c for c in schema.names if c not in have]
    if missing:
        raise ConfigError(
            f"table {name} lacks columns {missing} that its mapping now produces; "
            f"drop the table and ingest its periods again"
        )
