"""Benchmark: record linkage, povguard's linker against plain Splink and exact ID (issue 5).

Quality mode (default): a twin of ``--households`` households x ``--months`` months
(one county, default defects) goes through the monthly cycle (registry load and
ingestion). For every period, the probe is *every* person-level department record
of the raw tables, built exactly as the link stage builds its probe (name, raw
ID, birth date, sex, village code). Three linkers link the same probe to the same
prepared registry persons (``registry_link_persons``, relatives included), with
the same blocking rules and the same match threshold (0.95):

(a) povguard: ``povguard.linkage.link`` with the built-in ``person`` spec
    (Chinese comparisons) and the registry's u probabilities;
(b) plain Splink: Splink's library comparisons on the same columns
    (``NameComparison`` on name, ``LevenshteinAtThresholds`` on the raw ID,
    ``DateOfBirthComparison``, ``ExactMatch`` on sex and village code), u
    estimated by random sampling, Splink's default m; the derived columns
    (``name__py``, ``id_number__18``, ``id_number__p14``) serve only its
    blocking. Also (b') the same model with m estimated by EM, as Splink's
    tutorials train it;
(c) exact ID: the normalised ID (``id_number__18``) equal to exactly one registry
    person's.

Every linker's decision for a record is its best candidate at or above the match
threshold with no rival at or above it (povguard's rule, applied to all). The
product's whole link stage (``links`` table written by the cycle: engine fast path,
household numbers, Splink on the residue) is scored too. Truth: the twin's
(:func:`povguard.linkage.evaluate.true_links`), rows aligned with the raw tables as
:func:`~povguard.linkage.evaluate.evaluate_linkage` aligns them, scored as it scores
them. Subsets by the defects the twin logged for the row. Since ingestion
quarantines most ID-less person rows, copies of records with the ID removed are
linked too, in batches of their own, and scored apart (see :func:`strip_ids`).
Every linker runs ``--repeat`` times; each figure is the median.

Scale mode (``--scale``): a twin of ``--scale-households`` households x
``--scale-months`` months; the registry load (preparation for linkage and u
estimation, once per registry) is timed, the months are ingested, and the raw
rows of the later months are relabelled into the first period (file names
prefixed with their month so rows stay distinct). The whole link stage,
``povguard.linkage.link_period``, is timed ``--repeat`` times on that period (time
per inner step recorded), and exact-ID-only linkage of the same records; then
again after keeping a deterministic sample of every source such that
``--target-records`` (1,000,000) person-level records remain. Target: 1,000,000
records against a 3,000,000-person registry in at most 3 minutes.

Usage::

    .venv/bin/python bench/bench_linkage.py            # quality, bench/results/linkage.json
    .venv/bin/python bench/bench_linkage.py --scale    # scale, bench/results/linkage_scale.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import ibis
import psutil
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
from bench_synth import machine

RESULTS = Path(__file__).parent / "results"
NAME_TYPO = frozenset({"name_homophone", "name_wrong_char"})
ID_TYPO = frozenset(
    {"id_digit", "id_transposition", "id_check_char", "id_excel_float", "id_legacy15"}
)
NO_ID = frozenset({"missing_id"})
#: Marker of the probe copies whose ID the benchmark removed (scored apart).
STRIPPED = "id_stripped"
STRIPPED_BV = "id_stripped_bv"
_COUNTER = itertools.count()
SUBSETS = (
    "overall",
    "clean",
    "name_typo",
    "id_typo",
    "no_id",
    "no_id_stripped",
    "no_id_stripped_bv",
)


# --------------------------------------------------------------------------- memory


class PeakRSS:
    """Peak resident memory of this process (and its children), sampled by a thread."""

    def __init__(self, every: float = 0.1) -> None:
        self.every = every
        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        total = self.proc.memory_info().rss
        for child in self.proc.children(recursive=True):
            with suppress(psutil.Error):
                total += child.memory_info().rss
        return int(total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            self._stop.wait(self.every)

    def __enter__(self) -> PeakRSS:
        self.peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def mb(self) -> float:
        """Peak in MB."""
        return self.peak / 2**20


# --------------------------------------------------------------------------- twin & store


def make_twin(out: Path, households: int, months: int, seed: int, counties: int | None) -> float:
    """Generate a twin in a child process (its memory stays out of our figures)."""
    cmd = [
        sys.executable,
        "-m",
        "povguard.cli",
        "synth",
        "--out",
        str(out),
        "--households",
        str(households),
        "--months",
        str(months),
        "--seed",
        str(seed),
    ]
    if counties:
        cmd += ["--counties", str(counties)]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def person_keys() -> list[Any]:
    """Link keys of the person-level sources (those the person probe covers)."""
    from povguard.cycle import link_keys
    from povguard.ingest import load_mappings

    return [k for k in link_keys(load_mappings()) if k.level == "person" and k.id]


def person_probe(engine: Any, period: str, keys: list[Any]) -> tuple[pa.Table, list[str]]:
    """All person-level raw records of ``period`` as the link stage's probe.

    ``record_id`` is ``period<TAB>source<TAB>_file<TAB>_row``. Returns the probe and the
    sources found.
    """
    from povguard.linkage.link import _probe, _probe_columns

    parts, sources = [], []
    for k in keys:
        name = f"raw_{k.source}"
        if not engine.exists(name):
            continue
        raw = engine.table(name).filter(ibis._.period == period)
        rest = engine.fetch(raw.select(*_probe_columns(k, raw)))
        if not rest.num_rows:
            continue
        probe = _probe(engine, rest, k)
        ids = [
            f"{period}\t{k.source}\t{f}\t{r}"
            for f, r in zip(rest["_file"].to_pylist(), rest["_row"].to_pylist(), strict=True)
        ]
        parts.append(probe.set_column(0, "record_id", pa.array(ids, pa.string())))
        sources.append(k.source)
    return pa.concat_tables(parts), sources


def truth_by_record(
    engine: Any, twin: Path, period: str, keys: list[Any], sources: list[str]
) -> tuple[dict[str, tuple[str | None, str | None, frozenset[str]]], list[str]]:
    """True (person, household, defects) of every loaded person-level row of ``period``.

    Rows are aligned as ``evaluate_linkage`` aligns them: loaded and quarantined
    rows of a source in (row, file) order against the truth's ``row_index``; a
    source whose counts disagree is left out (noted).
    """
    from povguard.linkage.evaluate import true_links

    truth = true_links(twin / "truth", twin / "registry", period, keys)
    con = engine.con.con
    parts = [
        f"SELECT '{s}' AS source, _file AS file, _row::BIGINT AS row, TRUE AS loaded "
        f"FROM raw_{s} WHERE period = $period"
        for s in sources
    ]
    if engine.exists("quarantine"):
        quoted = ", ".join(f"'{s}'" for s in sources)
        parts.append(
            "SELECT source, file, row, FALSE AS loaded FROM quarantine "
            f"WHERE period = $period AND source IN ({quoted}) AND row IS NOT NULL"
        )
    con.register("_bench_truth", truth)
    try:
        counts = con.execute(
            f"SELECT source, count(*) FROM ({' UNION ALL '.join(parts)}) GROUP BY source",
            {"period": period},
        ).fetchall()
        have = dict(counts)
        want = Counter(truth["source"].to_pylist())
        ok = [s for s in sources if have.get(s, 0) == want.get(s, 0)]
        notes = [
            f"{period} {s}: {want.get(s, 0)} delivered rows, {have.get(s, 0)} loaded or "
            "quarantined; left out"
            for s in sources
            if s not in ok
        ]
        rows = con.execute(
            f"""
            WITH pos AS (
                SELECT *, row_number() OVER (PARTITION BY source ORDER BY row, file) - 1
                    AS row_index
                FROM ({" UNION ALL ".join(parts)})
            )
            SELECT p.source, p.file, p.row, t.person_id, t.household_id, t.defects
            FROM pos p JOIN _bench_truth t
              ON t.source = p.source AND t.row_index = p.row_index
            WHERE p.loaded
            """,
            {"period": period},
        ).fetchall()
    finally:
        con.unregister("_bench_truth")
    keep = set(ok)
    out = {
        f"{period}\t{s}\t{f}\t{r}": (person, household, frozenset(defects or ()))
        for s, f, r, person, household, defects in rows
        if s in keep
    }
    return out, notes


# --------------------------------------------------------------------------- scoring


def subsets_of(defects: frozenset[str]) -> list[str]:
    """The reported subsets a row belongs to (a stripped copy only to its own)."""
    if STRIPPED in defects:
        return ["no_id_stripped"]
    if STRIPPED_BV in defects:
        return ["no_id_stripped_bv"]
    out = ["overall"]
    if not defects:
        out.append("clean")
    if defects & NAME_TYPO:
        out.append("name_typo")
    if defects & ID_TYPO:
        out.append("id_typo")
    if defects & NO_ID:
        out.append("no_id")
    return out


def score(
    truth: dict[str, tuple[str | None, str | None, frozenset[str]]],
    links: dict[str, tuple[str | None, str | None]],
    review: set[str],
) -> dict[str, Any]:
    """Precision, recall, F1 per subset; ``links``: record -> predicted (person, household).

    Same rules as ``evaluate_linkage``: the unit is the person where the truth names
    one, else the household; a link whose unit is missing is no prediction.
    """
    from povguard.linkage.evaluate import LinkScore

    scores = {s: LinkScore() for s in SUBSETS}
    by_defect: dict[str, LinkScore] = {}
    in_review: Counter[str] = Counter()
    for rid, (t_person, t_household, defects) in truth.items():
        by_person = t_person is not None
        target = t_person if by_person else t_household
        p_person, p_household = links.get(rid, (None, None))
        pred = p_person if by_person else p_household
        outcome = (target is not None, pred is not None, pred == target)
        for s in subsets_of(defects):
            scores[s].add(1, *outcome)
            if rid in review:
                in_review[s] += 1
        if not defects & {STRIPPED, STRIPPED_BV}:
            for d in defects:
                by_defect.setdefault(d, LinkScore()).add(1, *outcome)
    out: dict[str, Any] = {s: {**v.to_dict(), "review": in_review[s]} for s, v in scores.items()}
    out["by_defect"] = {d: v.to_dict() for d, v in sorted(by_defect.items())}
    real = [r for r in review if r in truth and "overall" in subsets_of(truth[r][2])]
    out["review"] = {
        "rows": len(real),
        "with_target": sum(1 for r in real if any(truth[r][:2])),
    }
    return out


def strip_ids(
    probe: pa.Table,
    truth: dict[str, tuple[str | None, str | None, frozenset[str]]],
    share: float,
    seed: int,
) -> tuple[list[pa.Table], dict[str, tuple[str | None, str | None, frozenset[str]]]]:
    """Copies of records that carry an ID, with the ID removed (a table per set).

    Two sets of copies, each with the truth of its original, scored only in its own
    subset (the twin's own missing-ID rows are mostly quarantined at ingestion as
    unidentifiable, so few reach the linker):

    * ``no_id_stripped``: a random ``share`` of the records (the sources' mix: most
      carry nothing but a name and sex besides the ID);
    * ``no_id_stripped_bv``: every record that also has a birth date or a village
      code, the fields a no-ID record can be linked on.
    """
    import random

    rng = random.Random(seed)
    rids = probe["record_id"].to_pylist()
    births = probe["birth_date"].to_pylist()
    villages = probe["village_code"].to_pylist()
    has_id = [i for i, v in enumerate(probe["id_number"].to_pylist()) if v and rids[i] in truth]
    sample = sorted(rng.sample(has_id, int(len(has_id) * share))) if share else []
    with_bv = [i for i in has_id if births[i] or villages[i]]
    parts: list[pa.Table] = []
    truth_copies = {}
    pos = probe.schema.get_field_index("id_number")
    for picks, suffix, marker in ((sample, "noid", STRIPPED), (with_bv, "noidbv", STRIPPED_BV)):
        if not picks:
            continue
        copies = probe.take(pa.array(picks, pa.int64()))
        new_ids = [f"{rids[i]}\t{suffix}" for i in picks]
        copies = copies.set_column(0, "record_id", pa.array(new_ids, pa.string()))
        copies = copies.set_column(pos, "id_number", pa.nulls(len(picks), pa.string()))
        parts.append(copies.cast(probe.schema))
        truth_copies.update(
            {
                n: (truth[rids[i]][0], truth[rids[i]][1], frozenset({marker}))
                for n, i in zip(new_ids, picks, strict=True)
            }
        )
    return parts, truth_copies


def src_fingerprint() -> str:
    """Hash of the linkage code and spec the numbers were taken with (src changes often)."""
    import hashlib

    import povguard

    root = Path(povguard.__file__).parent
    h = hashlib.sha256()
    files = sorted((root / "linkage").glob("*.py")) + sorted(
        (root / "resources" / "linkage").glob("*.yaml")
    )
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def median_scores(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Figure by figure median of several :func:`score` results (None where all are None)."""

    def med(values: list[Any]) -> Any:
        if isinstance(values[0], dict):
            return {k: med([v.get(k) for v in values]) for k in values[0]}
        nums = [v for v in values if v is not None]
        return statistics.median(nums) if nums else None

    return {k: med([r[k] for r in runs]) for k in runs[0]}


