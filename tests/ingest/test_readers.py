"""Readers: encodings, header detection, XLSX layouts, JSON, row numbers."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest

from povguard.ingest import load_mappings
from povguard.ingest.messages import IngestFileError
from povguard.ingest.readers import RawSheet, cell_text, decode_text, read_file
from povguard.synth import SOURCE_BY_NAME
from povguard.synth.feeds.writers import write_feed

from .conftest import person_mapping

HEADER = "结算单号,参保人姓名,公民身份号码,出生日期,个人自付"
ROWS = [
    "JS001,张伟,522325199001011234,1990-01-01,12.50",
    "JS002,李娜,522325198505050021,1985/5/5,1.2万",
]


def values(sheet: RawSheet, field: str) -> list[str | None]:
    return sheet.data.column(sheet.assignment[field]).to_pylist()


def one(data: bytes, **overrides: object) -> RawSheet:
    result = read_file(data, person_mapping(**overrides))
    assert len(result.sheets) == 1
    return result.sheets[0]


# ------------------------------------------------------------------------------ CSV


@pytest.mark.parametrize(
    ("encoding", "bom", "detected"),
    [("gbk", b"", "gb18030"), ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"), ("utf-8", b"", "utf-8")],
)
def test_csv_encodings(encoding: str, bom: bytes, detected: str) -> None:
    data = bom + "\r\n".join([HEADER, *ROWS, ""]).encode(encoding)
    result = read_file(data, person_mapping())
    assert result.encoding == detected
    sheet = result.sheets[0]
    assert values(sheet, "name") == ["张伟", "李娜"]
    assert values(sheet, "amount") == ["12.50", "1.2万"]
    assert sheet.rows.tolist() == [2, 3]
    assert sheet.labels == HEADER.split(",")


def test_explicit_encoding_and_undecodable() -> None:
    data = "\r\n".join([HEADER, *ROWS]).encode("gbk")
    assert read_file(data, person_mapping(encoding="gbk")).encoding == "gbk"
    with pytest.raises(IngestFileError) as err:
        read_file(data, person_mapping(encoding="utf-8"))
    assert err.value.message.code == "undecodable"
    with pytest.raises(IngestFileError) as err:
        decode_text(b"\x00\x01garbage\x00")
    assert err.value.message.code == "not_text"


def test_csv_title_rows_blank_rows_footer_and_line_numbers() -> None:
    lines = [
        "贞丰县2025年5月医保结算明细,,,,",
        "填报单位：贞丰县医疗保障局,,,,",
        HEADER,
        ROWS[0],
        ",,,,",
        "",
        ROWS[1],
        " , ,\u3000,,",
        "合计：2 条,,,,",
        "制表人：,,,,",
    ]
    sheet = one("\r\n".join(lines).encode("utf-8"))
    assert sheet.rows.tolist() == [4, 7]
    assert values(sheet, "claim_no") == ["JS001", "JS002"]
    assert sheet.footer_total == 2
    assert not sheet.malformed


def test_csv_malformed_rows_are_kept_apart() -> None:
    lines = [HEADER, ROWS[0], "JS003,王五,x,y,z,extra", "JS004,赵六", ROWS[1] + ",,", ROWS[1]]
    sheet = one("\n".join(lines).encode("utf-8"))
    assert sheet.rows.tolist() == [2, 5, 6]
    assert [(r, n) for r, _, n in sheet.malformed] == [(3, 6), (4, 2)]
    assert sheet.malformed[0][1] == ["JS003", "王五", "x", "y", "z", "extra"]


def test_quoted_csv_keeps_line_numbers_of_record_starts() -> None:
    lines = [
        HEADER,
        'JS001,"张伟",522325199001011234,1990-01-01,"1,234.50"',
        'JS002,"李\n娜",522325198505050021,1985-05-05,3',
        "JS003,王五,522325198505050021,1985-05-05,4",
    ]
    sheet = one("\r\n".join(lines).encode("utf-8"))
    assert sheet.rows.tolist() == [2, 3, 5]
    assert values(sheet, "amount") == ["1,234.50", "3", "4"]
    assert values(sheet, "name")[1] == "李\n娜"


def test_csv_without_recognisable_header_or_required_column() -> None:
    with pytest.raises(IngestFileError) as err:
        one(b"a,b,c\r\n1,2,3\r\n")
    assert err.value.message.code == "no_header"
    with pytest.raises(IngestFileError) as err:
        one("参保人姓名,公民身份号码\r\n张伟,522325199001011234\r\n".encode())
    assert err.value.message.code == "missing_required_column"
    assert "结算单号 (claim_no)" in err.value.message.zh


# ----------------------------------------------------------------------------- XLSX


def _civil_affairs_xlsx(tmp_path: Path) -> bytes:
    spec = SOURCE_BY_NAME["civil_affairs"]
    rows = [
        ["MZ1", "水口村", "王喜贵", "522325195703035059", "张宁爱", "52232519570825172X"],
        ["MZ2", "花溪村", "阮伟建", "522325198810208895", "刘小刚", "5.22325197007226e+17"],
        ["MZ3", "花溪村", "阮伟建", "522325198810208895", "阮亦一", "522325201309011487"],
    ]
    tail = [["子女", "低保", "停保", "4", "0.00", "2025-02-27"]] * 3
    tail[1] = ["父母", "低保", "新增", "6", "310.50", "45778"]
    cols = {c.key: [r[i] for r in rows] for i, c in enumerate(spec.columns[:6])}
    cols |= {c.key: [t[i] for t in tail] for i, c in enumerate(spec.columns[6:])}
    table = pa.table({k: pa.array(v, pa.string()) for k, v in cols.items()})
    table = table.append_column("_blank_after", pa.array([True, False, False]))
    path = tmp_path / "civil_affairs.xlsx"
    write_feed(table, spec, path, county="贞丰县", period="2025-05", created=dt.date(2025, 6, 3))
    return path.read_bytes()


def test_xlsx_title_rows_and_two_row_merged_header(tmp_path: Path) -> None:
    mapping = load_mappings()["civil_affairs"]
    result = read_file(_civil_affairs_xlsx(tmp_path), mapping)
    assert result.encoding is None
    sheet = result.sheets[0]
    assert sheet.sheet == "变动名册"
    assert sheet.typed_cells
    # title row 1, info row 2, header rows 3-4, data from row 5, one blank row after it
    assert sheet.rows.tolist() == [5, 7, 8]
    assert set(sheet.assignment) == {f.name for f in mapping.fields}
    assert values(sheet, "record_no") == ["MZ1", "MZ2", "MZ3"]
    assert values(sheet, "head_name") == ["王喜贵", "阮伟建", "阮伟建"]
    assert values(sheet, "village")[0] == "水口村"
    # an ID in a number cell keeps Excel's 15 digits only; a date serial stays a number
    assert values(sheet, "id_number")[1] == "5.22325197007226e+17"
    assert values(sheet, "change_date")[1] == "45778"
    assert sheet.footer_total == 3


def test_xlsx_several_sheets_generic_subheaders_and_typed_cells() -> None:
    wb = openpyxl.Workbook()
    notes = wb.active
    assert notes is not None
    notes.title = "填报说明"
    notes.append(["本表由乡镇填报，每月5日前报送"])
    for title in ("大坝镇", "者相镇"):
        ws = wb.create_sheet(title)
        ws.append([f"{title}临时救助台账"])
        ws.append(["结算单号", "参保人信息", None, None, "个人自付"])
        ws.append([None, "姓名", "身份证号", "出生日期", None])
        ws.append(["JS1", "张伟", 522325199001011234, dt.datetime(1990, 1, 1), 12.5])
        ws.append([None, None, None, None, None])
        ws.append(["JS2", " 李娜", "522325198505050021", dt.date(1985, 5, 5), 3])
        ws.append(["合计", None, None, None, 15.5])
    buf = io.BytesIO()
    wb.save(buf)
    result = read_file(buf.getvalue(), person_mapping(format="xlsx", files=["claims.xlsx"]))
    assert [s.sheet for s in result.sheets] == ["大坝镇", "者相镇"]
    assert [n.code for n in result.notes] == ["sheet_skipped"]
    sheet = result.sheets[0]
    assert sheet.rows.tolist() == [4, 6]
    # a number cell (openpyxl writes all digits, Excel would keep 15) is never taken as text
    first, second = values(sheet, "id_number")
    assert first is not None and first.startswith("5.2232519900101") and first.endswith("e+17")
    assert second == "522325198505050021"
    assert values(sheet, "birth_date") == ["1990-01-01", "1985-05-05"]
    assert values(sheet, "amount") == ["12.5", "3"]
    assert sheet.labels[:3] == ["结算单号", "姓名", "身份证号"]


def test_corrupt_xlsx(tmp_path: Path) -> None:
    data = _civil_affairs_xlsx(tmp_path)
    mapping = load_mappings()["civil_affairs"]
    for broken in (data[: len(data) // 2], b"PK\x03\x04" + b"\x00" * 100, b"not a zip"):
        with pytest.raises(IngestFileError) as err:
            read_file(broken, mapping)
        assert err.value.message.code == "corrupt_xlsx"
    with pytest.raises(IngestFileError) as err:
        read_file(data, mapping.model_copy(update={"sheet": "Sheet9"}))
    assert err.value.message.code == "no_sheet"


# ----------------------------------------------------------------------------- JSON


def test_json_records() -> None:
    doc = {
        "code": 0,
        "total": 3,
        "data": [
            {"reportId": "SB1", "applicantName": "张伟", "idCardNo": "522325199001011234"},
            {"reportId": None, "applicantName": None, "idCardNo": None},
            {"reportId": "SB2", "applicantName": "李娜", "idCardNo": 522325198505050021},
            {"reportId": "SB3", "applicantName": "王五", "idCardNo": 5.22325198505050e17},
            "not an object",
        ],
    }
    mapping = load_mappings()["self_reports"]
    result = read_file(json.dumps(doc, ensure_ascii=False).encode("utf-8"), mapping)
    sheet = result.sheets[0]
    assert sheet.rows.tolist() == [1, 3, 4]
    assert values(sheet, "report_id") == ["SB1", "SB2", "SB3"]
    # numbers of 16+ digits are not trusted (JavaScript doubles keep ~15-17 digits)
    assert values(sheet, "id_number") == [
        "522325199001011234",
        "5.2232519850505005e+17",
        "5.2232519850505e+17",
    ]
    assert sheet.footer_total == 3
    assert [(r, n) for r, _, n in sheet.malformed] == [(5, 1)]


def test_json_paths_and_errors() -> None:
    mapping = load_mappings()["self_reports"]
    records = [{"reportId": "SB1", "applicantName": "张伟"}]
    flat = mapping.model_copy(update={"records_path": None})
    assert read_file(json.dumps(records).encode(), flat).sheets[0].rows.tolist() == [1]
    nested = mapping.model_copy(update={"records_path": "result.items"})
    doc = {"result": {"items": records}}
    assert read_file(json.dumps(doc).encode(), nested).sheets[0].rows.tolist() == [1]
    for data, code in [
        (b"{not json", "invalid_json"),
        (b'{"rows": []}', "no_records"),
        (json.dumps({"data": [{"a": 1}]}).encode(), "no_header"),
    ]:
        with pytest.raises(IngestFileError) as err:
            read_file(data, mapping)
        assert err.value.message.code == code


# ------------------------------------------------------------------------ cell text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        ("x", "x"),
        (45778, "45778"),
        (45778.0, "45778"),
        (522325100201.0, "522325100201"),
        (1234.5, "1234.5"),
        (5.22325197007226e17, "5.22325197007226e+17"),
        (522325197007226950, "5.2232519700722694e+17"),
        (1e15, "1000000000000000.0"),
        (True, "TRUE"),
        (dt.datetime(2025, 5, 1), "2025-05-01"),
        (dt.datetime(2025, 5, 1, 8, 30), "2025-05-01 08:30:00"),
        (dt.date(2025, 5, 1), "2025-05-01"),
        (Decimal("12.50"), "12.50"),
        (Decimal("12"), "12"),
        ({"a": 1}, '{"a": 1}'),
    ],
)
def test_cell_text(value: object, text: str | None) -> None:
    assert cell_text(value) == text
