"""Tests of the department-feed defects (povguard.synth.feeds.defects)."""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from povguard.errors import DataError
from povguard.synth.defect_params import DefectRates
from povguard.synth.feeds.defects import (
    BLANK_AFTER,
    DUP_SUFFIX,
    LOG_SCHEMA,
    ROW_UID,
    DefectResult,
    apply_defects,
    render_clean,
)
from povguard.synth.feeds.spec import Column, FeedSpec, Role
from povguard.synth.idcard import check_chars, to_legacy15

N = 20_000
PERIOD = "2025-05"
RATE_FIELDS = [f for f in DefectRates.model_fields if f != "name_homophone_share"]
CELL_DEFECTS = {
    "name_homophone",
    "name_wrong_char",
    "name_order_swap",
    "id_digit",
    "id_transposition",
    "id_check_char",
    "id_legacy15",
    "id_lowercase_x",
    "id_fullwidth",
    "id_excel_float",
    "missing_id",
    "stray_space",
    "date_format_mixed",
    "late_correction",
}
ROW_DEFECTS = {"duplicate_row", "blank_row"}

SURNAMES = ["张", "王", "李", "赵", "刘", "陈", "杨", "黄", "欧阳", "吴"]
GIVEN = ["伟", "芳", "秀英", "建国", "小明", "娜", "志强", "桂兰", "敏", "海燕"]
SURNAMES_PY = ["ZHANG", "WANG", "LI", "ZHAO", "LIU", "CHEN", "YANG", "HUANG", "OUYANG", "WU"]
GIVEN_PY = ["WEI", "FANG", "XIUYING", "JIANGUO", "XIAOMING", "NA", "ZHIQIANG", "GUILAN", "MIN"]
KINDS = ["住院", "门诊", "门诊慢特病", "购药"]


def only(**rates: float) -> DefectRates:
    """All rates 0 except the given ones."""
    values: dict[str, Any] = dict.fromkeys(RATE_FIELDS, 0.0)
    values.update(rates)
    return DefectRates(**values)


def make_spec(
    *,
    fmt: str = "csv",
    often_missing_id: bool = False,
    excel_mangles_ids: bool = False,
    two_ids: bool = False,
    date_format: str | None = None,
) -> FeedSpec:
    cols = [
        Column("claim_no", "结算单号", Role.KEY),
        Column("name", "姓名", Role.NAME),
        Column("id_no", "身份证号", Role.ID, json_key="idNo"),
        Column("name_py", "姓名拼音", Role.NAME_PINYIN),
        Column("admit", "入院日期", Role.DATE),
        Column("discharge", "出院日期", Role.DATE),
        Column("total", "医疗总费用", Role.MONEY),
        Column("paid", "统筹支付", Role.MONEY),
        Column("days", "住院天数", Role.INT),
        Column("ratio", "报销比例", Role.FLOAT),
        Column("kind", "就诊类型", Role.CODE),
        Column("region", "行政区划代码", Role.REGION),
        Column("hospital", "医疗机构", Role.TEXT),
    ]
    if two_ids:
        cols.insert(3, Column("guardian_id", "监护人身份证号", Role.ID))
    return FeedSpec(
        source="medical_claims",
        department="医疗保障局",
        department_en="Healthcare security bureau",
        title="{county}{year}年{month}月住院费用结算明细",
        fmt=fmt,  # type: ignore[arg-type]
        encoding="utf-8",
        columns=tuple(cols),
        record_key=("claim_no",),
        often_missing_id=often_missing_id,
        excel_mangles_ids=excel_mangles_ids,
        extra={"date_format": date_format} if date_format else {},
    )


def make_ids(rng: np.random.Generator, n: int) -> list[str]:
    years = rng.integers(1935, 2016, n)
    months = rng.integers(1, 13, n)
    days = rng.integers(1, 29, n)
    seq = rng.integers(0, 1000, n)
    bodies = [
        f"520123{y:04d}{m:02d}{d:02d}{s:03d}"
        for y, m, d, s in zip(years, months, days, seq, strict=True)
    ]
    checks = check_chars(np.array(bodies))
    return [b + str(c) for b, c in zip(bodies, checks, strict=True)]


