"""Labels on hand-built sequences: entering at-risk status within 3 and 6 months."""

from __future__ import annotations

from typing import Any

import ibis
import pyarrow as pa
import pytest

from povguard.engine import DuckDBEngine
from povguard.policy import load_pack
from povguard.risk import build_labels, labels_from_flags, risk_flags
from tests.risk.panel_data import indicator_table

PERIODS = [f"2025-{m:02d}" for m in range(1, 9)]


def _labels(table: Any, engine: DuckDBEngine) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["household_id"], r["period"]): r for r in engine.fetch(table).to_pylist()}


@pytest.fixture
def engine() -> DuckDBEngine:
    """A and B over eight months; A falls below the line without labour in April-May."""
    e = DuckDBEngine()
    rows = []
    for p in PERIODS:
        below = p in ("2025-04", "2025-05")
        rows.append(
            {
                "period": p,
                "household_id": "A",
                "income_pc_12m": 5000.0 if below else 8000.0,
                "labour_members": 0 if below else 1,
            }
        )
        rows.append({"period": p, "household_id": "B", "income_pc_12m": 9000.0})
    e.replace_table("indicators", indicator_table(rows))
    return e


EXPECTED_A = {  # period: (y_3, y_6)
    "2025-01": (1, 1),
    "2025-02": (1, 1),
    "2025-03": (1, None),  # 6 months ahead is after the last month
    "2025-04": (None, None),  # already at risk: cannot enter
    "2025-05": (None, None),
    "2025-06": (None, None),  # future not observed
    "2025-07": (None, None),
    "2025-08": (None, None),
}


def test_labels_from_the_packs_screen(engine: DuckDBEngine) -> None:
    pack = load_pack()
    flags = risk_flags(engine, pack)
    assert sorted(
        zip(flags["household_id"].to_pylist(), flags["period"].to_pylist(), strict=True)
    ) == [
        ("A", "2025-04"),
        ("A", "2025-05"),
    ]
    got = _labels(build_labels(engine, pack, horizons=(3, 6), flags=flags), engine)
    assert len(got) == 16
    for p, (y3, y6) in EXPECTED_A.items():
        assert (got[("A", p)]["y_3"], got[("A", p)]["y_6"]) == (y3, y6), p
    assert got[("A", "2025-04")]["risk_now"] is True
    assert [got[("B", p)]["y_3"] for p in PERIODS] == [0] * 5 + [None] * 3
    assert [got[("B", p)]["y_6"] for p in PERIODS] == [0] * 2 + [None] * 6


def test_stored_warnings_of_the_same_pack_are_reused(engine: DuckDBEngine) -> None:
    pack = load_pack()
    # a stored warnings table of the same pack version that says B (not A) is at risk
    stored = pa.table(
        {
            "period": PERIODS,
            "household_id": ["B"] * 8,
            "kind": ["risk" if p == "2025-03" else "screening" for p in PERIODS],
            "rule_version": [pack.ref] * 8,
        }
    )
    engine.replace_table("warnings", stored)
    flags = risk_flags(engine, pack)
    assert flags["household_id"].to_pylist() == ["B"]
    assert risk_flags(engine, pack, ["2025-04"], use_stored=False).num_rows == 1


def test_gaps_in_the_panel_and_horizon_checks() -> None:
    engine = DuckDBEngine()
    # C is missing in March; at risk in May only
    panel = ibis.memtable(
        {
            "household_id": ["C"] * 5,
            "period": ["2025-01", "2025-02", "2025-04", "2025-05", "2025-06"],
        }
    )
    flags = ibis.memtable({"household_id": ["C"], "period": ["2025-05"]})
    got = _labels(labels_from_flags(panel, flags, horizons=(1, 3)), engine)
    assert [got[("C", p)]["y_1"] for p in ("2025-01", "2025-02", "2025-04")] == [0, 0, 1]
    assert [got[("C", p)]["y_3"] for p in ("2025-01", "2025-02", "2025-04")] == [0, 1, None]
    # D leaves the panel after February: its outcome 3 months on is unknown, not "no risk"
    panel = ibis.memtable(
        {
            "household_id": ["C", "C", "C", "C", "D", "D"],
            "period": ["2025-01", "2025-02", "2025-05", "2025-06", "2025-01", "2025-02"],
        }
    )
    got = _labels(labels_from_flags(panel, flags, horizons=(1, 3)), engine)
    assert got[("D", "2025-01")]["y_1"] == 0 and got[("D", "2025-01")]["y_3"] is None
    assert got[("D", "2025-02")]["y_1"] is None and got[("C", "2025-02")]["y_3"] == 1
    with pytest.raises(ValueError, match="horizons"):
        build_labels(engine, load_pack(), horizons=(0,))
