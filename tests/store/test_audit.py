"""Tamper-evident audit trail: hash chain, append-only triggers, tamper detection,
concurrent appenders and the ``povguard audit`` command line.

Runs on SQLite and, when POVGUARD_TEST_DATABASE_URL is set, on PostgreSQL (the
``session``, ``engine`` and ``database_url`` fixtures of ``conftest.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from povguard.cli_audit import audit_app, describe_problem
from povguard.errors import ConflictError, DataError
from povguard.store import make_engine, migrate, session_factory
from povguard.store.models import GENESIS_HASH, AuditChainHead, AuditEvent
from povguard.store.services import (
    AUDIT_PROBLEMS,
    AuditEventItem,
    AuditVerification,
    event_hash,
    list_events,
    record_event,
    verify_chain,
)

N_EVENTS = 12
runner = CliRunner()
cli = typer.Typer()
cli.add_typer(audit_app, name="audit")


def append(session: Session, n: int, *, start: int = 1, actor: str = "张三") -> list[int]:
    """Record ``n`` events (one commit each) about households HH<start>...; their ids."""
    ids = []
    for k in range(start, start + n):
        item = record_event(
            session,
            actor=actor,
            action="household.update",
            entity_type="household",
            entity_id=f"HH{k:06d}",
            before={"members": k, "address": "贵州省贵阳市南明区"},
            after={"members": k + 1, "address": "贵州省贵阳市南明区"},
            reason=f"入户核实 {k}",
        )
        session.commit()
        ids.append(item.id)
    return ids


def execute(engine: Engine, sql: str, **params: Any) -> None:
    """Run raw SQL in its own transaction (what a tamperer with database access does)."""
    with engine.begin() as conn:
        conn.execute(text(sql), params)


def drop_event_triggers(engine: Engine) -> None:
    """Drop the append-only triggers of ``audit_events`` (needs owner rights)."""
    if engine.dialect.name == "postgresql":
        execute(engine, "DROP TRIGGER audit_events_no_update_delete ON audit_events")
    else:
        execute(engine, "DROP TRIGGER audit_events_no_update")
        execute(engine, "DROP TRIGGER audit_events_no_delete")


def stored_row(engine: Engine, event_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(AuditEvent.__table__).where(AuditEvent.id == event_id)).one()
    return dict(row._mapping)


def forge(engine: Engine, event_id: int, after: dict[str, Any]) -> str:
    """Change an event's ``after`` and store a hash recomputed over the new content."""
    row = stored_row(engine, event_id)
    row["after"] = json.dumps(after, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    digest = event_hash(**{k: v for k, v in row.items() if k != "hash"})
    execute(
        engine,
        "UPDATE audit_events SET after = :after, hash = :hash WHERE id = :id",
        after=row["after"],
        hash=digest,
        id=event_id,
    )
    return digest


# ---------------------------------------------------------------------- the chain


def test_a_chain_of_events_verifies(session: Session) -> None:
    ids = append(session, N_EVENTS)
    assert ids == list(range(1, N_EVENTS + 1))
    result = verify_chain(session, batch_size=5)  # three batches
    assert result == AuditVerification(ok=True, checked=N_EVENTS, head_id=N_EVENTS)
    events = sorted(list_events(session, limit=100), key=lambda e: e.id)
    assert events[0].prev_hash == GENESIS_HASH == "0" * 64
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    assert len({e.hash for e in events}) == N_EVENTS
    head = session.get(AuditChainHead, 1, populate_existing=True)
    assert head is not None
    assert (head.last_id, head.last_hash) == (N_EVENTS, events[-1].hash)


def test_an_empty_chain_verifies(session: Session) -> None:
    assert verify_chain(session) == AuditVerification(ok=True, checked=0, head_id=0)


def test_the_hash_covers_a_documented_canonical_form(session: Session, engine: Engine) -> None:
    item = record_event(
        session,
        actor=" 李四 ",
        action="case.verify",
        entity_type="case",
        entity_id=42,
        before=None,
        after={"status": "verified", "b": [1, 2.5], "a": "收入 5,820 元"},
        request_id="req-1",
    )
    session.commit()
    assert item.id == 1 and item.actor == "李四" and item.entity_id == "42"
    assert item.at.tzinfo is not None and item.at.utcoffset() == dt.timedelta(0)
    assert item.before is None
    assert item.after == {"status": "verified", "b": [1, 2.5], "a": "收入 5,820 元"}
    row = stored_row(engine, 1)
    assert row["before"] is None
    assert row["after"] == '{"a":"收入 5,820 元","b":[1,2.5],"status":"verified"}'
    at = item.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    canonical = (
        '{"action":"case.verify","actor":"李四",'
        '"after":"{\\"a\\":\\"收入 5,820 元\\",\\"b\\":[1,2.5],\\"status\\":\\"verified\\"}",'
        f'"at":"{at}","before":null,"entity_id":"42","entity_type":"case","id":1,'
        f'"prev_hash":"{GENESIS_HASH}","reason":null,"request_id":"req-1"}}'
    )
    assert item.hash == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert row["hash"] == item.hash


def test_record_event_joins_the_callers_transaction(session: Session) -> None:
    record_event(
        session, actor="a", action="x", entity_type="case", entity_id="1", before={}, after={}
    )
    session.rollback()
    assert list_events(session) == []
    assert verify_chain(session).head_id == 0
    item = record_event(
        session, actor="a", action="x", entity_type="case", entity_id="1", before={}, after={}
    )
    session.commit()
    assert (item.id, item.prev_hash) == (1, GENESIS_HASH)  # no hole left by the rollback
    assert verify_chain(session).ok


def test_record_event_checks_its_arguments(session: Session) -> None:
    good: dict[str, Any] = {
        "actor": "a",
        "action": "x",
        "entity_type": "case",
        "entity_id": "1",
        "before": None,
        "after": {"v": 1},
    }
    for field, bad in [
        ("actor", " "),
        ("actor", "a" * 101),
        ("action", ""),
        ("entity_type", None),
        ("entity_id", True),
        ("after", {"v": object()}),
    ]:
        with pytest.raises(DataError):
            record_event(session, **{**good, field: bad})
    with pytest.raises(DataError):
        record_event(session, **good, request_id="r" * 129)
    assert list_events(session) == []


def test_a_repeated_request_is_recorded_once(session: Session) -> None:
    args: dict[str, Any] = {
        "actor": "王五",
        "action": "case.close",
        "entity_type": "case",
        "entity_id": "7",
        "before": {"status": "monitored"},
        "after": {"status": "closed"},
        "reason": "风险消除",
    }
    first = record_event(session, **args, request_id="req-7")
    session.commit()
    again = record_event(session, **args, request_id="req-7")
    session.commit()
    assert again == first
    with pytest.raises(ConflictError, match="req-7"):
        record_event(session, **{**args, "after": {"status": "open"}}, request_id="req-7")
    session.rollback()
    other = record_event(session, **{**args, "entity_id": "8"}, request_id="req-7")
    session.commit()
    assert other.id == 2
    assert [e.id for e in list_events(session)] == [2, 1]
    assert verify_chain(session).ok


def test_list_events_filters_newest_first(session: Session) -> None:
    append(session, 3, actor="张三")
    append(session, 2, start=10, actor="李四")
    record_event(
        session,
        actor="李四",
        action="case.open",
        entity_type="case",
        entity_id=5,
        before=None,
        after={"status": "open"},
    )
    session.commit()
    assert [e.id for e in list_events(session)] == [6, 5, 4, 3, 2, 1]
    assert [e.id for e in list_events(session, actor="李四")] == [6, 5, 4]
    assert [e.id for e in list_events(session, entity_type="case", entity_id=5)] == [6]
    assert [e.id for e in list_events(session, entity_type="household", entity_id="HH000002")] == [
        2
    ]
    assert [e.id for e in list_events(session, action="household.update", limit=2)] == [5, 4]
    assert [e.id for e in list_events(session, limit=2, offset=4)] == [2, 1]
    event = list_events(session, entity_id="HH000010")[0]
    assert isinstance(event, AuditEventItem)
    assert event.before == {"members": 10, "address": "贵州省贵阳市南明区"}
    assert event.after == {"members": 11, "address": "贵州省贵阳市南明区"}
    assert event.reason == "入户核实 10"
    for limit, offset in ((0, 0), (501, 0), (50, -1)):
        with pytest.raises(DataError):
            list_events(session, limit=limit, offset=offset)


# ---------------------------------------------------------------------- append-only


def test_triggers_refuse_update_and_delete(session: Session, engine: Engine) -> None:
    append(session, 3)
    refused = [
        "UPDATE audit_events SET after = '{}' WHERE id = 2",
        "UPDATE audit_events SET reason = NULL",
        "DELETE FROM audit_events WHERE id = 3",
        "DELETE FROM audit_events",
        "DELETE FROM audit_chain_head",
        "UPDATE audit_chain_head SET last_id = 2",
        "UPDATE audit_chain_head SET id = 2",
    ]
    if engine.dialect.name == "postgresql":
        refused += ["TRUNCATE audit_events", "TRUNCATE audit_chain_head"]
    for sql in refused:
        with pytest.raises(DBAPIError) as info:
            execute(engine, sql)
        assert "append-only" in str(info.value) or "only moves forward" in str(info.value), sql
    assert verify_chain(session) == AuditVerification(ok=True, checked=3, head_id=3)
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 3


# ---------------------------------------------------------------------- tampering


def test_a_changed_event_is_reported(session: Session, engine: Engine) -> None:
    append(session, N_EVENTS)
    drop_event_triggers(engine)
    execute(engine, "UPDATE audit_events SET after = :a WHERE id = 4", a='{"members":99}')
    result = verify_chain(session, batch_size=3)
    assert (result.ok, result.problem, result.broken_id, result.checked) == (
        False,
        "content",
        4,
        3,
    )
    assert result.found == stored_row(engine, 4)["hash"]
    assert result.expected != result.found


def test_a_changed_actor_or_time_is_reported(session: Session, engine: Engine) -> None:
    append(session, 5)
    drop_event_triggers(engine)
    execute(engine, "UPDATE audit_events SET actor = 'someone else' WHERE id = 5")
    assert verify_chain(session).broken_id == 5
    execute(engine, "UPDATE audit_events SET actor = '张三' WHERE id = 5")
    assert verify_chain(session).ok  # restored: intact again
    later = stored_row(engine, 2)["at"] + dt.timedelta(seconds=1)
    execute(engine, "UPDATE audit_events SET at = :at WHERE id = 2", at=later)
    result = verify_chain(session)
    assert (result.problem, result.broken_id) == ("content", 2)


def test_a_deleted_event_is_a_gap(session: Session, engine: Engine) -> None:
    append(session, N_EVENTS)
    drop_event_triggers(engine)
    execute(engine, "DELETE FROM audit_events WHERE id = 5")
    result = verify_chain(session, batch_size=4)
    assert (result.ok, result.problem, result.broken_id, result.checked) == (False, "gap", 5, 4)
    assert (result.expected, result.found) == ("5", "6")
    execute(engine, "DELETE FROM audit_events WHERE id IN (1, 2)")
    result = verify_chain(session)
    assert (result.problem, result.broken_id, result.found) == ("gap", 1, "3")


def test_deleting_the_last_events_is_a_gap(session: Session, engine: Engine) -> None:
    append(session, N_EVENTS)
    drop_event_triggers(engine)
    execute(engine, "DELETE FROM audit_events WHERE id >= :k", k=N_EVENTS - 1)
    result = verify_chain(session)
    assert (result.problem, result.broken_id, result.checked) == ("gap", N_EVENTS - 1, 10)
    assert result.found is None
    assert describe_problem(result, "en") == (
        f"events #{N_EVENTS - 1}-#{N_EVENTS} are missing from the end of the chain (deleted)"
    )


def test_a_forged_hash_breaks_the_next_link(session: Session, engine: Engine) -> None:
    append(session, N_EVENTS)
    drop_event_triggers(engine)
    forged = forge(engine, 3, {"members": 0})
    result = verify_chain(session)
    assert (result.ok, result.problem, result.broken_id, result.checked) == (False, "link", 4, 3)
    assert result.expected == forged == stored_row(engine, 3)["hash"]
    assert result.found == stored_row(engine, 4)["prev_hash"] != forged


def test_a_forged_last_event_disagrees_with_the_head(session: Session, engine: Engine) -> None:
    append(session, N_EVENTS)
    drop_event_triggers(engine)
    forge(engine, N_EVENTS, {"members": 0})
    result = verify_chain(session)
    assert (result.problem, result.broken_id, result.checked) == ("head", N_EVENTS, N_EVENTS)


def test_an_event_added_behind_the_service_is_reported(session: Session, engine: Engine) -> None:
    append(session, 3)
    last = stored_row(engine, 3)
    row = {**last, "id": 4, "prev_hash": last["hash"], "reason": "forged"}
    row["hash"] = event_hash(**{k: v for k, v in row.items() if k != "hash"})
    with engine.begin() as conn:
        conn.execute(insert(AuditEvent).values(**row))
    result = verify_chain(session)
    assert (result.ok, result.problem, result.broken_id, result.checked) == (False, "head", 4, 3)


def test_every_problem_is_worded_in_both_languages() -> None:
    cases = {
        "content": AuditVerification(False, 3, 9, 4, "content"),
        "link": AuditVerification(False, 3, 9, 4, "link"),
        "gap": AuditVerification(False, 4, 9, 5, "gap", expected="5", found="7"),
        "head": AuditVerification(False, 9, 9, 9, "head"),
    }
    assert set(cases) == set(AUDIT_PROBLEMS)
    assert describe_problem(cases["content"]) == "事件 #4 的内容被改动：内容与其哈希不符"
    assert describe_problem(cases["link"], "en").startswith("event #4 does not link to event #3")
    assert describe_problem(cases["gap"]) == "事件 #5–#6 缺失（已被删除）"
    assert describe_problem(cases["head"], "en") == (
        "the last event #9 does not match the hash the chain head names"
    )
    missing = AuditVerification(False, 0, None, None, "head")
    assert describe_problem(missing) == "链头记录缺失"


# ---------------------------------------------------------------------- concurrency


def test_concurrent_appenders_build_one_chain(engine: Engine) -> None:
    """Two threads on two connections append in lock step: one chain, no fork."""
    rounds, threads = 50, 2
    factory = session_factory(engine)
    barrier = threading.Barrier(threads, timeout=60)

    def worker(name: str) -> list[int]:
        ids = []
        try:
            with factory() as session:
                for k in range(rounds):
                    barrier.wait()  # both threads append at the same moment
                    item = record_event(
                        session,
                        actor=name,
                        action="case.update",
                        entity_type="case",
                        entity_id=f"{name}-{k}",
                        before={"round": k},
                        after={"round": k + 1},
                    )
                    session.commit()
                    ids.append(item.id)
        except BaseException:
            barrier.abort()  # let the other thread fail instead of waiting forever
            raise
        return ids

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(worker, f"t{n}") for n in range(threads)]
        results = [f.result() for f in futures]

    total = rounds * threads
    assert sorted(results[0] + results[1]) == list(range(1, total + 1))
    with factory() as session:
        assert verify_chain(session, batch_size=16) == AuditVerification(
            ok=True, checked=total, head_id=total
        )
        rows = session.execute(
            select(AuditEvent.id, AuditEvent.actor, AuditEvent.prev_hash).order_by(AuditEvent.id)
        ).all()
    assert len({r.prev_hash for r in rows}) == total
    # lock step: events 2k+1 and 2k+2 are one from each thread
    for k in range(rounds):
        assert {rows[2 * k].actor, rows[2 * k + 1].actor} == {"t0", "t1"}


