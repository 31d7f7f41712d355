"""Clerical review queue of record linkage: queue, decide, undo, reuse, audit trail.

Runs on SQLite and, when POVGUARD_TEST_DATABASE_URL is set, on PostgreSQL (the
``session`` and ``database_url`` fixtures of ``conftest.py``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.orm import Session

import povguard.store.services.link_review as link_review_service
from povguard.errors import ConflictError, DataError, NotFoundError
from povguard.store import alembic_config, head_revision, make_engine, migrate, session_factory
from povguard.store.models import LinkReviewEvent, LinkReviewPair
from povguard.store.services import (
    LinkReviewItem,
    count_link_reviews,
    decide_link_review,
    get_link_review,
    link_decisions,
    link_review_history,
    list_link_reviews,
    queue_link_reviews,
    undo_link_review,
)

RECORD = {
    "name": "张炜",
    "id_number": "52010219800101123X",
    "birth_date": "1980-01-01",
    "sex": "男",
    "village_code": "520102001001",
}
CANDIDATE = {
    "name": "张伟",
    "id_number": "520102198001011234",
    "birth_date": "1980-01-01",
    "sex": "男",
    "village_code": "520102001001",
}
EXPLANATION = [
    {"field": "name", "level": "pinyin equal", "bayes_factor": 8.5},
    {"field": "id_number", "level": "one digit off", "bayes_factor": 3.2},
    {"field": "birth_date", "level": "exact", "bayes_factor": 40.0},
]


def key_of(n: int) -> str:
    """A 64-character pair key like the link stage's content hash."""
    return hashlib.sha256(f"pair-{n}".encode()).hexdigest()


def pair_row(
    n: int,
    *,
    period: str = "2025-06",
    probability: float = 0.5,
    source: str = "health_insurance",
    row: int | None = None,
) -> dict[str, Any]:
    """One row as the link stage hands it over (JSON as text)."""
    return {
        "pair_key": key_of(n),
        "period": period,
        "source": source,
        "file": f"feeds/{period}/{source}.xlsx",
        "row": n + 2 if row is None else row,
        "person_id": CANDIDATE["id_number"],
        "household_id": f"HH{n:06d}",
        "match_probability": probability,
        "explanation": json.dumps(EXPLANATION, ensure_ascii=False),
        "record": json.dumps(RECORD, ensure_ascii=False),
        "candidate": json.dumps(CANDIDATE, ensure_ascii=False),
    }


def test_queue_stores_pending_pairs_with_a_queued_event(session: Session) -> None:
    assert queue_link_reviews(session, [pair_row(1), pair_row(2, probability=0.7)]) == 2
    item = get_link_review(session, key_of(1))
    assert isinstance(item, LinkReviewItem)
    assert item.status == "pending" and item.version == 1
    assert (item.first_period, item.last_period) == ("2025-06", "2025-06")
    assert item.record == RECORD and item.candidate == CANDIDATE
    assert item.explanation == EXPLANATION
    assert item.fields == list(RECORD)
    assert item.decided_by is None and not item.decided
    assert item.created_at.tzinfo is not None
    history = link_review_history(session, key_of(1))
    assert [(e.action, e.actor, e.before_status, e.after_status) for e in history] == [
        ("queued", "system", None, "pending")
    ]
    assert get_link_review(session, "nope") is None


def test_queue_accepts_parsed_json_and_numpy_like_values(session: Session) -> None:
    row = pair_row(1)
    row.update(explanation=EXPLANATION, record=RECORD, candidate=CANDIDATE, row="7")
    assert queue_link_reviews(session, iter([row])) == 1
    item = get_link_review(session, key_of(1))
    assert item is not None and item.row == 7 and item.record["name"] == "张炜"


def test_queue_accepts_what_the_link_stage_may_leave_empty(session: Session) -> None:
    row = pair_row(1)
    row.update(explanation=None, household_id=None, pair_key="f" * 32)
    other = pair_row(2)
    other.update(explanation="", household_id="")
    assert queue_link_reviews(session, [row, other]) == 2
    item = get_link_review(session, "f" * 32)
    assert item is not None and item.explanation == [] and item.household_id is None