def with_nulls(values: list[Any], rng: np.random.Generator, share: float) -> list[Any]:
    drop = rng.random(len(values)) < share
    return [None if d else v for v, d in zip(values, drop, strict=True)]


def make_clean(spec: FeedSpec, n: int = N, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    s = rng.integers(0, len(SURNAMES), n)
    g = rng.integers(0, len(GIVEN_PY), n)
    names = [SURNAMES[i] + GIVEN[j] for i, j in zip(s, g, strict=True)]
    pinyin = [SURNAMES_PY[i] + " " + GIVEN_PY[j] for i, j in zip(s, g, strict=True)]
    pinyin[::50] = ["ZHANGWEI"] * len(pinyin[::50])  # no space: cannot be swapped
    admit = np.datetime64("2024-12-01") + rng.integers(0, 200, n)
    stay = rng.integers(0, 30, n)
    total = np.round(rng.gamma(2.0, 3000.0, n), 2)
    total[::97] = 0.0
    data: dict[str, Any] = {
        "claim_no": [f"JS{i:09d}" for i in range(n)],
        "name": with_nulls(names, rng, 0.02),
        "id_no": with_nulls(make_ids(rng, n), rng, 0.02),
        "name_py": with_nulls(pinyin, rng, 0.02),
        "admit": pa.array(admit, pa.date32()),
        "discharge": pa.array(with_nulls((admit + stay).tolist(), rng, 0.05), pa.date32()),
        "total": pa.array(with_nulls(list(total), rng, 0.02), pa.float64()),
        "paid": np.round(total * rng.uniform(0.3, 0.9, n), 2),
        "days": pa.array(with_nulls([int(x) for x in stay], rng, 0.02), pa.int64()),
        "ratio": np.round(rng.uniform(0.5, 0.9, n), 3),
        "kind": with_nulls([KINDS[i] for i in rng.integers(0, len(KINDS), n)], rng, 0.02),
        "region": ["520123100" + f"{i % 20:03d}" for i in range(n)],
        "hospital": ["XX县人民医院"] * n,
    }
    if "guardian_id" in [c.key for c in spec.columns]:
        data["guardian_id"] = make_ids(rng, n)
    data[ROW_UID] = [f"medical_claims:{i}" for i in range(n)]
    return pa.table(data)


@pytest.fixture(scope="module")
def spec() -> FeedSpec:
    return make_spec()


@pytest.fixture(scope="module")
def clean(spec: FeedSpec) -> pa.Table:
    return make_clean(spec)


@pytest.fixture(scope="module")
def rendered(clean: pa.Table, spec: FeedSpec) -> pa.Table:
    return render_clean(clean, spec)


def run(clean: pa.Table, spec: FeedSpec, rates: DefectRates, seed: int = 1) -> DefectResult:
    return apply_defects(clean, spec, rates, np.random.default_rng(seed), PERIOD)


def within(k: int, n: int, p: float) -> bool:
    """``k`` successes out of ``n`` are compatible with probability ``p`` (5 sigma)."""
    return abs(k - n * p) <= 5.0 * math.sqrt(n * p * (1.0 - p)) + 1.0


def log_rows(result: DefectResult) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = result.log.to_pylist()
    return rows


def by_uid(table: pa.Table) -> dict[str, dict[str, Any]]:
    return {row[ROW_UID]: row for row in table.to_pylist()}


def is_valid_id(value: str) -> bool:
    body = value[:17]
    return (
        len(value) == 18 and body.isdigit() and str(check_chars(np.array([body]))[0]) == value[17]
    )


# --------------------------------------------------------------------------- rendering


def test_render_clean_formats() -> None:
    spec = make_spec()
    table = make_clean(spec, n=3)
    table = table.set_column(
        table.schema.get_field_index("total"),
        "total",
        pa.array([1234.5, -0.5, None], pa.float64()),
    )
    table = table.set_column(
        table.schema.get_field_index("admit"),
        "admit",
        pa.array([dt.date(2025, 5, 1), dt.date(2024, 12, 31), None], pa.date32()),
    )
    table = table.set_column(
        table.schema.get_field_index("days"), "days", pa.array([7, None, 0], pa.int64())
    )
    out = render_clean(table, spec)
    assert out.column_names == [c.key for c in spec.columns] + [ROW_UID]
    assert all(pa.types.is_string(t) for t in out.schema.types)
    assert out.column("total").to_pylist() == ["1234.50", "-0.50", None]
    assert out.column("admit").to_pylist() == ["2025-05-01", "2024-12-31", None]
    assert out.column("days").to_pylist() == ["7", None, "0"]

    chinese = make_spec(date_format="%Y年%m月%d日")
    out = render_clean(table, chinese)
    assert out.column("admit").to_pylist() == ["2025年05月01日", "2024年12月31日", None]


@given(st.integers(min_value=-(10**9), max_value=10**11))
@settings(max_examples=200, deadline=None)
def test_money_renders_like_python(cents: int) -> None:
    spec = make_spec()
    table = make_clean(spec, n=1)
    table = table.set_column(
        table.schema.get_field_index("total"), "total", pa.array([cents / 100.0])
    )
    assert render_clean(table, spec).column("total")[0].as_py() == f"{cents / 100.0:.2f}"


def test_input_is_checked(clean: pa.Table, spec: FeedSpec) -> None:
    with pytest.raises(DataError, match="lacks columns"):
        run(clean.drop_columns(["name"]), spec, DefectRates())
    with pytest.raises(DataError, match="_row_uid"):
        run(clean.drop_columns([ROW_UID]), spec, DefectRates())
    dup = pa.concat_tables([clean.slice(0, 5), clean.slice(0, 5)])
    with pytest.raises(DataError, match="unique"):
        run(dup, spec, DefectRates())


# ------------------------------------------------------------------------------ rates


def _ids(rendered: pa.Table) -> list[str]:
    return [v for v in rendered.column("id_no").to_pylist() if v is not None]


def test_rate_name_typo(clean: pa.Table, spec: FeedSpec, rendered: pa.Table) -> None:
    res = run(clean, spec, only(name_typo=0.05))
    counts = Counter(r["defect"] for r in log_rows(res))
    assert set(counts) <= {"name_homophone", "name_wrong_char"}
    eligible = sum(v is not None for v in rendered.column("name").to_pylist())
    typos = counts["name_homophone"] + counts["name_wrong_char"]
    assert within(typos, eligible, 0.05)
    # The homophone share is an upper bound: a homophone is not always available.
    assert counts["name_homophone"] > 0
    assert counts["name_homophone"] <= typos * 0.5 + 5 * math.sqrt(typos * 0.25)
    assert all(r["column"] == "name" for r in log_rows(res))


def test_rate_name_order_swap(clean: pa.Table, spec: FeedSpec, rendered: pa.Table) -> None:
    res = run(clean, spec, only(name_order_swap=0.10))
    rows = log_rows(res)
    eligible = sum(v is not None and " " in v for v in rendered.column("name_py").to_pylist())
    assert {r["defect"] for r in rows} == {"name_order_swap"}
    assert within(len(rows), eligible, 0.10)
    for r in rows:
        family, given_name = r["clean_value"].split(" ", 1)
        assert r["dirty_value"] == f"{given_name} {family}"


def test_rate_id_digit_error(clean: pa.Table, spec: FeedSpec, rendered: pa.Table) -> None:
    res = run(clean, spec, only(id_digit_error=0.06))
    rows = log_rows(res)
    eligible = len(_ids(rendered))
    counts = Counter(r["defect"] for r in rows)
    assert set(counts) == {"id_digit", "id_transposition", "id_check_char"}
    assert within(len(rows), eligible, 0.06)
    for kind in counts:
        assert within(counts[kind], len(rows), 1 / 3)
    for r in rows:
        clean_id, dirty = r["clean_value"], r["dirty_value"]
        assert len(dirty) == 18
        diff = [i for i in range(18) if clean_id[i] != dirty[i]]
        if r["defect"] == "id_check_char":
            assert diff == [17]
        elif r["defect"] == "id_digit":
            assert len(diff) == 1
            assert diff[0] < 17
        else:
            assert len(diff) == 2
            assert diff[1] == diff[0] + 1 < 17
            assert clean_id[diff[0]] == dirty[diff[1]]
        # MOD 11-2 catches every single-digit error and adjacent transposition.
        assert not is_valid_id(dirty)


def test_rate_id_legacy15(clean: pa.Table, spec: FeedSpec, rendered: pa.Table) -> None:
    res = run(clean, spec, only(id_legacy_15=0.05))
    rows = log_rows(res)
    eligible = sum(v[6:8] == "19" for v in _ids(rendered))
    assert within(len(rows), eligible, 0.05)
    for r in rows:
        assert r["defect"] == "id_legacy15"
        assert r["clean_value"][6:8] == "19"  # born before 2000
        assert r["dirty_value"] == str(to_legacy15(np.array([r["clean_value"]]))[0])
        assert len(r["dirty_value"]) == 15


def test_rate_id_lowercase_x(clean: pa.Table, spec: FeedSpec, rendered: pa.Table) -> None:
    res = run(clean, spec, only(id_lowercase_x=0.3))
    rows = log_rows(res)
    eligible = sum(v.endswith("X") for v in _ids(rendered))
    assert eligible > 1000
    assert within(len(rows), eligible, 0.3)
    for r in rows:
        assert r["defect"] == "id_lowercase_x"
        assert r["dirty_value"] == r["clean_value"][:-1] + "x"


def test_rate_id_fullwidth(clean: pa.Table, spec: FeedSpec, rendered: pa.Table) -> None:
    res = run(clean, spec, only(id_fullwidth=0.05))
    rows = log_rows(res)
    assert within(len(rows), len(_ids(rendered)), 0.05)
    back = str.maketrans({chr(0xFF10 + i): str(i) for i in range(10)} | {"Ｘ": "X"})
    for r in rows:
        assert r["defect"] == "id_fullwidth"
        assert re.fullmatch(r"[０-９]{17}[０-９Ｘ]", r["dirty_value"])
        assert r["dirty_value"].translate(back) == r["clean_value"]


def test_rate_id_excel_float(clean: pa.Table, rendered: pa.Table) -> None:
    spec = make_spec(fmt="xlsx", excel_mangles_ids=True)
    res = run(clean, spec, only(id_excel_float=0.05))
    rows = log_rows(res)
    eligible = sum(not v.endswith("X") for v in _ids(rendered))
    assert within(len(rows), eligible, 0.05)
    forms: Counter[str] = Counter()
    for r in rows:
        assert r["defect"] == "id_excel_float"
        assert not r["clean_value"].endswith("X")
        # Excel keeps 15 significant digits; the float is written in Python's repr.
        number = float(int(r["clean_value"][:15]) * 1000)
        if r["dirty_value"] == repr(number):
            forms["repr"] += 1
        else:
            assert r["dirty_value"] == f"{number:.5E}"  # Excel's display form
            assert re.fullmatch(r"\d\.\d{5}E\+17", r["dirty_value"])
            forms["display"] += 1
    assert within(forms["repr"], len(rows), 0.5)


@pytest.mark.parametrize(
    ("fmt", "mangles"), [("xlsx", False), ("csv", True), ("json", True), ("csv", False)]
)
def test_excel_float_only_in_mangling_xlsx(clean: pa.Table, fmt: str, mangles: bool) -> None:
    spec = make_spec(fmt=fmt, excel_mangles_ids=mangles)
    assert run(clean, spec, only(id_excel_float=1.0)).log.num_rows == 0


@pytest.mark.parametrize(("often", "field"), [(True, "missing_id"), (False, "missing_id_other")])
def test_rate_missing_id(clean: pa.Table, rendered: pa.Table, often: bool, field: str) -> None:
    spec = make_spec(often_missing_id=often)
    res = run(clean, spec, only(**{field: 0.05}))
    rows = log_rows(res)
    assert within(len(rows), len(_ids(rendered)), 0.05)
    assert all(r["defect"] == "missing_id" and r["dirty_value"] is None for r in rows)
    # The other rate does not apply to this kind of source.
    other = "missing_id_other" if often else "missing_id"
    assert run(clean, spec, only(**{other: 0.5})).log.num_rows == 0


def test_rate_stray_space(clean: pa.Table, spec: FeedSpec, rendered: pa.Table) -> None:
    res = run(clean, spec, only(stray_space=0.05))
    rows = log_rows(res)
    names = rendered.column("name").to_pylist()
    ids = rendered.column("id_no").to_pylist()
    eligible = sum(a is not None or b is not None for a, b in zip(names, ids, strict=True))
    assert within(len(rows), eligible, 0.05)
    kinds: Counter[str] = Counter()
    for r in rows:
        assert r["defect"] == "stray_space"
        assert r["column"] in {"name", "id_no"}
        dirty = r["dirty_value"]
        assert dirty.replace(" ", "").replace("\u3000", "") == r["clean_value"]
        assert len(dirty) == len(r["clean_value"]) + 1
        kinds["full" if "\u3000" in dirty else "lead" if dirty[0] == " " else "other"] += 1
    assert all(kinds[k] > 0 for k in ("full", "lead", "other"))
    assert {r["column"] for r in rows} == {"name", "id_no"}


def _parse_any_date(text: str) -> dt.date:
    if re.fullmatch(r"\d{5}", text):
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(text))
    if re.fullmatch(r"\d{8}", text):
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    y, m, d = (int(x) for x in re.findall(r"\d+", text))
    return dt.date(y, m, d)


