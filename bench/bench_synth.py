"""Benchmark: synthetic twin generation time and peak memory (issue 2).

Generates 12-month twins of 100k, 300k and 1M households (each in its own
process, so peak memory is per run) and records wall time, peak RSS, rows
written and throughput. Target: 1,000,000 households x 12 months in at most
5 minutes with at most 8 GB peak memory on 2 cores.

Usage::

    .venv/bin/python bench/bench_synth.py [--sizes 100000 300000 1000000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).parent / "results"

_CHILD = """
import sys, json, time, resource
from pathlib import Path
from povguard.synth import TwinConfig, generate_twin
t = time.perf_counter()
s = generate_twin(TwinConfig(out=Path(sys.argv[1]), households=int(sys.argv[2]), months=12,
                             start="2025-01", seed=1))
print(json.dumps({"seconds": time.perf_counter() - t, "persons": s.persons, "files": s.files,
                  "feed_rows": s.feed_rows,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def machine() -> dict[str, str]:
    """Describe the machine the numbers were taken on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory_gib": f"{mem:.0f}",
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def run(households: int) -> dict[str, float]:
    """Generate one twin in a fresh process and return its measurements."""
    folder = Path(tempfile.mkdtemp(prefix="bench-synth-"))
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(folder), str(households)],
            check=True,
            capture_output=True,
            text=True,
        )
        result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
        result["disk_mb"] = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    """Run the benchmark and write bench/results/synth.json."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    rows = []
    for n in args.sizes:
        runs = [run(n) for _ in range(args.repeat)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        med["households"] = n
        med["rows_per_second"] = med["feed_rows"] / med["seconds"]
        rows.append(med)
        print(
            f"{n:>9,} households: {med['seconds']:7.1f} s, peak {med['peak_rss_mb']:7.0f} MB, "
            f"{med['feed_rows']:>11,.0f} feed rows, {med['files']:.0f} files",
            flush=True,
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "synth.json").write_text(
        json.dumps(
            {
                "machine": machine(),
                "repeat": args.repeat,
                "runs": rows,
                "ru_children_maxrss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                / 1024,
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
