"""Benchmark: screening 1,000,000 households for one month on DuckDB (issue 6).

Target: ``screen_period`` for one month of 1,000,000 households in at most 30 s.

Pack: the library's pack for Guizhou in the screened month,
``load_packs().select(period, "52")`` = ``guizhou-monitoring@2021.1`` (the national
pack's rules and risk triggers with Guizhou's parameters); every bench household is in
Guizhou (village codes ``52...``), so this is also what the cycle's default, the pack
library, applies to them (measured beside it, not in the target).

Input (built, not timed): an ``indicators`` table of 12 periods (the screened month
and the 11 before it: the risk triggers look back ``trigger_months`` = 12 months with
``sum_over``/``max_over``, ``elimination_ready`` 6 months with ``min_over``) for
1,000,000 households, resampled from a real run:

1. a small twin (one county, 20,000 households, 12 months 2025-01..2025-12, seed
   20250101) goes through ``run_cycle`` month by month on DuckDB (the cycle's default
   policy, the pack library), so the last month's 12-month windows are full; its
   indicators of all 12 periods (2025-01..2025-12) are kept;
2. 1,000,000 new households each copy one small-twin household drawn uniformly with
   replacement (numpy, seed 6), *all 12 of its months together*; each new household
   gets one of 50 county codes (``52PPCC``: 5 prefectures x 10 counties, uniform)
   in front of its source's town and village digits, and a fresh 16-digit id (new
   village code + serial within the village). Every other column, evidence
   pointers included, is the source row's. The first 100,000 new households (a
   uniform sample) also go into a second store.

Measured (each store in a fresh child process, so peak memory is the screen's):
``screen_period(engine, latest, pack, store=True)`` ``--repeat`` times (median),
its time split (engine calls ``fetch`` and ``replace_period`` timed by a subclass
of ``DuckDBEngine``; the look-back aggregation, which the screen materialises with
Ibis ``cache`` in its ``_history``, timed by wrapping that function; the rest is
Python: conditions compiled to Ibis, rows to dicts, reason texts, Arrow table), peak
RSS (psutil, sampled every 10 ms), the same with the whole pack library, one extra run
under cProfile (self time by package, top functions) and plain-SQL timings of the
look-back aggregates.

Peer: the same rules evaluated row by row in plain Python over the fetched
indicators of a 100,000-household sample, extrapolated x10 to 1,000,000 (the work is
per row); beside it ``screen_period`` on the same sample. Each rule's and trigger's
condition is compiled once to a Python expression with SQL's three-valued logic
(None = unknown: comparisons and arithmetic with None are None, ``and``/``or``/
``not`` are Kleene's, ``if_else`` takes the else branch on None, division by zero
gives +-inf/nan as in DuckDB) and ``eval``-ed per household; ``min_over``/
``max_over``/``sum_over`` are computed per household from its fetched past rows
with the engine's NULL rules (``min_over`` unknown unless every month has a value,
the other two over the months that have one, unknown when none). A rule fires when
its condition is true; for a rule with ``needs_trigger`` every trigger is evaluated
(true = holds) and the reason gets the phrases of those that hold, or, with none,
the "needs verification" ending and kind. The peer also writes the screen's
needs-verification warnings (a fired screening or guarantee rule with a
``verify_missing`` field unknown) and those of rules with ``unknown: verify``. It
does not write the values JSON nor the evidence (``screen_period`` does). Agreement:
the sets of (household, rule, kind) must be equal, and the reasons (Chinese and
English) of each. Look-back check: the sample is screened again from stores holding
only the latest period and only the last 7 periods (the store of the previous
version of this bench); the differences show what the look-backs need.

Usage::

    .venv/bin/python bench/bench_screen.py [--households 1000000] [--repeat 3]
        [--work DIR]  # keep (and reuse) the small run and the stores in DIR
"""

from __future__ import annotations

import argparse
import ast
import cProfile
import json
import os
import pstats
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from bench_synth import machine

RESULTS = Path(__file__).parent / "results"
SMALL = "small_indicators.parquet"
PERIODS = 12
COUNTIES = [f"52{city:02d}{county:02d}" for city in (1, 2, 3, 4, 5) for county in range(21, 31)]


# --------------------------------------------------------------------------- input


def small_run(work: Path, households: int, months: int) -> dict[str, Any]:
    """Twin + monthly cycles; keep the indicators of the last PERIODS periods."""
    from povguard.cycle import feed_periods, run_cycle
    from povguard.engine import DuckDBEngine
    from povguard.policy import load_policy
    from povguard.synth import TwinConfig, generate_twin

    t0 = time.perf_counter()
    twin = work / "twin"
    shutil.rmtree(twin, ignore_errors=True)
    generate_twin(
        TwinConfig(
            out=twin,
            households=households,
            months=months,
            start="2025-01",
            seed=20250101,
            counties=1,
        )
    )
    db = work / "small.duckdb"
    db.unlink(missing_ok=True)
    engine = DuckDBEngine(db)
    pack = load_policy()  # the cycle's default: the pack library
    periods = feed_periods(twin / "feeds")
    warnings = {}
    for p in periods:
        warnings[p] = run_cycle(
            engine, p, twin / "feeds", twin / "registry", pack
        ).warnings.num_rows
    keep = periods[-PERIODS:]
    assert len(keep) == PERIODS, f"the twin has {len(periods)} months, {PERIODS} are needed"
    ind = engine.fetch(
        engine.table("indicators").filter(engine.table("indicators").period.isin(keep))
    )
    engine.close()
    pq.write_table(ind, work / SMALL)
    shutil.rmtree(twin, ignore_errors=True)
    db.unlink(missing_ok=True)
    info = {
        "households": households,
        "months": months,
        "periods_kept": keep,
        "indicator_rows": ind.num_rows,
        "warnings_by_period": warnings,
        "seconds": time.perf_counter() - t0,
    }
    (work / "small.json").write_text(json.dumps(info, indent=1))
    return info