def test_queueing_is_idempotent_and_never_resets_a_decision(session: Session) -> None:
    assert queue_link_reviews(session, [pair_row(1), pair_row(2)]) == 2
    decide_link_review(session, key_of(1), "match", actor="li")
    assert queue_link_reviews(session, [pair_row(1), pair_row(2)]) == 0
    # next month: same pairs with new sightings, plus a new one
    later = [pair_row(1, period="2025-07", probability=0.6, row=99), pair_row(2, period="2025-07")]
    assert queue_link_reviews(session, [*later, pair_row(3, period="2025-07")]) == 1
    first = get_link_review(session, key_of(1))
    assert first is not None
    assert first.status == "match" and first.decided_by == "li" and first.version == 2
    assert (first.first_period, first.last_period) == ("2025-06", "2025-07")
    assert (first.row, first.match_probability) == (99, 0.6)
    assert first.file == "feeds/2025-07/health_insurance.xlsx"
    # re-running an older period does not move the latest sighting back
    assert queue_link_reviews(session, [pair_row(1, period="2025-06", probability=0.1)]) == 0
    again = get_link_review(session, key_of(1))
    assert again is not None and again.last_period == "2025-07"
    assert again.match_probability == 0.6
    # an even older sighting moves first_period back
    queue_link_reviews(session, [pair_row(3, period="2025-05")])
    third = get_link_review(session, key_of(3))
    assert third is not None and (third.first_period, third.last_period) == ("2025-05", "2025-07")
    queued = session.scalar(
        select(func.count()).select_from(LinkReviewEvent).where(LinkReviewEvent.action == "queued")
    )
    assert queued == 3
    assert [e.action for e in link_review_history(session, key_of(1))] == ["queued", "decided"]


def test_queue_writes_thousands_of_rows_in_batches(session: Session) -> None:
    rows = (pair_row(n, probability=(n % 100) / 100) for n in range(2500))
    assert queue_link_reviews(session, rows) == 2500
    assert count_link_reviews(session) == {"pending": 2500, "match": 0, "non_match": 0}
    assert queue_link_reviews(session, (pair_row(n) for n in range(2400, 2600))) == 100
    assert session.scalar(select(func.count()).select_from(LinkReviewEvent)) == 2600


def test_queue_twice_in_one_call_keeps_the_latest(session: Session) -> None:
    rows = [pair_row(1, period="2025-07", row=5), pair_row(1, period="2025-06", row=4)]
    assert queue_link_reviews(session, rows) == 1
    item = get_link_review(session, key_of(1))
    assert item is not None
    assert (item.first_period, item.last_period, item.row) == ("2025-06", "2025-07", 5)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"period": "2025-13"}, "period"),
        ({"pair_key": ""}, "pair_key"),
        ({"pair_key": "x" * 65}, "pair_key"),
        ({"match_probability": 1.5}, "match_probability"),
        ({"match_probability": float("nan")}, "match_probability"),
        ({"match_probability": "high"}, "match_probability"),
        ({"record": "[1, 2]"}, "record"),
        ({"candidate": "{broken"}, "candidate"),
        ({"explanation": '{"field": "name"}'}, "explanation"),
        ({"explanation": "[1]"}, "explanation"),
        ({"row": "row five"}, "row"),
        ({"source": "  "}, "source"),
    ],
)
def test_queue_rejects_bad_rows_and_keeps_nothing(
    session: Session, change: dict[str, Any], message: str
) -> None:
    bad = {**pair_row(2), **change}
    with pytest.raises(DataError, match=message):
        queue_link_reviews(session, [pair_row(1), bad])
    assert count_link_reviews(session)["pending"] == 0


def test_queue_rejects_a_row_missing_a_key(session: Session) -> None:
    row = pair_row(1)
    del row["candidate"]
    with pytest.raises(DataError, match="missing"):
        queue_link_reviews(session, [row])


def test_decisions_dict(session: Session) -> None:
    queue_link_reviews(session, [pair_row(n) for n in range(4)])
    queue_link_reviews(session, [pair_row(9, source="civil_affairs")])
    decide_link_review(session, key_of(0), "match", actor="li")
    decide_link_review(session, key_of(1), "non_match", actor="wang", reason="不同人")
    decide_link_review(session, key_of(9), "match", actor="li")
    assert link_decisions(session) == {
        key_of(0): "match",
        key_of(1): "non_match",
        key_of(9): "match",
    }
    assert link_decisions(session, source="civil_affairs") == {key_of(9): "match"}