def registry_households(engine: Any) -> dict[str, str]:
    """``registry_link_persons.record_id`` -> household."""
    from povguard.linkage import REGISTRY_PERSONS

    t = engine.con.con.execute(f"SELECT record_id, household_id FROM {REGISTRY_PERSONS}")
    return dict(t.fetchall())


def target_of(candidate: str, households: dict[str, str]) -> tuple[str | None, str | None]:
    """(person, household) a registry record stands for (a relative: household only)."""
    hh = households.get(candidate)
    return (None, hh) if candidate.startswith("relative:") else (candidate, hh)


def decide(pairs: pa.Table, match: float, review: float) -> tuple[dict[str, str], set[str], int]:
    """Best candidate per record: match at >= ``match`` without a rival there, else review."""
    by: dict[str, list[tuple[float, str]]] = {}
    for u, r, p in zip(
        pairs["unique_id_l"].to_pylist(),
        pairs["unique_id_r"].to_pylist(),
        pairs["match_probability"].to_pylist(),
        strict=True,
    ):
        by.setdefault(u, []).append((float(p), r))
    matched: dict[str, str] = {}
    reviews: set[str] = set()
    rivals = 0
    for u, options in by.items():
        options.sort(key=lambda x: (-x[0], x[1]))
        p, r = options[0]
        runner = options[1][0] if len(options) > 1 else 0.0
        if p >= match and runner < match:
            matched[u] = r
        elif p >= review:
            reviews.add(u)
            rivals += p >= match
    return matched, reviews, rivals


