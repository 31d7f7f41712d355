"""Indicators from hand-made linked records: windows, supersession, unknowns."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from povguard.engine import DuckDBEngine
from povguard.indicators import build_indicators, window


def _engine() -> DuckDBEngine:
    engine = DuckDBEngine(":memory:")
    engine.replace_table(
        "registry_households",
        pa.table({
            "household_id": ["H1", "H2"], "village_code": ["522635100200"] * 2,
            "members": [3, 2], "former_poor": [True, False], "dibao": [False, False],
            "tekun": [False, False], "monitoring_status": ["", ""],
        }),
    )  # fmt: skip
    engine.replace_table(
        "registry_persons",
        pa.table({
            "household_id": ["H1", "H1", "H1", "H2", "H2"],
            "medical_insured": [True, True, False, True, True],
            "work_capacity": ["普通劳动力", "弱劳动力或半劳动力", "无劳动力(在校或未成年)",
                              "普通劳动力", "普通劳动力"],
            "disability_grade": [0, 2, 0, 0, 0],
            "birth_date": [dt.date(1960, 1, 1), dt.date(1990, 1, 1), dt.date(2015, 1, 1),
                           dt.date(1980, 1, 1), dt.date(1982, 1, 1)],
        }),
    )  # fmt: skip
    return engine


def _claims(engine: DuckDBEngine, period: str, rows: list[tuple[str, str, float, str]]) -> None:
    n = len(rows)
    engine.replace_period(
        "raw_medical_claims", period,
        pa.table({
            "settlement_no": [r[0] for r in rows], "visit_type": [r[3] for r in rows],
            "out_of_pocket": [r[2] for r in rows], "period": [period] * n,
            "_file": ["medical_claims.csv"] * n, "_row": list(range(2, n + 2)),
        }),
    )  # fmt: skip
    engine.replace_period(
        "links", period,
        pa.table({
            "period": [period] * n, "source": ["medical_claims"] * n,
            "_file": ["medical_claims.csv"] * n, "_row": list(range(2, n + 2)),
            "person_id": pa.array([None] * n, pa.string()),
            "household_id": [r[1] for r in rows], "method": ["id"] * n,
        }),
    )  # fmt: skip


def test_window_is_twelve_delivery_periods() -> None:
    assert window("2025-03", 3) == ["2025-03", "2025-02", "2025-01"]
    assert window("2025-01", 2) == ["2025-01", "2024-12"]
    assert len(window("2025-12", 12)) == 12


def test_corrected_redelivery_supersedes_history_kept_duplicates_once() -> None:
    engine = _engine()
    # May: a claim with a wrong amount, delivered twice in the file (duplicate row)
    _claims(engine, "2025-05", [("JS1", "H1", 30000.0, "住院"), ("JS1", "H1", 30000.0, "住院"),
                                ("JS2", "H2", 800.0, "门诊慢特病")])  # fmt: skip
    # June: JS1 re-delivered corrected, and a new claim
    _claims(engine, "2025-06", [("JS1", "H1", 3000.0, "住院"), ("JS3", "H1", 1200.0, "住院")])
    build_indicators(engine, "2025-06")
    rows = {r["household_id"]: r for r in engine.fetch(engine.table("indicators")).to_pylist()}
    assert rows["H1"]["medical_oop_12m"] == 4200.0  # 3000 (corrected) + 1200, not 30000
    # the corrected claim stays in May, its first delivery: May's total is corrected too
    assert rows["H1"]["medical_oop_12m_prev"] == 3000.0
    assert rows["H1"]["inpatient_oop_max"] == 1200.0  # the only claim first delivered in June
    assert rows["H2"]["medical_oop_12m"] == 800.0
    assert rows["H2"]["outpatient_oop_period"] == 0.0  # nothing in June
    # history is kept in the raw table
    assert engine.count(engine.table("raw_medical_claims")) == 5
    # registry-based measures, and unknowns stay NULL (no survey, no inspection)
    assert rows["H1"]["uninsured_members"] == 1 and rows["H1"]["severe_disabled_members"] == 1
    assert rows["H1"]["income_pc_12m"] is None and rows["H1"]["house_grade"] is None
    assert rows["H1"]["ev_medical"].startswith("medical_claims|medical_claims.csv|")
