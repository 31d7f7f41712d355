"""Panel features on a tiny hand-built indicator table (values checked by hand)."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from povguard.engine import DuckDBEngine
from povguard.policy import load_pack, load_packs
from povguard.risk import FEATURE_COLUMNS, GROUP_COLUMNS, KEY_COLUMNS, build_features
from tests.risk.panel_data import indicator_table


@pytest.fixture
def engine() -> DuckDBEngine:
    e = DuckDBEngine()
    rows = []
    # household A: per-capita income 10,000 then 4,000 from April (a 60% drop);
    # a serious illness in February, a job loss in May
    for p, income in (("2025-01", 10000), ("2025-02", 10000), ("2025-03", 10000)):
        rows.append({"period": p, "household_id": "A", "income_pc_12m": income})
    rows[1]["new_serious_illness"] = 1
    rows.append({"period": "2025-04", "household_id": "A", "income_pc_12m": 4000})
    rows.append(
        {
            "period": "2025-05",
            "household_id": "A",
            "income_pc_12m": 4000,
            "unemployment_registrations": 2,
        }
    )
    # household B: missing in February (the window must not shift), income 8,000 -> 10,000
    for p, income in (("2025-01", 8000), ("2025-03", 9000), ("2025-04", 10000)):
        rows.append(
            {
                "period": p,
                "household_id": "B",
                "income_pc_12m": income,
                "members": 5,
                "labour_members": 0,
                "disaster_loss": 3000.0 if p == "2025-03" else 0.0,
            }
        )
    e.replace_table("indicators", indicator_table(rows))
    return e


def _rows(engine: DuckDBEngine, **kw: Any) -> dict[tuple[str, str], dict[str, Any]]:
    table = engine.fetch(build_features(engine, **kw)).to_pylist()
    return {(r["household_id"], r["period"]): r for r in table}


def test_columns_and_one_row_per_household_month(engine: DuckDBEngine) -> None:
    expr = build_features(engine)
    assert tuple(expr.columns) == (*KEY_COLUMNS, *FEATURE_COLUMNS, *GROUP_COLUMNS)
    assert len(set(FEATURE_COLUMNS)) == len(FEATURE_COLUMNS)
    assert engine.count(expr) == 8


def test_changes_volatility_and_counts(engine: DuckDBEngine) -> None:
    f = _rows(engine)
    a4 = f[("A", "2025-04")]
    assert a4["income_pc_12m_change_3"] == pytest.approx(-0.6)
    assert a4["income_pc_12m_change_6"] is None  # 6 months back is not in the panel
    assert f[("A", "2025-05")]["income_pc_12m_change_3"] == pytest.approx(-0.6)
    assert f[("A", "2025-03")]["income_pc_12m_change_3"] is None
    # std of 10,000 x3 and 4,000 over the last 6 months (sample std)
    assert a4["income_pc_12m_std_6"] == pytest.approx(3000.0)
    assert a4["illness_3m"] == 1 and a4["illness_12m"] == 1
    assert f[("A", "2025-05")]["illness_3m"] == 0  # February left the 3-month window
    assert f[("A", "2025-05")]["job_loss_3m"] == 2
    assert a4["months_since_shock"] == 2
    assert f[("A", "2025-05")]["months_since_shock"] == 0
    assert f[("A", "2025-01")]["months_since_shock"] is None  # no shock seen yet
    assert f[("A", "2025-05")]["shocks_12m"] == 2
    # B has no February row: its April change over 3 months is against January
    assert f[("B", "2025-04")]["income_pc_12m_change_3"] == pytest.approx(0.25)
    assert f[("B", "2025-03")]["income_pc_12m_change_3"] is None
    assert f[("B", "2025-04")]["disaster_3m"] == 1
    assert f[("B", "2025-04")]["months_since_shock"] == 1


def test_demographics_and_village_context(engine: DuckDBEngine) -> None:
    f = _rows(engine)
    assert f[("A", "2025-01")]["dependency_ratio"] == pytest.approx(0.75)
    assert f[("A", "2025-01")]["no_labour"] is False
    assert f[("B", "2025-01")]["no_labour"] is True
    assert f[("A", "2025-01")]["calendar_month"] == 1
    # February: only A is in the panel, with a shock; March: only B (disaster) of two
    assert f[("A", "2025-02")]["village_shock_share"] == pytest.approx(1.0)
    assert f[("A", "2025-03")]["village_shock_share"] == pytest.approx(0.5)
    assert f[("A", "2025-04")]["village_income_pc_mean"] == pytest.approx(7000.0)
    # no stored warnings, no registry: unknown, not zero
    assert f[("A", "2025-04")]["warn_risk"] is None
    assert f[("A", "2025-04")]["head_sex"] is None


def test_periods_keep_the_look_back_and_pack_adds_the_line(engine: DuckDBEngine) -> None:
    f = _rows(engine, periods=["2025-04"], pack=load_pack())
    assert set(f) == {("A", "2025-04"), ("B", "2025-04")}
    a4 = f[("A", "2025-04")]
    assert a4["income_pc_12m_change_3"] == pytest.approx(-0.6)  # January still seen
    assert a4["monitoring_line"] == 6000
    assert a4["income_line_ratio"] == pytest.approx(4000 / 6000)
    # a library: the provincial pack's line for a village of its province (52 = Guizhou)
    lib = _rows(engine, periods=["2025-04"], pack=load_packs())
    assert lib[("A", "2025-04")]["monitoring_line"] == 7100
    with pytest.raises(ValueError, match="empty"):
        build_features(engine, periods=[])


@pytest.mark.spark
def test_same_features_on_spark(engine: DuckDBEngine) -> None:
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (install a JDK 17+)")
    from povguard.engine.spark import SparkEngine

    spark = SparkEngine()
    spark.replace_table("indicators", engine.fetch(engine.table("indicators")))
    pack = load_pack()
    duck_rows = _rows(engine, pack=pack)
    spark_rows = {
        (r["household_id"], r["period"]): r
        for r in spark.fetch(build_features(spark, pack=pack)).to_pylist()
    }
    assert set(spark_rows) == set(duck_rows)
    for key, row in duck_rows.items():
        for column, value in row.items():
            other = spark_rows[key][column]
            if value is None or other is None:  # NULLs compared explicitly
                assert value is None and other is None, (key, column, value, other)
            elif isinstance(value, float):
                assert other == pytest.approx(value), (key, column)
            else:
                assert other == value, (key, column)