def test_rate_date_format_mixed(clean: pa.Table, spec: FeedSpec) -> None:
    res = run(clean, spec, only(date_format_mixed=0.05))
    rows = log_rows(res)
    assert within(len(rows), N, 0.05)  # admission date is never null
    shapes: Counter[str] = Counter()
    for r in rows:
        assert r["defect"] == "date_format_mixed"
        assert r["column"] in {"admit", "discharge"}
        assert _parse_any_date(r["dirty_value"]) == dt.date.fromisoformat(r["clean_value"])
        shapes[re.sub(r"\d+", "9", r["dirty_value"])] += 1
    assert set(shapes) == {"9/9/9", "9年9月9日", "9", "9.9.9"}
    assert sum(re.fullmatch(r"\d{5}", r["dirty_value"]) is not None for r in rows) > 0


def test_json_has_no_excel_serial_dates(clean: pa.Table) -> None:
    res = run(clean, make_spec(fmt="json"), only(date_format_mixed=0.2))
    assert res.log.num_rows > 0
    assert not any(re.fullmatch(r"\d{5}", r["dirty_value"]) for r in log_rows(res))


def test_mixed_date_differs_from_custom_format(clean: pa.Table) -> None:
    spec = make_spec(date_format="%Y%m%d")
    res = run(clean, spec, only(date_format_mixed=0.2))
    assert all(r["dirty_value"] != r["clean_value"] for r in log_rows(res))