def resample(work: Path, households: int, sample: int, seed: int) -> dict[str, Any]:
    """Write ``full.duckdb`` (``households``) and ``sample.duckdb`` (the first ``sample``)."""
    t0 = time.perf_counter()
    small = pq.read_table(work / SMALL)
    periods = sorted(set(small["period"].to_pylist()))
    last = small.filter(pc.equal(small["period"], periods[-1]))
    last = last.take(pc.sort_indices(last, [("household_id", "ascending")]))
    ids = last["household_id"]
    # every household has a row in every period
    assert small.num_rows == len(ids) * len(periods)
    assert pc.value_counts(small["household_id"]).field("counts").to_pylist() == [
        len(periods)
    ] * len(ids)
    n_src = len(ids)
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n_src, size=households)
    county = rng.integers(0, len(COUNTIES), size=households)
    # new village code: county code + the source household's town and village digits
    villages = last["village_code"].to_pylist()
    suffixes, suffix_idx = np.unique([v[6:] for v in villages], return_inverse=True)
    village_key = county * len(suffixes) + suffix_idx[src]
    order = np.argsort(village_key, kind="stable")
    ordered = village_key[order]
    starts = np.r_[0, np.flatnonzero(np.diff(ordered)) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, households]))
    serial = np.empty(households, dtype=np.int64)
    serial[order] = np.arange(households) - first + 1
    assert serial.max() < 10_000
    village = np.char.add(np.asarray(COUNTIES, dtype="U6")[county], suffixes[suffix_idx[src]])
    hid = np.char.add(village, np.char.zfill(serial.astype("U4"), 4))
    assert len(np.unique(hid)) == households
    mapping = pa.table(
        {
            "j": np.arange(households),
            "src": ids.take(pa.array(src)),
            "household_id": pa.array(hid.tolist()),
            "village_code": pa.array(village.tolist()),
        }
    )
    new_cols = ("household_id", "village_code")
    cols = ", ".join(f'{"m" if c in new_cols else "s"}."{c}"' for c in small.column_names)
    written = {}
    for name, n in (("full", households), ("sample", sample)):
        path = work / f"{name}.duckdb"
        path.unlink(missing_ok=True)
        con = duckdb.connect(str(path))
        con.execute("SET enable_progress_bar = false")
        con.register("small", small)
        con.register("mapping", mapping)
        con.execute(f"CREATE TABLE indicators AS SELECT {cols} FROM small s, mapping m LIMIT 0")
        # one period after the other, as the indicators stage appends them, in registry
        # (household id) order: copies of one source household are not stored side by side
        for p in periods:
            con.execute(
                f"INSERT INTO indicators SELECT {cols} FROM mapping m JOIN small s "
                "ON s.household_id = m.src AND s.period = ? WHERE m.j < ? ORDER BY m.household_id",
                [p, n],
            )
        rows = con.execute("SELECT count(*) FROM indicators").fetchone()[0]  # type: ignore[index]
        con.close()
        written[name] = {"households": n, "rows": rows, "mb": path.stat().st_size / 2**20}
    return {
        "source_households": n_src,
        "periods": periods,
        "seed": seed,
        "counties": len(COUNTIES),
        "villages": len(np.unique(village)),
        "max_copies_of_one_source": int(np.bincount(src).max()),
        "stores": written,
        "seconds": time.perf_counter() - t0,
    }


# ----------------------------------------------------------------------- measuring


class _Peak:
    """Peak RSS of this process, sampled by a thread (psutil)."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self) -> _Peak:
        self.peak = self.proc.memory_info().rss
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def _timed_engine(path: Path) -> Any:
    from povguard.engine import DuckDBEngine

    class TimedEngine(DuckDBEngine):
        """DuckDBEngine that adds up the time of the calls that run in the engine."""

        def reset(self) -> None:
            self.t_fetch = self.t_store = 0.0
            self.n_fetch = 0
            self.fetched_rows = 0
            self.calls: list[tuple[float, int]] = []

        def fetch(self, expr: Any, limit: int | None = None) -> pa.Table:
            t = time.perf_counter()
            out = super().fetch(expr, limit)
            self.t_fetch += time.perf_counter() - t
            self.calls.append((time.perf_counter() - t, out.num_rows))
            self.n_fetch += 1
            self.fetched_rows += out.num_rows
            return out

        def replace_period(self, name: str, period: str, data: Any) -> int:
            t = time.perf_counter()
            out = super().replace_period(name, period, data)
            self.t_store += time.perf_counter() - t
            return out

    engine = TimedEngine(path)
    engine.reset()
    return engine


#: the screen's function that aggregates the look-backs of a pack (timed apart)
_HISTORY_FN = "_history"


def bench_pack(period: str) -> Any:
    """The pack the bench screens with: the library's pack for Guizhou (``52...``)."""
    from povguard.policy import load_packs

    return load_packs().select(period, "52")


