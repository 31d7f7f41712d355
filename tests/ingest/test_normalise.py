"""Normalisers: resident IDs, names, dates, money, numbers, regions, codes."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from povguard.ingest.normalise import (
    EXCEL_EPOCH,
    normalise_codes,
    normalise_id_value,
    normalise_ids,
    normalise_name_value,
    normalise_names,
    normalise_pinyin,
    normalise_regions,
    normalise_texts,
    parse_date_value,
    parse_dates,
    parse_float_value,
    parse_floats,
    parse_int_value,
    parse_ints,
    parse_money,
    parse_money_value,
)

LATEST = dt.date(2025, 5, 31)
FULLWIDTH = str.maketrans({**{str(d): chr(0xFF10 + d) for d in range(10)}, "X": "Ｘ"})


def make_id(region: str, birth: dt.date, seq: int) -> str:
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


VALID = make_id("522325", dt.date(1990, 1, 1), 123)
WITH_X = next(
    make_id("522325", dt.date(1985, 6, 7), s)
    for s in range(1000)
    if make_id("522325", dt.date(1985, 6, 7), s).endswith("X")
)


def ids(values: list[str | None], **kw: object) -> list[tuple[str | None, str, str | None]]:
    out = normalise_ids(pa.array(values, pa.string()), latest=LATEST, **kw)  # type: ignore[arg-type]
    return list(
        zip(out.values.to_pylist(), out.status.to_pylist(), out.raw.to_pylist(), strict=True)
    )


# ----------------------------------------------------------------------- resident IDs


@pytest.mark.parametrize(
    ("text", "expected", "status"),
    [
        (VALID, VALID, "ok"),
        (f" {VALID} ", VALID, "ok"),
        (f"\u3000{VALID}", VALID, "ok"),
        (f"{VALID[:6]} {VALID[6:]}", VALID, "ok"),
        (f"{VALID}\u3000", VALID, "ok"),
        (VALID.translate(FULLWIDTH), VALID, "ok"),
        (WITH_X[:-1] + "x", WITH_X, "ok"),
        (WITH_X.translate(FULLWIDTH), WITH_X, "ok"),
        ("'" + VALID, VALID, "ok"),
        (None, None, "missing"),
        ("", None, "missing"),
        ("  \u3000", None, "missing"),
        ("12345", None, "invalid_format"),
        ("52232519900101123", None, "invalid_format"),
        ("身份证" + VALID, None, "invalid_format"),
        (VALID[:-1] + ("0" if VALID[-1] != "0" else "1"), None, "invalid_check"),
        (make_id("522325", dt.date(1990, 1, 1), 124)[:14] + "1235", None, "invalid_check"),
        ("522325199002300011", None, "invalid_date"),
        ("522325199013010011", None, "invalid_date"),
        (make_id("522325", dt.date(2026, 1, 1), 1), None, "invalid_date"),
        (make_id("522325", dt.date(1860, 1, 1), 1), None, "invalid_date"),
        ("5.22325199001011e+17", None, "excel_mangled"),
        ("5.22325E+17", None, "excel_mangled"),
        ("5.22325e17", None, "excel_mangled"),
        ("522325199001011000.0", None, "excel_mangled"),
        ("5223251990010110.0", None, "excel_mangled"),
    ],
)
def test_id_cases(text: str | None, expected: str | None, status: str) -> None:
    assert normalise_id_value(text, latest=LATEST) == (expected, status)
    assert ids([text]) == [(expected, status, text)]


def test_legacy_15_digit_ids_are_upgraded() -> None:
    full = make_id("522325", dt.date(1962, 3, 4), 517)
    legacy = full[:6] + full[8:17]
    assert normalise_id_value(legacy, latest=LATEST) == (full, "upgraded15")
    assert ids([legacy, " " + legacy.translate(FULLWIDTH)]) == [
        (full, "upgraded15", legacy),
        (full, "upgraded15", " " + legacy.translate(FULLWIDTH)),
    ]
    assert normalise_id_value("522325623004517", latest=LATEST) == (None, "invalid_date")
    # an exact number cell of 15 digits keeps its digits
    assert normalise_id_value(legacy + ".0", latest=LATEST) == (full, "upgraded15")


def test_raw_keeps_the_original_text_and_status_is_never_null() -> None:
    out = normalise_ids(pa.array([f" {VALID}", None, "abc"]), latest=LATEST)
    assert out.raw.to_pylist() == [f" {VALID}", None, "abc"]
    assert out.status.null_count == 0


def test_check_character_agrees_with_stdnum() -> None:
    bodies = [f"{i * 7919 % 10**17:017d}" for i in range(1, 3000, 7)]
    bodies = [b[:6] + "19900101" + b[14:] for b in bodies]
    full = [b + ric.calc_check_digit(b + "0") for b in bodies]
    assert normalise_ids(pa.array(full), latest=LATEST).status.to_pylist() == ["ok"] * len(full)
    wrong = [f[:-1] + ("1" if f[-1] != "1" else "2") for f in full]
    assert set(normalise_ids(pa.array(wrong), latest=LATEST).status.to_pylist()) <= {
        "invalid_check",
        "excel_mangled",
    }


def _ending_000(valid: bool) -> str:
    for seq in range(0, 1000, 100):
        for day in range(1, 29):
            candidate = make_id("522325", dt.date(1970, 3, day), seq)
            if candidate.endswith("000") == valid:
                if valid:
                    return candidate
                body = make_id("522325", dt.date(1970, 3, day), seq)[:15] + "000"
                if ric.calc_check_digit(body) != "0":
                    return body
    raise AssertionError("no such ID")  # pragma: no cover


def test_excel_zero_tail_rule() -> None:
    genuine = _ending_000(valid=True)  # a real ID whose last three characters are 000
    mangled = _ending_000(valid=False)  # what Excel leaves of another ID
    # alone, a genuine ...000 ID is valid; a ...000 value with a wrong check is mangled
    assert ids([genuine])[0][:2] == (genuine, "ok")
    assert ids([mangled])[0][:2] == (None, "excel_mangled")
    # a single typo on a genuine ...000 ID does not taint the column
    typo = genuine[:10] + str((int(genuine[10]) + 1) % 10) + genuine[11:]
    assert ids([genuine, typo, VALID])[0][1] == "ok"
    # a column that shows Excel damage: the ...000 values are not trusted
    assert ids([genuine, "5.22325E+17"])[0][:2] == (None, "excel_mangled")
    assert ids([genuine, mangled, mangled[:6] + "1971" + mangled[10:]])[0][1] == "excel_mangled"
    # the same for a float converted to an integer (pandas): the double's exact value
    images = [
        f"{float(int(c[:15]) * 1000):.0f}"
        for c in (make_id("522325", dt.date(1980, 1, d), 7) for d in range(1, 29))
    ]
    noise = [x for x in images if not x.endswith("000")]
    assert noise
    for x in noise:
        status = ids([x])[0][1]
        assert status == "excel_mangled" or (status == "ok" and ric.calc_check_digit(x) == x[17])
        assert ids([x, "5.22325E+17"])[0][:2] == (None, "excel_mangled")
    # in XLSX text cells (types known) a ...000 text is taken as typed
    assert ids([mangled], text_only=False)[0][:2] == (None, "invalid_check")
    assert ids([genuine, "5.22325E+17"], text_only=False)[0][:2] == (genuine, "ok")


def test_vectorised_ids_match_the_scalar_reference() -> None:
    values = [
        VALID,
        f" {VALID}",
        VALID.translate(FULLWIDTH),
        WITH_X.lower(),
        "5.22325E+17",
        None,
        "",
        "x",
        "522325199002300011",
        VALID[:6] + VALID[8:17],
        VALID[:-1] + "9" if VALID[-1] != "9" else VALID[:-1] + "8",
    ]
    vector = ids(values)
    for text, (value, status, _raw) in zip(values, vector, strict=True):
        assert normalise_id_value(text, latest=LATEST) == (value, status)


birth_dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 5, 31))
regions = st.sampled_from(["522325", "520102", "110101", "522301", "450302"])
clean_ids = st.builds(make_id, regions, birth_dates, st.integers(0, 999))


@st.composite
def rendering(draw: st.DrawFn) -> tuple[str, str]:
    """A valid ID and one of the departments' damaged but recoverable renderings."""
    clean = draw(clean_ids)
    kinds = ["space", "fullwidth", "lower_x", "tab_and_ideographic_space"]
    if clean[6:8] == "19":
        kinds.append("legacy15")
    kind = draw(st.sampled_from(kinds))
    text = clean
    if kind == "space":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from([" ", "\u3000", "  "])) + text[at:]
    elif kind == "fullwidth":
        mask = draw(st.lists(st.booleans(), min_size=18, max_size=18))
        text = "".join(c.translate(FULLWIDTH) if m else c for c, m in zip(text, mask, strict=True))
    elif kind == "lower_x":
        text = text.lower()
    elif kind == "tab_and_ideographic_space":
        text = "\t" + text + "\u3000"
    else:
        text = text[:6] + text[8:17]
    return clean, text


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rendering(), min_size=1, max_size=20))
def test_recoverable_renderings_normalise_to_the_clean_id(pairs: list[tuple[str, str]]) -> None:
    out = normalise_ids(pa.array([t for _, t in pairs]), latest=LATEST)
    assert out.values.to_pylist() == [c for c, _ in pairs]
    assert set(out.status.to_pylist()) <= {"ok", "upgraded15"}


