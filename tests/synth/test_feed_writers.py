"""Tests of the department-feed writers (povguard.synth.feeds.writers)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pyarrow as pa
import pytest

from povguard.errors import ConfigError, DataError
from povguard.synth.defect_params import DefectRates
from povguard.synth.feeds.defects import BLANK_AFTER, ROW_UID, apply_defects
from povguard.synth.feeds.spec import Column, FeedSpec, HeaderGroup, Role
from povguard.synth.feeds.writers import format_title, write_feed

COUNTY = "XX县"
PERIOD = "2025-05"
CREATED = dt.date(2025, 6, 3)

COLUMNS = (
    Column("report_no", "鉴定编号", Role.KEY, json_key="reportNo"),
    Column("owner", "户主姓名", Role.NAME, json_key="ownerName"),
    Column("owner_id", "户主身份证号", Role.ID, json_key="ownerIdNo"),
    Column("village", "所在村", Role.TEXT),
    Column("area", "建筑面积", Role.FLOAT),
    Column("level", "鉴定等级", Role.CODE),
    Column("inspected", "鉴定日期", Role.DATE),
    Column("subsidy", "补助金额", Role.MONEY),
)


def make_spec(
    fmt: str = "xlsx", encoding: str = "utf-8", groups: tuple[HeaderGroup, ...] = ()
) -> FeedSpec:
    return FeedSpec(
        source="house_safety",
        department="住房和城乡建设局",
        department_en="Housing and urban-rural development bureau",
        title="贵州省{county}{year}年{month}月房屋安全等级鉴定结果",
        fmt=fmt,  # type: ignore[arg-type]
        encoding=encoding,  # type: ignore[arg-type]
        columns=COLUMNS,
        record_key=("report_no",),
        header_groups=groups,
        often_missing_id=True,
        excel_mangles_ids=True,
        sheet_name="鉴定结果",
    )


GROUPS = (
    HeaderGroup("户主信息", "owner", "owner_id"),
    HeaderGroup("鉴定情况", "area", "inspected"),
)

ROWS: list[dict[str, Any]] = [
    {
        "report_no": "FW2025050001",
        "owner": "张伟",
        "owner_id": "522123199001011234",
        "village": "红星村",
        "area": "120.5",
        "level": "C级",
        "inspected": "2025-05-01",
        "subsidy": "15000.00",
    },
    {
        "report_no": "FW2025050002",
        "owner": " 李秀英",
        "owner_id": "5.22123199001011e+17",
        "village": "红星村,三组",
        "area": "80",
        "level": "D级",
        "inspected": "45778",
        "subsidy": None,
    },
    {
        "report_no": "FW2025050003",
        "owner": "王\u3000芳",
        "owner_id": "5.22123E+17",
        "village": '新寨"老"村',
        "area": None,
        "level": "B级",
        "inspected": "2025年5月3日",
        "subsidy": "0.00",
    },
    {
        "report_no": "FW2025050004",
        "owner": "赵建国",
        "owner_id": None,
        "village": "新寨村",
        "area": "95.25",
        "level": "C级",
        "inspected": "20250504",
        "subsidy": "8000.00",
    },
    {
        "report_no": "FW2025050005",
        "owner": "刘小明",
        "owner_id": "52212319850505123x",
        "village": "新寨村",
        "area": "60",
        "level": "A级",
        "inspected": "2025/5/5",
        "subsidy": "12345.60",
    },
]
BLANK = [False, True, False, False, False]


def make_table(rows: list[dict[str, Any]] = ROWS, blank: list[bool] = BLANK) -> pa.Table:
    data: dict[str, Any] = {c.key: pa.array([r[c.key] for r in rows], pa.string()) for c in COLUMNS}
    data[ROW_UID] = pa.array([f"house_safety:{i}" for i in range(len(rows))], pa.string())
    data[BLANK_AFTER] = pa.array(blank, pa.bool_())
    return pa.table(data)


def write(table: pa.Table, spec: FeedSpec, path: Path) -> int:
    return write_feed(table, spec, path, county=COUNTY, period=PERIOD, created=CREATED)


# --------------------------------------------------------------------- reading helpers


def read_sheet(path: Path) -> tuple[Any, list[list[Any]]]:
    """Worksheet and its cell values (``None`` for empty cells), row by row."""
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    values = [list(row) for row in ws.iter_rows(values_only=True)]
    return ws, values


def read_csv(path: Path, encoding: str) -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.reader(handle))


def expected_cells(row: dict[str, Any]) -> list[str]:
    return ["" if row[c.key] is None else row[c.key] for c in COLUMNS]


# ------------------------------------------------------------------------------- XLSX


def test_title_format() -> None:
    spec = make_spec()
    assert format_title(spec, COUNTY, PERIOD) == "贵州省XX县2025年5月房屋安全等级鉴定结果"
    assert format_title(spec, COUNTY, "202512") == "贵州省XX县2025年12月房屋安全等级鉴定结果"
    with pytest.raises(ConfigError):
        format_title(spec, COUNTY, "2025-13")


def test_xlsx_two_row_header(tmp_path: Path) -> None:
    spec = make_spec(groups=GROUPS)
    path = tmp_path / "house_safety.xlsx"
    assert write(make_table(), spec, path) == len(ROWS)
    ws, values = read_sheet(path)
    assert ws.title == "鉴定结果"
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert values[0][0] == "贵州省XX县2025年5月房屋安全等级鉴定结果"
    assert values[1][0] == "填报单位：XX县住房和城乡建设局    填报日期：2025年6月3日"
    assert {"A1:H1", "A2:H2"} <= merged
    # Group labels merged over their columns, ungrouped headers over both rows.
    assert {"B3:C3", "E3:G3", "A3:A4", "D3:D4", "H3:H4"} <= merged
    assert len(merged) == 7
    assert values[2] == ["鉴定编号", "户主信息", None, "所在村", "鉴定情况", None, None, "补助金额"]
    assert values[3] == [
        None,
        "户主姓名",
        "户主身份证号",
        None,
        "建筑面积",
        "鉴定等级",
        "鉴定日期",
        None,
    ]
    assert ws["A3"].font.b
    data = values[4:]
    assert data[0][0] == "FW2025050001"
    assert data[0][2] == "522123199001011234"  # a normal ID stays text
    assert ws.cell(row=5, column=3).data_type == "s"
    # Excel-mangled IDs and date serials are numeric cells.
    assert data[1][2] == 522123199001011000.0
    assert isinstance(data[1][2], float)
    assert ws.cell(row=6, column=3).data_type == "n"
    assert data[1][6] == 45778
    assert ws.cell(row=6, column=7).data_type == "n"
    assert data[1][0] == "FW2025050002"
    assert data[1][1] == " 李秀英"  # leading space kept
    assert data[2] == [None] * 8  # the blank row
    assert data[3][2] == 522123000000000000.0
    assert data[3][1] == "王\u3000芳"
    assert data[3][4] is None
    assert data[3][5] == "B级"
    assert data[4][2] is None  # missing ID: empty cell
    assert data[5][2] == "52212319850505123x"
    assert data[5][6] == "2025/5/5"
    assert data[5][7] == "12345.60"
    assert data[6][0] == "合计：5 条"
    assert data[7][0] == "制表人："
    assert len(data) == 8


def test_xlsx_one_row_header(tmp_path: Path) -> None:
    spec = make_spec()
    path = tmp_path / "flat.xlsx"
    write(make_table(blank=[False] * 5), spec, path)
    ws, values = read_sheet(path)
    assert {str(r) for r in ws.merged_cells.ranges} == {"A1:H1", "A2:H2"}
    assert values[2] == [c.header for c in COLUMNS]
    assert values[3][0] == "FW2025050001"
    assert values[8][0] == "合计：5 条"


def test_xlsx_without_blank_column_and_empty(tmp_path: Path) -> None:
    spec = make_spec(groups=GROUPS)
    path = tmp_path / "empty.xlsx"
    assert write(make_table([], []).drop_columns([BLANK_AFTER]), spec, path) == 0
    _, values = read_sheet(path)
    assert values[4][0] == "合计：0 条"


def test_bad_header_group(tmp_path: Path) -> None:
    spec = make_spec(groups=(HeaderGroup("x", "owner", "nope"),))
    with pytest.raises(ConfigError):
        write(make_table(), spec, tmp_path / "bad.xlsx")
    spec = make_spec(
        groups=(HeaderGroup("x", "owner", "village"), HeaderGroup("y", "village", "area"))
    )
    with pytest.raises(ConfigError):
        write(make_table(), spec, tmp_path / "bad.xlsx")


# -------------------------------------------------------------------------------- CSV


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8"])
def test_csv(tmp_path: Path, encoding: str) -> None:
    spec = make_spec(fmt="csv", encoding=encoding)
    path = tmp_path / "house_safety.csv"
    assert write(make_table(), spec, path) == len(ROWS)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    if encoding == "gbk":
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
    text = raw.decode(encoding)
    lines = text.split("\r\n")
    assert lines[-1] == ""
    assert lines[3] == ",,,,,,,"  # the blank row
    assert lines[1].startswith("FW2025050001,张伟,522123199001011234,红星村,120.5,")
    rows = read_csv(path, encoding)
    assert rows[0] == [c.header for c in COLUMNS]
    assert rows[1] == expected_cells(ROWS[0])
    assert rows[2] == expected_cells(ROWS[1])  # comma in a value: quoted
    assert rows[3] == [""] * 8
    assert [r for r in rows[4:]] == [expected_cells(r) for r in ROWS[2:]]


def test_csv_fast_path_same_bytes_as_csv_module(tmp_path: Path) -> None:
    spec = make_spec(fmt="csv", encoding="gbk")
    rows = [dict(r, village="红星村") for r in ROWS]  # nothing needs quoting
    path = tmp_path / "plain.csv"
    write(make_table(rows), spec, path)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([c.header for c in COLUMNS])
    for row, blank in zip(rows, BLANK, strict=True):
        writer.writerow(expected_cells(row))
        if blank:
            buf.write(",,,,,,,\r\n")
    assert path.read_bytes() == buf.getvalue().encode("gbk")
    assert b'"' not in path.read_bytes()


def test_csv_gbk_rejects_unencodable_value(tmp_path: Path) -> None:
    spec = make_spec(fmt="csv", encoding="gbk")
    rows = [dict(ROWS[0], owner="张\U00020000")]
    with pytest.raises(DataError, match="张\U00020000"):
        write(make_table(rows, [False]), spec, tmp_path / "bad.csv")


def test_missing_or_non_string_column(tmp_path: Path) -> None:
    spec = make_spec(fmt="csv")
    with pytest.raises(DataError, match="owner"):
        write(make_table().drop_columns(["owner"]), spec, tmp_path / "x.csv")
    table = make_table()
    table = table.set_column(1, "owner", pa.array([1, 2, 3, 4, 5]))
    with pytest.raises(DataError, match="string"):
        write(table, spec, tmp_path / "x.csv")


# ------------------------------------------------------------------------------- JSON


def test_json(tmp_path: Path) -> None:
    spec = make_spec(fmt="json")
    path = tmp_path / "house_safety.json"
    assert write(make_table(), spec, path) == len(ROWS)
    raw = path.read_bytes()
    assert "张伟".encode() in raw  # ensure_ascii False
    doc = json.loads(raw.decode("utf-8"))
    assert list(doc) == ["code", "message", "total", "data"]
    assert doc["code"] == 0
    assert doc["message"] == "success"
    assert doc["total"] == len(ROWS)
    keys = [c.json_key or c.key for c in COLUMNS]
    assert all(list(obj) == keys for obj in doc["data"])
    assert len(doc["data"]) == len(ROWS) + 1
    assert doc["data"][2] == dict.fromkeys(keys)
    objs = [doc["data"][i] for i in (0, 1, 3, 4, 5)]
    for obj, row in zip(objs, ROWS, strict=True):
        assert list(obj.values()) == [row[c.key] for c in COLUMNS]


def test_json_same_text_as_json_module(tmp_path: Path) -> None:
    spec = make_spec(fmt="json")
    rows = [dict(r) for r in ROWS]
    rows[0]["village"] = 'a\\b"c/d\u2028'
    fast = tmp_path / "fast.json"
    write(make_table(rows), spec, fast)
    rows[1]["village"] = "tab\there"  # a control character: the json module path
    slow = tmp_path / "slow.json"
    write(make_table(rows), spec, slow)
    for path in (fast, slow):
        doc = json.loads(path.read_text("utf-8"))
        expected = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
        assert path.read_text("utf-8") == expected
    assert json.loads(slow.read_text("utf-8"))["data"][1]["village"] == "tab\there"
    assert json.loads(fast.read_text("utf-8"))["data"][0]["village"] == 'a\\b"c/d\u2028'


# ------------------------------------------------------------------------ reproducibility


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fmt", "encoding"),
    [("xlsx", "utf-8"), ("csv", "gbk"), ("csv", "utf-8-sig"), ("json", "utf-8")],
)
def test_byte_identical(tmp_path: Path, fmt: str, encoding: str) -> None:
    spec = make_spec(fmt=fmt, encoding=encoding, groups=GROUPS)
    first, second = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
    write(make_table(), spec, first)
    if fmt == "xlsx":
        time.sleep(2.1)  # zip timestamps have a two-second resolution
    write(make_table(), spec, second)
    assert first.read_bytes() == second.read_bytes()


def test_period_and_created_change_xlsx(tmp_path: Path) -> None:
    spec = make_spec()
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    write(make_table(), spec, a)
    write_feed(make_table(), spec, b, county=COUNTY, period=PERIOD, created=dt.date(2025, 6, 4))
    assert a.read_bytes() != b.read_bytes()
    with pytest.raises(ConfigError):
        write_feed(make_table(), spec, b, county=COUNTY, period="May", created=CREATED)


# ------------------------------------------------------------------------ defects -> file


def _clean_table(n: int) -> pa.Table:
    rng = np.random.default_rng(3)
    from povguard.synth.idcard import check_chars

    bodies = [
        f"52212319{y:02d}0101{s:03d}"
        for y, s in zip(rng.integers(40, 99, n), rng.integers(0, 999, n), strict=True)
    ]
    ids = [b + str(c) for b, c in zip(bodies, check_chars(np.array(bodies)), strict=True)]
    return pa.table(
        {
            "report_no": [f"FW{i:08d}" for i in range(n)],
            "owner": ["张伟", "李秀英", "王芳", "赵建国"] * (n // 4),
            "owner_id": ids,
            "village": ["红星村"] * n,
            "area": rng.uniform(40, 200, n).round(1),
            "level": ["A级", "B级", "C级", "D级"] * (n // 4),
            "inspected": pa.array(
                np.datetime64("2025-05-01") + rng.integers(0, 30, n), pa.date32()
            ),
            "subsidy": rng.uniform(0, 20000, n).round(2),
            ROW_UID: [f"house_safety:{i}" for i in range(n)],
        }
    )


@pytest.mark.parametrize(
    ("fmt", "encoding"), [("xlsx", "utf-8"), ("csv", "gbk"), ("json", "utf-8")]
)
def test_dirty_feed_round_trip(tmp_path: Path, fmt: str, encoding: str) -> None:
    spec = make_spec(fmt=fmt, encoding=encoding, groups=GROUPS)
    n = 2000
    res = apply_defects(
        _clean_table(n), spec, DefectRates().scaled(0.5), np.random.default_rng(9), PERIOD
    )
    path = tmp_path / f"feed.{fmt}"
    written = write(res.table, spec, path)
    assert written == res.table.num_rows > n
    blanks = sum(res.table.column(BLANK_AFTER).to_pylist())
    assert blanks > 0
    dirty = [
        ["" if v is None else v for v in row]
        for row in zip(*(res.table.column(c.key).to_pylist() for c in COLUMNS), strict=True)
    ]
    if fmt == "csv":
        rows = [r for r in read_csv(path, encoding)[1:] if any(r)]
        assert rows == dirty
    elif fmt == "json":
        data = json.loads(path.read_text("utf-8"))["data"]
        assert len(data) == written + blanks
        rows = [["" if v is None else v for v in obj.values()] for obj in data if any(obj.values())]
        assert rows == dirty
    else:
        _, values = read_sheet(path)
        body = values[4:-2]
        assert len(body) == written + blanks
        rows = [r for r in body if any(v is not None for v in r)]
        assert len(rows) == written
        floats = [r[2] for r in rows if isinstance(r[2], float)]
        assert floats  # some IDs were mangled into numbers
        assert values[-2][0] == f"合计：{written} 条"
        text = [["" if v is None else v for v in r] for r in rows]
        for got, want in zip(text, dirty, strict=True):
            for g, w in zip(got, want, strict=True):
                if isinstance(g, str):
                    assert g == w
                else:
                    assert float(w) == g


def test_large_csv_keeps_every_row(tmp_path: Path) -> None:
    spec = make_spec(fmt="csv", encoding="gbk")
    n = 100_000
    table = make_table([ROWS[0]] * n, [False] * n)
    assert write(table, spec, tmp_path / "big.csv") == n
    assert len(io.BytesIO((tmp_path / "big.csv").read_bytes()).readlines()) == n + 1


def test_xlsx_too_many_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from povguard.synth.feeds import writers

    monkeypatch.setattr(writers, "_XLSX_MAX_ROWS", 10)
    path = tmp_path / "big.xlsx"
    with pytest.raises(DataError, match="do not fit"):
        write(make_table(), make_spec(groups=GROUPS), path)
    assert not path.exists()