def _pack_info(pack: Any, period: str) -> dict[str, Any]:
    return {
        "pack": pack.ref,
        "region": pack.region,
        "rules": len(pack.rules),
        "triggers": len(pack.triggers),
        "needs_trigger_rules": [r.id for r in pack.rules if r.needs_trigger],
        "unknown_verify_rules": [r.id for r in pack.rules if r.unknown == "verify"],
        "lookback_calls": {
            history_name(c): users for c, users in sorted(_history_calls(pack, period).items())
        },
    }


def _screen_runs(engine: Any, period: str, pack: Any, repeat: int) -> dict[str, Any]:
    from povguard.policy import PolicyPack, screen_period
    from povguard.policy import screen as screen_module

    # the look-back aggregation is materialised by Ibis ``cache``, not ``engine.fetch``:
    # time it by wrapping the screen's ``_history`` (the screen itself is unchanged)
    history_fn = getattr(screen_module, _HISTORY_FN, None)
    spent = [0.0]

    def timed_history(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return history_fn(*args, **kwargs)  # type: ignore[misc]
        finally:
            spent[0] += time.perf_counter() - t

    if history_fn is not None:
        setattr(screen_module, _HISTORY_FN, timed_history)
    runs = []
    table = None
    try:
        for _ in range(repeat):
            engine.reset()
            spent[0] = 0.0
            t = time.perf_counter()
            table = screen_period(engine, period, pack, store=True)
            total = time.perf_counter() - t
            runs.append(
                {
                    "seconds": total,
                    "fetch_seconds": engine.t_fetch,
                    "store_seconds": engine.t_store,
                    "history_seconds": spent[0],
                    "python_seconds": total - engine.t_fetch - engine.t_store - spent[0],
                    "fetch_calls": engine.n_fetch,
                    "fetched_rows": engine.fetched_rows,
                    "calls": list(engine.calls),
                }
            )
    finally:
        if history_fn is not None:
            setattr(screen_module, _HISTORY_FN, history_fn)
    assert table is not None
    calls = [r.pop("calls") for r in runs]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    per_fetch = {}
    if isinstance(pack, PolicyPack):
        # one fetch per rule (two for a rule with ``unknown: verify``), in the pack's order
        labels = [
            x for r in pack.rules for x in ([r.id] + [f"{r.id}:unknown"] * (r.unknown == "verify"))
        ]
        if all(len(c) == len(labels) for c in calls):
            per_fetch = {
                label: {
                    "seconds": statistics.median(c[i][0] for c in calls),
                    "rows": calls[0][i][1],
                }
                for i, label in enumerate(labels)
            }
    return {
        "runs": runs,
        "median": med,
        "fetch_by_rule": per_fetch,
        "warnings": table.num_rows,
        "table": table,
    }


_CATEGORIES = (
    ("duckdb", "duckdb (SQL execution, Arrow out)"),
    ("/ibis/", "ibis + sqlglot (expression building, SQL compile)"),
    ("/sqlglot/", "ibis + sqlglot (expression building, SQL compile)"),
    ("pyarrow", "pyarrow (to_pylist, from_pylist)"),
    ("to_pylist", "pyarrow (to_pylist, from_pylist)"),
    ("from_pylist", "pyarrow (to_pylist, from_pylist)"),
    ("json", "json (values, evidence)"),
    ("string.py", "str.format (reason texts)"),
    ("format", "str.format (reason texts)"),
    ("povguard", "povguard screen code (own lines)"),
)


#: cumulative time of these functions under the profiler (label -> (file, function));
#: cProfile does not see pyarrow's Cython methods (to_pylist, from_pylist): timed apart
_SPLIT = {
    "engine.fetch (SQL compile + DuckDB + Arrow)": ("base.py", "fetch"),
    "  DuckDB execution to Arrow": ("~", "to_arrow_table"),
    "engine.replace_period (store warnings)": ("duck.py", "replace_period"),
    "_history (look-back aggregation, cached in DuckDB)": ("screen.py", "_history"),
    "_warning (one warning row)": ("screen.py", "_warning"),
    "  reason texts and trigger phrases (Formatter.format)": ("string.py", "format"),
    "  _json (values)": ("screen.py", "_json"),
    "  _evidence": ("screen.py", "_evidence"),
    "compile_condition (rule or trigger to Ibis)": ("expr.py", "compile_condition"),
    "expr.parse (conditions parsed)": ("expr.py", "parse"),
}


def _category(filename: str, func: str) -> str:
    text = f"{filename} {func}"
    return next((name for key, name in _CATEGORIES if key in text), "other Python")


def _profile(engine: Any, period: str, pack: Any) -> dict[str, Any]:
    from povguard.policy import screen_period

    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    screen_period(engine, period, pack, store=True)
    prof.disable()
    wall = time.perf_counter() - t
    stats = pstats.Stats(prof)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    by_cat: Counter[str] = Counter()
    funcs = []
    for (filename, line, func), (_cc, nc, tt, ct, _callers) in raw.items():
        by_cat[_category(filename, func)] += tt
        funcs.append((tt, ct, nc, f"{Path(filename).name}:{line}({func})"))
    funcs.sort(reverse=True)
    cum = sorted(
        ((ct, f"{Path(f).name}:{ln}({fn})") for (f, ln, fn), (_, _, _, ct, _) in raw.items()),
        reverse=True,
    )
    split = {}
    for label, (file, func) in _SPLIT.items():
        found = [
            ct
            for (filename, _line, fn), (_, _, _, ct, _) in raw.items()
            if filename.endswith(file) and func in fn
        ]
        split[label] = max(found, default=0.0)
    return {
        "wall_seconds_under_profiler": wall,
        "cumulative_seconds": split,
        "self_seconds_by_category": dict(by_cat.most_common()),
        "top_self": [
            {"function": name, "self_s": tt, "cum_s": ct, "calls": nc}
            for tt, ct, nc, name in funcs[:15]
        ],
        "top_cumulative": [
            {"function": name, "cum_s": ct}
            for ct, name in cum
            if "screen" in name or "_warning" in name or "fetch" in name or "to_py" in name
        ][:12],
    }


def _rows(table: pa.Table) -> set[tuple[str, ...]]:
    """(household, rule, kind, reason_zh, reason_en) of every warning."""
    cols = ("household_id", "rule_id", "kind", "reason_zh", "reason_en")
    return set(zip(*(table[c].to_pylist() for c in cols), strict=True))


def measure_full(path: Path, repeat: int) -> dict[str, Any]:
    """Child process: screen the latest period of the 1M store (the pack, then the library)."""
    from povguard.policy import load_packs

    engine = _timed_engine(path)
    period = max(
        engine.fetch(engine.table("indicators").select("period").distinct())["period"].to_pylist()
    )
    pack = bench_pack(period)
    households = engine.count(
        engine.table("indicators").filter(engine.table("indicators").period == period)
    )
    load_before = os.getloadavg()
    with _Peak() as peak:
        base = peak.peak
        res = _screen_runs(engine, period, pack, repeat)
    table = res.pop("table")
    load_after = os.getloadavg()
    library = _screen_runs(engine, period, load_packs(), repeat)
    library_table = library.pop("table")
    library["same_warnings_as_pack"] = _rows(library_table) == _rows(table)
    library["packs_in_force"] = [p.ref for p in load_packs().in_force(period)]
    del library_table
    t = time.perf_counter()
    as_rows = table.to_pylist()
    arrow_seconds = {"warnings Table.to_pylist": time.perf_counter() - t}
    t = time.perf_counter()
    pa.Table.from_pylist(as_rows, schema=table.schema)
    arrow_seconds["warnings Table.from_pylist"] = time.perf_counter() - t
    triggers: Counter[str] = Counter()
    held: Counter[int] = Counter()
    with_triggers = {x.id for x in pack.rules if x.needs_trigger}
    for r in as_rows:
        if r["rule_id"] in with_triggers:
            ids = [x for x in json.loads(r["values"]).get("triggers", "").split(",") if x]
            triggers.update(ids)
            held[len(ids)] += 1
    del as_rows
    prof = _profile(engine, period, pack)
    diagnostics = _sql_diagnostics(engine.con.con, period, pack)
    engine.close()
    return {
        "period": period,
        "households": households,
        "load_average_before_after": [load_before, load_after],
        **_pack_info(pack, period),
        **res,
        "by_kind": dict(Counter(table["kind"].to_pylist()).most_common()),
        "by_rule": dict(Counter(table["rule_id"].to_pylist()).most_common()),
        "by_rule_and_kind": dict(
            Counter(
                f"{r}:{k}"
                for r, k in zip(
                    table["rule_id"].to_pylist(), table["kind"].to_pylist(), strict=True
                )
            ).most_common()
        ),
        "needs_trigger_warnings_by_triggers_held": dict(sorted(held.items())),
        "triggers_held": dict(triggers.most_common()),
        "rss_before_mb": base / 2**20,
        "peak_rss_mb": peak.peak / 2**20,
        "library": library,
        "profile": prof,
        "sql_diagnostics": diagnostics,
        "arrow_conversions_seconds": arrow_seconds,
    }


def history_name(call: tuple[str, str, int]) -> str:
    func, field, months = call
    return f"{func}({field}, {months})"


def _history_calls(pack: Any, period: str) -> dict[tuple[str, str, int], list[str]]:
    """Every look-back call ``(func, field, months)`` of the pack -> the rules and triggers
    that use it."""
    from povguard.policy.expr import history_calls

    params = pack.params_for(period)
    out: dict[tuple[str, str, int], list[str]] = {}
    for kind, items in (("rule", pack.rules), ("trigger", pack.triggers)):
        for item in items:
            for call in sorted(history_calls(item.tree(item.id), params)):
                out.setdefault(call, []).append(f"{kind} {item.id}")
    return out


_SQL_AGG = {"min_over": "min", "max_over": "max", "sum_over": "sum"}


def _sql_diagnostics(con: Any, period: str, pack: Any) -> dict[str, Any]:
    """Plain DuckDB SQL on the same store: one rule's filter alone, the look-back
    aggregates one by one and all in one GROUP BY (every aggregate is read by the outer
    query, so DuckDB cannot drop it)."""
    from povguard.indicators import window

    def med(sql: str, args: list[Any]) -> float:
        times = []
        for _ in range(3):
            t = time.perf_counter()
            con.execute(sql, args).fetchall()
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    line = pack.params_for(period)["monitoring_line"]
    sql = (
        "SELECT household_id, former_poor, income_pc_12m, ev_income FROM indicators "
        "WHERE period = ? AND coalesce(income_pc_12m < ?, false)"
    )
    out: dict[str, Any] = {"rule_filter_alone": {"sql": sql, "seconds": med(sql, [period, line])}}
    calls = sorted(_history_calls(pack, period))
    for call in calls:
        func, field, months = call
        periods = window(period, months)
        sql = (
            "SELECT count(*), count(v), sum(n) FROM (SELECT household_id, "
            f'{_SQL_AGG[func]}("{field}") AS v, count("{field}") AS n FROM indicators '
            f"WHERE period IN ({', '.join('?' * len(periods))}) GROUP BY 1)"
        )
        out[f"lookback_aggregate {history_name(call)}"] = {"sql": sql, "seconds": med(sql, periods)}
    months = max(n for _, _, n in calls)
    periods = window(period, months)
    aggs, reads = [], []
    for i, (f, c, n) in enumerate(calls):
        # a shorter window than the query's: FILTER (the rest need none)
        within = f"period IN ({', '.join(repr(p) for p in window(period, n))})"
        only = f" FILTER (WHERE {within})" if n < months else ""
        aggs.append(f'{_SQL_AGG[f]}("{c}"){only} AS v{i}')
        aggs.append(f'count("{c}"){only} AS n{i}')
        reads += [f"count(v{i})", f"sum(n{i})"]
    sql = (
        f"SELECT count(*), {', '.join(reads)} FROM (SELECT household_id, {', '.join(aggs)} "
        f"FROM indicators WHERE period IN ({', '.join('?' * len(periods))}) GROUP BY 1)"
    )
    out[f"all {len(calls)} look-backs in one GROUP BY"] = {"sql": sql, "seconds": med(sql, periods)}
    return out


# --------------------------------------------------------------------------- peer


class _Safe(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        return "—" if value is None else str(super().format_field(value, format_spec))


_PY_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_PY_BIN = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}


def _div(a: Any, b: Any) -> Any:
    """``a / b`` as DuckDB: None with a None, +-inf or nan on a zero divisor."""
    if a is None or b is None:
        return None
    if b == 0:
        return float("nan") if a == 0 else float("inf") if a > 0 else float("-inf")
    return a / b


def _coalesce(*xs: Any) -> Any:
    return next((x for x in xs if x is not None), None)


class _PeerSource:
    """A rule-language condition as Python source with SQL's three-valued logic.

    None is unknown: comparisons, ``in`` and arithmetic with None give None, ``and``/
    ``or``/``not`` are Kleene's, ``if_else`` takes the else branch on None (SQL CASE).
    Fields are the row's names (the row dict is ``eval``'s locals), parameters are
    written in as constants, look-backs call ``_hist(func, field, months)``.
    """

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.n = 0

    def _tmp(self) -> str:
        self.n += 1
        return f"_v{self.n}"

    def _kleene(self, op: str, parts: list[str]) -> str:
        stop = "False" if op == "and" else "True"
        names = [self._tmp() for _ in parts]
        head = " ".join(
            f"{stop} if ({n} := {p}) is {stop} else" for n, p in zip(names, parts, strict=True)
        )
        unknown = " or ".join(f"{n} is None" for n in names)
        return f"({head} (None if {unknown} else {'True' if op == 'and' else 'False'}))"

    def _known(self, node: ast.AST) -> bool:
        """Whether ``node`` is never None (a constant or a parameter)."""
        if isinstance(node, ast.Constant):
            return node.value is not None
        return isinstance(node, ast.Name) and node.id in self.params

    def _strict(self, a: ast.AST, b: ast.AST, op: str) -> str:
        """``a op b``, None when an operand is None."""
        checks, names = [], []
        for node in (a, b):
            code = self.emit(node)
            if self._known(node):
                names.append(code)
            else:
                names.append(self._tmp())
                checks.append(f"({names[-1]} := {code}) is None")
        value = f"{names[0]} {op} {names[1]}"
        return f"(None if {' or '.join(checks)} else {value})" if checks else f"({value})"

    def emit(self, node: ast.AST) -> str:  # noqa: PLR0911 - one return per node type
        if isinstance(node, ast.Expression):
            return self.emit(node.body)
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            return self._kleene(op, [self.emit(v) for v in node.values])
        if isinstance(node, ast.UnaryOp):
            x = self._tmp()
            neg = "not " if isinstance(node.op, ast.Not) else "-"
            return f"(None if ({x} := {self.emit(node.operand)}) is None else {neg}{x})"
        if isinstance(node, ast.Compare):
            left = node.left
            parts = []
            for op, comp in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, (ast.In, ast.NotIn)):
                    assert isinstance(comp, ast.List)
                    values = tuple(c.value for c in comp.elts if isinstance(c, ast.Constant))
                    x = self._tmp()
                    word = "not in" if isinstance(op, ast.NotIn) else "in"
                    parts.append(
                        f"(None if ({x} := {self.emit(left)}) is None else {x} {word} {values!r})"
                    )
                    right = left
                else:
                    right = comp
                    parts.append(self._strict(left, right, _PY_CMP[type(op)]))
                left = right
            return parts[0] if len(parts) == 1 else self._kleene("and", parts)
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Div):
                return f"_div({self.emit(node.left)}, {self.emit(node.right)})"
            return self._strict(node.left, node.right, _PY_BIN[type(node.op)])
        if isinstance(node, ast.Constant):
            return repr(node.value)
        if isinstance(node, ast.Name):
            return repr(self.params[node.id]) if node.id in self.params else node.id
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            func = node.func.id
            if func in ("min_over", "max_over", "sum_over"):
                field, months = node.args
                assert isinstance(field, ast.Name)
                n = self.params[months.id] if isinstance(months, ast.Name) else months.value  # type: ignore[attr-defined]
                return f"_hist({func!r}, {field.id!r}, {int(n)})"
            args = [self.emit(a) for a in node.args]
            if func == "if_else":
                return f"({args[1]} if {args[0]} else {args[2]})"
            if func == "coalesce":
                return f"_coalesce({', '.join(args)})"
            if func == "is_null":
                return f"({args[0]} is None)"
        raise ValueError(f"the peer does not know {ast.dump(node)}")


