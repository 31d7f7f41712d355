"""Runs of the monthly cycle: one row per run, with stage counts and timings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from povguard.errors import DataError
from povguard.store.models import CYCLE_STATUSES, CycleRun, utcnow
from povguard.store.services._common import check_period, jsonable, transaction


def record_cycle_run(
    session: Session,
    period: str,
    *,
    status: str,
    started_at: dt.datetime | None = None,
    finished_at: dt.datetime | None = None,
    stages: Mapping[str, Any] | None = None,
    error: str | None = None,
    run_id: int | None = None,
    commit: bool = True,
) -> CycleRun:
    """Record a cycle run, or update the run ``run_id`` (e.g. from running to done).

    Parameters
    ----------
    session
        Session on the operations database.
    period
        ``YYYY-MM`` the run is for.
    status
        ``running``, ``succeeded`` or ``failed``.
    started_at, finished_at
        Timezone-aware times; ``started_at`` defaults to now for a new run.
        ``finished_at`` defaults to now when ``status`` is not ``running``.
    stages
        Per-stage counts and timings, e.g. ``{"ingest": {"rows": 1200, "seconds":
        3.2}}`` (stored as JSON; replaces the stored mapping when given).
    error
        Error text of a failed run.
    run_id
        Id of an existing run to update instead of inserting a new one.
    commit
        Commit at the end (default).

    Returns
    -------
    CycleRun
        The stored run (its ``id`` identifies it for later updates).

    Raises
    ------
    DataError
        On an invalid period or status, or an unknown ``run_id``.
    """
    check_period(period)
    if status not in CYCLE_STATUSES:
        raise DataError(f"status must be one of {CYCLE_STATUSES}, got {status!r}")
    with transaction(session, commit=commit):
        if run_id is None:
            run = CycleRun(period=period, started_at=started_at or utcnow(), stages={})
            session.add(run)
        else:
            found = session.get(CycleRun, run_id)
            if found is None:
                raise DataError(f"cycle run {run_id} does not exist")
            run = found
            run.period = period
            if started_at is not None:
                run.started_at = started_at
        run.status = status
        if stages is not None:
            run.stages = jsonable(dict(stages), "stages")
        if error is not None:
            run.error = error
        if finished_at is not None:
            run.finished_at = finished_at
        elif status != "running" and run.finished_at is None:
            run.finished_at = utcnow()
    return run


def cycle_runs(session: Session, period: str | None = None, limit: int = 20) -> list[CycleRun]:
    """The latest cycle runs, newest first.

    Parameters
    ----------
    session
        Session on the operations database.
    period
        Only runs for this ``YYYY-MM`` (all periods when None).
    limit
        At most this many runs.

    Returns
    -------
    list of CycleRun
    """
    stmt = select(CycleRun).order_by(CycleRun.started_at.desc(), CycleRun.id.desc()).limit(limit)
    if period is not None:
        stmt = stmt.where(CycleRun.period == check_period(period))
    return list(session.scalars(stmt))
