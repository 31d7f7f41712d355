"""Benchmark: case transitions under concurrent load on PostgreSQL (issue 7).

Acceptance: 50 concurrent clients transitioning cases against PostgreSQL, no lost
update, p95 per transition recorded.

Setup (not timed): a fresh database (``--database``, default ``povguard_bench``,
dropped and created on the server of ``--admin-url``) migrated to head with
:func:`povguard.store.migrate`; a registry of ``--households`` households in five
villages of one township written with ``sync_registry``; one ``risk`` warning per
household for 2025-01 (``replace_warnings``) taken in with
``open_cases_from_warnings``, so every household has a ``discovered`` case at
version 1. The cases table is then copied to ``peer_cases`` (``CREATE TABLE ...
(LIKE cases INCLUDING ALL)``) for the peer, with an event log ``peer_case_events``.

Load: ``--clients`` clients start together (a barrier), each with its own engine
(one pooled connection, ``make_engine`` defaults as the application uses them) and
session, as forked processes (``--workers processes``, default) or as threads of
this process (``--workers threads``). Each client performs
``--transitions-per-client`` transitions; one transition is: read the case
(``get_case``), pick the next action of the full path discovered -> ... ->
eliminated (14 actions: the canonical path of the workflow table, with the
payloads the tests use; ``accept_plan`` first stores a draft with
``recommend_plan``) and call ``transition`` (or ``accept_plan``) with the version
read as ``expected_version`` and an idempotency key of its own. A
``StaleCaseError`` (or, for ``accept_plan``, a draft superseded by another
client's ``recommend_plan``) is counted as a conflict and the client re-reads and
tries again. A share ``--replay-share`` of the successful requests is sent a
second time unchanged (a client retry after a lost answer): it must come back as a
replay, write nothing and is not timed. Modes:

- ``single``: one client, cases of its own, ``--single-transitions`` transitions:
  the uncontended cost of a transition;
- ``disjoint``: each client walks cases of its own (no conflict possible):
  throughput and latency;
- ``hot``: every transition goes to one of ``--hot-cases`` cases (default 10)
  picked at random, shared by all clients, so that clients collide; when a hot
  case is eliminated its place is taken by a fresh case.

Measured per transition: the wall-clock time of the successful ``transition`` /
``accept_plan`` call (p50, p95, p99; ``recommend_plan`` and the read before are not
in it), and separately the time from the first read to success including
retries. Throughput = successful transitions / (last client done - first client
started). The audit trail's chain head is the one row every write of every case
locks (``record_event``: ``UPDATE audit_chain_head ... RETURNING``; held until
commit); the benchmark wraps the service's ``_lock_head`` and ``record_event``
and listens to the session's commit to measure, per transition, the wait for that
lock, how long it is held (lock granted -> commit done, split into the rest of
``record_event``, what the service does after it, and the COMMIT) and its
utilisation (time held by all clients / wall time; measured on the client side,
so it includes the time a client needs to be scheduled after its COMMIT returns
and can slightly exceed 1). The ``--ablation-modes`` (default ``disjoint``) are
also run with ``record_event`` stubbed out (``povguard_no_audit``): what the
audit chain costs, not a valid configuration.

Correctness after every product run (no lost update): for every case used, the
number of ``case_events`` rows equals 1 (the opening) + the successful transitions
the clients reported for it, and equals ``cases.version``; each case's ``seq`` is
1..version without gap; the case's status is its last event's ``after_status``; a
case past ``accept_plan`` has exactly one accepted plan, the one its state names; no
idempotency key occurs twice; each successful transition has exactly one audit
event (``request_id`` = its key); ``verify_chain`` passes.

Peer, in the same run on the copy of the cases: the same clients and load with a
naive "last write wins" update in plain SQLAlchemy Core: in one transaction read
the ``peer_cases`` row, compute the next state in Python with the same domain
function (:func:`povguard.cases.apply`), ``UPDATE peer_cases SET ... WHERE id =
:id`` without a version check and append a row to ``peer_case_events``. It writes
no task, notice, decision, visit, plan or audit row and checks no idempotency key.
Lost updates = transitions the clients were told succeeded minus the transitions
reflected in the final ``version`` (summed over the cases); the same figure is
computed for the product (must be 0).

Every run takes fresh cases (repeats share the database); figures are medians of
``--repeat`` runs. Machine, PostgreSQL version and settings, load averages, the
CPU busy share during each run and the CPU share of other processes (a lower
bound: processes that end during the run are missed) are recorded. Processes are
the default because the GIL dominates with threads: on the idle 2-core machine 50
threads kept the client process at about one core (the GIL) with 30% of the CPU
idle, and did 69-82 transitions/s (disjoint) and 23-25/s (hot) where 50
processes did 91/s and 41/s; when other jobs share the machine both do about
the same (see ``bench/BENCHMARKS.md``).

Usage::

    .venv/bin/python bench/bench_cases.py [--clients 50] [--transitions-per-client 20]
        [--households 5000] [--hot-cases 10] [--repeat 3] [--workers processes]
        [--single-transitions 100] [--ablation-modes disjoint] [--replay-share 0.05]

Prints a Markdown table and writes ``bench/results/cases.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import random
import statistics
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Table, event, func, insert, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

import povguard.store.services.audit as audit_service
import povguard.store.services.cases as case_service
from povguard.cases import Action, CaseStatus, apply, state_from_dict, state_to_dict
from povguard.errors import ConflictError
from povguard.store import (
    AssistancePlan,
    AuditEvent,
    Case,
    CaseEventRecord,
    make_engine,
    migrate,
    normalise_url,
    session_factory,
)
from povguard.store.services import (
    CaseView,
    StaleCaseError,
    accept_plan,
    case_params,
    get_case,
    open_cases_from_warnings,
    recommend_plan,
    replace_warnings,
    sync_registry,
    transition,
    verify_chain,
)

sys.path.insert(0, str(Path(__file__).parent))
from bench_synth import machine

RESULTS = Path(__file__).parent / "results"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
PERIOD = "2025-01"
T0 = dt.datetime(2025, 1, 6, 9, 0)
#: Time between two steps of a case: longer than any public notice of the pack.
STEP = dt.timedelta(days=10)
TOWNSHIP = "520102001"
VILLAGES = tuple(f"{TOWNSHIP}{v:03d}" for v in range(1, 6))

A, S = Action, CaseStatus
PAYLOADS: dict[Action, dict[str, Any]] = {
    A.ASSIGN_VISIT: {"assignee": "村干部王芳"},
    A.RECORD_VISIT: {"findings": "主要劳动力住院，收入下降", "authorisation_signed": True},
    A.RECORD_CROSS_CHECK: {"results": {"vehicles": 0, "businesses": 0}},
    A.START_NOTICE: {"democratic_review": "村民代表会议 25 人参加，24 人同意"},
    A.END_NOTICE: {},
    A.APPROVE: {},
    A.PROPOSE_ELIMINATION: {
        "ready": True,
        "readiness_reason": "连续 6 个月人均纯收入高于监测线",
        "labour_members": 2,
    },
    A.RECORD_HOME_CHECK: {"team": ["李明", "张华"], "findings": "收入稳定", "labour_members": 2},
}
CLASSIFY: dict[str, Any] = {
    "household_type": "edge",
    "main_cause": "illness",
    "other_causes": ["schooling"],
}
#: The next action of the full path from each state (notice states: start, then end).
NEXT: dict[CaseStatus, Action] = {
    S.DISCOVERED: A.ASSIGN_VISIT,
    S.VISIT: A.RECORD_VISIT,
    S.CROSS_CHECK: A.RECORD_CROSS_CHECK,
    S.TOWNSHIP_REVIEW: A.APPROVE,
    S.COUNTY_APPROVAL: A.APPROVE,
    S.MONITORED: A.ACCEPT_PLAN,
    S.ASSISTED: A.PROPOSE_ELIMINATION,
    S.ELIMINATION_ASSESSMENT: A.RECORD_HOME_CHECK,
    S.TOWNSHIP_ACCEPTANCE: A.APPROVE,
    S.COUNTY_ELIMINATION_APPROVAL: A.APPROVE,
}
#: Transitions from discovered to eliminated.
PATH_LENGTH = 14

OK, DONE, CONFLICT = "ok", "done", "conflict"
#: Per-transition probe lists of a client (same order as the probe's counters).
PROBED = ("lock_wait", "lock_hold", "record_event", "in_record", "to_commit", "commit")


def next_action(status: CaseStatus, notice_started: bool) -> tuple[Action, dict[str, Any]]:
    """The next action of the full path and its payload (``accept_plan``: filled later)."""
    if status in (S.VILLAGE_REVIEW, S.ELIMINATION_NOTICE):
        action = A.END_NOTICE if notice_started else A.START_NOTICE
    else:
        action = NEXT[status]
    if status is S.COUNTY_APPROVAL:
        return action, dict(CLASSIFY)
    return action, dict(PAYLOADS.get(action, {}))


# ----------------------------------------------------------------- instrumentation


class _Probe(threading.local):
    """Per-thread time spent on the audit chain head (cumulative, seconds).

    ``hold`` (lock granted -> commit done) splits into ``in_record`` (the rest of
    ``record_event``), ``to_commit`` (what the service does after ``record_event``
    inside the transaction) and ``commit`` (the COMMIT round trip, WAL flush included).
    """

    def __init__(self) -> None:
        self.lock_wait = 0.0
        self.hold = 0.0
        self.record = 0.0
        self.in_record = 0.0
        self.to_commit = 0.0
        self.commit = 0.0
        self.locked_at: float | None = None
        self.record_end: float | None = None
        self.commit_start: float | None = None


_PROBE = _Probe()
#: Switch of the ablation run (record_event stubbed out); read by forked children too.
_AUDIT = {"enabled": True}
_ORIGINAL_LOCK_HEAD = audit_service._lock_head
_ORIGINAL_RECORD_EVENT = case_service.record_event


def _timed_lock_head(session: Session) -> tuple[int, str]:
    t0 = time.perf_counter()
    out = _ORIGINAL_LOCK_HEAD(session)
    t1 = time.perf_counter()
    _PROBE.lock_wait += t1 - t0
    _PROBE.locked_at = t1
    return out


def _timed_record_event(session: Session, **kwargs: Any) -> Any:
    if not _AUDIT["enabled"]:
        return None
    t0 = time.perf_counter()
    try:
        return _ORIGINAL_RECORD_EVENT(session, **kwargs)
    finally:
        t1 = time.perf_counter()
        _PROBE.record += t1 - t0
        if _PROBE.locked_at is not None:
            _PROBE.record_end = t1


def _commit_starts(session: Session) -> None:
    _PROBE.commit_start = time.perf_counter()


def _released(session: Session) -> None:
    now = time.perf_counter()
    if _PROBE.locked_at is not None:
        _PROBE.hold += now - _PROBE.locked_at
        end = _PROBE.record_end
        start = _PROBE.commit_start
        if end is not None and start is not None and _PROBE.locked_at <= end <= start:
            _PROBE.in_record += end - _PROBE.locked_at
            _PROBE.to_commit += start - end
            _PROBE.commit += now - start
    _PROBE.locked_at = _PROBE.record_end = _PROBE.commit_start = None


def install_probes() -> None:
    """Wrap the audit chain's lock and ``record_event`` as the case service calls them."""
    audit_service._lock_head = _timed_lock_head  # type: ignore[assignment]
    case_service.record_event = _timed_record_event  # type: ignore[assignment]
    event.listen(Session, "before_commit", _commit_starts)
    event.listen(Session, "after_commit", _released)
    event.listen(Session, "after_rollback", _released)


