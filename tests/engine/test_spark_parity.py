"""The indicators and screen stages give the same rows on DuckDB and on Spark."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from ibis import _

from povguard.cycle import id_fields, link_keys
from povguard.engine import DuckDBEngine
from povguard.evaluate import load_clean_period
from povguard.indicators import build_indicators
from povguard.ingest import load_mappings
from povguard.linkage import REGISTRY_PERSONS, link, link_period, load_registry, load_spec
from povguard.linkage.linker import engine_backend
from povguard.linkage.registry import registry_u
from povguard.policy import load_pack, screen_period

pytestmark = pytest.mark.spark
PERIODS = ["2025-01", "2025-02", "2025-03", "2025-04"]


@pytest.fixture(scope="module")
def engines(small_twin: Path) -> Any:
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (install a JDK 17+)")
    from povguard.engine.spark import SparkEngine

    duck = DuckDBEngine(":memory:")
    load_registry(duck, small_twin / "registry")
    mappings = load_mappings()
    for p in PERIODS:
        load_clean_period(duck, small_twin / "truth", p, id_fields(mappings))
        link_period(duck, p, link_keys(mappings))
    spark = SparkEngine()
    for name in duck.con.list_tables():  # same inputs on both engines
        spark.replace_table(name, duck.con.table(name).to_pyarrow())
    return duck, spark


def _same(a: Any, b: Any) -> bool:
    """Equal, with NULLs compared explicitly and floats to the cent."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, abs_tol=0.005)
    return bool(a == b)


@pytest.mark.parametrize("period", ["2025-02", "2025-04"])
def test_indicators_and_warnings_match_row_for_row(engines: Any, period: str) -> None:
    duck, spark = engines
    assert build_indicators(duck, period) == build_indicators(spark, period) > 1000
    a = duck.fetch(duck.table("indicators").filter(duck.table("indicators").period == period))
    b = spark.fetch(spark.table("indicators").filter(spark.table("indicators").period == period))
    a, b = a.sort_by("household_id").to_pylist(), b.sort_by("household_id").to_pylist()
    assert len(a) == len(b)
    assert a[0].keys() == b[0].keys()
    nulls = 0
    for ra, rb in zip(a, b, strict=True):
        for col in ra:
            assert _same(ra[col], rb[col]), (ra["household_id"], col, ra[col], rb[col])
            nulls += ra[col] is None
    assert nulls > 0  # unknowns exist and match as NULL on both engines
    pack = load_pack()
    wa, wb = screen_period(duck, period, pack), screen_period(spark, period, pack)
    key = ("household_id", "rule_id")
    rows_a = sorted(wa.to_pylist(), key=lambda r: tuple(r[k] for k in key))
    rows_b = sorted(wb.to_pylist(), key=lambda r: tuple(r[k] for k in key))
    assert rows_a == rows_b and len(rows_a) > 10


def test_link_stage_gives_the_same_links_on_spark(engines: Any) -> None:
    """The exact fast path and the Splink linker (Spark backend) agree row for row."""
    duck, spark = engines
    period = "2025-03"
    keys = link_keys(load_mappings())
    link_period(spark, period, keys)
    cols = ["source", "_file", "_row", "person_id", "household_id", "method"]

    def rows(engine: Any) -> list[tuple[Any, ...]]:
        t = engine.fetch(engine.table("links").filter(engine.table("links").period == period))
        return sorted(tuple(r[c] for c in cols) for r in t.to_pylist())

    a = rows(duck)
    assert a == rows(spark) and len(a) > 1000
    # damaged records take the probabilistic path: same candidates and probabilities
    persons = duck.fetch(duck.table(REGISTRY_PERSONS).filter(~_.is_relative), limit=300)
    ids = persons["id_number"].to_pylist()
    damaged = [
        i[:10] + i[11] + i[10] + i[12:] if n % 2 else i[:16] + "0" + i[17]
        for n, i in enumerate(ids)
    ]
    probe = pa.table(
        {
            "record_id": [f"r{n}" for n in range(len(ids))],
            "name": persons["name"],
            "id_number": damaged,
            "birth_date": pa.nulls(len(ids), pa.string()),
            "sex": persons["sex"],
            "village_code": persons["village_code"],
        }
    )
    spec, u = load_spec("person"), registry_u(duck)
    out = [
        link(probe, REGISTRY_PERSONS, spec, backend=engine_backend(e), u=u).best
        for e in (duck, spark)
    ]
    assert out[0] is not None and out[1] is not None
    best = [sorted(b.to_pylist(), key=lambda r: r["unique_id"]) for b in out]
    assert len(best[0]) == len(best[1]) > 250
    for x, y in zip(*best, strict=True):
        assert (x["unique_id"], x["candidate"], x["decision"]) == (
            y["unique_id"],
            y["candidate"],
            y["decision"],
        )
        assert math.isclose(x["match_probability"], y["match_probability"], abs_tol=1e-9)