def naive_screen(
    rows: list[dict[str, Any]],
    history: dict[str, dict[str, dict[str, Any]]],
    pack: Any,
    period: str,
) -> tuple[list[tuple[str, str, str, str, str]], dict[str, float], dict[str, str]]:
    """Row-by-row peer: every rule's (and trigger's) condition ``eval``-ed per household.

    ``history`` is household -> period -> {field: value} for the look-backs. Returns
    the warnings ``(household_id, rule_id, kind, reason_zh, reason_en)``, the seconds
    spent on triggers and on reason texts, and the Python source of each condition.
    """
    from povguard.indicators import window
    from povguard.policy.expr import history_calls, history_column, names
    from povguard.policy.screen import _FIELD_ZH  # the screen's labels of missing fields

    params = pack.params_for(period)
    columns = set(rows[0]) if rows else set()
    windows: dict[int, list[str]] = {}
    past: list[dict[str, dict[str, Any]]] = [{}]

    def hist(func: str, field: str, months: int) -> Any:
        periods = windows.get(months) or windows.setdefault(months, window(period, months))
        now = past[0]
        known = [v for p in periods if (v := now.get(p, {}).get(field)) is not None]
        if func == "min_over":
            return min(known) if len(known) >= months else None
        if not known:
            return None
        return max(known) if func == "max_over" else sum(known)

    env_funcs = {"__builtins__": {}, "_hist": hist, "_div": _div, "_coalesce": _coalesce}
    source = _PeerSource(params)
    sources: dict[str, str] = {}

    def code(item: Any, label: str) -> Any:
        sources[label] = source.emit(item.tree(item.id))
        return compile(sources[label], label, "eval")

    rules = []
    for r in pack.rules:
        tree = r.tree(r.id)
        calls = sorted(history_calls(tree, params))
        used = sorted(names(tree) & columns) + [history_column(c) for c in calls]
        rules.append((r, code(r, f"rule {r.id}"), calls, used))
    triggers = [(t, code(t, f"trigger {t.id}")) for t in pack.triggers]
    en_region = {"region_name": pack.region_name_en}
    fmt = _Safe()
    out: list[tuple[str, str, str, str, str]] = []
    t_fmt = t_trig = 0.0
    for row in rows:
        hid = row["household_id"]
        past[0] = history.get(hid, {})
        fired_sg = []
        for rule, rule_code, calls, used in rules:
            hit = eval(rule_code, env_funcs, row)  # the peer is eval by design
            if hit is None and rule.unknown == "verify":
                known = {**row, **{history_column(c): hist(*c) for c in calls}}
                missing = [u for u in used if known.get(u) is None]
                zh = f"{rule.title_zh}：缺少 {'、'.join(missing)}，无法判定，需核实"
                en = f"{rule.title_en}: {', '.join(missing)} unknown, cannot be decided; verify"
                out.append((hid, rule.id, "needs_verification", zh, en))
                continue
            if hit is not True:
                continue
            fired = []
            if rule.needs_trigger:
                t0 = time.perf_counter()
                fired = [t for t, t_code in triggers if eval(t_code, env_funcs, row) is True]
                t_trig += time.perf_counter() - t0
            t0 = time.perf_counter()
            env = {**params, **row}
            env_en = {**env, **en_region}
            zh_parts = [fmt.format(rule.reason_zh, **env)]
            en_parts = [fmt.format(rule.reason_en, **env_en)]
            zh_parts += [fmt.format(t.phrase_zh, **env) for t in fired]
            en_parts += [fmt.format(t.phrase_en, **env_en) for t in fired]
            kind = rule.kind
            if rule.needs_trigger and not fired:
                zh_parts.append("数据中未见返贫致贫风险因素，需入户核实是否存在风险")
                en_parts.append("no risk factor in the data: a home visit must establish the risk")
                kind = "needs_verification"
            out.append((hid, rule.id, kind, "；".join(zh_parts), "; ".join(en_parts)))
            t_fmt += time.perf_counter() - t0
            if rule.kind in ("screening", "guarantee"):
                fired_sg.append(rule.id)
        missing = sorted(f for f in pack.verify_missing if row.get(f) is None)
        if fired_sg and missing:
            zh_missing = "、".join(_FIELD_ZH.get(m, m) for m in missing)
            out.append(
                (
                    hid,
                    "needs_verification",
                    "needs_verification",
                    f"已触发 {'、'.join(fired_sg)}，但缺少{zh_missing}，"
                    "无法判定是否低于监测线，需入户核实",
                    f"{', '.join(fired_sg)} fired but {', '.join(missing)} is unknown: "
                    "the income test cannot be made, a home visit must verify",
                )
            )
    return out, {"triggers_seconds": t_trig, "format_seconds": t_fmt}, sources


