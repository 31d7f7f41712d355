"""ingest_period on small inputs: typing, quarantine, lineage, idempotency."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from stdnum.cn import ric

from povguard.engine import DuckDBEngine
from povguard.errors import ConfigError
from povguard.ingest import FileReport, SourceMapping, ingest_period

from .conftest import person_mapping

PERIOD = "2025-05"
HEADER = "结算单号,参保人姓名,公民身份号码,出生日期,个人自付"
ID1 = "52232519900101123" + ric.calc_check_digit("522325199001011230")
ID2 = "52232519850505002" + ric.calc_check_digit("522325198505050020")


def feeds(tmp_path: Path, files: dict[str, str | bytes], period: str = PERIOD) -> Path:
    folder = tmp_path / "feeds" / period
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    return tmp_path / "feeds"


def csv(*rows: str) -> str:
    return "\r\n".join([HEADER, *rows, ""])


def rows(engine: DuckDBEngine, table: str, order: str = "") -> list[dict[str, Any]]:
    sql = f'select * from "{table}"' + (f" order by {order}" if order else "")
    out: list[dict[str, Any]] = engine.con.sql(sql).to_pyarrow().to_pylist()
    return out


@pytest.fixture
def engine() -> DuckDBEngine:
    return DuckDBEngine(":memory:")


def mappings(**overrides: Any) -> dict[str, SourceMapping]:
    m = person_mapping(**overrides)
    return {m.source: m}


def test_rows_are_typed_normalised_and_carry_lineage(tmp_path: Path, engine: DuckDBEngine) -> None:
    content = csv(
        f'JS1, 张 伟 ,{ID1},1990/1/1,"1,234.50"',
        f"JS2,李娜,{ID2.lower()},1985年5月5日,1.2万元",
        f"JS3,王五,{ID1[:6] + ID1[8:17]},19900101,-3",
    )
    root = feeds(tmp_path, {"claims.csv": content})
    report = ingest_period(engine, root, PERIOD, mappings())
    assert [f.status for f in report.files] == ["ok"]
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (3, 3, 0)
    schema = engine.table("raw_claims").schema()
    assert str(schema["birth_date"]) == "date"
    assert str(schema["amount"]) == "float64"
    assert str(schema["_row"]) == "int64"
    out = rows(engine, "raw_claims", "_row")
    assert [r["name"] for r in out] == ["张伟", "李娜", "王五"]
    assert [r["id_number"] for r in out] == [ID1, ID2, ID1]
    assert [r["id_number_status"] for r in out] == ["ok", "ok", "upgraded15"]
    assert out[1]["id_number_raw"] == ID2.lower()
    born = [dt.date(1990, 1, 1), dt.date(1985, 5, 5), dt.date(1990, 1, 1)]
    assert [r["birth_date"] for r in out] == born
    assert [r["amount"] for r in out] == [1234.5, 12000.0, -3.0]
    sha = hashlib.sha256(content.encode()).hexdigest()
    for r, line in zip(out, [2, 3, 4], strict=True):
        assert (r["period"], r["_source"], r["_file"], r["_row"]) == (
            PERIOD,
            "claims",
            "claims.csv",
            line,
        )
        assert r["_file_sha256"] == sha
        assert r["_sheet"] is None and r["_issues"] is None
    (ledger,) = rows(engine, "ingest_files")
    assert ledger["sha256"] == sha
    assert (ledger["rows_read"], ledger["rows_loaded"], ledger["rows_quarantined"]) == (3, 3, 0)
    assert (ledger["status"], ledger["encoding"], ledger["format"]) == ("ok", "utf-8", "csv")


def test_quarantine_reasons_and_messages(tmp_path: Path, engine: DuckDBEngine) -> None:
    m = person_mapping(
        fields=[
            *person_mapping().model_dump()["fields"][:3],
            {"name": "birth_date", "headers": ["出生日期"], "type": "date", "required": True},
            {"name": "amount", "headers": ["个人自付"], "type": "money"},
        ]
    )
    content = csv(
        f"JS1,张伟,{ID1},,1",  # required birth date missing
        f"JS2,李娜,{ID2},2025-02-30,2",  # required birth date impossible
        f"JS3,王五,{ID1},1990-01-01,abc",  # optional amount invalid: loaded, noted
        f"JS4,赵六,{ID1},1990-01-01,4,surplus",  # malformed
        ",孙七,,1990-01-01,5",  # required claim number missing
    )
    root = feeds(tmp_path, {"claims.csv": content})
    report = ingest_period(engine, root, PERIOD, {m.source: m})
    (f,) = report.files
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (5, 1, 4)
    q = rows(engine, "quarantine", "row")
    assert [(r["row"], r["reason"]) for r in q] == [
        (2, "required_missing"),
        (3, "required_invalid"),
        (5, "malformed_row"),
        (6, "required_missing"),
    ]
    assert q[0]["message_zh"] == "缺少必填字段“出生日期”"
    assert q[0]["message_en"] == 'required field "birth_date" is missing'
    assert "2025-02-30" in q[1]["message_zh"] and "不是有效日期" in q[1]["message_zh"]
    assert q[1]["message_en"].startswith('required field "birth_date" has an invalid value')
    assert json.loads(q[0]["raw"]) == {
        "结算单号": "JS1",
        "参保人姓名": "张伟",
        "公民身份号码": ID1,
        "出生日期": "",
        "个人自付": "1",
    }
    assert json.loads(q[2]["raw"])["列6"] == "surplus"
    assert q[3]["message_zh"] == "缺少必填字段“结算单号”"
    assert all(r["source"] == "claims" and r["file"] == "claims.csv" for r in q)
    (loaded,) = rows(engine, "raw_claims")
    assert loaded["amount"] is None
    assert json.loads(loaded["_issues"]) == {"amount": {"issue": "not_a_number", "raw": "abc"}}


def test_identity_rule(tmp_path: Path, engine: DuckDBEngine) -> None:
    content = csv(
        f"JS1,张伟,{ID1[:-1]}9,1990-01-01,1",  # wrong check, but name + birth date
        "JS2,李娜,,,2",  # no ID, no birth date: unidentifiable
        "JS3,王五,5.22325E+17,,3",  # mangled ID, nothing else
        f"JS4,,{ID2},,4",  # valid ID alone is enough
    )
    root = feeds(tmp_path, {"claims.csv": content})
    ingest_period(engine, root, PERIOD, mappings())
    loaded = rows(engine, "raw_claims", "_row")
    assert [r["_row"] for r in loaded] == [2, 5]
    assert loaded[0]["id_number"] is None
    assert loaded[0]["id_number_status"] == "invalid_check"
    assert loaded[0]["id_number_raw"] == f"{ID1[:-1]}9"
    q = rows(engine, "quarantine", "row")
    assert [(r["row"], r["reason"]) for r in q] == [(3, "unidentifiable"), (4, "id_excel_mangled")]
    assert "公民身份号码" in q[0]["message_zh"] and "参保人姓名+出生日期" in q[0]["message_zh"]
    assert "name + birth_date" in q[0]["message_en"]
    assert "5.22325E+17" in q[1]["message_zh"] and "Excel" in q[1]["message_en"]


def test_required_id_that_excel_mangled(tmp_path: Path, engine: DuckDBEngine) -> None:
    fields = person_mapping().model_dump()["fields"]
    fields[2]["required"] = True
    root = feeds(tmp_path, {"claims.csv": csv("JS1,张伟,5.22325199001011e+17,1990-01-01,1")})
    ingest_period(engine, root, PERIOD, mappings(fields=fields))
    (q,) = rows(engine, "quarantine")
    assert q["reason"] == "id_excel_mangled"
    assert q["message_zh"].startswith("“公民身份号码”的值“5.22325199001011e+17”是被 Excel")


def test_future_dates_and_duplicates(tmp_path: Path, engine: DuckDBEngine) -> None:
    row = f"JS1,张伟,{ID1},2025-07-02,1"
    content = csv(row, row, f"JS2,李娜,{ID2},2025-07-01,2")
    root = feeds(tmp_path, {"claims.csv": content})
    report = ingest_period(engine, root, PERIOD, mappings())
    assert report.rows_loaded == 3  # the duplicate is loaded; linkage dedupes
    out = rows(engine, "raw_claims", "_row")
    assert [r["_row"] for r in out] == [2, 3, 4]
    assert [r["birth_date"] for r in out] == [None, None, dt.date(2025, 7, 1)]
    assert json.loads(out[0]["_issues"])["birth_date"]["issue"] == "date_out_of_range"


def test_rerun_is_idempotent_and_replaces_the_period(tmp_path: Path, engine: DuckDBEngine) -> None:
    root = feeds(tmp_path, {"claims.csv": csv(f"JS1,张伟,{ID1},1990-01-01,1", "JS2,,,,2")})
    feeds(tmp_path, {"claims.csv": csv(f"JS9,王五,{ID2},1985-05-05,9")}, period="2025-06")
    ms = mappings()
    ingest_period(engine, root, PERIOD, ms)
    ingest_period(engine, root, "2025-06", ms)
    snapshot = {t: rows(engine, t, "period, _row") for t in ("raw_claims",)}
    snapshot["quarantine"] = rows(engine, "quarantine", "period, row")
    snapshot["ingest_files"] = rows(engine, "ingest_files", "period, file")
    ingest_period(engine, root, PERIOD, ms)
    assert rows(engine, "raw_claims", "period, _row") == snapshot["raw_claims"]
    assert rows(engine, "quarantine", "period, row") == snapshot["quarantine"]
    assert rows(engine, "ingest_files", "period, file") == snapshot["ingest_files"]
    # the department withdraws the file: the period's rows go, other periods stay
    (root / PERIOD / "claims.csv").unlink()
    report = ingest_period(engine, root, PERIOD, ms)
    assert report.files == []
    assert [r["period"] for r in rows(engine, "raw_claims")] == ["2025-06"]
    assert rows(engine, "quarantine") == []


def test_period_errors_progress_and_ignored_files(tmp_path: Path, engine: DuckDBEngine) -> None:
    root = feeds(
        tmp_path,
        {
            "claims.csv": csv(f"JS1,张伟,{ID1},1990-01-01,1"),
            "~$claims.xlsx": b"lock",
            ".DS_Store": b"\x00",
        },
    )
    with pytest.raises(ConfigError, match="2025-05"):
        ingest_period(engine, root, "2025-5", mappings())
    with pytest.raises(ConfigError, match="no folder"):
        ingest_period(engine, root, "2025-04", mappings())
    seen: list[FileReport] = []
    report = ingest_period(engine, root, PERIOD, mappings(), progress=seen.append)
    assert [f.path.name for f in seen] == ["claims.csv"]
    assert report.files == seen


def test_notes_for_unmapped_columns_missing_optional_fields_and_footer(
    tmp_path: Path, engine: DuckDBEngine
) -> None:
    content = "\r\n".join(
        ["结算单号,参保人姓名,公民身份号码,备用列", f"JS1,张伟,{ID1},x", "合计：2 条,,,", ""]
    )
    root = feeds(tmp_path, {"claims.csv": content})
    report = ingest_period(engine, root, PERIOD, mappings())
    codes = [n.code for n in report.files[0].notes]
    assert codes == ["unmapped_columns", "optional_columns_missing", "footer_count_differs"]
    (ledger,) = rows(engine, "ingest_files")
    notes = json.loads(ledger["notes"])
    assert notes[0]["zh"] == "未映射的列（未载入）：备用列"
    assert "birth_date" in notes[1]["en"]


def test_every_table_exists_after_a_period_with_only_failures(
    tmp_path: Path, engine: DuckDBEngine
) -> None:
    root = feeds(tmp_path, {"claims.csv": b"a,b\r\n1,2\r\n"})
    report = ingest_period(engine, root, PERIOD, mappings())
    assert [f.error_code for f in report.failed] == ["no_header"]
    assert engine.exists("raw_claims") and engine.exists("quarantine")
    assert rows(engine, "raw_claims") == []
    (ledger,) = rows(engine, "ingest_files")
    assert ledger["status"] == "failed"
    assert ledger["error_zh"].startswith("在前 10 行中找不到可识别的表头")
    assert isinstance(engine.fetch(engine.table("quarantine")), pa.Table)


def test_a_mapping_that_gained_a_field_needs_its_table_rebuilt(
    tmp_path: Path, engine: DuckDBEngine
) -> None:
    root = feeds(tmp_path, {"claims.csv": csv(f"JS1,张伟,{ID1},1990-01-01,1")})
    ingest_period(engine, root, PERIOD, mappings())
    fields = [
        *person_mapping().model_dump()["fields"],
        {"name": "note", "headers": ["备注"], "type": "text"},
    ]
    with pytest.raises(ConfigError, match=r"raw_claims lacks columns \['note'\]"):
        ingest_period(engine, root, PERIOD, mappings(fields=fields))
    # nothing was written by the refused run
    assert len(rows(engine, "raw_claims")) == 1


def test_reingesting_files_keeps_batches_pushed_through_the_api(tmp_path: Path) -> None:
    """A pushed batch survives a later file ingest of the same period (and vice versa)."""
    from povguard.engine import DuckDBEngine
    from povguard.ingest import PUSH_FILE_PREFIX, ingest_period, load_mappings, push_batch

    mappings = load_mappings()
    feeds = tmp_path / "feeds" / "2025-05"
    feeds.mkdir(parents=True)
    header = "业务编号,姓名,身份证号,登记类型,登记日期\n"
    (feeds / "hrss_employment.csv").write_text(
        header + "RS1,张伟,11010519491231002X,失业登记,2025-05-03\n", encoding="utf-8"
    )
    engine = DuckDBEngine(":memory:")
    ingest_period(engine, tmp_path / "feeds", "2025-05", mappings)
    body = (header + "RS2,李娜,110105194912310029,失业登记,2025-05-09\n").encode("utf-8")
    report = push_batch(engine, mappings["hrss_employment"], "2025-05", body, "csv")
    assert report.rows_loaded == 1
    ingest_period(engine, tmp_path / "feeds", "2025-05", mappings)  # files again
    rows = engine.fetch(engine.table("raw_hrss_employment")).to_pylist()
    assert sorted(r["record_no"] for r in rows) == ["RS1", "RS2"]
    assert sum(r["_file"].startswith(PUSH_FILE_PREFIX) for r in rows) == 1
    files = engine.fetch(engine.table("ingest_files"))["file"].to_pylist()
    assert sorted(f.startswith(PUSH_FILE_PREFIX) for f in files) == [False, True]


def test_ids_disagreeing_with_birth_date_or_sex_are_noted(tmp_path: Path) -> None:
    from povguard.engine import DuckDBEngine
    from povguard.ingest import ingest_period

    feeds = tmp_path / "feeds" / "2025-05"
    feeds.mkdir(parents=True)
    (feeds / "public_security.csv").write_text(
        "业务流水号,变动类型,姓名,公民身份号码,性别,出生日期,变动日期\n"
        "HJ1,出生登记,张伟,11010519491231002X,女,1949-12-31,2025-05-02\n"  # consistent
        "HJ2,出生登记,李娜,11010519491231002X,女,1950-01-01,2025-05-02\n"  # birth differs
        "HJ3,出生登记,王芳,11010519491231002X,男,1949-12-31,2025-05-02\n",  # sex differs
        encoding="utf-8",
    )
    engine = DuckDBEngine(":memory:")
    ingest_period(engine, tmp_path / "feeds", "2025-05")
    rows = engine.fetch(engine.table("raw_public_security")).sort_by("record_no").to_pylist()
    issues = [json.loads(r["_issues"]) if r["_issues"] else {} for r in rows]
    assert issues[0] == {}
    assert issues[1]["id_number"]["issue"] == "id_birth_mismatch"
    assert issues[2]["id_number"]["issue"] == "id_sex_mismatch"
    assert all(r["id_number"] == "11010519491231002X" for r in rows)  # values kept