# ------------------------------------------------------------------------- setup


def _regions() -> list[dict[str, Any]]:
    rows = [
        {"code": "520000000000", "name": "贵州省", "level": "province", "parent_code": ""},
        {
            "code": "520102000000",
            "name": "南明区",
            "level": "county",
            "parent_code": "520000000000",
        },
        {
            "code": f"{TOWNSHIP}000",
            "name": "甲镇",
            "level": "township",
            "parent_code": "520102000000",
        },
    ]
    rows += [
        {"code": v, "name": f"{i}村", "level": "village", "parent_code": f"{TOWNSHIP}000"}
        for i, v in enumerate(VILLAGES, 1)
    ]
    return rows


def _households(n: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        village = VILLAGES[i % len(VILLAGES)]
        rows.append(
            {
                "id": f"{village}{i // len(VILLAGES) + 1:04d}",
                "village_code": village,
                "address": f"{village} 组 {i % 97} 号",
                "head_name": f"户主{i}",
                "members": 1 + i % 5,
                "former_poor": i % 3 == 0,
                "updated_period": PERIOD,
            }
        )
    return rows


def _warning(household_id: str) -> dict[str, Any]:
    return {
        "household_id": household_id,
        "rule_id": "income_below_line",
        "rule_version": "national-monitoring@2021.1",
        "severity": "high",
        "kind": "risk",
        "household_type": "edge",
        "reason_zh": "人均纯收入 5,820 元，低于监测线 7,100 元",
        "reason_en": "per-capita net income 5,820 yuan, below the line 7,100",
        "values": {"income_pc_12m": 5820.0, "monitoring_line": 7100},
        "evidence": [{"source": "income_survey", "file": "income_survey.csv", "row": 1}],
    }


def database_url(admin_url: str, name: str) -> str:
    """URL of database ``name`` on the server of ``admin_url``."""
    return normalise_url(admin_url).set(database=name).render_as_string(hide_password=False)


def setup(admin_url: str, name: str, households: int) -> dict[str, Any]:
    """Create, migrate and fill the benchmark database; return what was written."""
    t0 = time.perf_counter()
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = database_url(admin_url, name)
    revision = migrate(url)
    engine = make_engine(url)
    try:
        rows = _households(households)
        with session_factory(engine)() as session:
            sync_registry(session, _regions(), rows, [], period=PERIOD)
            replace_warnings(session, PERIOD, [_warning(r["id"]) for r in rows])
            t1 = time.perf_counter()
            report = open_cases_from_warnings(session, PERIOD, at=T0)
            intake_seconds = time.perf_counter() - t1
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE peer_cases (LIKE cases INCLUDING ALL)"))
            conn.execute(text("INSERT INTO peer_cases SELECT * FROM cases"))
            conn.execute(
                text(
                    "CREATE TABLE peer_case_events (id BIGSERIAL PRIMARY KEY, "
                    "case_id VARCHAR(48) NOT NULL, seq INTEGER NOT NULL, "
                    "action VARCHAR(32) NOT NULL, before_status VARCHAR(32), "
                    "after_status VARCHAR(32) NOT NULL, actor VARCHAR(100) NOT NULL, "
                    "at TIMESTAMP NOT NULL, idempotency_key VARCHAR(128), "
                    "recorded_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
            )
            conn.execute(text("CREATE INDEX ON peer_case_events (case_id)"))
            conn.execute(text("ANALYZE"))
            cases = conn.scalars(select(Case.id).order_by(Case.id)).all()
    finally:
        engine.dispose()
    return {
        "url": url,
        "revision": revision,
        "households": households,
        "villages": len(VILLAGES),
        "cases_opened": report.new_cases,
        "case_ids": list(cases),
        "intake_seconds": round(intake_seconds, 2),
        "setup_seconds": round(time.perf_counter() - t0, 2),
    }


def server_info(url: str) -> dict[str, str]:
    """PostgreSQL version and the settings that matter for commit latency."""
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            out = {"version": str(conn.scalar(text("SHOW server_version")))}
            for name in ("synchronous_commit", "fsync", "shared_buffers", "max_connections"):
                out[name] = str(conn.scalar(text(f"SHOW {name}")))
    finally:
        engine.dispose()
    return out


# ----------------------------------------------------------------------- clients


@dataclass
class ClientResult:
    """What one client measured and did."""

    client: int
    started: float = 0.0
    finished: float = 0.0
    latencies: list[float] = field(default_factory=list)
    logical: list[float] = field(default_factory=list)
    reads: list[float] = field(default_factory=list)
    failed_calls: list[float] = field(default_factory=list)
    lock_wait: list[float] = field(default_factory=list)
    lock_hold: list[float] = field(default_factory=list)
    record_event: list[float] = field(default_factory=list)
    in_record: list[float] = field(default_factory=list)
    to_commit: list[float] = field(default_factory=list)
    commit: list[float] = field(default_factory=list)
    retries_per_transition: list[int] = field(default_factory=list)
    successes: Counter[str] = field(default_factory=Counter)
    stale: int = 0
    plan_conflicts: int = 0
    plans: int = 0
    replays: int = 0
    bad_replays: int = 0
    hold_total: float = 0.0
    cpu_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


class ProductDriver:
    """One client of the case service (its own engine, one connection, one session)."""

    def __init__(self, url: str, client: int, replay_share: float, rng: random.Random) -> None:
        self.engine = make_engine(url, pool_size=1, max_overflow=0)
        self.session = session_factory(self.engine)()
        self.actor = f"cadre-{client:02d}"
        self.replay_share = replay_share
        self.rng = rng

    def warm(self) -> None:
        self.session.execute(text("SELECT 1"))
        self.session.rollback()

    def close(self) -> None:
        self.session.close()
        self.engine.dispose()

    def _call(
        self, case_id: str, action: Action, view: CaseView, payload: dict[str, Any], key: str
    ) -> CaseView:
        at = view.updated_at + STEP
        if action is A.ACCEPT_PLAN:
            return accept_plan(
                self.session,
                payload["plan_id"],
                expected_version=view.version,
                actor=self.actor,
                at=at,
                area_prefix="",
                idempotency_key=key,
            )
        return transition(
            self.session,
            case_id,
            action,
            expected_version=view.version,
            actor=self.actor,
            at=at,
            area_prefix="",
            payload=payload,
            idempotency_key=key,
        )

    def step(self, case_id: str, key: str, res: ClientResult) -> str:
        t = time.perf_counter()
        view = get_case(self.session, case_id, "")
        res.reads.append(time.perf_counter() - t)
        if view.status == S.ELIMINATED:
            self.session.rollback()
            return DONE
        action, payload = next_action(S(view.status), view.state.notice_started_on is not None)
        if action is A.ACCEPT_PLAN:
            plan = recommend_plan(
                self.session,
                case_id,
                labour_members=2,
                has_stable_income=True,
                actor=self.actor,
                area_prefix="",
            )
            res.plans += 1
            payload = {"plan_id": str(plan.id)}
        p = _PROBE
        before = (p.lock_wait, p.hold, p.record, p.in_record, p.to_commit, p.commit)
        t0 = time.perf_counter()
        try:
            out = self._call(case_id, action, view, payload, key)
        except StaleCaseError:
            res.failed_calls.append(time.perf_counter() - t0)
            res.stale += 1
            return CONFLICT
        except ConflictError:  # the draft plan was superseded by another client's
            self.session.rollback()
            res.failed_calls.append(time.perf_counter() - t0)
            res.plan_conflicts += 1
            return CONFLICT
        res.latencies.append(time.perf_counter() - t0)
        after = (p.lock_wait, p.hold, p.record, p.in_record, p.to_commit, p.commit)
        for name, t1, t0 in zip(PROBED, after, before, strict=True):
            getattr(res, name).append(t1 - t0)
        res.successes[case_id] += 1
        if out.replay:
            res.errors.append(f"{case_id} {key}: first request answered as a replay")
        if self.replay_share and self.rng.random() < self.replay_share:
            again = self._call(case_id, action, view, payload, key)
            res.replays += 1
            if not again.replay or again.event is None or again.event.seq != out.version:
                res.bad_replays += 1
        return OK


class PeerDriver:
    """One client of the naive peer: read, compute in Python, UPDATE without version check."""

    def __init__(self, url: str, client: int, replay_share: float, rng: random.Random) -> None:
        self.engine = make_engine(url, pool_size=1, max_overflow=0)
        meta = MetaData()
        self.cases = Case.__table__.to_metadata(meta, name="peer_cases")
        self.events = Table("peer_case_events", meta, autoload_with=self.engine)
        self.actor = f"cadre-{client:02d}"
        self.params: dict[tuple[str, str], dict[str, Any]] = {}

    def warm(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()

    def _params(self, at: dt.datetime, village: str) -> dict[str, Any]:
        key = (f"{at.year:04d}-{at.month:02d}", village)
        if key not in self.params:
            self.params[key] = case_params(key[0], village)
        return self.params[key]

    def step(self, case_id: str, key: str, res: ClientResult) -> str:
        c = self.cases.c
        t0 = time.perf_counter()
        with self.engine.begin() as conn:
            row = conn.execute(select(c.state, c.village_code).where(c.id == case_id)).one()
            state = state_from_dict(row.state)
            if state.status is S.ELIMINATED:
                return DONE
            action, payload = next_action(state.status, state.notice_started_on is not None)
            if action is A.ACCEPT_PLAN:
                payload = {"plan_id": f"{case_id}-plan"}
            at = state.updated_at + STEP
            new = apply(
                state,
                action,
                at=at,
                actor=self.actor,
                params=self._params(at, row.village_code),
                payload=payload,
            ).state
            conn.execute(
                update(self.cases)
                .where(c.id == case_id)
                .values(
                    status=new.status.value,
                    state=state_to_dict(new),
                    version=new.version,
                    updated_at=new.updated_at,
                    assignee=new.assignee,
                    decided_on=new.decided_on,
                    household_type=None if new.household_type is None else new.household_type.value,
                    main_cause=None if new.main_cause is None else new.main_cause.value,
                    other_causes=[x.value for x in new.other_causes],
                    closed_at=new.updated_at if new.status.is_closed else None,
                )
            )
            conn.execute(
                insert(self.events).values(
                    case_id=case_id,
                    seq=new.version,
                    action=action.value,
                    before_status=state.status.value,
                    after_status=new.status.value,
                    actor=self.actor,
                    at=at,
                    idempotency_key=key,
                )
            )
        res.latencies.append(time.perf_counter() - t0)
        res.successes[case_id] += 1
        return OK


DRIVERS: dict[str, Callable[..., Any]] = {
    "povguard": ProductDriver,
    "povguard_no_audit": ProductDriver,
    "peer": PeerDriver,
}


@dataclass(frozen=True)
class RunSpec:
    """One run: which system, how the clients are given cases, how many transitions."""

    system: str
    mode: str
    tag: str
    url: str
    lanes: list[list[list[str]]]  # per client: its lanes (lists of case ids)
    transitions: int
    replay_share: float
    seed: int


def run_client(spec: RunSpec, client: int, barrier: Any) -> ClientResult:
    """Warm up, wait for the others, then do ``spec.transitions`` transitions."""
    res = ClientResult(client)
    rng = random.Random(spec.seed * 1_000_003 + client)
    driver = None
    try:
        driver = DRIVERS[spec.system](spec.url, client, spec.replay_share, rng)
        driver.warm()
    except Exception:
        res.errors.append(traceback.format_exc())
    barrier.wait()
    if res.errors or driver is None:
        return res
    lanes = spec.lanes[client]
    ptr = [0] * len(lanes)
    hold0 = _PROBE.hold
    cpu0 = time.thread_time()
    res.started = time.perf_counter()
    try:
        for i in range(spec.transitions):
            lane = rng.randrange(len(lanes))
            key = f"bench:{spec.tag}:c{client}:n{i}"
            first = time.perf_counter()
            retries = 0
            while True:
                if ptr[lane] >= len(lanes[lane]):
                    raise RuntimeError(f"client {client}: lane {lane} ran out of cases")
                outcome = driver.step(lanes[lane][ptr[lane]], key, res)
                if outcome == DONE:
                    ptr[lane] += 1
                elif outcome == OK:
                    break
                else:
                    retries += 1
            res.logical.append(time.perf_counter() - first)
            res.retries_per_transition.append(retries)
    except Exception:
        res.errors.append(traceback.format_exc())
    res.finished = time.perf_counter()
    res.cpu_seconds = time.thread_time() - cpu0
    res.hold_total = _PROBE.hold - hold0
    driver.close()
    return res


def _process_client(spec: RunSpec, client: int, barrier: Any, queue: Any) -> None:
    queue.put(run_client(spec, client, barrier))


def run_clients(spec: RunSpec, workers: str) -> list[ClientResult]:
    """Run every client of ``spec`` at once, as threads or forked processes."""
    n = len(spec.lanes)
    if workers == "threads":
        barrier = threading.Barrier(n, timeout=300)
        results: list[ClientResult] = []
        lock = threading.Lock()

        def target(c: int) -> None:
            r = run_client(spec, c, barrier)
            with lock:
                results.append(r)

        threads = [threading.Thread(target=target, args=(c,)) for c in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(n, timeout=300)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_process_client, args=(spec, c, barrier, queue)) for c in range(n)]
    for p in procs:
        p.start()
    out = [queue.get(timeout=900) for _ in procs]
    for p in procs:
        p.join()
    return out


# ------------------------------------------------------------------------ checks


def check_product(url: str, ids: Sequence[str], results: list[ClientResult], tag: str) -> dict:
    """No lost update: events = 1 + reported = version, gapless seq, unique keys, chain."""
    reported: Counter[str] = Counter()
    for r in results:
        reported.update(r.successes)
    total = sum(reported.values())
    cases, ev = Case.__table__, CaseEventRecord.__table__
    audit, plans = AuditEvent.__table__, AssistancePlan.__table__
    prefix = f"bench:{tag}:%"
    engine = make_engine(url, poolclass=NullPool)
    try:
        with Session(engine) as s:
            rows = s.execute(
                select(
                    cases.c.id,
                    cases.c.version,
                    cases.c.status,
                    func.count(ev.c.id).label("events"),
                    func.min(ev.c.seq).label("lo"),
                    func.max(ev.c.seq).label("hi"),
                    func.count(ev.c.seq.distinct()).label("seqs"),
                )
                .join(ev, ev.c.case_id == cases.c.id)
                .where(cases.c.id.in_(list(ids)))
                .group_by(cases.c.id, cases.c.version, cases.c.status)
            ).all()
            last = (
                select(ev.c.case_id, func.max(ev.c.seq).label("seq"))
                .where(ev.c.case_id.in_(list(ids)))
                .group_by(ev.c.case_id)
                .subquery()
            )
            last_status = dict(
                s.execute(
                    select(ev.c.case_id, ev.c.after_status).join(
                        last, (ev.c.case_id == last.c.case_id) & (ev.c.seq == last.c.seq)
                    )
                ).all()
            )
            duplicate_keys = s.execute(
                select(ev.c.idempotency_key)
                .where(ev.c.idempotency_key.is_not(None))
                .group_by(ev.c.idempotency_key)
                .having(func.count() > 1)
            ).all()
            keyed_events = s.scalar(
                select(func.count()).select_from(ev).where(ev.c.idempotency_key.like(prefix))
            )
            audit_events = s.scalar(
                select(func.count())
                .select_from(audit)
                .where(audit.c.entity_type == "case", audit.c.request_id.like(prefix))
            )
            accepted: dict[str, list[str]] = {}
            for case_id, plan_id in s.execute(
                select(plans.c.case_id, plans.c.id).where(
                    plans.c.case_id.in_(list(ids)), plans.c.status == "accepted"
                )
            ):
                accepted.setdefault(case_id, []).append(str(plan_id))
            case_plans = dict(
                s.execute(
                    select(cases.c.id, cases.c.state["plan_id"].as_string()).where(
                        cases.c.id.in_(list(ids))
                    )
                ).all()
            )
            chain = verify_chain(s)
    finally:
        engine.dispose()
    mismatched = [r.id for r in rows if r.events != 1 + reported[r.id] or r.version != r.events]
    gaps = [r.id for r in rows if (r.lo, r.hi, r.seqs) != (1, r.events, r.events)]
    wrong_status = [r.id for r in rows if last_status.get(r.id) != r.status]
    lost = sum(max(0, reported[r.id] - (r.version - 1)) for r in rows)
    # a case past accept_plan has exactly one accepted plan, the one its state names
    wrong_plan = [
        c
        for c in ids
        if accepted.get(c, []) != ([case_plans[c]] if case_plans.get(c) is not None else [])
    ]
    checks = {
        "cases_checked": len(rows),
        "cases_missing": len(ids) - len(rows),
        "transitions_reported": total,
        "lost_updates": lost,
        "events_mismatch_cases": len(mismatched),
        "seq_gap_cases": len(gaps),
        "status_mismatch_cases": len(wrong_status),
        "plan_mismatch_cases": len(wrong_plan),
        "duplicate_idempotency_keys": len(duplicate_keys),
        "events_with_run_keys": int(keyed_events or 0),
        "audit_events_with_run_keys": int(audit_events or 0),
        "audit_chain_ok": chain.ok,
        "audit_chain_events": chain.checked,
    }
    checks["ok"] = (
        checks["cases_missing"] == 0
        and lost == 0
        and not mismatched
        and not gaps
        and not wrong_status
        and not wrong_plan
        and not duplicate_keys
        and checks["events_with_run_keys"] == total
        and chain.ok
    )
    if _AUDIT["enabled"]:
        checks["ok"] = checks["ok"] and checks["audit_events_with_run_keys"] == total
    checks["examples"] = (mismatched + gaps + wrong_status + wrong_plan)[:5]
    return checks


def check_peer(url: str, ids: Sequence[str], results: list[ClientResult]) -> dict:
    """Lost updates of the peer: reported transitions not reflected in the final version."""
    reported: Counter[str] = Counter()
    for r in results:
        reported.update(r.successes)
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            versions = dict(
                conn.execute(
                    text("SELECT id, version FROM peer_cases WHERE id = ANY(:ids)"),
                    {"ids": list(ids)},
                ).all()
            )
            events = dict(
                conn.execute(
                    text(
                        "SELECT case_id, count(*) FROM peer_case_events "
                        "WHERE case_id = ANY(:ids) GROUP BY case_id"
                    ),
                    {"ids": list(ids)},
                ).all()
            )
            duplicate_seq = conn.scalar(
                text(
                    "SELECT count(*) FROM (SELECT case_id, seq FROM peer_case_events "
                    "WHERE case_id = ANY(:ids) GROUP BY case_id, seq HAVING count(*) > 1) d"
                ),
                {"ids": list(ids)},
            )
    finally:
        engine.dispose()
    lost = sum(max(0, reported[c] - (versions[c] - 1)) for c in ids)
    return {
        "cases_checked": len(versions),
        "transitions_reported": sum(reported.values()),
        "events_written": sum(events.values()),
        "lost_updates": lost,
        "cases_with_lost_updates": sum(1 for c in ids if reported[c] != versions[c] - 1),
        "duplicate_event_seq": int(duplicate_seq or 0),
    }


# ------------------------------------------------------------------------- stats


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))]