# --------------------------------------------------------------------------- linkers


def link_povguard(engine: Any, probe: pa.Table, u: Any) -> tuple[dict[str, str], set[str], dict]:
    """(a) povguard's linker with the built-in person spec and the registry's u."""
    from povguard.linkage import REGISTRY_PERSONS, link, load_spec
    from povguard.linkage.linker import engine_backend

    result = link(probe, REGISTRY_PERSONS, load_spec("person"), backend=engine_backend(engine), u=u)
    assert result.best is not None
    best = result.best.to_pylist()
    matched = {b["unique_id"]: b["candidate"] for b in best if b["decision"] == "match"}
    reviews = {b["unique_id"] for b in best if b["decision"] == "review"}
    return matched, reviews, {k: int(v) for k, v in result.stats.items()}


def plain_settings(spec: Any, prior: float) -> Any:
    """Plain Splink: library comparisons on the same columns, the spec's blocking rules."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="record_id",
        comparisons=[
            cl.NameComparison("name"),
            cl.LevenshteinAtThresholds("id_number", [1, 2]),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.ExactMatch("sex"),
            cl.ExactMatch("village_code"),
        ],
        blocking_rules_to_generate_predictions=[block_on(*rule) for rule in spec.blocking],
        probability_two_random_records_match=prior,
    )


def link_plain_splink(
    engine: Any, probe: pa.Table, em: bool, model: dict[str, Any] | None = None
) -> tuple[dict[str, str], set[str], dict[str, Any], dict[str, Any]]:
    """(b) plain Splink on the prepared tables (derived columns only block).

    Trains (u by random sampling, with ``em`` m by EM) unless a trained ``model``
    (returned by an earlier call) is given. Returns matches, reviews, info, model.
    """
    import logging

    from splink import Linker, block_on

    from povguard.linkage import REGISTRY_PERSONS, load_spec, prepare
    from povguard.linkage.linker import engine_backend

    spec = load_spec("person")
    backend = engine_backend(engine)
    api = backend.api()
    tag = next(_COUNTER)
    left_name = f"bench_probe_{tag}"
    left = api.register(prepare(probe, spec, "probe"), dataset_display_name=left_name)
    right = api.register(REGISTRY_PERSONS, dataset_display_name=f"bench_registry_{tag}")
    n_right = engine.con.con.execute(f"SELECT count(*) FROM {REGISTRY_PERSONS}").fetchone()[0]
    settings = model if model is not None else plain_settings(spec, 1.0 / n_right)
    linker: Any = Linker([left, right], settings, log_level=None)
    splink_log = logging.getLogger("splink")
    level = splink_log.level
    splink_log.setLevel(logging.ERROR)
    info: dict[str, Any] = {}
    try:
        t = time.perf_counter()
        if model is None:
            linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=42)
            info["u_seconds"] = time.perf_counter() - t
        if em and model is None:
            t = time.perf_counter()
            for rule in (block_on("id_number__18"), block_on("name__py", "birth_date")):
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, estimate_without_term_frequencies=True
                )
            info["em_seconds"] = time.perf_counter() - t
        t = time.perf_counter()
        pred = linker.inference.predict(threshold_match_probability=0.01).as_pyarrow_table()
        info["predict_seconds"] = time.perf_counter() - t
        trained = linker.misc.save_model_to_json()
    finally:
        linker.table_management.delete_tables_created_by_splink_from_db()
        splink_log.setLevel(level)
    # orient every pair probe -> registry
    left_is_probe = [s == left_name for s in pred["source_dataset_l"].to_pylist()]
    ul, ur = pred["record_id_l"].to_pylist(), pred["record_id_r"].to_pylist()
    pairs = pa.table(
        {
            "unique_id_l": [a if f else b for a, b, f in zip(ul, ur, left_is_probe, strict=True)],
            "unique_id_r": [b if f else a for a, b, f in zip(ul, ur, left_is_probe, strict=True)],
            "match_probability": pred["match_probability"],
        }
    )
    info["pairs"] = pairs.num_rows
    matched, reviews, rivals = decide(pairs, spec.match_threshold, spec.review_threshold)
    info["rival_reviews"] = rivals
    return matched, reviews, info, trained


def link_exact(engine: Any, probe: pa.Table) -> tuple[dict[str, str], dict[str, float]]:
    """(c) exact normalised ID: ``id_number__18`` equal to exactly one registry person's."""
    from povguard.linkage import REGISTRY_PERSONS
    from povguard.linkage.compare import id18

    t = time.perf_counter()
    ids = pa.array([id18(v) if v else None for v in probe["id_number"].to_pylist()], pa.string())
    keys = pa.table({"record_id": probe["record_id"], "id18": ids})
    t_norm = time.perf_counter() - t
    con = engine.con.con
    con.register("_bench_exact", keys)
    try:
        t = time.perf_counter()
        rows = con.execute(
            f"""
            SELECT l.record_id, min(r.record_id)
            FROM _bench_exact l JOIN {REGISTRY_PERSONS} r ON r.id_number__18 = l.id18
            WHERE l.id18 IS NOT NULL
            GROUP BY l.record_id HAVING count(DISTINCT r.record_id) = 1
            """
        ).fetchall()
        t_join = time.perf_counter() - t
    finally:
        con.unregister("_bench_exact")
    return dict(rows), {"normalise_seconds": t_norm, "join_seconds": t_join}