digit_ids = clean_ids.filter(lambda v: v.isdigit())


def _excel_forms(clean: str) -> list[str]:
    number = float(int(clean[:15]) * 1000)
    return [repr(number), f"{number:.5E}", f"{number:.5e}", f"{int(number)}.0", f"{number:.0f}"]


@settings(max_examples=300)
@given(st.lists(digit_ids, min_size=1, max_size=10), st.data())
def test_excel_float_forms_never_load_as_a_wrong_id(clean: list[str], data: st.DataObject) -> None:
    texts = [data.draw(st.sampled_from(_excel_forms(c))) for c in clean]
    # the column went through Excel: at least one value keeps a number form
    texts.append("5.22325E+17")
    out = normalise_ids(pa.array(texts), latest=LATEST)
    for want, got in zip(clean, out.values.to_pylist(), strict=False):
        assert got is None or got == want
    for text, status in zip(texts, out.status.to_pylist(), strict=True):
        if "E" in text.upper() or "." in text:
            assert status == "excel_mangled"


@given(digit_ids)
def test_excel_forms_with_a_number_notation_are_never_loaded(clean: str) -> None:
    for text in _excel_forms(clean)[:4]:
        assert normalise_id_value(text, latest=LATEST) == (None, "excel_mangled")


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("张伟", "张伟"),
        (" 张伟 ", "张伟"),
        ("张 伟", "张伟"),
        ("张\u3000伟", "张伟"),
        ("\u3000张伟明\u3000", "张伟明"),
        ("张　伟 明", "张伟明"),
        ("ＷＡＮＧ", "WANG"),
        ("WEI  ZHANG", "WEI ZHANG"),
        ("阿依古丽•买买提", "阿依古丽·买买提"),
        ("阿依古丽．买买提", "阿依古丽·买买提"),
        ("", None),
        ("  ", None),
        (None, None),
    ],
)
def test_names(text: str | None, expected: str | None) -> None:
    assert normalise_name_value(text) == expected
    assert normalise_names(pa.array([text], pa.string())).to_pylist() == [expected]