def _ms(values: Sequence[float], qs: Sequence[int] = (50, 95, 99)) -> dict[str, float | None]:
    """Percentiles and mean in milliseconds (None without values)."""
    if not values:
        return {**{f"p{q}": None for q in qs}, "mean": None}
    out: dict[str, float | None] = {f"p{q}": round(pct(values, q) * 1000, 2) for q in qs}
    out["mean"] = round(statistics.fmean(values) * 1000, 2)
    return out


def _cpu_times() -> tuple[int, int]:
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(p) for p in parts]
    idle = values[3] + values[4]
    return sum(values[:8]), idle


def _other_cpu() -> dict[int, float]:
    """CPU seconds so far of every process that is not this one, its child or PostgreSQL.

    The difference of two readings is a lower bound of what other jobs used in
    between (processes that ended in between are missed).
    """
    me, tick = os.getpid(), os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            raw = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        comm, rest = raw[raw.find("(") + 1 : raw.rfind(")")], raw[raw.rfind(")") + 2 :].split()
        if comm.startswith("postgres") or int(rest[1]) == me:
            continue
        out[int(name)] = (int(rest[11]) + int(rest[12])) / tick
    return out


def summarise(spec: RunSpec, results: list[ClientResult], cpu: tuple[float, float]) -> dict:
    """Figures of one run."""
    merged: dict[str, list[float]] = {}
    for name in ("latencies", "logical", "reads", "failed_calls", *PROBED):
        merged[name] = [v for r in results for v in getattr(r, name)]
    retries = [v for r in results for v in r.retries_per_transition]
    done = len(merged["latencies"])
    started = min((r.started for r in results if r.started), default=0.0)
    wall = max((r.finished for r in results), default=0.0) - started
    total_latency = sum(merged["latencies"]) or 1.0
    out: dict[str, Any] = {
        "system": spec.system,
        "mode": spec.mode,
        "clients": len(results),
        "transitions": done,
        "wall_seconds": round(wall, 2),
        "throughput_per_s": round(done / wall, 1) if wall > 0 else None,
        "latency_ms": _ms(merged["latencies"]),
        "latency_with_retries_ms": _ms(merged["logical"]),
        "read_ms": _ms(merged["reads"], (50, 95)),
        "conflicts": sum(r.stale + r.plan_conflicts for r in results),
        "stale_conflicts": sum(r.stale for r in results),
        "plan_conflicts": sum(r.plan_conflicts for r in results),
        "retries": sum(retries),
        "transitions_retried": sum(1 for v in retries if v),
        "max_retries_one_transition": max(retries, default=0),
        "failed_call_ms": _ms(merged["failed_calls"], (50, 95)),
        "plans_recommended": sum(r.plans for r in results),
        "replays": sum(r.replays for r in results),
        "bad_replays": sum(r.bad_replays for r in results),
        "cpu_busy_share": round(cpu[0], 3),
        "client_cpu_seconds_per_second": round(cpu[1] / wall, 2) if wall > 0 else None,
        "errors": [e for r in results for e in r.errors][:5],
    }
    if spec.system == "povguard":
        out["audit_chain_head"] = {
            "lock_wait_ms": _ms(merged["lock_wait"], (50, 95)),
            "lock_held_ms": _ms(merged["lock_hold"], (50, 95)),
            "record_event_ms": _ms(merged["record_event"], (50, 95)),
            "held_in_record_event_ms": _ms(merged["in_record"], (50, 95)),
            "held_after_record_event_ms": _ms(merged["to_commit"], (50, 95)),
            "held_in_commit_ms": _ms(merged["commit"], (50, 95)),
            "wait_share_of_latency": round(sum(merged["lock_wait"]) / total_latency, 3),
            "held_share_of_latency": round(sum(merged["lock_hold"]) / total_latency, 3),
            "record_event_share_of_latency": round(sum(merged["record_event"]) / total_latency, 3),
            "utilisation": round(sum(r.hold_total for r in results) / wall, 3)
            if wall > 0
            else None,
        }
    return out


