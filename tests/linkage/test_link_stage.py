"""The monthly link stage on a small twin: probabilities, correctness, clerical review.

One module-scoped twin (2,500 households, one county) goes through the first
period's cycle once; tests that change the links work on copies of that store.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from povguard.cycle import feed_periods, link_keys, run_cycle
from povguard.engine import DuckDBEngine
from povguard.ingest import load_mappings
from povguard.linkage import LINKS, REVIEW, LinkKeys, LinkReport, link_period, load_spec, parse_spec
from povguard.linkage.evaluate import evaluate_linkage
from povguard.linkage.link import PROBE_FIELDS, pair_key
from povguard.linkage.spec import LinkSpec
from povguard.policy import load_pack
from povguard.store import make_engine, migrate, session_factory
from povguard.store.services import (
    count_link_reviews,
    decide_link_review,
    link_decisions,
    queue_link_reviews,
)
from povguard.synth import TwinConfig, generate_twin

Row = dict[str, Any]
Key = tuple[str, str, int]  # source, file, row

EXACT_METHODS = ("id", "household_no")


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("link-stage-twin")
    generate_twin(TwinConfig(out=out, households=2500, months=2, seed=11, counties=1))
    return out


@pytest.fixture(scope="module")
def period(twin: Path) -> str:
    return feed_periods(twin / "feeds")[0]


@pytest.fixture(scope="module")
def keys() -> list[LinkKeys]:
    return link_keys(load_mappings())


@pytest.fixture(scope="module")
def store(twin: Path, period: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An analytics store after the first period's cycle (default person spec)."""
    path = tmp_path_factory.mktemp("link-stage-home") / "analytics.duckdb"
    engine = DuckDBEngine(path)
    try:
        run_cycle(engine, period, twin / "feeds", twin / "registry", load_pack())
    finally:
        engine.close()
    return path


def open_copy(source: Path, folder: Path) -> DuckDBEngine:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, folder / "analytics.duckdb")
    return DuckDBEngine(folder / "analytics.duckdb")


@pytest.fixture
def engine(store: Path, tmp_path: Path) -> Iterator[DuckDBEngine]:
    """A private copy of the store."""
    eng = open_copy(store, tmp_path / "copy")
    try:
        yield eng
    finally:
        eng.close()


def rows_of(engine: DuckDBEngine, table: str, period: str) -> list[Row]:
    """The period's rows of ``table``, in a fixed order."""
    cur = engine.con.con.execute(f'SELECT * FROM "{table}" WHERE period = ? ORDER BY ALL', [period])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def links_by_key(engine: DuckDBEngine, period: str) -> dict[Key, Row]:
    out: dict[Key, Row] = {}
    for r in rows_of(engine, LINKS, period):
        key = (r["source"], r["_file"], r["_row"])
        assert key not in out, f"two links for {key}"
        out[key] = r
    return out


def review_spec() -> LinkSpec:
    """The person spec with a wide review band: most scored links need a reviewer."""
    data = load_spec("person").model_dump()
    return parse_spec(data | {"match_threshold": 0.999999, "review_threshold": 0.01}, "review")


# --------------------------------------------------------------------------- the cycle's links


def test_links_carry_a_match_probability(store: Path, tmp_path: Path, period: str) -> None:
    engine = open_copy(store, tmp_path)
    try:
        assert "match_probability" in engine.table(LINKS).columns
        links = rows_of(engine, LINKS, period)
    finally:
        engine.close()
    spec = load_spec("person")
    by_method: dict[str, list[Any]] = {}
    for r in links:
        by_method.setdefault(r["method"], []).append(r["match_probability"])
    assert {"id", "probabilistic", "unlinked"} <= set(by_method)
    assert set(by_method) <= {
        "id",
        "household_no",
        "relative",
        "probabilistic",
        "review",
        "unlinked",
    }
    for method in EXACT_METHODS:
        assert all(p == 1.0 for p in by_method.get(method, [])), method
    assert all(spec.match_threshold <= p < 1.0 for p in by_method["probabilistic"])
    assert all(
        spec.review_threshold <= p < spec.match_threshold for p in by_method.get("review", [])
    )
    assert all(p is None or p < spec.review_threshold for p in by_method["unlinked"])
    # relatives come from the fast path (1.0) or from scoring above the match threshold
    assert all(p == 1.0 or p >= spec.match_threshold for p in by_method.get("relative", []))
    for r in links:
        if r["method"] in ("id", "probabilistic"):
            assert r["household_id"] is not None