def test_decide_undo_redo_keep_an_event_trail(session: Session) -> None:
    queue_link_reviews(session, [pair_row(1)])
    key = key_of(1)
    decided = decide_link_review(session, key, "match", actor="li", reason="同一身份证")
    assert decided.status == "match" and decided.version == 2
    assert decided.decided_by == "li" and decided.reason == "同一身份证"
    assert decided.decided_at is not None and decided.decided_at.tzinfo is not None
    undone = undo_link_review(session, key, actor="zhao", reason="看错了")
    assert undone.status == "pending" and undone.version == 3
    assert undone.decided_by is None and undone.decided_at is None and undone.reason is None
    assert link_decisions(session) == {}
    redone = decide_link_review(session, key, "non_match", actor="zhao")
    assert redone.status == "non_match" and redone.version == 4
    history = link_review_history(session, key)
    assert [(e.action, e.actor, e.before_status, e.after_status, e.reason) for e in history] == [
        ("queued", "system", None, "pending", None),
        ("decided", "li", "pending", "match", "同一身份证"),
        ("undone", "zhao", "match", "pending", "看错了"),
        ("decided", "zhao", "pending", "non_match", None),
    ]
    assert [e.id for e in history] == sorted(e.id for e in history)
    assert all(e.at.tzinfo is not None for e in history)
    assert history[0].at <= history[-1].at
    assert link_decisions(session) == {key: "non_match"}


def test_deciding_twice(session: Session) -> None:
    queue_link_reviews(session, [pair_row(1)])
    key = key_of(1)
    decide_link_review(session, key, "match", actor="li")
    # the same decision again: no-op, no event, same version
    same = decide_link_review(session, key, "match", actor="wang", expected_version=1)
    assert same.version == 2 and same.decided_by == "li"
    assert len(link_review_history(session, key)) == 2
    with pytest.raises(ConflictError, match=rf"{key}.*already decided as match"):
        decide_link_review(session, key, "non_match", actor="wang")
    item = get_link_review(session, key)
    assert item is not None and item.status == "match"


def test_version_conflict(session: Session) -> None:
    queue_link_reviews(session, [pair_row(1)])
    key = key_of(1)
    with pytest.raises(ConflictError, match="version 1, not 5"):
        decide_link_review(session, key, "match", actor="li", expected_version=5)
    decide_link_review(session, key, "match", actor="li", expected_version=1)
    with pytest.raises(ConflictError, match="version"):
        undo_link_review(session, key, actor="li", reason="oops", expected_version=1)
    undone = undo_link_review(session, key, actor="li", reason="oops", expected_version=2)
    assert undone.version == 3