def median_tree(runs: list[Any]) -> Any:
    """Median of every numeric leaf across runs (other leaves: the first run's)."""
    first = runs[0]
    if isinstance(first, dict):
        return {
            k: median_tree([r[k] for r in runs if isinstance(r, dict) and k in r]) for k in first
        }
    if isinstance(first, bool | str | list):
        return first
    values = [
        r
        for r in runs
        if isinstance(r, int | float) and not isinstance(r, bool) and not math.isnan(r)
    ]
    if not values:
        return first
    m = statistics.median(values)
    if all(isinstance(v, int) for v in values) and m == int(m):
        return int(m)
    return round(m, 3) if isinstance(m, float) else m


# -------------------------------------------------------------------------- runs


class CasePool:
    """Hands out fresh cases (each case is used by one run only)."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = list(ids)
        self.next = 0

    def take(self, n: int) -> list[str]:
        if self.next + n > len(self.ids):
            raise SystemExit(
                f"not enough cases ({len(self.ids)}): use more --households or fewer transitions"
            )
        out = self.ids[self.next : self.next + n]
        self.next += n
        return out


def lanes_for(
    mode: str, pool: CasePool, clients: int, transitions: int, hot: int
) -> list[list[list[str]]]:
    """Per client, its lanes of cases: own cases (disjoint) or the shared hot lanes."""
    if mode == "disjoint":
        per_client = math.ceil(transitions / PATH_LENGTH) + 1
        return [[pool.take(per_client)] for _ in range(clients)]
    per_lane = math.ceil(clients * transitions / PATH_LENGTH / hot) + 2
    shared = [pool.take(per_lane) for _ in range(hot)]
    return [shared for _ in range(clients)]


def run_one(
    system: str, mode: str, pool: CasePool, args: argparse.Namespace, url: str, repeat: int
) -> dict:
    """One run of one system in one mode, with its correctness check.

    Mode ``single`` is the uncontended reference: one client, cases of its own,
    ``--single-transitions`` transitions.
    """
    clients, transitions = args.clients, args.transitions_per_client
    if mode == "single":
        clients, transitions = 1, args.single_transitions
    lane_mode = "disjoint" if mode == "single" else mode
    lanes = lanes_for(lane_mode, pool, clients, transitions, args.hot_cases)
    ids = sorted({c for client in lanes for lane in client for c in lane})
    tag = f"r{repeat}-{system}-{mode}"
    spec = RunSpec(
        system=system,
        mode=mode,
        tag=tag,
        url=url,
        lanes=lanes,
        transitions=transitions,
        replay_share=args.replay_share if system != "peer" else 0.0,
        seed=args.seed + repeat,
    )
    _AUDIT["enabled"] = system != "povguard_no_audit"
    load_before = os.getloadavg()
    others0 = _other_cpu()
    total0, idle0 = _cpu_times()
    t0 = time.perf_counter()
    try:
        results = run_clients(spec, args.workers)
    finally:
        total1, idle1 = _cpu_times()
        window = time.perf_counter() - t0
        others1 = _other_cpu()
    busy = 1 - (idle1 - idle0) / max(1, total1 - total0)
    client_cpu = sum(r.cpu_seconds for r in results)
    out = summarise(spec, results, (busy, client_cpu))
    others = sum(v - others0.get(pid, 0.0) for pid, v in others1.items())
    out["other_processes_cpu_share"] = round(others / (window * (os.cpu_count() or 1)), 3)
    out["repeat"] = repeat
    out["cases"] = len(ids)
    out["load_average_before"] = list(load_before)
    if system == "peer":
        out["check"] = check_peer(url, ids, results)
    else:
        out["check"] = check_product(url, ids, results, tag)
    _AUDIT["enabled"] = True
    out["lost_updates"] = out["check"]["lost_updates"]
    # the peer is expected to lose updates: its runs only fail on errors
    out["check"]["ok"] = (
        out["check"].get("ok", True) and not out["errors"] and out["bad_replays"] == 0
    )
    return out


SYSTEM_LABELS = {
    "povguard": "povguard `transition`",
    "peer": "peer: last write wins",
    "povguard_no_audit": "povguard, `record_event` stubbed (ablation)",
}


def table(summary: list[dict]) -> str:
    """Markdown table of the medians."""
    lines = [
        "| mode | clients | system | transitions | p50 ms | p95 ms | p99 ms | transitions/s "
        "| p95 incl. retries ms | conflicts | retries | lost updates | checks |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in summary:
        lat, log = s["latency_ms"], s["latency_with_retries_ms"]
        lines.append(
            f"| {s['mode']} | {s['clients']} | {SYSTEM_LABELS[s['system']]} | {s['transitions']} "
            f"| {lat['p50']:.1f} | {lat['p95']:.1f} "
            f"| {lat['p99']:.1f} | {s['throughput_per_s']:.0f} | {log['p95']:.1f} "
            f"| {s['conflicts']} | {s['retries']} | {s['lost_updates']} "
            f"| {'ok' if s['checks_ok'] else 'FAILED'} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write ``bench/results/cases.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--transitions-per-client", type=int, default=20)
    parser.add_argument("--households", type=int, default=5000)
    parser.add_argument("--hot-cases", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", choices=("processes", "threads"), default="processes")
    parser.add_argument("--replay-share", type=float, default=0.05)
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=("single", "disjoint", "hot"),
        default=["single", "disjoint", "hot"],
    )
    parser.add_argument("--single-transitions", type=int, default=100)
    parser.add_argument(
        "--ablation-modes",
        nargs="*",
        choices=("disjoint", "hot"),
        default=["disjoint"],
        help="modes also run with record_event stubbed out (none: no ablation)",
    )
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--database", default="povguard_bench")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS / "cases.json")
    args = parser.parse_args(argv)

    load_start = os.getloadavg()
    t_start = time.perf_counter()
    print(f"setup: {args.households} households ...", flush=True)
    info = setup(args.admin_url, args.database, args.households)
    url = info.pop("url")
    case_ids = info.pop("case_ids")
    print(
        f"setup: {info['cases_opened']} cases in {info['setup_seconds']} s "
        f"(intake {info['intake_seconds']} s)",
        flush=True,
    )
    server = server_info(url)
    install_probes()
    case_params(PERIOD, VILLAGES[0])  # load the packaged policy once, before the clients
    product_pool, peer_pool = CasePool(case_ids), CasePool(case_ids)
    systems = ["povguard", "peer", "povguard_no_audit"]
    runs: list[dict] = []
    try:
        for repeat in range(1, args.repeat + 1):
            for mode in args.modes:
                for system in systems:
                    if system == "povguard_no_audit" and mode not in args.ablation_modes:
                        continue
                    pool = peer_pool if system == "peer" else product_pool
                    run = run_one(system, mode, pool, args, url, repeat)
                    runs.append(run)
                    lat = run["latency_ms"]
                    print(
                        f"repeat {repeat} {mode:8s} {system:18s} p50 {lat['p50']:7.1f} ms "
                        f"p95 {lat['p95']:7.1f} ms p99 {lat['p99']:7.1f} ms "
                        f"{run['throughput_per_s']:6.0f}/s conflicts {run['conflicts']:5d} "
                        f"lost {run['lost_updates']:4d} cpu {run['cpu_busy_share']:.2f} "
                        f"check {'ok' if run['check']['ok'] else 'FAILED'}"
                        + (f" ERRORS {run['errors'][:1]}" if run["errors"] else ""),
                        flush=True,
                    )
    finally:
        if not args.keep_database:
            admin = make_engine(args.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'))
            admin.dispose()

    summary = []
    for mode in args.modes:
        for system in systems:
            group = [r for r in runs if r["mode"] == mode and r["system"] == system]
            if not group:
                continue
            med = median_tree(
                [{k: v for k, v in r.items() if k not in ("errors", "repeat")} for r in group]
            )
            med["checks_ok"] = all(r["check"]["ok"] for r in group)
            med["lost_updates_per_run"] = [r["lost_updates"] for r in group]
            med["runs"] = len(group)
            summary.append(med)
    result = {
        "machine": machine(),
        "postgresql": server,
        "load_average_start": list(load_start),
        "load_average_end": list(os.getloadavg()),
        "command": "bench/bench_cases.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "config": {
            "clients": args.clients,
            "transitions_per_client": args.transitions_per_client,
            "households": args.households,
            "hot_cases": args.hot_cases,
            "repeat": args.repeat,
            "workers": args.workers,
            "replay_share": args.replay_share,
            "single_transitions": args.single_transitions,
            "ablation_modes": args.ablation_modes,
            "path_length": PATH_LENGTH,
        },
        "setup": info,
        "total_seconds": round(time.perf_counter() - t_start, 1),
        "summary": summary,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str) + "\n")
    print()
    print(table(summary))
    print(f"\nwritten {args.out} in {result['total_seconds']} s")
    ok = all(s["checks_ok"] for s in summary)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