def test_pinyin_and_text() -> None:
    assert normalise_pinyin(pa.array(["  xu   sixi ", "ＬＩ　ＭＩＮＧ", ""])).to_pylist() == [
        "XU SIXI",
        "LI MING",
        None,
    ]
    assert normalise_texts(pa.array(["\u3000大坝镇 水口村 ", "", None])).to_pylist() == [
        "大坝镇 水口村",
        None,
        None,
    ]


# ----------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-05-01", dt.date(2025, 5, 1)),
        ("2025/5/1", dt.date(2025, 5, 1)),
        ("2025/05/01", dt.date(2025, 5, 1)),
        ("2025年5月1日", dt.date(2025, 5, 1)),
        ("2025年05月01日", dt.date(2025, 5, 1)),
        ("20250501", dt.date(2025, 5, 1)),
        ("2025.05.01", dt.date(2025, 5, 1)),
        ("45778", dt.date(2025, 5, 1)),
        ("45778.5", dt.date(2025, 5, 1)),
        ("2025-05-01 08:30:00", dt.date(2025, 5, 1)),
        ("2025-05-01T00:00:00", dt.date(2025, 5, 1)),
        (" ２０２５－０５－０１ ", dt.date(2025, 5, 1)),
    ],
)
def test_date_formats(text: str, expected: dt.date) -> None:
    assert parse_date_value(text) == (expected, None)
    assert parse_dates(pa.array([text])).values.to_pylist() == [expected]


@pytest.mark.parametrize(
    "text",
    ["2025-02-30", "2023-02-29", "2025-13-01", "20250230", "2025年2月30日", "2025-05", "abc"],
)
def test_impossible_dates_are_rejected(text: str) -> None:
    assert parse_date_value(text) == (None, "invalid_date")
    out = parse_dates(pa.array([text]))
    assert out.values.to_pylist() == [None]
    assert out.issues.to_pylist() == ["invalid_date"]


def test_date_range() -> None:
    out = parse_dates(
        pa.array(["2025-07-02", "2025-07-01", "1899-01-01", None, ""]),
        earliest=dt.date(1900, 1, 1),
        latest=dt.date(2025, 7, 1),
    )
    assert out.values.to_pylist() == [None, dt.date(2025, 7, 1), None, None, None]
    assert out.issues.to_pylist() == ["date_out_of_range", None, "date_out_of_range", None, None]


def _renderings(day: dt.date) -> list[str]:
    forms = [
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}年{day.month}月{day.day}日",
        f"{day:%Y%m%d}",
        f"{day:%Y.%m.%d}",
    ]
    serial = (day - EXCEL_EPOCH).days
    if 10_000 <= serial <= 99_999:
        forms.append(str(serial))
    return forms


