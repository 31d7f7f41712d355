"""Failure isolation: a broken file is reported with its reason, the others load."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from povguard.engine import DuckDBEngine
from povguard.ingest import ingest_period, load_mappings


def test_broken_files_are_reported_and_the_others_load(ingest_twin: Path, tmp_path: Path) -> None:
    period = "2025-03"
    src = ingest_twin / "feeds" / period
    folder = tmp_path / "feeds" / period
    folder.mkdir(parents=True)
    for name in ("medical_claims.csv", "civil_affairs.xlsx", "self_reports.json"):
        shutil.copy(src / name, folder / name)
    housing = (src / "housing.xlsx").read_bytes()
    (folder / "housing.xlsx").write_bytes(housing[: len(housing) // 2])  # truncated upload
    rng = random.Random(3)
    (folder / "water.csv").write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    (folder / "education.csv").write_bytes("\xff\xfe乱码".encode() + b"\xff\xfe\xfa")
    (folder / "hotline.csv").write_text("a,b,c\r\n1,2,3\r\n", encoding="utf-8")
    (folder / "vehicles.csv").write_text(
        "机动车所有人,身份证明号码\r\n张伟,522325199001011234\r\n", encoding="utf-8"
    )
    (folder / "disability.csv").write_text("残疾人证号,姓名\r\n1,张伟\r\n", encoding="utf-8")
    (folder / "market_registrations.json").write_text('{"data": [', encoding="utf-8")
    (folder / "说明.docx").write_bytes(b"PK\x03\x04")

    engine = DuckDBEngine(":memory:")
    report = ingest_period(engine, tmp_path / "feeds", period, load_mappings())
    by_name = {f.path.name: f for f in report.files}
    failed = {f.path.name: f.error_code for f in report.failed}
    assert failed == {
        "housing.xlsx": "corrupt_xlsx",
        "water.csv": "not_text",
        "education.csv": "undecodable",
        "hotline.csv": "no_header",
        "vehicles.csv": "missing_required_column",
        "disability.csv": "format_mismatch",
        "market_registrations.json": "invalid_json",
        "说明.docx": "no_mapping",
    }
    for f in report.failed:
        assert f.error_zh and f.error_en
        assert f.rows_read == f.rows_loaded == f.rows_quarantined == 0
    assert by_name["说明.docx"].source is None
    assert "号牌号码" in (by_name["vehicles.csv"].error_zh or "")
    for name in ("medical_claims.csv", "civil_affairs.xlsx", "self_reports.json"):
        f = by_name[name]
        assert f.status == "ok"
        assert f.rows_loaded > 0
        assert f.rows_read == f.rows_loaded + f.rows_quarantined
    ledger = engine.con.sql("select file, status, error_code from ingest_files").to_pyarrow()
    assert dict(zip(ledger["file"].to_pylist(), ledger["status"].to_pylist(), strict=True)) == {
        f.path.name: f.status for f in report.files
    }
    loaded = engine.count(engine.table("raw_medical_claims"))
    assert loaded == by_name["medical_claims.csv"].rows_loaded
    # the failed sources' tables exist (empty for the period), so later stages can query them
    assert engine.exists("raw_housing") and engine.exists("raw_water")


def test_a_file_matching_two_mappings_is_ambiguous(tmp_path: Path) -> None:
    mappings = load_mappings()
    vehicles = mappings["vehicles"]
    mappings["vehicles_copy"] = vehicles.model_copy(update={"source": "vehicles_copy"})
    folder = tmp_path / "feeds" / "2025-01"
    folder.mkdir(parents=True)
    (folder / "vehicles.csv").write_text("号牌号码\r\n贵A1\r\n", encoding="utf-8")
    report = ingest_period(DuckDBEngine(":memory:"), tmp_path / "feeds", "2025-01", mappings)
    (f,) = report.failed
    assert f.error_code == "ambiguous_mapping"
    assert "vehicles, vehicles_copy" in (f.error_en or "")