def _month_apart(a: dt.date, b: dt.date) -> bool:
    months = (b.year - a.year) * 12 + b.month - a.month
    last = calendar.monthrange(b.year, b.month)[1]
    return abs(months) == 1 and b.day == min(a.day, last)


def test_rate_late_correction(clean: pa.Table, spec: FeedSpec) -> None:
    res = run(clean, spec, only(late_correction=0.05))
    rows = log_rows(res)
    assert within(len(rows), N, 0.05)
    columns = Counter(r["column"] for r in rows)
    assert columns["total"] + columns["paid"] > 0.9 * len(rows)  # money preferred
    assert columns["admit"] + columns["discharge"] + columns["kind"] > 0
    for r in rows:
        assert r["defect"] == "late_correction"
        role = spec.column(r["column"]).role
        if role is Role.MONEY:
            assert re.fullmatch(r"-?\d+\.\d\d", r["dirty_value"])
        elif role is Role.DATE:
            clean_day = dt.date.fromisoformat(r["clean_value"])
            assert _month_apart(clean_day, dt.date.fromisoformat(r["dirty_value"]))
        else:
            assert r["dirty_value"] in KINDS
    # Corrections are exactly the clean rows of the damaged records.
    uids = sorted(r["row_uid"] for r in rows)
    assert sorted(res.corrections.column(ROW_UID).to_pylist()) == uids
    assert res.corrections.schema == clean.schema
    clean_rows = by_uid(clean)
    for row in res.corrections.to_pylist():
        assert row == clean_rows[row[ROW_UID]]