@given(st.lists(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31))))
def test_dates_in_every_format_round_trip(days: list[dt.date]) -> None:
    texts = [f for d in days for f in _renderings(d)]
    want = [d for d in days for _ in _renderings(d)]
    out = parse_dates(pa.array(texts, pa.string()))
    assert out.values.to_pylist() == want
    assert out.issues.null_count == len(texts)


@given(
    st.integers(1900, 2099),
    st.integers(1, 12),
    st.integers(29, 35),
    st.sampled_from(["{y}-{m:02d}-{d:02d}", "{y}/{m}/{d}", "{y}年{m}月{d}日", "{y}{m:02d}{d:02d}"]),
)
def test_invalid_dates_never_load_silently(y: int, m: int, d: int, fmt: str) -> None:
    try:
        dt.date(y, m, d)
    except ValueError:
        out = parse_dates(pa.array([fmt.format(y=y, m=m, d=d)]))
        assert out.values.to_pylist() == [None]
        assert out.issues.to_pylist() == ["invalid_date"]


# ---------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("text", "expected", "issue"),
    [
        ("1234.50", 1234.5, None),
        ("1,234.50", 1234.5, None),
        ("1.2万元", 12000.0, None),
        ("1.2万", 12000.0, None),
        ("1.23万", 12300.0, None),
        ("￥1,234", 1234.0, None),
        ("¥12.5", 12.5, None),
        ("12.5元", 12.5, None),
        ("１２３.４５", 123.45, None),
        ("(12.50)", -12.5, None),
        ("-3", -3.0, None),
        ("-¥3", -3.0, None),
        (" 7 ", 7.0, None),
        ("abc", None, "not_a_number"),
        ("1.2.3", None, "not_a_number"),
        ("", None, None),
        (None, None, None),
    ],
)
def test_money(text: str | None, expected: float | None, issue: str | None) -> None:
    assert parse_money_value(text) == (expected, issue)
    out = parse_money(pa.array([text], pa.string()))
    assert out.values.to_pylist() == [expected]
    assert out.issues.to_pylist() == [issue]


def test_ints_and_floats() -> None:
    assert parse_int_value("1,200") == (1200, None)
    assert parse_int_value("３") == (3, None)
    assert parse_int_value("12.0") == (12, None)
    assert parse_int_value("12.5") == (None, "not_an_integer")
    out = parse_ints(pa.array(["3", "-4", "x", None, "12.0"]))
    assert out.values.to_pylist() == [3, -4, None, None, 12]
    assert out.issues.to_pylist() == [None, None, "not_an_integer", None, None]
    assert parse_float_value("1e3") == (1000.0, None)
    out_f = parse_floats(pa.array(["12.5", "73", "abc", "１.５"]))
    assert out_f.values.to_pylist() == [12.5, 73.0, None, 1.5]
    assert out_f.issues.to_pylist() == [None, None, "not_a_number", None]


def test_regions() -> None:
    out = normalise_regions(
        pa.array(["522325100201", "522325", "522325100", "52232", " ５２２３２５ ", None])
    )
    assert out.values.to_pylist() == [
        "522325100201",
        "522325000000",
        "522325100000",
        None,
        "522325000000",
        None,
    ]
    assert out.issues.to_pylist() == [None, None, None, "invalid_region", None, None]


def test_codes() -> None:
    out = normalise_codes(
        pa.array(["男", "女性", " M ", "未知", None]),
        values=["男", "女"],
        value_map={"男性": "男", "女性": "女", "M": "男"},
    )
    assert out.values.to_pylist() == ["男", "女", "男", None, None]
    assert out.issues.to_pylist() == [None, None, None, "value_not_allowed", None]
    free = normalise_codes(pa.array(["住院 ", "门诊慢特病"]))
    assert free.values.to_pylist() == ["住院", "门诊慢特病"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("張偉", "张伟"), ("劉 德華", "刘德华"), ("陳　麗華", "陈丽华"), ("王芳", "王芳")],
)
def test_traditional_names_become_simplified(text: str, expected: str) -> None:
    assert normalise_name_value(text) == expected
    assert normalise_names(pa.array([text, None], pa.string())).to_pylist() == [expected, None]


def test_region_codes_are_checked_against_the_region_table() -> None:
    known = frozenset({"522635000000", "522635100200"})
    out = normalise_regions(
        pa.array(["522635", "522635100200", "522699100200", "12x", None]), known
    )
    assert out.values.to_pylist() == ["522635000000", "522635100200", None, None, None]
    assert out.issues.to_pylist() == [None, None, "unknown_region", "invalid_region", None]
