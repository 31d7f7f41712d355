"""Push API ``POST /api/v1/feeds/{source}``: auth, errors, accounting, idempotency.

In-process client on a migrated SQLite database and a DuckDB analytics store in a
temporary data directory; the packaged mappings are replaced by a small ``claims``
mapping (and a ``water`` mapping the test account may not push).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from stdnum.cn import ric

from povguard.api import feeds
from povguard.engine import DuckDBEngine
from povguard.ingest import SourceMapping, ingest_period
from povguard.settings import Settings
from povguard.store import (
    ApiAccount,
    create_account,
    deactivate,
    make_engine,
    migrate,
    session_factory,
)
from povguard.web import create_app

PERIOD = "2025-05"
HEADER = "结算单号,参保人姓名,公民身份号码,出生日期,个人自付"
ID1 = "52232519900101123" + ric.calc_check_digit("522325199001011230")
ID2 = "52232519850505002" + ric.calc_check_digit("522325198505050020")
CSV_TYPE = "text/csv"
JSON_TYPE = "application/json"


def claims_mapping(source: str = "claims") -> SourceMapping:
    return SourceMapping.model_validate(
        {
            "source": source,
            "department": "医疗保障局",
            "files": [f"{source}.*"],
            "format": "csv",
            "record_key": ["claim_no"],
            "person_keys": {"id": "id_number", "name": "name", "birth_date": "birth_date"},
            "identified_by": [["id_number"], ["name", "birth_date"]],
            "fields": [
                {"name": "claim_no", "headers": ["结算单号"], "type": "text", "required": True},
                {"name": "name", "headers": ["姓名", "参保人姓名"], "type": "name"},
                {"name": "id_number", "headers": ["公民身份号码", "身份证号"], "type": "id"},
                {"name": "birth_date", "headers": ["出生日期"], "type": "date"},
                {"name": "amount", "headers": ["个人自付", "金额"], "type": "money"},
            ],
        }
    )


MAPPINGS = {"claims": claims_mapping(), "water": claims_mapping("water")}


def csv_body(*rows: str, encoding: str = "utf-8") -> bytes:
    return "\r\n".join([HEADER, *rows, ""]).encode(encoding)


GOOD_CSV = csv_body(
    f'JS1,张伟,{ID1},1990/1/1,"1,234.50"',
    f"JS2,李娜,{ID2},1985年5月5日,1.2万元",
)
ONE_BAD_CSV = csv_body(
    f"JS1,张伟,{ID1},1990/1/1,100",
    f"JS2,李娜,{ID2},1985-05-05,200",
    f",王五,{ID1},1990-01-01,300",  # no claim number: required_missing
)


class Ctx:
    """The client, the data directory and the tokens of the test accounts."""

    def __init__(self, client: TestClient, settings: Settings, tokens: dict[str, str]) -> None:
        self.client, self.settings, self.tokens = client, settings, tokens

    def push(
        self,
        body: bytes | str,
        *,
        source: str = "claims",
        period: str | None = PERIOD,
        content_type: str = CSV_TYPE,
        token: str | None = "claims",
    ) -> Any:
        headers = {"Content-Type": content_type}
        if token is not None:
            headers["Authorization"] = f"Bearer {self.tokens.get(token, token)}"
        params = {"period": period} if period is not None else {}
        return self.client.post(
            f"/api/v1/feeds/{source}", content=body, headers=headers, params=params
        )

    def rows(self, sql: str) -> list[dict[str, Any]]:
        engine = DuckDBEngine(self.settings.home / "analytics.duckdb")
        try:
            out: list[dict[str, Any]] = engine.con.con.sql(sql).to_arrow_table().to_pylist()
            return out
        finally:
            engine.close()


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Ctx]:
    settings = Settings(home=tmp_path / "data", database_url=None, language="zh")
    migrate(settings.ops_url)
    engine = make_engine(settings.ops_url)
    tokens: dict[str, str] = {}
    with session_factory(engine)() as session:
        _, tokens["claims"] = create_account(session, "med", "医疗保障局", ["claims"])
        _, tokens["other"] = create_account(session, "other", "水务局", ["water"])
        gone, tokens["gone"] = create_account(session, "gone", "医疗保障局", ["claims"])
        deactivate(session, gone.id)
    engine.dispose()
    app = create_app(settings)
    app.dependency_overrides[feeds.get_mappings] = lambda: MAPPINGS
    with TestClient(app) as client:
        yield Ctx(client, settings, tokens)


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic bWVkOnB3"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer not-a-token-at-all"},
    ],
)
def test_401_without_or_with_a_bad_token(ctx: Ctx, headers: dict[str, str]) -> None:
    response = ctx.client.post(
        "/api/v1/feeds/claims",
        params={"period": PERIOD},
        content=GOOD_CSV,
        headers={"Content-Type": CSV_TYPE, **headers},
    )
    error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_401_for_a_deactivated_account(ctx: Ctx) -> None:
    error(ctx.push(GOOD_CSV, token="gone"), 401, "unauthorized")


def test_401_comes_before_everything_else(ctx: Ctx) -> None:
    error(ctx.push(b"", source="nope", period="bad", token="wrong"), 401, "unauthorized")


def test_403_when_the_account_may_not_push_the_source(ctx: Ctx) -> None:
    error(ctx.push(GOOD_CSV, token="other"), 403, "forbidden")
    error(ctx.push(GOOD_CSV, source="water", token="claims"), 403, "forbidden")


def test_404_unknown_source(ctx: Ctx) -> None:
    error(ctx.push(GOOD_CSV, source="no_such_source"), 404, "not_found")


def test_413_over_the_size_limit(ctx: Ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feeds, "MAX_BODY_BYTES", len(GOOD_CSV) - 1)
    error(ctx.push(GOOD_CSV), 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
        yield GOOD_CSV[:20]
        yield GOOD_CSV[20:]

    response = ctx.client.post(
        "/api/v1/feeds/claims",
        params={"period": PERIOD},
        content=chunks(),
        headers={"Content-Type": CSV_TYPE, "Authorization": f"Bearer {ctx.tokens['claims']}"},
    )
    error(response, 413, "payload_too_large")
    monkeypatch.setattr(feeds, "MAX_BODY_BYTES", len(GOOD_CSV))
    assert ctx.push(GOOD_CSV).status_code == 200


@pytest.mark.parametrize("period", ["2025-13", "2025-5", "May", ""])
def test_422_bad_period(ctx: Ctx, period: str) -> None:
    error(ctx.push(GOOD_CSV, period=period), 422, "validation_error")


def test_422_missing_period(ctx: Ctx) -> None:
    body = error(ctx.push(GOOD_CSV, period=None), 422, "validation_error")
    assert "period" in body["error"]["message"]


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (b"a,b,c\r\n1,2,3\r\n", CSV_TYPE, "no_header"),
        (b"", CSV_TYPE, "no_header"),
        (b"\x00\x01\x02binary", CSV_TYPE, "not_text"),
        (b"[{not json", JSON_TYPE, "invalid_json"),
        (b'{"rows": []}', JSON_TYPE, "no_records"),
        (GOOD_CSV, f"{CSV_TYPE}; charset=klingon", "unknown_charset"),
        (
            csv_body(f"JS1,张伟,{ID1},1990-01-01,1", encoding="gbk"),
            f"{CSV_TYPE}; charset=utf-8",
            "undecodable",
        ),
    ],
)
def test_422_unreadable_body(ctx: Ctx, body: bytes, content_type: str, code: str) -> None:
    answer = error(ctx.push(body, content_type=content_type), 422, code)
    details = answer["error"].get("details")
    if details is not None:
        assert details[0]["code"] == code
        assert details[0]["message_zh"] and details[0]["message_en"]
    assert ctx.rows("select count(*) as n from duckdb_tables()") == [{"n": 0}]


def test_422_missing_required_column(ctx: Ctx) -> None:
    body = f"参保人姓名,公民身份号码,出生日期,个人自付\r\n张伟,{ID1},1990-01-01,1\r\n"
    answer = error(ctx.push(body.encode()), 422, "missing_required_column")
    assert "结算单号" in answer["error"]["details"][0]["message_zh"]


def test_415_other_content_types(ctx: Ctx) -> None:
    error(ctx.push(GOOD_CSV, content_type="text/plain"), 415, "unsupported_media_type")
    error(
        ctx.push(GOOD_CSV, content_type="application/vnd.ms-excel"),
        415,
        "unsupported_media_type",
    )


# ----------------------------------------------------------------------- accounting


def test_csv_batch_with_one_bad_row(ctx: Ctx) -> None:
    response = ctx.push(ONE_BAD_CSV)
    assert response.status_code == 200, response.text
    body = response.json()
    batch_id = hashlib.sha256(ONE_BAD_CSV).hexdigest()[:16]
    assert body["batch_id"] == batch_id
    assert body["file"] == f"push:{batch_id}"
    assert (body["source"], body["period"], body["format"]) == ("claims", PERIOD, "csv")
    assert (body["rows_read"], body["rows_loaded"], body["rows_quarantined"]) == (3, 2, 1)
    assert body["duplicate"] is False
    assert body["quarantine_truncated"] is False
    [bad] = body["quarantine"]
    assert set(bad) == {"row", "reason", "message_zh", "message_en"}
    assert (bad["row"], bad["reason"]) == (4, "required_missing")  # line 4 (header = 1)
    assert "结算单号" in bad["message_zh"] and "claim_no" in bad["message_en"]
    assert any(n["code"] == "pushed" and "med" in n["message_en"] for n in body["notes"])

    raw = ctx.rows('select claim_no, name, amount, "_file", "_row", period from raw_claims')
    assert sorted((r["claim_no"], r["_row"]) for r in raw) == [("JS1", 2), ("JS2", 3)]
    assert {(r["_file"], r["period"]) for r in raw} == {(f"push:{batch_id}", PERIOD)}
    quarantine = ctx.rows("select source, file, row, reason, raw from quarantine")
    assert len(quarantine) == 1
    assert quarantine[0]["file"] == f"push:{batch_id}"
    assert json.loads(quarantine[0]["raw"])["参保人姓名"] == "王五"
    files = ctx.rows("select * from ingest_files")
    assert len(files) == 1
    ledger = files[0]
    assert (ledger["file"], ledger["sha256"]) == (
        f"push:{batch_id}",
        hashlib.sha256(ONE_BAD_CSV).hexdigest(),
    )
    assert (ledger["rows_read"], ledger["rows_loaded"], ledger["rows_quarantined"]) == (3, 2, 1)
    assert ledger["status"] == "ok"


def test_json_batches(ctx: Ctx) -> None:
    records = [
        {"结算单号": "JS7", "参保人姓名": "张伟", "公民身份号码": ID1, "个人自付": 12.5},
        {"结算单号": "JS8", "参保人姓名": "李娜", "公民身份号码": "not an id", "出生日期": None},
    ]
    as_list = ctx.push(json.dumps(records, ensure_ascii=False), content_type=JSON_TYPE)
    assert as_list.status_code == 200, as_list.text
    body = as_list.json()
    assert (body["format"], body["rows_read"], body["rows_loaded"]) == ("json", 2, 1)
    assert body["quarantine"][0]["row"] == 2
    assert body["quarantine"][0]["reason"] == "unidentifiable"

    wrapped = ctx.push(
        json.dumps({"data": records[:1], "total": 1}, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
    )
    assert wrapped.status_code == 200, wrapped.text
    assert (wrapped.json()["rows_loaded"], wrapped.json()["rows_quarantined"]) == (1, 0)
    raw = ctx.rows("select claim_no, amount, id_number from raw_claims order by claim_no")
    assert raw == [
        {"claim_no": "JS7", "amount": 12.5, "id_number": ID1},
        {"claim_no": "JS7", "amount": 12.5, "id_number": ID1},
    ]  # two batches, each with its own rows


def test_retried_batch_changes_nothing(ctx: Ctx) -> None:
    first = ctx.push(ONE_BAD_CSV).json()
    tables = ("raw_claims", "quarantine", "ingest_files")
    before = {t: ctx.rows(f"select * from {t} order by all") for t in tables}
    again = ctx.push(ONE_BAD_CSV).json()
    assert again["duplicate"] is True
    assert {k: v for k, v in again.items() if k != "duplicate"} == {
        k: v for k, v in first.items() if k != "duplicate"
    }
    assert {t: ctx.rows(f"select * from {t} order by all") for t in tables} == before
    other = ctx.push(GOOD_CSV).json()  # a different batch adds its rows
    assert other["batch_id"] != first["batch_id"] and other["duplicate"] is False
    assert len(ctx.rows("select * from raw_claims")) == 4
    assert len(ctx.rows("select * from ingest_files")) == 2


def test_file_delivered_rows_are_untouched(ctx: Ctx, tmp_path: Path) -> None:
    folder = tmp_path / "feeds" / PERIOD
    folder.mkdir(parents=True)
    (folder / "claims.csv").write_bytes(csv_body(f"F1,赵六,{ID2},1985-05-05,9", ",缺号,,,"))
    store = DuckDBEngine(ctx.settings.home / "analytics.duckdb")
    try:
        report = ingest_period(store, tmp_path / "feeds", PERIOD, {"claims": MAPPINGS["claims"]})
        assert (report.rows_loaded, report.rows_quarantined) == (1, 1)
    finally:
        store.close()
    tables = ("raw_claims", "quarantine", "ingest_files")
    from_file = {
        t: ctx.rows(
            f"select * from {t} where {'_file' if t == 'raw_claims' else 'file'} = "
            f"'claims.csv' order by all"
        )
        for t in tables
    }
    assert [len(v) for v in from_file.values()] == [1, 1, 1]
    for body in (ONE_BAD_CSV, ONE_BAD_CSV, GOOD_CSV):
        assert ctx.push(body).status_code == 200
    # another period's batch too
    assert ctx.push(GOOD_CSV, period="2025-06").status_code == 200
    for t in tables:
        column = "_file" if t == "raw_claims" else "file"
        rows = ctx.rows(f"select * from {t} where {column} = 'claims.csv' order by all")
        assert rows == from_file[t]
    counts = ctx.rows(
        "select period, count(*) as n from raw_claims group by period order by period"
    )
    assert counts == [{"period": "2025-05", "n": 5}, {"period": "2025-06", "n": 2}]


def test_gbk_csv(ctx: Ctx) -> None:
    body = csv_body(f"JS1,欧阳娜娜,{ID1},1990年1月1日,1.5万元", encoding="gbk")
    response = ctx.push(body)
    assert response.status_code == 200, response.text
    assert response.json()["encoding"] == "gb18030"
    declared = ctx.push(
        csv_body(f"JS2,诸葛亮,{ID2},1985-05-05,1", encoding="gbk"),
        content_type="text/csv; charset=GBK",
    )
    assert declared.status_code == 200, declared.text
    assert declared.json()["encoding"] == "gbk"
    raw = ctx.rows("select claim_no, name, amount from raw_claims order by claim_no")
    assert raw == [
        {"claim_no": "JS1", "name": "欧阳娜娜", "amount": 15000.0},
        {"claim_no": "JS2", "name": "诸葛亮", "amount": 1.0},
    ]


def test_push_records_the_accounts_last_use(ctx: Ctx) -> None:
    assert ctx.push(GOOD_CSV).status_code == 200
    engine = make_engine(ctx.settings.ops_url)
    try:
        with session_factory(engine)() as session:
            used = session.scalars(select(ApiAccount).where(ApiAccount.name == "med")).one()
            assert used.last_used_at is not None
    finally:
        engine.dispose()


def test_quarantine_listing_is_bounded(ctx: Ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feeds, "MAX_QUARANTINE_LISTED", 2)
    body = csv_body(*[f",无号{i},,," for i in range(5)], f"JS1,张伟,{ID1},1990-01-01,1")
    answer = ctx.push(body).json()
    assert (answer["rows_quarantined"], len(answer["quarantine"])) == (5, 2)
    assert answer["quarantine_truncated"] is True


@pytest.mark.spark
def test_batches_on_spark_replace_only_their_rows(tmp_path: Path) -> None:
    """The engine-neutral write path (Spark): same invariants as on DuckDB."""
    pytest.importorskip("pyspark")
    from povguard.engine.spark import SparkEngine
    from povguard.ingest.push import push_batch

    engine = SparkEngine(tmp_path / "warehouse")
    mapping = MAPPINGS["claims"]
    folder = tmp_path / "feeds" / PERIOD
    folder.mkdir(parents=True)
    (folder / "claims.csv").write_bytes(csv_body(f"F1,赵六,{ID2},1985-05-05,9", ",缺号,,,"))
    ingest_period(engine, tmp_path / "feeds", PERIOD, {"claims": mapping})
    first = push_batch(engine, mapping, PERIOD, ONE_BAD_CSV, "csv")
    again = push_batch(engine, mapping, PERIOD, ONE_BAD_CSV, "csv")
    other = push_batch(engine, mapping, "2025-06", GOOD_CSV, "csv")
    assert (first.duplicate, again.duplicate, other.duplicate) == (False, True, False)

    def per_file(table: str, column: str) -> dict[tuple[str, str], int]:
        rows = engine.session.table(table).groupBy("period", column).count().collect()
        return {(r["period"], r[column]): int(r["count"]) for r in rows}

    batch, later = first.file, other.file
    assert per_file("raw_claims", "_file") == {
        (PERIOD, "claims.csv"): 1,
        (PERIOD, batch): 2,
        ("2025-06", later): 2,
    }
    assert per_file("quarantine", "file") == {(PERIOD, "claims.csv"): 1, (PERIOD, batch): 1}
    assert per_file("ingest_files", "file") == {
        (PERIOD, "claims.csv"): 1,
        (PERIOD, batch): 1,
        ("2025-06", later): 1,
    }


def test_503_while_another_process_writes_the_store(
    ctx: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    class IOException(Exception):  # noqa: N818 - named like DuckDB's
        pass

    def locked(*_args: Any) -> None:
        raise IOException('IO Error: Could not set lock on file "analytics.duckdb"')

    monkeypatch.setattr(feeds, "open_engine", locked)
    response = ctx.push(GOOD_CSV)
    error(response, 503, "store_busy")
    assert response.headers["retry-after"] == str(feeds.RETRY_AFTER_SECONDS)


def test_409_when_a_stored_table_lacks_columns(ctx: Ctx) -> None:
    store = DuckDBEngine(ctx.settings.home / "analytics.duckdb")
    try:
        store.con.con.execute("create table raw_claims (claim_no varchar, period varchar)")
    finally:
        store.close()
    error(ctx.push(GOOD_CSV), 409, "table_conflict")
    assert ctx.rows("select count(*) as n from raw_claims") == [{"n": 0}]