def test_late_correction_money_kinds(clean: pa.Table, spec: FeedSpec) -> None:
    res = run(clean, spec, only(late_correction=0.2))
    kinds: Counter[str] = Counter()
    for r in log_rows(res):
        if spec.column(r["column"]).role is not Role.MONEY:
            continue
        c, d = float(r["clean_value"]), float(r["dirty_value"])
        if math.isclose(d, c * 10):
            kinds["x10"] += 1
        elif abs(d - c / 10) <= 0.01:
            kinds["shift"] += 1
        else:
            assert sorted(r["dirty_value"]) == sorted(r["clean_value"])
            kinds["swap"] += 1
    assert all(kinds[k] > 0 for k in ("x10", "shift", "swap"))


def test_rate_duplicate_row(clean: pa.Table, spec: FeedSpec) -> None:
    res = run(clean, spec, only(duplicate_row=0.05))
    rows = log_rows(res)
    assert within(len(rows), N, 0.05)
    assert res.table.num_rows == N + len(rows)
    uids = res.table.column(ROW_UID).to_pylist()
    position = {u: i for i, u in enumerate(uids)}
    for r in rows:
        assert r["defect"] == "duplicate_row"
        assert r["column"] is None
        copy = r["row_uid"]
        assert copy.endswith(DUP_SUFFIX)
        original = copy.removesuffix(DUP_SUFFIX)
        assert position[copy] > position[original]
    # Copies are spread over the file, not only right after the original.
    gaps = [position[r["row_uid"]] - position[r["row_uid"].removesuffix(DUP_SUFFIX)] for r in rows]
    assert max(gaps) > N / 4
    table = by_uid(res.table)
    for r in rows:
        copy_row = dict(table[r["row_uid"]])
        orig_row = dict(table[r["row_uid"].removesuffix(DUP_SUFFIX)])
        for row in (copy_row, orig_row):
            del row[ROW_UID], row[BLANK_AFTER]
        assert copy_row == orig_row


