"""Publish a cycle's results to the operations database (registry, warnings, link reviews,
and the cases opened from the warnings)."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from povguard.engine import Engine
from povguard.linkage import REVIEW
from povguard.policy import PackLibrary, PolicyPack
from povguard.store import services

_BATCH = 50_000


def _rows(path: Path, rename: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=_BATCH):
        for row in batch.to_pylist():
            yield {rename.get(k, k): v for k, v in row.items()} if rename else row


def publish_registry(session: Session, registry_dir: Path, period: str) -> None:
    """Upsert regions, households and persons of the registry (idempotent)."""
    services.sync_registry(
        session,
        _rows(registry_dir / "regions.parquet"),
        _rows(registry_dir / "households.parquet"),
        _rows(registry_dir / "persons.parquet"),
        period=period,
    )


def publish_warnings(session: Session, period: str, warnings: Any) -> int:
    """Replace the period's warnings in the operations database."""
    rows = []
    for r in warnings.to_pylist():
        r["values"] = json.loads(r["values"])
        r["evidence"] = json.loads(r["evidence"])
        rows.append(r)
    return services.replace_warnings(session, period, rows)


def record_run(
    session: Session, period: str, started: dt.datetime, stages: dict[str, Any], error: str | None
) -> None:
    """Record the cycle run with per-stage timings."""
    services.record_cycle_run(
        session,
        period,
        status="failed" if error else "succeeded",
        started_at=started,
        stages=stages,
        error=error,
    )


def publish_link_reviews(session: Session, engine: Engine, period: str) -> int:
    """Queue the period's uncertain link pairs for clerical review; returns new pairs."""
    if not engine.exists(REVIEW):
        return 0
    rows = engine.fetch(engine.table(REVIEW).filter(ibis._.period == period)).to_pylist()
    return services.queue_link_reviews(session, rows)


def publish_cases(
    session: Session,
    period: str,
    at: dt.datetime,
    policy: PolicyPack | PackLibrary | None = None,
) -> dict[str, Any]:
    """Open cases from the period's published warnings (idempotent per period).

    Risk and needs-verification warnings reach a case: the household's open case,
    a relapse case or a new one (see
    :func:`povguard.store.services.open_cases_from_warnings`); re-running the period
    opens nothing twice.

    Returns
    -------
    dict
        The stage record: ``seconds``, ``rows`` (households taken in) and the intake
        report (new cases, relapses, attached, by basis).
    """
    start = time.perf_counter()
    report = services.open_cases_from_warnings(session, period, at=at, policy=policy)
    total = report.risk.total + report.needs_verification.total
    return {"seconds": round(time.perf_counter() - start, 3), "rows": total, **report.as_dict()}
