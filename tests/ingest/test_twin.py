"""Ingest a generated twin and compare with its ground truth."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from povguard.engine import DuckDBEngine
from povguard.ingest import IngestReport, SourceMapping, ingest_period, load_mappings

#: Defects that ingestion must repair: the loaded value equals the clean value.
RECOVERABLE = {"stray_space", "id_lowercase_x", "id_fullwidth", "id_legacy15", "date_format_mixed"}
#: ID defects that cannot be repaired: the ID must load as null, never as another ID.
UNRECOVERABLE_ID = {"id_excel_float", "id_digit", "id_transposition", "id_check_char", "missing_id"}


@dataclass
class Ingested:
    engine: DuckDBEngine
    reports: dict[str, IngestReport]
    mappings: dict[str, SourceMapping]
    stats: Counter[str] = field(default_factory=Counter)
    problems: list[tuple[Any, ...]] = field(default_factory=list)


def _periods(twin: Path) -> list[str]:
    return sorted(p.name for p in (twin / "feeds").iterdir())


@pytest.fixture(scope="module")
def ingested(ingest_twin: Path) -> Ingested:
    engine = DuckDBEngine(":memory:")
    mappings = load_mappings()
    reports = {
        p: ingest_period(engine, ingest_twin / "feeds", p, mappings) for p in _periods(ingest_twin)
    }
    return Ingested(engine, reports, mappings)


def _records(engine: DuckDBEngine, sql: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = engine.con.sql(sql).to_pyarrow().to_pylist()
    return out


def test_every_file_of_every_period_ingests(ingested: Ingested, ingest_twin: Path) -> None:
    manifest_rows: dict[str, int] = {}
    for entry in json.loads((ingest_twin / "manifest.json").read_text())["files"]:
        manifest_rows[entry["path"]] = entry["rows"]
    formats = set()
    for period, report in ingested.reports.items():
        assert report.files, period
        assert not report.failed, [(f.path.name, f.error_en) for f in report.failed]
        for f in report.files:
            assert f.rows_read == f.rows_loaded + f.rows_quarantined
            assert f.rows_read == manifest_rows[f"feeds/{period}/{f.path.name}"]
            assert not [n for n in f.notes if n.code == "footer_count_differs"]
            formats.add(f.format)
    assert formats == {"csv", "xlsx", "json"}
    ledger = _records(ingested.engine, "select * from ingest_files")
    assert len(ledger) == sum(len(r.files) for r in ingested.reports.values())
    assert all(r["status"] == "ok" for r in ledger)


def _compare(ingested: Ingested, twin: Path) -> Ingested:
    clean_by_uid: dict[str, dict[str, Any]] = {}
    for path in (twin / "truth" / "feeds").glob("*/*.clean.parquet"):
        for r in pq.read_table(path).to_pylist():
            clean_by_uid[r["_row_uid"]] = r
    engine, stats, problems = ingested.engine, ingested.stats, ingested.problems
    for period, report in ingested.reports.items():
        truth_dir = twin / "truth" / "feeds" / period
        for f in report.files:
            assert f.source is not None
            src, mapping = f.source, ingested.mappings[f.source]
            order = pq.read_table(truth_dir / f"{src}.rows.parquet").to_pylist()
            defects: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for d in pq.read_table(truth_dir / f"{src}.defects.parquet").to_pylist():
                defects[d["row_uid"]].append(d)
            where = f"period = '{period}'"
            loaded = _records(engine, f"select * from raw_{src} where {where} order by _row")
            quarantined = _records(
                engine, f"select * from quarantine where {where} and source = '{src}' order by row"
            )
            # file order: every non-blank data row is loaded or quarantined, in order
            found = sorted(
                [(r["_row"], "loaded", r) for r in loaded]
                + [(q["row"], "quarantined", q) for q in quarantined],
                key=lambda x: x[0],
            )
            assert len(found) == len(order), (src, period)
            for (_, kind, record), truth in zip(found, order, strict=True):
                uid = truth["row_uid"]
                base = uid.removesuffix("#dup").removesuffix("#fix")
                clean = clean_by_uid[base]
                applied = defects.get(uid, []) + (defects.get(base, []) if uid != base else [])
                by_column = {d["column"]: d["defect"] for d in applied if d["column"]}
                stats["rows"] += 1
                stats["truly_clean"] += not applied
                if kind == "quarantined":
                    stats["quarantined"] += 1
                    stats["clean_quarantined"] += not applied
                    continue
                for spec in mapping.fields:
                    defect = by_column.get(spec.name)
                    got, want = record[spec.name], clean[spec.name]
                    if defect in UNRECOVERABLE_ID:
                        stats["unrecoverable_ids"] += 1
                        if got is not None:
                            problems.append(("wrong ID loaded", src, period, spec.name, got, want))
                        continue
                    if defect is not None and defect not in RECOVERABLE:
                        continue  # name typos, swapped pinyin, late corrections
                    stats["cells"] += 1
                    stats[f"repaired_{defect}"] += defect is not None
                    want = None if want == "" else want
                    same = (
                        math.isclose(got, want, abs_tol=1e-9)
                        if isinstance(want, float) and got is not None
                        else got == want
                    )
                    if not same:
                        problems.append(
                            ("mismatch", src, period, record["_row"], spec.name, got, want)
                        )
    return ingested


def test_loaded_values_equal_the_clean_values(ingested: Ingested, ingest_twin: Path) -> None:
    result = _compare(ingested, ingest_twin)
    assert result.problems == []
    stats = result.stats
    assert stats["cells"] > 20_000
    # the twin's recoverable defects were met and repaired
    for defect in ("stray_space", "date_format_mixed", "id_lowercase_x"):
        assert stats[f"repaired_{defect}"] > 0, defect
    assert stats["unrecoverable_ids"] > 0
    # truly clean rows are (almost) never quarantined
    assert stats["clean_quarantined"] <= 0.001 * stats["truly_clean"]


def test_no_excel_mangled_id_loads(ingested: Ingested) -> None:
    engine = ingested.engine
    total = 0
    for mapping in ingested.mappings.values():
        name = f"raw_{mapping.source}"
        if not engine.exists(name):
            continue
        for f in mapping.id_fields:
            bad = _records(
                engine,
                f"select count(*) n from {name} where {f}_status not in ('ok', 'upgraded15') "
                f"and {f} is not null",
            )
            assert bad[0]["n"] == 0
            mangled = _records(
                engine, f"select count(*) n from {name} where {f}_status = 'excel_mangled'"
            )
            total += mangled[0]["n"]
    assert total > 0  # the XLSX sources that mangle IDs did


def test_rerun_gives_identical_tables(ingested: Ingested, ingest_twin: Path) -> None:
    engine = ingested.engine
    period = _periods(ingest_twin)[-1]
    tables = ["quarantine", "ingest_files"] + [
        f"raw_{s}" for s in ingested.mappings if engine.exists(f"raw_{s}")
    ]

    def snapshot() -> dict[str, list[dict[str, Any]]]:
        return {
            t: _records(engine, f"select * from {t} where period = '{period}' order by all")
            for t in tables
        }

    before = snapshot()
    ingest_period(engine, ingest_twin / "feeds", period, ingested.mappings)
    assert snapshot() == before