def stage_links(engine: Any, period: str) -> tuple[dict[str, tuple[str | None, str | None]], set]:
    """The product's link stage output (``links``) for person-level rows."""
    from povguard.linkage.evaluate import NOT_LINKED

    rows = engine.con.con.execute(
        "SELECT source, _file, _row, person_id, household_id, method FROM links "
        "WHERE period = $period",
        {"period": period},
    ).fetchall()
    links, reviews = {}, set()
    for s, f, r, person, household, method in rows:
        rid = f"{period}\t{s}\t{f}\t{r}"
        if method == "review":
            reviews.add(rid)
        if method not in NOT_LINKED:
            links[rid] = (person, household)
    return links, reviews


# --------------------------------------------------------------------------- quality mode


def quality(args: argparse.Namespace) -> dict[str, Any]:
    """Link every person-level record of each period with the three linkers and score them."""
    from povguard.cycle import feed_periods, link_keys, run_cycle
    from povguard.engine import DuckDBEngine
    from povguard.ingest import load_mappings
    from povguard.linkage.registry import registry_u
    from povguard.policy import load_pack

    folder = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench-link-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        twin = folder / "twin"
        synth_s = None
        if not (twin / "registry" / "persons.parquet").is_file():
            synth_s = make_twin(twin, args.households, args.months, args.seed, 1)
        db = folder / "analytics.duckdb"
        db.unlink(missing_ok=True)
        engine = DuckDBEngine(db)
        pack = load_pack()
        cycles = {}
        for p in feed_periods(twin / "feeds"):
            r = run_cycle(engine, p, twin / "feeds", twin / "registry", pack)
            cycles[p] = {s.name: {"seconds": s.seconds, "rows": s.rows} for s in r.stages}
        keys = person_keys()
        all_keys = link_keys(load_mappings())
        u = registry_u(engine)
        households = registry_households(engine)
        n_registry = len(households)
        n_persons = int(
            engine.con.con.execute("SELECT count(*) FROM registry_persons").fetchone()[0]
        )
        truth_all: dict[str, Any] = {}
        notes: list[str] = []
        probe_rows: dict[str, int] = {}
        stripped_rows: dict[str, dict[str, int]] = {}
        batches: list[tuple[str, pa.Table, bool]] = []  # period, records, main batch?
        stage_all: dict[str, Any] = {}
        stage_review: set[str] = set()
        for p in feed_periods(twin / "feeds"):
            probe, sources = person_probe(engine, p, keys)
            probe_rows[p] = probe.num_rows
            truth, n = truth_by_record(engine, twin, p, all_keys, sources)
            notes += n
            # the ID-less copies go in batches of their own: a batch's names count
            # in the name term frequencies, so copies would change the originals' scores
            copies, stripped = strip_ids(probe, truth, args.strip, args.seed)
            batches += [(p, probe, True)] + [(p, c, False) for c in copies]
            truth_all.update(truth)
            truth_all.update(stripped)
            stripped_rows[p] = dict(Counter(next(iter(t[2])) for t in stripped.values()))
            stage, reviews = stage_links(engine, p)
            stage_all.update(stage)
            stage_review |= reviews
        linkers = ("povguard", "plain_splink", "plain_splink_em", "exact_id")
        runs: dict[str, list[dict[str, Any]]] = {n: [] for n in linkers}
        for rep in range(args.repeat):
            links_all: dict[str, dict[str, Any]] = {n: {} for n in linkers}
            review_all: dict[str, set[str]] = {n: set() for n in linkers}
            seconds: Counter[str] = Counter()
            extra: dict[str, list[Any]] = {n: [] for n in linkers}
            models: dict[str, Any] = {}  # plain Splink, trained on a period's main batch
            for p, batch, main in batches:
                t = time.perf_counter()
                matched, reviews, stats = link_povguard(engine, batch, u)
                if main:
                    seconds["povguard"] += time.perf_counter() - t
                    extra["povguard"].append({"period": p, **stats})
                links_all["povguard"].update(
                    {r: target_of(c, households) for r, c in matched.items()}
                )
                review_all["povguard"] |= reviews
                for name, em in (("plain_splink", False), ("plain_splink_em", True)):
                    t = time.perf_counter()
                    matched, reviews, info, model = link_plain_splink(
                        engine, batch, em, None if main else models[name]
                    )
                    models[name] = model
                    if main:
                        seconds[name] += time.perf_counter() - t
                        extra[name].append({"period": p, **info})
                    links_all[name].update(
                        {r: target_of(c, households) for r, c in matched.items()}
                    )
                    review_all[name] |= reviews
                t = time.perf_counter()
                exact, info = link_exact(engine, batch)
                if main:
                    seconds["exact_id"] += time.perf_counter() - t
                    extra["exact_id"].append({"period": p, **info})
                links_all["exact_id"].update(
                    {r: target_of(c, households) for r, c in exact.items()}
                )
            for name in linkers:
                runs[name].append(
                    {
                        "scores": score(truth_all, links_all[name], review_all[name]),
                        "seconds": round(seconds[name], 3),
                        "detail": extra[name],
                    }
                )
            print(f"run {rep + 1}: {dict(seconds)}", flush=True)
        if args.keep:
            _dump_debug(
                folder,
                [b for _, b, _ in batches],
                truth_all,
                {**links_all, "link_stage": stage_all},
                {**review_all, "link_stage": stage_review},
            )
        engine.close()
        product_truth = {r: t for r, t in truth_all.items() if not t[2] & {STRIPPED, STRIPPED_BV}}
        results: dict[str, Any] = {
            name: {
                "scores": median_scores([r["scores"] for r in runs[name]]),
                "seconds_median": statistics.median(r["seconds"] for r in runs[name]),
                "runs": runs[name],
            }
            for name in linkers
        }
        results["link_stage"] = {
            "scores": score(product_truth, stage_all, stage_review),
            "seconds_median": statistics.median(c["link"]["seconds"] for c in cycles.values()),
            "note": "the cycle's links table; link stage seconds per period (median)",
        }
        defects = Counter(d for _, _, ds in truth_all.values() for d in ds)
        return {
            "machine": machine(),
            "mode": "quality",
            "src_fingerprint": src_fingerprint(),
            "twin": {
                "households": args.households,
                "months": args.months,
                "seed": args.seed,
                "counties": 1,
                "synth_seconds": synth_s,
                "twin_reused": synth_s is None,
                "registry_persons": n_persons,
                "registry_link_records": n_registry,
            },
            "cycle_stages": cycles,
            "probe_rows": probe_rows,
            "stripped_copies": stripped_rows,
            "scored_rows": len(truth_all),
            "rows_with_target": sum(1 for t in truth_all.values() if t[0] or t[1]),
            "defect_rows": dict(sorted(defects.items())),
            "results": results,
            "notes": notes,
        }
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def _dump_debug(
    folder: Path,
    probes: list[pa.Table],
    truth: dict[str, Any],
    links: dict[str, dict[str, Any]],
    reviews: dict[str, set[str]],
) -> None:
    """With ``--keep``: every probe record, its truth and each linker's outcome, as Parquet."""
    import pyarrow.parquet as pq

    probe = pa.concat_tables(probes)
    rids = probe["record_id"].to_pylist()
    cols: dict[str, Any] = {
        "true_person": [truth.get(r, (None,))[0] for r in rids],
        "true_household": [truth.get(r, (None, None))[1] for r in rids],
        "defects": [",".join(sorted(truth.get(r, (0, 0, ()))[2])) for r in rids],
    }
    for name, got in links.items():
        cols[f"{name}_person"] = [got.get(r, (None, None))[0] for r in rids]
        cols[f"{name}_household"] = [got.get(r, (None, None))[1] for r in rids]
        cols[f"{name}_review"] = [r in reviews[name] for r in rids]
    for k, v in cols.items():
        probe = probe.append_column(k, pa.array(v))
    pq.write_table(probe, folder / "outcomes.parquet")


