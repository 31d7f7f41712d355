"""Benchmark: one monthly cycle on DuckDB (and the same month on Spark), issue 3.

For each size (default 100k, 300k, 1M households) a 12-month twin is generated
(not timed), the first 11 months are run to build the 12-month history (not
timed), then the 12th month's cycle is timed stage by stage on DuckDB, with rows
per second and peak memory. The indicators and screen stages of the same month are
then run on Spark (local mode, 2 cores) from the same inputs, exported as Parquet.
Target: a monthly cycle at 1M households in at most 5 minutes on 2 cores, growing
linearly.

Usage::

    .venv/bin/python bench/bench_cycle.py [--sizes 100000 300000 1000000] [--no-spark]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_synth import machine

RESULTS = Path(__file__).parent / "results"

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from povguard.cycle import run_cycle, feed_periods
from povguard.engine import DuckDBEngine
from povguard.policy import load_pack
twin, home, spark = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
pack = load_pack()
engine = DuckDBEngine(home / "analytics.duckdb")
periods = feed_periods(twin / "feeds")
for p in periods[:-1]:
    run_cycle(engine, p, twin / "feeds", twin / "registry", pack)
last = periods[-1]
t0 = time.perf_counter()
result = run_cycle(engine, last, twin / "feeds", twin / "registry", pack)
total = time.perf_counter() - t0
out = {"period": last, "seconds": total,
       "stages": {s.name: {"seconds": s.seconds, "rows": s.rows} for s in result.stages},
       "rows_loaded": result.ingest.rows_loaded, "warnings": result.warnings.num_rows,
       "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
if spark:
    export = home / "export"
    export.mkdir()
    for name in engine.con.list_tables():
        engine.con.con.execute(f"COPY \"{name}\" TO '{export / name}.parquet' (FORMAT parquet)")
    engine.close()
    from povguard.engine.spark import SparkEngine
    from povguard.indicators import build_indicators
    from povguard.policy import screen_period
    t = time.perf_counter()
    s = SparkEngine(home / "spark")
    start = time.perf_counter() - t
    for f in export.glob("*.parquet"):
        s.import_parquet(f.stem, f)
    t = time.perf_counter(); build_indicators(s, last); ind = time.perf_counter() - t
    t = time.perf_counter(); w = screen_period(s, last, pack); scr = time.perf_counter() - t
    out["spark"] = {"session_start": start, "indicators": ind, "screen": scr,
                    "warnings": w.num_rows}
print(json.dumps(out))
"""


def run(households: int, spark: bool) -> dict[str, object]:
    """Generate a twin, run 11 months, time the 12th (DuckDB, then Spark)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-cycle-"))
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "povguard.cli",
                "synth",
                "--out",
                str(folder / "twin"),
                "--households",
                str(households),
                "--months",
                "12",
                "--seed",
                "1",
            ],
            check=True,
            capture_output=True,
        )
        (folder / "home").mkdir()
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                _CHILD,
                str(folder / "twin"),
                str(folder / "home"),
                "1" if spark else "0",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
        result["households"] = households
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    """Run the benchmark and write bench/results/cycle.json."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    ap.add_argument("--no-spark", action="store_true")
    args = ap.parse_args()
    runs = []
    for n in args.sizes:
        r = run(n, not args.no_spark)
        runs.append(r)
        stages = r["stages"]
        assert isinstance(stages, dict)
        detail = ", ".join(f"{k} {v['seconds']:.1f}s" for k, v in stages.items())
        print(
            f"{n:>9,} households: cycle {r['seconds']:.1f} s ({detail}); "
            f"peak {r['peak_rss_mb']:.0f} MB; spark {r.get('spark')}",
            flush=True,
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cycle.json").write_text(
        json.dumps(
            {
                "machine": machine(),
                "runs": runs,
                "ru_children_maxrss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                / 1024,
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