def test_rate_blank_row(clean: pa.Table, spec: FeedSpec) -> None:
    res = run(clean, spec, only(blank_row=0.05))
    rows = log_rows(res)
    assert within(len(rows), N, 0.05)
    flagged = res.table.filter(res.table.column(BLANK_AFTER)).column(ROW_UID).to_pylist()
    assert sorted(flagged) == sorted(r["row_uid"] for r in rows)
    assert all(r["defect"] == "blank_row" for r in rows)


def test_multiple_id_columns_both_hit() -> None:
    spec = make_spec(two_ids=True)
    clean = make_clean(spec, n=5000)
    res = run(clean, spec, only(id_digit_error=0.2, stray_space=0.2))
    columns = Counter(r["column"] for r in log_rows(res))
    assert columns["guardian_id"] > 0
    assert columns["id_no"] > 0


# ------------------------------------------------------------------------- consistency


@pytest.fixture(scope="module", params=["csv", "xlsx"])
def heavy(request: pytest.FixtureRequest, clean: pa.Table) -> tuple[FeedSpec, DefectResult]:
    spec = make_spec(fmt=request.param, excel_mangles_ids=request.param == "xlsx")
    rates = DefectRates().scaled(0.4)  # five times the default overall rate
    return spec, run(clean, spec, rates, seed=11)


def test_result_schema(heavy: tuple[FeedSpec, DefectResult]) -> None:
    spec, res = heavy
    assert res.table.column_names == [c.key for c in spec.columns] + [ROW_UID, BLANK_AFTER]
    assert all(pa.types.is_string(res.table.schema.field(c.key).type) for c in spec.columns)
    assert res.table.schema.field(BLANK_AFTER).type == pa.bool_()
    assert res.log.schema == LOG_SCHEMA
    assert set(res.log.column("source").to_pylist()) == {"medical_claims"}
    assert set(res.log.column("period").to_pylist()) == {PERIOD}
    defects = set(res.log.column("defect").to_pylist())
    expected = CELL_DEFECTS | ROW_DEFECTS
    if spec.fmt != "xlsx":
        expected -= {"id_excel_float"}
    assert defects == expected