def test_probabilistic_links_are_correct_against_the_truth(
    store: Path, tmp_path: Path, twin: Path, period: str
) -> None:
    engine = open_copy(store, tmp_path)
    try:
        ev = evaluate_linkage(engine, twin / "truth", twin / "registry", periods=[period])
    finally:
        engine.close()
    prob = ev.by_method["probabilistic"]
    assert prob.linked >= 10, prob.to_dict()
    assert prob.precision >= 0.99, prob.to_dict()
    assert ev.by_method["id"].precision == 1.0
    assert ev.overall.precision >= 0.99 and ev.overall.recall >= 0.97, ev.overall.to_dict()
    assert not ev.notes


# --------------------------------------------------------------------------- clerical review


@pytest.fixture(scope="module")
def reviewed(
    store: Path, period: str, keys: list[LinkKeys], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The store after a link run with a wide review band (no decisions yet)."""
    engine = open_copy(store, tmp_path_factory.mktemp("reviewed"))
    try:
        report = link_period(engine, period, keys, spec=review_spec())
        assert isinstance(report, LinkReport) and report.review >= 5
    finally:
        engine.close()
    assert isinstance(engine.path, Path)
    return engine.path


def pick_two(queue: list[Row]) -> tuple[Row, Row]:
    """Two review rows of person-level records with a registry (non-relative) candidate."""
    usable = [
        r
        for r in queue
        if not r["person_id"].startswith("relative:") and json.loads(r["record"])["name"]
    ]
    usable.sort(key=lambda r: (r["source"], r["file"], r["row"]))
    assert len(usable) >= 2
    return usable[0], usable[1]


def key_of(r: Row) -> Key:
    return (r["source"], r["file"], r["row"])


def test_a_review_band_queues_pairs_for_clerical_review(
    reviewed: Path, tmp_path: Path, period: str
) -> None:
    engine = open_copy(reviewed, tmp_path)
    try:
        queue = rows_of(engine, REVIEW, period)
        links = links_by_key(engine, period)
        registry = {
            r[0]: r[1:]
            for r in engine.con.con.execute(
                "SELECT record_id, household_id, name FROM registry_link_persons"
            ).fetchall()
        }
    finally:
        engine.close()
    in_review = {k for k, r in links.items() if r["method"] == "review"}
    assert len(queue) == len(in_review) >= 5
    assert {key_of(r) for r in queue} == in_review
    assert len({r["pair_key"] for r in queue}) == len(queue)
    for r in queue:
        assert r["period"] == period
        assert len(r["pair_key"]) == 32
        assert 0.01 <= r["match_probability"] < 0.999999
        link_row = links[key_of(r)]
        assert link_row["person_id"] is None and link_row["household_id"] is None
        assert link_row["match_probability"] == pytest.approx(r["match_probability"])
        record, candidate = json.loads(r["record"]), json.loads(r["candidate"])
        assert list(record) == list(PROBE_FIELDS) == list(candidate)
        assert "name" in record and "name" in candidate
        assert candidate["name"] == registry[r["person_id"]][1]
        assert r["household_id"] == registry[r["person_id"]][0]
        assert r["pair_key"] == pair_key(record, r["person_id"])
        parts = json.loads(r["explanation"])
        assert [p["field"] for p in parts] == [c.name for c in load_spec("person").comparisons]
    # above the (raised) match threshold links stay probabilistic
    assert all(
        r["match_probability"] >= 0.999999 for r in links.values() if r["method"] == "probabilistic"
    )


@pytest.fixture(scope="module")
def decided(
    reviewed: Path, period: str, keys: list[LinkKeys], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Before/after of a rerun with a 'match' and a 'non_match' decision, and a third run."""
    engine = open_copy(reviewed, tmp_path_factory.mktemp("decided"))
    try:
        before_links = links_by_key(engine, period)
        before_queue = rows_of(engine, REVIEW, period)
        yes, no = pick_two(before_queue)
        decisions = {yes["pair_key"]: "match", no["pair_key"]: "non_match"}
        report = link_period(engine, period, keys, spec=review_spec(), decisions=decisions)
        after_links = links_by_key(engine, period)
        after_queue = rows_of(engine, REVIEW, period)
        first = (rows_of(engine, LINKS, period), after_queue)
        link_period(engine, period, keys, spec=review_spec(), decisions=decisions)
        again = (rows_of(engine, LINKS, period), rows_of(engine, REVIEW, period))
    finally:
        engine.close()
    return {
        "yes": yes,
        "no": no,
        "decisions": decisions,
        "report": report,
        "before_links": before_links,
        "before_queue": before_queue,
        "after_links": after_links,
        "after_queue": after_queue,
        "again": again,
        "first": first,
    }


def test_a_confirmed_pair_is_linked_clerically(decided: dict[str, Any]) -> None:
    yes = decided["yes"]
    link_row = decided["after_links"][key_of(yes)]
    assert link_row["method"] == "clerical"
    assert link_row["household_id"] == yes["household_id"]
    level = {k.source: k.level for k in link_keys(load_mappings())}[yes["source"]]
    assert link_row["person_id"] == (yes["person_id"] if level == "person" else None)
    assert link_row["match_probability"] == pytest.approx(yes["match_probability"])
    assert decided["report"].counts[yes["source"]]["clerical"] == 1


def test_a_rejected_pair_stays_unlinked(decided: dict[str, Any]) -> None:
    no = decided["no"]
    link_row = decided["after_links"][key_of(no)]
    assert link_row["method"] == "unlinked"
    assert link_row["person_id"] is None and link_row["household_id"] is None


def test_decided_pairs_leave_the_queue_and_nothing_else_changes(decided: dict[str, Any]) -> None:
    decided_keys = set(decided["decisions"])
    after_keys = {r["pair_key"] for r in decided["after_queue"]}
    assert not after_keys & decided_keys
    assert decided["after_queue"] == [
        r for r in decided["before_queue"] if r["pair_key"] not in decided_keys
    ]
    before, after = decided["before_links"], decided["after_links"]
    assert set(before) == set(after)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {key_of(decided["yes"]), key_of(decided["no"])}
    assert (
        decided["report"].review == len(decided["after_queue"]) == len(decided["before_queue"]) - 2
    )


def test_rerunning_with_the_same_decisions_is_idempotent(decided: dict[str, Any]) -> None:
    assert decided["again"] == decided["first"]
    links, _ = decided["again"]
    as_keys = {(r["source"], r["_file"], r["_row"]): r for r in links}
    assert as_keys == decided["after_links"]


def test_decisions_from_the_ops_database_feed_the_link_stage(
    reviewed: Path, tmp_path: Path, period: str, keys: list[LinkKeys], decided: dict[str, Any]
) -> None:
    url = f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    migrate(url)
    ops = make_engine(url)
    engine = open_copy(reviewed, tmp_path / "store")
    try:
        queue = rows_of(engine, REVIEW, period)
        with session_factory(ops)() as session:
            assert queue_link_reviews(session, queue) == len(queue)
            assert count_link_reviews(session) == {
                "pending": len(queue),
                "match": 0,
                "non_match": 0,
            }
            yes, no = pick_two(queue)
            decide_link_review(session, yes["pair_key"], "match", actor="li", reason="同一人")
            decide_link_review(session, no["pair_key"], "non_match", actor="wang")
            decisions = link_decisions(session)
        assert decisions == {yes["pair_key"]: "match", no["pair_key"]: "non_match"}
        assert decisions == decided["decisions"]
        link_period(engine, period, keys, spec=review_spec(), decisions=decisions)
        links = links_by_key(engine, period)
        assert links[key_of(yes)]["method"] == "clerical"
        assert links[key_of(no)]["method"] == "unlinked"
        assert links == decided["after_links"]
        # the next publish finds only the still-pending pairs; decisions are kept
        left = rows_of(engine, REVIEW, period)
        with session_factory(ops)() as session:
            assert queue_link_reviews(session, left) == 0
            assert link_decisions(session) == decisions
            assert count_link_reviews(session) == {
                "pending": len(queue) - 2,
                "match": 1,
                "non_match": 1,
            }
    finally:
        engine.close()
        ops.dispose()


def test_a_decision_for_an_unknown_pair_changes_nothing(
    reviewed: Path, tmp_path: Path, period: str, keys: list[LinkKeys]
) -> None:
    engine = open_copy(reviewed, tmp_path)
    try:
        before = rows_of(engine, LINKS, period), rows_of(engine, REVIEW, period)
        link_period(engine, period, keys, spec=review_spec(), decisions={"0" * 32: "match"})
        assert (rows_of(engine, LINKS, period), rows_of(engine, REVIEW, period)) == before
    finally:
        engine.close()


def test_a_village_in_another_province_never_beats_the_persons_own_village(
    store: Path, tmp_path: Path
) -> None:
    import pyarrow as pa

    from povguard.linkage.linker import engine_backend, link
    from povguard.linkage.registry import REGISTRY_PERSONS, registry_u

    engine = open_copy(store, tmp_path)
    try:
        rid, name, birth, sex, village = engine.con.con.execute(
            f"SELECT record_id, name, birth_date, sex, village_code FROM {REGISTRY_PERSONS} "
            "WHERE NOT is_relative AND village_code IS NOT NULL ORDER BY record_id LIMIT 1"
        ).fetchone()
        base = {"name": name, "id_number": None, "birth_date": birth, "sex": sex}
        probes = pa.Table.from_pylist(
            [
                {"record_id": "own_village", **base, "village_code": village},
                {"record_id": "other_province", **base, "village_code": "110101001001"},
            ]
        )
        u = registry_u(engine)
        result = link(
            probes, REGISTRY_PERSONS, load_spec("person"), backend=engine_backend(engine), u=u
        )
    finally:
        engine.close()
    assert u is not None
    got = {r["unique_id_l"]: r for r in result.pairs.to_pylist() if r["unique_id_r"] == rid}
    assert got["own_village"]["village_code"] == "exact"
    assert got["other_province"]["village_code"] == "else"
    assert got["other_province"]["village_code__w"] < 0
    assert got["other_province"]["match_probability"] < got["own_village"]["match_probability"]


def test_a_rejected_pair_is_not_linked_when_it_later_scores_above_the_threshold(
    reviewed: Path, tmp_path: Path, period: str, keys: list[LinkKeys]
) -> None:
    engine = open_copy(reviewed, tmp_path)
    try:
        queue = rows_of(engine, REVIEW, period)
        high = [r for r in queue if r["match_probability"] >= load_spec("person").match_threshold]
        assert high, "no reviewed pair above the default match threshold"
        rejected = min(high, key=key_of)
        link_period(engine, period, keys, decisions={rejected["pair_key"]: "non_match"})
        row = links_by_key(engine, period)[key_of(rejected)]
    finally:
        engine.close()
    assert row["method"] == "unlinked"
    assert row["household_id"] is None