# --------------------------------------------------------------------------- scale mode


class StageClock:
    """Inclusive wall time and calls of selected functions, patched in place."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.notes: dict[str, list[Any]] = {}
        self._undo: list[Callable[[], None]] = []

    def wrap(
        self,
        owner: Any,
        attr: str,
        label: str | None = None,
        note: Callable[[Any], Any] | None = None,
    ) -> None:
        """Time ``owner.attr`` under ``label``; ``note(result)`` is kept in ``notes``."""
        original = getattr(owner, attr)
        label = label or attr

        def timed(*a: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                result = original(*a, **kw)
            finally:
                self.seconds[label] += time.perf_counter() - t
                self.calls[label] += 1
            if note is not None:
                self.notes.setdefault("scored", []).append(note(result))
            return result

        setattr(owner, attr, timed)
        self._undo.append(lambda: setattr(owner, attr, original))

    def reset(self) -> dict[str, Any]:
        """The times so far (and start again)."""
        out = {k: {"seconds": round(v, 3), "calls": self.calls[k]} for k, v in self.seconds.items()}
        self.seconds.clear()
        self.calls.clear()
        return out

    def undo(self) -> None:
        """Restore every patched function."""
        for f in reversed(self._undo):
            f()


def instrument_registry(engine: Any) -> StageClock:
    """Time the inner steps of the registry load."""
    import povguard.cycle.run as run_mod

    registry_mod = sys.modules["povguard.linkage.registry"]
    clock = StageClock()
    clock.wrap(run_mod, "registry_fingerprint", "cycle.registry_fingerprint")
    clock.wrap(run_mod, "load_registry", "registry.load_registry")
    for attr in ("prepare", "estimate_u"):
        clock.wrap(registry_mod, attr, f"registry.{attr}")
    clock.wrap(registry_mod.pq, "read_table", "registry.read_parquet")
    clock.wrap(engine, "replace_table", "engine.replace_table")
    return clock


def instrument(engine: Any) -> StageClock:
    """Time the inner steps of ``link_period``."""
    from splink.internals.linker_components import inference

    link_mod = sys.modules["povguard.linkage.link"]
    linker_mod = sys.modules["povguard.linkage.linker"]
    clock = StageClock()
    for attr in (
        "_person_exact",
        "_household_exact",
        "_scored",
        "_probe",
        "_registry_rows",
        "_explanations",
        "registry_u",
    ):
        clock.wrap(link_mod, attr, f"link.{attr}")
    clock.wrap(link_mod, "link", "linker.link", note=lambda r: dict(r.stats))
    for attr in ("prepare", "_fast_path", "_score", "_best", "_pairs_from_splink"):
        clock.wrap(linker_mod, attr, f"linker.{attr}")
    clock.wrap(inference.LinkerInference, "predict", "splink.predict")
    clock.wrap(engine, "fetch", "engine.fetch")
    clock.wrap(engine, "replace_period", "engine.replace_period")
    return clock


@contextmanager
def measured(out: dict[str, Any], key: str) -> Iterator[None]:
    """Record wall time and peak RSS of the block in ``out[key]``."""
    with PeakRSS() as peak:
        t = time.perf_counter()
        yield
        seconds = time.perf_counter() - t
    out[key] = {"seconds": round(seconds, 3), "peak_rss_mb": round(peak.mb)}


def relabel(engine: Any, periods: list[str]) -> None:
    """Move every raw row of ``periods[1:]`` into ``periods[0]`` (file names get the month)."""
    con = engine.con.con
    first, later = periods[0], periods[1:]
    if not later:
        return
    quoted = ", ".join(f"'{p}'" for p in later)
    for name in sorted(t for t in engine.con.list_tables() if t.startswith("raw_")):
        con.execute(
            f"UPDATE \"{name}\" SET _file = period || '/' || _file, period = $first "
            f"WHERE period IN ({quoted})",
            {"first": first},
        )


def exact_only_scale(engine: Any, period: str, keys: list[Any]) -> dict[str, Any]:
    """Exact-ID-only linkage of every person-level record: probe, normalise, join, keep."""
    t = time.perf_counter()
    probe, _ = person_probe(engine, period, keys)
    t_probe = time.perf_counter() - t
    matched, info = link_exact(engine, probe)
    return {
        "records": probe.num_rows,
        "linked": len(matched),
        "probe_seconds": round(t_probe, 3),
        **{k: round(v, 3) for k, v in info.items()},
    }


def sample_period(engine: Any, period: str, fraction: float) -> None:
    """Keep a deterministic ``fraction`` of every raw table's rows of ``period``."""
    con = engine.con.con
    for name in sorted(t for t in engine.con.list_tables() if t.startswith("raw_")):
        n = con.execute(f'SELECT count(*) FROM "{name}" WHERE period = $p', {"p": period})
        keep = round(n.fetchone()[0] * fraction)
        con.execute(
            f'DELETE FROM "{name}" WHERE rowid IN (SELECT rowid FROM "{name}" '
            f"WHERE period = $p ORDER BY hash(_file, _row), _file, _row OFFSET {keep})",
            {"p": period},
        )