# ---------------------------------------------------------------------- command line


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The command line's settings point at the test database; an engine on it."""
    monkeypatch.setenv("POVGUARD_DATABASE_URL", database_url)
    monkeypatch.setenv("POVGUARD_HOME", str(tmp_path))
    monkeypatch.setenv("POVGUARD_LANGUAGE", "zh")
    migrate(database_url)
    return make_engine(database_url)


def test_cli_verify_exit_codes(cli_env: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = cli_env
    try:
        with session_factory(engine)() as session:
            append(session, 6)
        result = runner.invoke(cli, ["audit", "verify"])
        assert result.exit_code == 0, result.output
        assert "审计链完整：已校验 6 条事件。" in result.output

        drop_event_triggers(engine)
        execute(engine, "UPDATE audit_events SET after = '{}' WHERE id = 4")
        result = runner.invoke(cli, ["audit", "verify", "--batch-size", "2"])
        assert result.exit_code == 1, result.output
        assert "审计链已损坏：第一个异常事件 #4" in result.output
        assert "事件 #4 的内容被改动" in result.output
        assert "异常之前已校验 3 条事件" in result.output

        monkeypatch.setenv("POVGUARD_LANGUAGE", "en")
        result = runner.invoke(cli, ["audit", "verify"])
        assert result.exit_code == 1
        assert "audit chain BROKEN: first broken event #4" in result.output
        assert "event #4 was changed" in result.output

        execute(engine, "DELETE FROM audit_events WHERE id = 2")
        result = runner.invoke(cli, ["audit", "verify"])
        assert result.exit_code == 1
        assert "first broken event #2" in result.output
        assert "events #2-#2 are missing (deleted)" in result.output

        assert runner.invoke(cli, ["audit", "verify", "--batch-size", "0"]).exit_code == 2
    finally:
        engine.dispose()


def test_cli_list(cli_env: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = cli_env
    try:
        with session_factory(engine)() as session:
            append(session, 3, actor="张三")
            append(session, 1, start=9, actor="李四")
        result = runner.invoke(cli, ["audit", "list"])
        assert result.exit_code == 0, result.output
        assert "审计事件" in result.output and "操作人" in result.output
        assert result.output.index("HH000009") < result.output.index("HH000001")
        assert "入户核实 9" in result.output
        result = runner.invoke(cli, ["audit", "list", "--actor", "张三", "--limit", "1"])
        assert result.exit_code == 0
        assert "household:HH000003" in result.output and "HH000001" not in result.output
        result = runner.invoke(cli, ["audit", "list", "--entity-type", "case"])
        assert result.exit_code == 0 and "没有符合条件的审计事件" in result.output
        monkeypatch.setenv("POVGUARD_LANGUAGE", "en")
        result = runner.invoke(cli, ["audit", "list", "--entity-id", "HH000002"])
        assert "audit events" in result.output and "HH000002" in result.output
        assert runner.invoke(cli, ["audit", "list", "--limit", "0"]).exit_code == 2
    finally:
        engine.dispose()


def test_the_audit_app_is_mounted(cli_env: Engine) -> None:
    from povguard.cli import app

    try:
        result = runner.invoke(app, ["audit", "verify"])
        assert result.exit_code == 0, result.output
        assert "审计链完整：已校验 0 条事件。" in result.output
    finally:
        cli_env.dispose()
