"""Benchmark: screening 1,000,000 households for one month on DuckDB (issue 6).

Target: ``screen_period`` for one month of 1,000,000 households in at most 30 s.

Input (built, not timed): an ``indicators`` table of 7 periods (the screened month
and the 6 before it, for rules that look back) for 1,000,000 households, resampled
from a real run:

1. a small twin (one county, 20,000 households, 12 months 2025-01..2025-12, seed
   20250101) goes through ``run_cycle`` month by month on DuckDB, so the last
   month's 12-month windows are full; its indicators of the last 7 periods
   (2025-06..2025-12) are kept;
2. 1,000,000 new households each copy one small-twin household drawn uniformly with
   replacement (numpy, seed 6), *all 7 of its months together*; each new household
   gets one of 50 county codes (``52PPCC``: 5 prefectures x 10 counties, uniform)
   in front of its source's town and village digits, and a fresh 16-digit id (new
   village code + serial within the village). Every other column, evidence
   pointers included, is the source row's. The first 100,000 new households (a
   uniform sample) also go into a second store.

Measured (each store in a fresh child process, so peak memory is the screen's):
``screen_period(engine, latest, pack, store=True)`` ``--repeat`` times (median),
its time split (engine calls ``fetch`` and ``replace_period`` timed by a subclass
of ``DuckDBEngine``; the rest is Python: conditions compiled to Ibis, rows to
dicts, reason texts, Arrow table), peak RSS (psutil, sampled every 10 ms), one
extra run under cProfile (self time by package, top functions). Peer: the same
rules evaluated row by row in plain Python (``eval`` of each rule's compiled
condition with the pack's parameters; a ``TypeError`` from a NULL = unknown) over
the fetched indicators of a 100,000-household sample, with the reason texts of
fired rules, extrapolated x10 to 1,000,000 (the work is per row); beside it
``screen_period`` on the same sample. Look-back check: the sample is screened again
from a store holding only the latest period; equal warnings = no rule looks back.

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
PERIODS = 7
COUNTIES = [f"52{city:02d}{county:02d}" for city in (1, 2, 3, 4, 5) for county in range(21, 31)]


# --------------------------------------------------------------------------- input


def small_run(work: Path, households: int, months: int) -> dict[str, Any]:
    """Twin + monthly cycles; keep the indicators of the last PERIODS periods."""
    from povguard.cycle import feed_periods, run_cycle
    from povguard.engine import DuckDBEngine
    from povguard.policy import load_pack
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
    pack = load_pack()
    periods = feed_periods(twin / "feeds")
    warnings = {}
    for p in periods:
        warnings[p] = run_cycle(
            engine, p, twin / "feeds", twin / "registry", pack
        ).warnings.num_rows
    keep = periods[-PERIODS:]
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


def _screen_runs(engine: Any, period: str, pack: Any, repeat: int) -> dict[str, Any]:
    from povguard.policy import screen_period

    runs = []
    table = None
    for _ in range(repeat):
        engine.reset()
        t = time.perf_counter()
        table = screen_period(engine, period, pack, store=True)
        total = time.perf_counter() - t
        runs.append(
            {
                "seconds": total,
                "fetch_seconds": engine.t_fetch,
                "store_seconds": engine.t_store,
                "python_seconds": total - engine.t_fetch - engine.t_store,
                "fetch_calls": engine.n_fetch,
                "fetched_rows": engine.fetched_rows,
                "calls": list(engine.calls),
            }
        )
    assert table is not None
    calls = [r.pop("calls") for r in runs]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    # one fetch per rule (two for a rule with ``unknown: verify``), in the pack's order
    labels = [
        x for r in pack.rules for x in ([r.id] + [f"{r.id}:unknown"] * (r.unknown == "verify"))
    ]
    per_fetch = {}
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
    "_warning (one warning row)": ("screen.py", "_warning"),
    "  expr.parse (rule condition parsed)": ("expr.py", "parse"),
    "  expr.names (names of a condition)": ("expr.py", "names"),
    "  reason texts (Formatter.format)": ("string.py", "format"),
    "  _json (values)": ("screen.py", "_json"),
    "  _evidence": ("screen.py", "_evidence"),
    "compile_condition (rule to Ibis)": ("expr.py", "compile_condition"),
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


def measure_full(path: Path, repeat: int) -> dict[str, Any]:
    """Child process: screen the latest period of the 1M store."""
    from povguard.policy import load_pack

    pack = load_pack()
    engine = _timed_engine(path)
    period = max(
        engine.fetch(engine.table("indicators").select("period").distinct())["period"].to_pylist()
    )
    households = engine.count(
        engine.table("indicators").filter(engine.table("indicators").period == period)
    )
    load_before = os.getloadavg()
    with _Peak() as peak:
        base = peak.peak
        res = _screen_runs(engine, period, pack, repeat)
    table = res.pop("table")
    load_after = os.getloadavg()
    t = time.perf_counter()
    as_rows = table.to_pylist()
    arrow_seconds = {"warnings Table.to_pylist": time.perf_counter() - t}
    t = time.perf_counter()
    pa.Table.from_pylist(as_rows, schema=table.schema)
    arrow_seconds["warnings Table.from_pylist"] = time.perf_counter() - t
    del as_rows
    prof = _profile(engine, period, pack)
    diagnostics = _sql_diagnostics(engine.con.con, period, pack)
    engine.close()
    return {
        "period": period,
        "households": households,
        "load_average_before_after": [load_before, load_after],
        "lookback_calls": sorted(_history_calls(pack, period)),
        "pack": f"{pack.id}@{pack.version}",
        "rules": len(pack.rules),
        **res,
        "by_kind": dict(Counter(table["kind"].to_pylist()).most_common()),
        "by_rule": dict(Counter(table["rule_id"].to_pylist()).most_common()),
        "rss_before_mb": base / 2**20,
        "peak_rss_mb": peak.peak / 2**20,
        "profile": prof,
        "sql_diagnostics": diagnostics,
        "arrow_conversions_seconds": arrow_seconds,
    }


def _history_calls(pack: Any, period: str) -> set[tuple[str, int]]:
    """``(field, months)`` of every ``min_over`` call in the pack (look-back rules)."""
    params = pack.params_for(period)
    out = set()
    for rule in pack.rules:
        for node in ast.walk(ast.parse(rule.condition, mode="eval")):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "min_over":
                field, months = node.args
                n = params[months.id] if isinstance(months, ast.Name) else months.value  # type: ignore[attr-defined]
                out.add((field.id, int(n)))  # type: ignore[attr-defined]
    return out


def _sql_diagnostics(con: Any, period: str, pack: Any) -> dict[str, Any]:
    """Plain DuckDB SQL on the same store: one rule's filter alone, one look-back aggregate."""
    from povguard.indicators import window

    def med(sql: str, args: list[Any]) -> float:
        times = []
        for _ in range(3):
            t = time.perf_counter()
            con.execute(sql, args).fetchall()
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    line = pack.params_for(period)["monitoring_line"]
    out: dict[str, Any] = {
        "rule_filter_alone": {
            "sql": "SELECT household_id, former_poor, income_pc_12m, ev_income FROM indicators "
            "WHERE period = ? AND coalesce(income_pc_12m < ?, false)",
            "seconds": med(
                "SELECT household_id, former_poor, income_pc_12m, ev_income FROM indicators "
                "WHERE period = ? AND coalesce(income_pc_12m < ?, false)",
                [period, line],
            ),
        }
    }
    for field, months in sorted(_history_calls(pack, period)):
        periods = window(period, months)
        sql = (
            f'SELECT count(*) FROM (SELECT household_id, min("{field}"), count("{field}") '
            f"FROM indicators WHERE period IN ({', '.join('?' * len(periods))}) GROUP BY 1)"
        )
        out[f"lookback_aggregate min_over({field}, {months})"] = {
            "sql": sql,
            "seconds": med(sql, periods),
        }
    return out


