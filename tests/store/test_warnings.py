"""replace_warnings: a period's warnings replaced as a whole; cycle runs."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from povguard.errors import DataError
from povguard.store import (
    CycleRun,
    HouseholdWarning,
    cycle_runs,
    record_cycle_run,
    replace_warnings,
    sync_registry,
)
from tests.store import sample_data as sd

CONTENT = (
    "period",
    "household_id",
    "rule_id",
    "rule_version",
    "severity",
    "kind",
    "household_type",
    "reason_zh",
    "reason_en",
    "values",
    "evidence",
)


def _content(session: Session, period: str | None = None) -> list[tuple[Any, ...]]:
    stmt = select(HouseholdWarning).order_by(
        HouseholdWarning.period, HouseholdWarning.household_id, HouseholdWarning.rule_id
    )
    if period is not None:
        stmt = stmt.where(HouseholdWarning.period == period)
    rows = [
        tuple(json.dumps(getattr(w, c), sort_keys=True) for c in CONTENT)
        for w in session.scalars(stmt)
    ]
    session.rollback()
    return rows


@pytest.fixture
def registry(session: Session) -> Session:
    sync_registry(session, sd.regions(), sd.households(), sd.persons())
    return session


def test_replace_twice_gives_the_same_rows(registry: Session) -> None:
    session = registry
    assert replace_warnings(session, "2025-05", sd.warnings_2025_05()) == 3
    assert replace_warnings(session, "2025-06", sd.warnings_2025_06()) == 5
    first = _content(session)
    assert replace_warnings(session, "2025-06", sd.warnings_2025_06()) == 5
    assert _content(session) == first
    assert len(first) == 8


def test_replace_only_touches_its_period(registry: Session) -> None:
    session = registry
    replace_warnings(session, "2025-05", sd.warnings_2025_05())
    may = _content(session, "2025-05")
    replace_warnings(session, "2025-06", sd.warnings_2025_06())
    replace_warnings(session, "2025-06", sd.warnings_2025_06()[:2])
    assert _content(session, "2025-05") == may
    assert len(_content(session, "2025-06")) == 2
    replace_warnings(session, "2025-06", [])
    assert _content(session, "2025-06") == []


def test_a_failed_replace_keeps_the_old_warnings(registry: Session) -> None:
    session = registry
    replace_warnings(session, "2025-06", sd.warnings_2025_06())
    before = _content(session)
    bad = [*sd.warnings_2025_06(), {**sd.warnings_2025_06()[0], "household_id": "nope"}]
    bad[-1]["rule_id"] = "other"
    with pytest.raises(DataError, match="nope/other: unknown household"):
        replace_warnings(session, "2025-06", bad)
    assert _content(session) == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "danger"}, "kind must be one of"),
        ({"household_type": "rich"}, "household_type must be one of"),
        ({"reason_zh": ""}, "reason_zh is required"),
        ({"period": "2025-05"}, "is not '2025-06'"),
        ({"evidence": [{"source": "x"}]}, "evidence item lacks"),
        ({"values": "{not json"}, "not valid JSON"),
        ({"colour": "red"}, "unknown fields"),
    ],
)
def test_invalid_warnings_are_refused(
    registry: Session, change: dict[str, Any], message: str
) -> None:
    row = {**sd.warnings_2025_06()[0], **change}
    with pytest.raises(DataError, match=message):
        replace_warnings(registry, "2025-06", [row])


def test_duplicate_and_bad_period_are_refused(registry: Session) -> None:
    row = sd.warnings_2025_06()[0]
    with pytest.raises(DataError, match="appears twice"):
        replace_warnings(registry, "2025-06", [row, row])
    with pytest.raises(DataError, match="YYYY-MM"):
        replace_warnings(registry, "2025-13", [row])


def test_json_text_values_from_the_screen_stage(registry: Session) -> None:
    row = sd.warnings_2025_06()[0]
    row["values"] = json.dumps(row["values"], ensure_ascii=False)
    row["evidence"] = json.dumps(row["evidence"], ensure_ascii=False)
    row["period"] = "2025-06"
    replace_warnings(registry, "2025-06", [row])
    stored = registry.scalars(select(HouseholdWarning)).one()
    assert stored.values == {"income_pc_12m": 5820.0, "monitoring_line": 7100}
    assert stored.evidence[0]["row"] == 17


def test_record_cycle_run_inserts_then_updates(session: Session) -> None:
    started = dt.datetime(2025, 7, 1, 8, 0, tzinfo=dt.UTC)
    run = record_cycle_run(session, "2025-06", status="running", started_at=started)
    assert run.id is not None and run.finished_at is None
    record_cycle_run(
        session,
        "2025-06",
        status="succeeded",
        stages={"ingest": {"rows": 1200, "seconds": 3.25}, "screen": {"warnings": 5}},
        run_id=run.id,
    )
    failed = record_cycle_run(session, "2025-07", status="failed", error="boom")
    session.expire_all()
    stored = session.get(CycleRun, run.id)
    assert stored is not None
    assert stored.status == "succeeded"
    assert stored.stages["ingest"] == {"rows": 1200, "seconds": 3.25}
    assert stored.finished_at is not None
    assert [r.id for r in cycle_runs(session)] == [failed.id, run.id]
    assert [r.id for r in cycle_runs(session, period="2025-06")] == [run.id]
    with pytest.raises(DataError):
        record_cycle_run(session, "2025-06", status="done")
    with pytest.raises(DataError):
        record_cycle_run(session, "2025-06", status="failed", run_id=999_999)