def test_a_concurrent_change_is_a_conflict(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    factory = session_factory(engine)
    with factory() as first, factory() as second:
        queue_link_reviews(first, [pair_row(1)])
        key = key_of(1)
        stale = second.get(LinkReviewPair, key)
        assert stale is not None and stale.version == 1
        decide_link_review(first, key, "match", actor="li")
        # the services reread the pair, so a reviewer gets a clear answer
        with pytest.raises(ConflictError, match="already decided"):
            decide_link_review(second, key, "non_match", actor="wang")
        # a change between reading and writing is caught by the version column
        second.expire_all()
        undo_link_review(first, key, actor="li", reason="again")
        stale = second.get(LinkReviewPair, key)
        assert stale is not None and stale.version == 3
        decide_link_review(first, key, "match", actor="li")
        monkeypatch.setattr(link_review_service, "_load", lambda _session, _key: stale)
        with pytest.raises(ConflictError, match="changed by someone else"):
            decide_link_review(second, key, "non_match", actor="wang")
    with factory() as third:
        item = get_link_review(third, key)
        assert item is not None and (item.status, item.version) == ("match", 4)


def test_undo_of_a_pending_pair_is_refused(session: Session) -> None:
    queue_link_reviews(session, [pair_row(1)])
    with pytest.raises(ConflictError, match="no decision to undo"):
        undo_link_review(session, key_of(1), actor="li", reason="why")
    with pytest.raises(DataError, match="reason"):
        undo_link_review(session, key_of(1), actor="li", reason=" ")


def test_unknown_keys_are_not_found(session: Session) -> None:
    with pytest.raises(NotFoundError, match="'missing'"):
        decide_link_review(session, "missing", "match", actor="li")
    with pytest.raises(NotFoundError, match="'missing'"):
        undo_link_review(session, "missing", actor="li", reason="x")
    with pytest.raises(NotFoundError, match="'missing'"):
        link_review_history(session, "missing")
    assert issubclass(NotFoundError, DataError) and issubclass(ConflictError, DataError)


def test_bad_decisions_and_actors(session: Session) -> None:
    queue_link_reviews(session, [pair_row(1)])
    with pytest.raises(DataError, match="decision"):
        decide_link_review(session, key_of(1), "maybe", actor="li")
    with pytest.raises(DataError, match="actor"):
        decide_link_review(session, key_of(1), "match", actor="  ")
    with pytest.raises(DataError, match="actor"):
        decide_link_review(session, key_of(1), "match", actor="x" * 101)
    assert count_link_reviews(session, status="pending") == {"pending": 1}


def test_list_ordering_paging_and_counts(session: Session) -> None:
    probabilities = {1: 0.42, 2: 0.88, 3: 0.42, 4: 0.61, 5: 0.95}
    queue_link_reviews(session, [pair_row(n, probability=p) for n, p in probabilities.items()])
    queue_link_reviews(session, [pair_row(6, probability=0.99, source="civil_affairs")])
    decide_link_review(session, key_of(5), "non_match", actor="li")
    pending = list_link_reviews(session)
    ties = sorted([key_of(1), key_of(3)])
    assert [p.pair_key for p in pending] == [key_of(6), key_of(2), key_of(4), *ties]
    assert [p.pair_key for p in list_link_reviews(session, limit=2, offset=1)] == [
        key_of(2),
        key_of(4),
    ]
    only = list_link_reviews(session, source="health_insurance", limit=1)
    assert [p.pair_key for p in only] == [key_of(2)]
    assert [p.pair_key for p in list_link_reviews(session, status="non_match")] == [key_of(5)]
    assert len(list_link_reviews(session, status=None)) == 6
    assert count_link_reviews(session) == {"pending": 5, "match": 0, "non_match": 1}
    assert count_link_reviews(session, source="civil_affairs") == {
        "pending": 1,
        "match": 0,
        "non_match": 0,
    }
    assert count_link_reviews(session, status="non_match") == {"non_match": 1}
    for bad in ({"status": "done"}, {"limit": 0}, {"limit": 501}, {"offset": -1}):
        with pytest.raises(DataError):
            list_link_reviews(session, **bad)  # type: ignore[arg-type]
    with pytest.raises(DataError):
        count_link_reviews(session, status="done")


def test_reads_see_changes_made_by_bulk_writes(session: Session) -> None:
    queue_link_reviews(session, [pair_row(1, probability=0.5)])
    assert session.get(LinkReviewPair, key_of(1)) is not None  # now in the identity map
    queue_link_reviews(session, [pair_row(1, period="2025-07", probability=0.7)])
    item = get_link_review(session, key_of(1))
    assert item is not None and item.match_probability == 0.7
    assert list_link_reviews(session)[0].match_probability == 0.7
    assert decide_link_review(session, key_of(1), "match", actor="li").last_period == "2025-07"


def test_migration_adds_and_removes_the_tables(database_url: str) -> None:
    assert migrate(database_url) == head_revision()
    engine = make_engine(database_url)
    try:
        names = set(inspect(engine).get_table_names())
        assert {"link_review_pairs", "link_review_events"} <= names
        indexed = [i["column_names"] for i in inspect(engine).get_indexes("link_review_pairs")]
        assert ["status"] in indexed and ["source"] in indexed
        assert inspect(engine).get_pk_constraint("link_review_pairs")["constrained_columns"] == [
            "pair_key"
        ]
        foreign = inspect(engine).get_foreign_keys("link_review_events")
        assert [f["referred_table"] for f in foreign] == ["link_review_pairs"]
        cfg = alembic_config()
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "0002")
        names = set(inspect(engine).get_table_names())
        assert not names & {"link_review_pairs", "link_review_events"}
        assert "api_accounts" in names
    finally:
        engine.dispose()
    assert migrate(database_url) == head_revision()  # upgrade again