def period_counts(engine: Any, period: str, person: set[str]) -> dict[str, Any]:
    """Raw rows of ``period`` per source, person-level and household-level totals."""
    con = engine.con.con
    rows = {
        name[4:]: int(
            con.execute(
                f'SELECT count(*) FROM "{name}" WHERE period = $p', {"p": period}
            ).fetchone()[0]
        )
        for name in sorted(t for t in engine.con.list_tables() if t.startswith("raw_"))
    }
    return {
        "person_level": sum(v for k, v in rows.items() if k in person),
        "household_level": sum(v for k, v in rows.items() if k not in person),
        "by_source": rows,
    }


def time_size(engine: Any, period: str, keys: list[Any], args: argparse.Namespace) -> dict:
    """``link_period`` (with its inner steps) and exact-ID-only, ``--repeat`` times each."""
    from povguard.linkage import link_period

    person = {k.source for k in keys if k.level == "person" and k.id}
    out: dict[str, Any] = {"records": period_counts(engine, period, person)}
    print(f"  records: {out['records']}", flush=True)
    clock = instrument(engine)
    runs = []
    started = time.perf_counter()
    try:
        for i in range(args.repeat):
            run: dict[str, Any] = {}
            with measured(run, "link_period"):
                report = link_period(engine, period, keys)
            run["steps"] = clock.reset()
            run["scored_by_splink"] = clock.notes.pop("scored", [])
            methods: Counter[str] = Counter()
            for c in report.counts.values():
                methods.update(c)
            run["methods"] = dict(methods)
            run["review"] = report.review
            run["by_source"] = report.counts
            runs.append(run)
            print(f"  link_period run {i + 1}: {run['link_period']} {run['methods']}", flush=True)
            if time.perf_counter() - started > args.budget:
                print("  over the time budget: no further repeats", flush=True)
                break
    finally:
        clock.undo()
    secs = [r["link_period"]["seconds"] for r in runs]
    med = statistics.median(secs)
    total = out["records"]["person_level"] + out["records"]["household_level"]
    out["link_period_runs"] = runs
    out["link_period"] = {
        "median_seconds": med,
        "runs": len(secs),
        "peak_rss_mb": max(r["link_period"]["peak_rss_mb"] for r in runs),
        "records_per_second": round(total / med),
        "person_records_per_second": round(out["records"]["person_level"] / med),
    }
    exact_runs = []
    for _ in range(len(runs)):
        r: dict[str, Any] = {}
        with measured(r, "exact"):
            r.update(exact_only_scale(engine, period, person_keys()))
        exact_runs.append(r)
    out["exact_id_runs"] = exact_runs
    med_exact = statistics.median(r["exact"]["seconds"] for r in exact_runs)
    out["exact_id"] = {
        "median_seconds": med_exact,
        "peak_rss_mb": max(r["exact"]["peak_rss_mb"] for r in exact_runs),
        "person_records_per_second": round(out["records"]["person_level"] / med_exact),
    }
    print(f"  exact-ID only: {out['exact_id']}", flush=True)
    return out