class _Safe(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        return "—" if value is None else str(super().format_field(value, format_spec))


class _FieldName(ast.NodeTransformer):
    """``min_over(field, n)`` -> ``min_over('field', n)`` (the peer looks the field up)."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if getattr(node.func, "id", None) == "min_over" and isinstance(node.args[0], ast.Name):
            node.args[0] = ast.Constant(node.args[0].id)
        return node


def naive_screen(
    rows: list[dict[str, Any]],
    history: dict[str, dict[str, dict[str, Any]]],
    pack: Any,
    period: str,
) -> tuple[list[Any], float, list[str]]:
    """Row-by-row peer: every rule's condition through ``eval`` for every household.

    ``history`` is household -> period -> {field: value} for ``min_over``. Returns
    the fired ``(household_id, rule_id, reason_zh, reason_en)`` (plus the
    needs-verification items), the seconds spent formatting reason texts and the
    rules the peer could not evaluate (a function it does not know).
    """
    from povguard.indicators import window

    params = pack.params_for(period)
    current: list[dict[str, dict[str, Any]]] = [{}]

    def min_over(field: str, months: int) -> Any:
        past = current[0]
        values = [past.get(p, {}).get(field) for p in window(period, int(months))]
        known = [v for v in values if v is not None]
        return min(known) if len(known) >= months else None

    env_funcs = {
        "__builtins__": {},
        "if_else": lambda c, a, b: a if c else b,
        "coalesce": lambda *xs: next((x for x in xs if x is not None), None),
        "is_null": lambda x: x is None,
        "min_over": min_over,
    }
    rules = []
    for r in pack.rules:
        tree = _FieldName().visit(ast.parse(r.condition, mode="eval"))
        rules.append((r, compile(ast.fix_missing_locations(tree), r.id, "eval")))
    fmt = _Safe()
    out: list[Any] = []
    skipped: set[str] = set()
    t_fmt = 0.0
    for row in rows:
        env = {**params, **row}
        current[0] = history.get(row["household_id"], {})
        fired = []
        for rule, code in rules:
            try:
                hit = eval(code, env_funcs, env)  # the peer is eval by design
            except TypeError:  # a NULL in a comparison or sum: unknown, not fired
                hit = None
            except NameError:  # a function the peer does not know
                skipped.add(rule.id)
                continue
            if hit:
                t = time.perf_counter()
                zh = fmt.format(rule.reason_zh, **env)
                en = fmt.format(rule.reason_en, **env)
                t_fmt += time.perf_counter() - t
                out.append((row["household_id"], rule.id, zh, en))
                if rule.kind in ("screening", "guarantee"):
                    fired.append(rule.id)
        if fired and any(row.get(f) is None for f in pack.verify_missing):
            out.append((row["household_id"], "needs_verification", "", ""))
    return out, t_fmt, sorted(skipped)


def measure_sample(path: Path, repeat: int) -> dict[str, Any]:
    """Child process: screen_period and the naive peer on the 100k sample; look-back check."""
    from povguard.engine import DuckDBEngine
    from povguard.indicators import window
    from povguard.policy import load_pack, screen_period

    pack = load_pack()
    engine = _timed_engine(path)
    ind = engine.table("indicators")
    period = max(engine.fetch(ind.select("period").distinct())["period"].to_pylist())
    res = _screen_runs(engine, period, pack, repeat)
    table = res.pop("table")
    product = set(zip(table["household_id"].to_pylist(), table["rule_id"].to_pylist(), strict=True))

    calls = _history_calls(pack, period)
    hist_fields = sorted({f for f, _ in calls})
    naive_runs = []
    fired: list[Any] = []
    skipped: list[str] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = engine.fetch(ind.filter(ind.period == period)).to_pylist()
        t1 = time.perf_counter()
        history: dict[str, dict[str, dict[str, Any]]] = {}
        if hist_fields:
            past = ind.filter(ind.period.isin(window(period, max(n for _, n in calls))))
            for r in engine.fetch(past.select("household_id", "period", *hist_fields)).to_pylist():
                history.setdefault(r["household_id"], {})[r["period"]] = r
        t2 = time.perf_counter()
        fired, t_fmt, skipped = naive_screen(rows, history, pack, period)
        t3 = time.perf_counter()
        naive_runs.append(
            {
                "seconds": t3 - t0,
                "fetch_to_pylist_seconds": t1 - t0,
                "history_seconds": t2 - t1,
                "eval_seconds": t3 - t2 - t_fmt,
                "format_seconds": t_fmt,
                "rows": len(rows),
            }
        )
        del rows, history
    naive = {k: statistics.median(r[k] for r in naive_runs) for k in naive_runs[0]}
    peer = {(h, r) for h, r, _, _ in fired}

    # look-back check: the same households' latest period alone
    only = DuckDBEngine()
    only.replace_period("indicators", period, engine.fetch(ind.filter(ind.period == period)))
    alone = screen_period(only, period, pack, store=False)
    alone_set = set(
        zip(alone["household_id"].to_pylist(), alone["rule_id"].to_pylist(), strict=True)
    )
    periods = engine.fetch(ind.select("period").distinct())["period"].to_pylist()
    engine.close()
    return {
        "period": period,
        "periods_in_store": sorted(periods),
        "history_fields": hist_fields,
        **res,
        "by_rule": dict(Counter(table["rule_id"].to_pylist()).most_common()),
        "naive_runs": naive_runs,
        "naive_median": naive,
        "naive_warnings": len(peer),
        "naive_skipped_rules": skipped,
        "agreement": {
            "both": len(product & peer),
            "screen_only": len(product - peer),
            "naive_only": len(peer - product),
            "screen_only_by_rule": dict(Counter(r for _, r in product - peer).most_common()),
            "naive_only_by_rule": dict(Counter(r for _, r in peer - product).most_common()),
        },
        "lookback": {
            "warnings_with_all_periods": len(product),
            "warnings_latest_period_only": len(alone_set),
            "differ_by_rule": dict(
                Counter(r for _, r in product.symmetric_difference(alone_set)).most_common()
            ),
        },
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
        if (work / SMALL).exists() and (work / "small.json").exists():
            small = json.loads((work / "small.json").read_text())
            small["reused"] = True
        else:
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
            f"(fetch {m['fetch_seconds']:.2f}, store {m['store_seconds']:.2f}, "
            f"python {m['python_seconds']:.2f}); {full['warnings']:,} warnings; "
            f"peak RSS {full['peak_rss_mb']:.0f} MB",
            flush=True,
        )
        sample = child("sample", work / "sample.duckdb", args.repeat)
        scale = args.households / args.sample
        naive_1m = sample["naive_median"]["seconds"] * scale
        print(
            f"sample {args.sample:,}: screen_period {sample['median']['seconds']:.2f} s, "
            f"naive {sample['naive_median']['seconds']:.2f} s (x{scale:.0f} = {naive_1m:.1f} s); "
            f"agreement {sample['agreement']}; look-back {sample['lookback']}",
            flush=True,
        )
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
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
    (RESULTS / "screen.json").write_text(json.dumps(out, indent=1, default=str) + "\n")
    print(
        f"target {'met' if full['median']['seconds'] <= 30 else 'MISSED'}; naive / screen "
        f"{out['naive_over_screen']:.1f}x; total {out['total_seconds']:.0f} s"
    )


if __name__ == "__main__":
    main()