def _screen_subset(ind: Any, engine: Any, period: str, pack: Any, periods: list[str]) -> Any:
    """Screen ``period`` from an in-memory store holding only ``periods`` of the sample."""
    from povguard.engine import DuckDBEngine
    from povguard.policy import screen_period

    only = DuckDBEngine()
    for p in periods:
        only.replace_period("indicators", p, engine.fetch(ind.filter(ind.period == p)))
    table = screen_period(only, period, pack, store=False)
    only.close()
    return table


def _diff(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> dict[str, Any]:
    """Compare warnings ``a`` (the engine's) and ``b``: keys (household, rule, kind), reasons."""
    ka = {w[:3]: w[3:] for w in a}
    kb = {w[:3]: w[3:] for w in b}
    both = ka.keys() & kb.keys()
    differ = sorted(k for k in both if ka[k] != kb[k])
    return {
        "both": len(both),
        "screen_only": len(ka.keys() - kb.keys()),
        "other_only": len(kb.keys() - ka.keys()),
        "screen_only_by_rule_kind": dict(
            Counter(f"{r}:{k}" for _, r, k in ka.keys() - kb.keys()).most_common()
        ),
        "other_only_by_rule_kind": dict(
            Counter(f"{r}:{k}" for _, r, k in kb.keys() - ka.keys()).most_common()
        ),
        "same_reasons": len(both) - len(differ),
        "reasons_differ": len(differ),
        "reasons_differ_by_rule": dict(Counter(k[1] for k in differ).most_common()),
        "reason_difference_examples": [
            {"key": list(k), "screen": list(ka[k]), "other": list(kb[k])} for k in differ[:3]
        ],
    }


def measure_sample(path: Path, repeat: int) -> dict[str, Any]:
    """Child process: screen_period and the naive peer on the 100k sample; look-back check."""
    from povguard.indicators import window

    engine = _timed_engine(path)
    ind = engine.table("indicators")
    periods = sorted(engine.fetch(ind.select("period").distinct())["period"].to_pylist())
    period = periods[-1]
    pack = bench_pack(period)
    res = _screen_runs(engine, period, pack, repeat)
    table = res.pop("table")
    product = _rows(table)
    assert len(product) == table.num_rows  # one warning per household, rule (and kind)
    assert len({w[:3] for w in product}) == table.num_rows

    calls = _history_calls(pack, period)
    hist_fields = sorted({f for _, f, _ in calls})
    months = max((n for _, _, n in calls), default=1)
    naive_runs = []
    fired: list[Any] = []
    sources: dict[str, str] = {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = engine.fetch(ind.filter(ind.period == period)).to_pylist()
        t1 = time.perf_counter()
        history: dict[str, dict[str, dict[str, Any]]] = {}
        if hist_fields:
            past = ind.filter(ind.period.isin(window(period, months)))
            for r in engine.fetch(past.select("household_id", "period", *hist_fields)).to_pylist():
                history.setdefault(r["household_id"], {})[r["period"]] = r
        t2 = time.perf_counter()
        fired, parts, sources = naive_screen(rows, history, pack, period)
        t3 = time.perf_counter()
        naive_runs.append(
            {
                "seconds": t3 - t0,
                "fetch_to_pylist_seconds": t1 - t0,
                "history_seconds": t2 - t1,
                "eval_seconds": t3 - t2 - parts["triggers_seconds"] - parts["format_seconds"],
                "triggers_seconds": parts["triggers_seconds"],
                "format_seconds": parts["format_seconds"],
                "rows": len(rows),
                "history_rows": sum(len(h) for h in history.values()),
            }
        )
        del rows, history
    naive = {k: statistics.median(r[k] for r in naive_runs) for k in naive_runs[0]}
    peer = set(fired)
    assert len(peer) == len(fired)

    # look-back check: the same households from the latest period alone, and from the last
    # 7 periods (the store of the previous version of this bench)
    lookback: dict[str, Any] = {"warnings_with_all_periods": len(product)}
    for label, n in (("latest_period_only", 1), ("last_7_periods", 7)):
        subset = _rows(_screen_subset(ind, engine, period, pack, window(period, n)))
        lookback[label] = {
            "warnings": len(subset),
            "identical_warnings": len(product & subset),
            "by_rule_kind": dict(Counter(f"{r}:{k}" for _, r, k, _, _ in subset).most_common()),
            "diff": _diff(product, subset),
        }
    engine.close()
    return {
        "period": period,
        "periods_in_store": periods,
        **_pack_info(pack, period),
        "history_fields": hist_fields,
        **res,
        "by_kind": dict(Counter(table["kind"].to_pylist()).most_common()),
        "by_rule_and_kind": dict(Counter(f"{r}:{k}" for _, r, k, _, _ in product).most_common()),
        "naive_runs": naive_runs,
        "naive_median": naive,
        "naive_warnings": len(peer),
        "naive_condition_sources": sources,
        "agreement": {
            "identical_warnings": len(product & peer),
            **_diff(product, peer),
        },
        "lookback": lookback,
    }


def child(kind: str, path: Path, repeat: int) -> dict[str, Any]:
    """Run a measuring child process and return its JSON."""
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path), "--repeat", str(repeat)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------------------- main


def _summary(res: dict[str, Any]) -> dict[str, Any] | None:
    """The headline numbers of a result file (kept as ``previous_run`` by the next run)."""
    try:
        full, sample = res["full"], res["sample"]
        return {
            "pack": full["pack"],
            "rules": full["rules"],
            "triggers": full.get("triggers", 0),
            "periods_in_store": res["resample"]["periods"],
            "store_rows": res["resample"]["stores"]["full"]["rows"],
            "households": full["households"],
            "warnings": full["warnings"],
            "median_seconds": full["median"]["seconds"],
            "runs_seconds": [r["seconds"] for r in full["runs"]],
            "peak_rss_mb": full["peak_rss_mb"],
            "naive_extrapolated_seconds": res["naive_extrapolated_seconds"],
            "naive_over_screen": res["naive_over_screen"],
            "sample_warnings": sample["warnings"],
            "agreement": sample["agreement"],
            "load_average_at_start": res["load_average_at_start"],
        }
    except (KeyError, TypeError):
        return None


def main() -> None:
    """Build the input, measure, write bench/results/screen.json."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=100_000)
    ap.add_argument("--twin-households", type=int, default=20_000)
    ap.add_argument("--twin-months", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--work", type=Path, help="keep and reuse the small run and stores here")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, path = args.child
        fn = measure_full if kind == "full" else measure_sample
        print(json.dumps(fn(Path(path), args.repeat), default=str))
        return

    t_start = time.perf_counter()
    load = os.getloadavg()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-screen-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        small = {}
        if (work / SMALL).exists() and (work / "small.json").exists():
            small = json.loads((work / "small.json").read_text())
            small["reused"] = True
        if len(small.get("periods_kept", [])) != PERIODS:
            small = small_run(work, args.twin_households, args.twin_months)
        print(
            f"small run: {small['indicator_rows']:,} indicator rows, {small['seconds']:.0f} s",
            flush=True,
        )
        built = resample(work, args.households, args.sample, args.seed)
        print(f"resampled: {built['stores']} in {built['seconds']:.0f} s", flush=True)
        full = child("full", work / "full.duckdb", args.repeat)
        m = full["median"]
        print(
            f"screen_period {full['households']:,} households: median {m['seconds']:.2f} s "
            f"(fetch {m['fetch_seconds']:.2f}, look-backs {m['history_seconds']:.2f}, "
            f"store {m['store_seconds']:.2f}, python {m['python_seconds']:.2f}); "
            f"{full['warnings']:,} warnings; "
            f"peak RSS {full['peak_rss_mb']:.0f} MB",
            flush=True,
        )
        sample = child("sample", work / "sample.duckdb", args.repeat)
        scale = args.households / args.sample
        naive_1m = sample["naive_median"]["seconds"] * scale
        agree = sample["agreement"]
        print(
            f"sample {args.sample:,}: screen_period {sample['median']['seconds']:.2f} s, "
            f"naive {sample['naive_median']['seconds']:.2f} s (x{scale:.0f} = {naive_1m:.1f} s); "
            f"agreement: {agree['identical_warnings']:,} identical of {sample['warnings']:,} "
            f"(screen only {agree['screen_only']}, naive only {agree['other_only']}, "
            f"reasons differ {agree['reasons_differ']}); look-back: "
            + ", ".join(
                f"{k} {v['warnings']:,} warnings, {v['identical_warnings']:,} identical"
                for k, v in sample["lookback"].items()
                if isinstance(v, dict)
            ),
            flush=True,
        )
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    previous = None
    if (RESULTS / "screen.json").exists():
        previous = _summary(json.loads((RESULTS / "screen.json").read_text()))
    out = {
        "machine": machine(),
        "load_average_at_start": load,
        "command": ".venv/bin/python bench/bench_screen.py",
        "target_seconds": 30,
        "small_run": small,
        "resample": built,
        "full": full,
        "sample": sample,
        "naive_extrapolated_seconds": naive_1m,
        "naive_over_screen": naive_1m / full["median"]["seconds"],
        "naive_over_screen_same_sample": sample["naive_median"]["seconds"]
        / sample["median"]["seconds"],
        "total_seconds": time.perf_counter() - t_start,
    }
    out["summary"] = _summary(out)
    out["previous_run"] = previous
    (RESULTS / "screen.json").write_text(json.dumps(out, indent=1, default=str) + "\n")
    print(
        f"target {'met' if full['median']['seconds'] <= 30 else 'MISSED'}; naive / screen "
        f"{out['naive_over_screen']:.1f}x; total {out['total_seconds']:.0f} s"
    )


if __name__ == "__main__":
    main()