def scale(args: argparse.Namespace) -> dict[str, Any]:
    """Time the registry load and the whole link stage at about 1M records / 3M persons."""
    from povguard.cycle import feed_periods, link_keys
    from povguard.cycle.run import ensure_registry
    from povguard.engine import DuckDBEngine
    from povguard.ingest import ingest_period, load_mappings

    folder = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench-link-"))
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {
        "machine": machine(),
        "mode": "scale",
        "src_fingerprint": src_fingerprint(),
        "twin": {
            "households": args.scale_households,
            "months": args.scale_months,
            "seed": args.seed,
        },
    }
    t0 = time.perf_counter()
    try:
        twin = folder / "twin"
        if not (twin / "registry" / "persons.parquet").is_file():
            out["twin"]["synth_seconds"] = round(
                make_twin(twin, args.scale_households, args.scale_months, args.seed, None), 1
            )
        else:
            out["twin"]["reused"] = True
        print(f"twin ready: {out['twin']}", flush=True)
        db = folder / "analytics.duckdb"
        db.unlink(missing_ok=True)
        engine = DuckDBEngine(db)
        mappings = load_mappings()
        keys = link_keys(mappings)
        clock = instrument_registry(engine)
        try:
            with measured(out, "registry_load"):
                _, counts = ensure_registry(engine, twin / "registry")
        finally:
            clock.undo()
        out["registry_load"]["steps"] = clock.reset()
        out["registry"] = counts
        print(f"registry loaded: {out['registry_load']} {counts}", flush=True)
        periods = feed_periods(twin / "feeds")[: args.scale_months]
        with measured(out, "ingest"):
            for p in periods:
                ingest_period(engine, twin / "feeds", p, mappings)
        print(f"ingested: {out['ingest']}", flush=True)
        relabel(engine, periods)
        period = periods[0]
        out["period"] = period
        out["months_merged"] = periods
        sizes = []
        print(f"all {len(periods)} months merged into {period}:", flush=True)
        full = time_size(engine, period, keys, args)
        full["label"] = f"{len(periods)} months merged"
        sizes.append(full)
        person_full = full["records"]["person_level"]
        if args.target_records < person_full:
            fraction = args.target_records / person_full
            sample_period(engine, period, fraction)
            print(f"sampled {fraction:.4f} of every source:", flush=True)
            part = time_size(engine, period, keys, args)
            part["label"] = f"{fraction:.1%} sample of every source"
            part["fraction"] = fraction
            sizes.append(part)
        out["sizes"] = sizes
        engine.close()
        out["total_seconds"] = round(time.perf_counter() - t0, 1)
        return out
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------- main