def test_log_matches_tables(
    heavy: tuple[FeedSpec, DefectResult], clean: pa.Table, rendered: pa.Table
) -> None:
    spec, res = heavy
    clean_rows = by_uid(rendered)
    dirty_rows = by_uid(res.table)
    touched: set[str] = set()
    cells: set[tuple[str, str]] = set()
    for r in log_rows(res):
        if r["defect"] in ROW_DEFECTS:
            assert r["column"] is None
            continue
        uid, key = r["row_uid"], r["column"]
        assert (uid, key) not in cells  # at most one defect per cell
        cells.add((uid, key))
        touched.add(uid)
        assert r["clean_value"] == clean_rows[uid][key]
        assert r["dirty_value"] == dirty_rows[uid][key]
        assert r["dirty_value"] != r["clean_value"]
        if (dup := uid + DUP_SUFFIX) in dirty_rows:
            assert r["dirty_value"] == dirty_rows[dup][key]
    keys = [c.key for c in spec.columns]
    untouched = 0
    for uid, row in dirty_rows.items():
        base = uid.removesuffix(DUP_SUFFIX)
        if base in touched:
            continue
        untouched += 1
        assert [row[k] for k in keys] == [clean_rows[base][k] for k in keys]
    assert untouched > 0.2 * N
    # Every input row is present (plus the copies), in the original order.
    originals = [u for u in res.table.column(ROW_UID).to_pylist() if not u.endswith(DUP_SUFFIX)]
    assert originals == clean.column(ROW_UID).to_pylist()


def test_excel_float_ids_are_numeric_text(heavy: tuple[FeedSpec, DefectResult]) -> None:
    spec, res = heavy
    for r in log_rows(res):
        if r["defect"] == "id_excel_float":
            assert spec.fmt == "xlsx"
            assert float(r["dirty_value"]) == pytest.approx(int(r["clean_value"]), rel=1e-5)


def test_deterministic(clean: pa.Table, spec: FeedSpec) -> None:
    rates = DefectRates().scaled(0.3)
    a = run(clean, spec, rates, seed=3)
    b = run(clean, spec, rates, seed=3)
    c = run(clean, spec, rates, seed=4)
    assert a.table.equals(b.table)
    assert a.log.equals(b.log)
    assert a.corrections.equals(b.corrections)
    assert not a.log.equals(c.log)


def test_one_rate_does_not_move_the_others(clean: pa.Table, spec: FeedSpec) -> None:
    a = run(clean, spec, only(blank_row=0.01, name_order_swap=0.05), seed=5)
    b = run(clean, spec, only(blank_row=0.01, name_order_swap=0.05, duplicate_row=0.05), seed=5)
    swaps = [(r["row_uid"], r["defect"]) for r in log_rows(a)]
    assert swaps == [
        (r["row_uid"], r["defect"]) for r in log_rows(b) if r["defect"] != "duplicate_row"
    ]


def test_zero_rates_give_clean_feed(clean: pa.Table, spec: FeedSpec, rendered: pa.Table) -> None:
    res = run(clean, spec, DefectRates().scaled(0))
    assert res.log.num_rows == 0
    assert res.corrections.num_rows == 0
    assert res.table.drop_columns([BLANK_AFTER]).equals(rendered)
    assert not any(res.table.column(BLANK_AFTER).to_pylist())


def test_default_rates_overall_share(clean: pa.Table) -> None:
    spec = make_spec(fmt="xlsx", excel_mangles_ids=True)
    res = run(clean, spec, DefectRates())
    damaged = {u.removesuffix(DUP_SUFFIX) for u in res.log.column("row_uid").to_pylist()}
    # The defaults (with a romanised name column) damage a realistic share of rows.
    assert 0.05 < len(damaged) / N < 0.40


def test_empty_table(spec: FeedSpec, clean: pa.Table) -> None:
    res = run(clean.slice(0, 0), spec, DefectRates().scaled(0.5))
    assert res.table.num_rows == 0
    assert res.log.num_rows == 0
    assert res.corrections.num_rows == 0