def f1(d: dict[str, Any]) -> float | None:
    """F1 of a score dict; 0 when rows had a target but nothing was linked right."""
    if d["f1"] is not None:
        return float(d["f1"])
    return 0.0 if d["with_target"] else None


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def main() -> None:
    """Run the quality benchmark (default) or the scale benchmark (``--scale``)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", action="store_true", help="the 1M records x 3M persons run")
    ap.add_argument("--households", type=int, default=20_000)
    ap.add_argument("--months", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20250101)
    ap.add_argument(
        "--strip", type=float, default=0.03, help="share of records copied without their ID"
    )
    ap.add_argument("--scale-households", type=int, default=1_000_000)
    ap.add_argument("--scale-months", type=int, default=3)
    ap.add_argument(
        "--target-records", type=int, default=1_000_000, help="scale: person-level records"
    )
    ap.add_argument("--repeat", type=int, default=3, help="runs (medians are reported)")
    ap.add_argument(
        "--budget", type=float, default=300.0, help="scale: no further repeat after this (s)"
    )
    ap.add_argument("--workdir", help="folder for the twin and store (a twin there is reused)")
    ap.add_argument(
        "--keep", action="store_true", help="keep --workdir (quality: with outcomes.parquet)"
    )
    args = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if args.scale:
        out = scale(args)
        (RESULTS / "linkage_scale.json").write_text(json.dumps(out, indent=1) + "\n")
        return
    out = quality(args)
    (RESULTS / "linkage.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"{out['scored_rows']:,} scored rows; defects {out['defect_rows']}")
    cols = ("overall", "clean", "name_typo", "id_typo", "no_id", "no_id_stripped")
    print(
        "linker | P | R | "
        + " | ".join(f"F1 {c}" for c in cols)
        + " | F1 no_id_stripped_bv (n) | review | s"
    )
    for name, r in out["results"].items():
        s = r["scores"]
        bv = s["no_id_stripped_bv"]
        print(
            f"{name} | {_fmt(s['overall']['precision'])} | {_fmt(s['overall']['recall'])} | "
            + " | ".join(_fmt(f1(s[c])) for c in cols)
            + f" | {_fmt(f1(bv))} ({bv['rows']}) | {s['review']['rows']} "
            f"| {r['seconds_median']:.1f}"
        )


if __name__ == "__main__":
    main()
