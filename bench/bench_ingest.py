"""Benchmark: CSV and XLSX ingestion speed, side by side with a plain pandas read (issue 4).

A twin is generated (not timed; default 100,000 households, 3 months so that the
March education roster is included). For each CSV feed measured (default the two
biggest: ``medical_claims``, UTF-8 with BOM, and ``education``, GBK) the source's
biggest file is repeated line by line into one CSV of ``--rows`` data rows (default
1,000,000; header and encoding kept). Then, in fresh child processes pinned to one
core (``os.sched_setaffinity(0, {0})``, Arrow and DuckDB limited to one thread),
alternating ``--repeat`` times (default 3):

a. povguard: ``ingest_period`` of that one file with the packaged mapping: decoding,
   header detection, normalisation and validation of every field, quarantine, and
   the DuckDB write of ``raw_<source>``, ``quarantine`` and ``ingest_files``;
b. reference: ``pandas.read_csv(path, dtype=str, encoding=...)`` of the same file.

Reported: median wall time, rows per minute per core, and the ratio of the two
times. XLSX: ``ingest_period`` of the twin's biggest XLSX feed file (rows per
second), next to a bare openpyxl read-only iteration of the same workbook. Target:
CSV at least 1,000,000 rows per minute per core including validation.

Usage::

    .venv/bin/python bench/bench_ingest.py [--households 100000] [--rows 1000000]
        [--repeat 3] [--sources medical_claims education]

Prints a Markdown table and writes ``bench/results/ingest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_synth import machine

RESULTS = Path(__file__).parent / "results"

_CHILD = r"""
import json, os, resource, sys, time
os.sched_setaffinity(0, {0})
import pyarrow as pa
pa.set_cpu_count(1)
pa.set_io_thread_count(1)
mode, path = sys.argv[1], sys.argv[2]
out = {}
if mode == "pandas":
    import pandas as pd
    encoding = sys.argv[3]
    t0, c0 = time.perf_counter(), time.process_time()
    frame = pd.read_csv(path, dtype=str, encoding=encoding)
    out["rows"] = len(frame)
elif mode == "openpyxl":
    import openpyxl
    t0, c0 = time.perf_counter(), time.process_time()
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = 0
    for ws in wb.worksheets:
        ws.reset_dimensions()
        for _ in ws.iter_rows(values_only=True):
            rows += 1
    wb.close()
    out["rows"] = rows
else:
    from pathlib import Path
    from povguard.engine import DuckDBEngine
    from povguard.ingest import ingest_period, load_mappings
    source, period, home = sys.argv[3], sys.argv[4], Path(sys.argv[5])
    mappings = {source: load_mappings()[source]}
    engine = DuckDBEngine(home / "analytics.duckdb")
    engine.con.con.execute("SET threads = 1")
    t0, c0 = time.perf_counter(), time.process_time()
    report = ingest_period(engine, Path(path), period, mappings)
    out["seconds"] = time.perf_counter() - t0
    engine.close()
    [f] = report.files
    assert f.status == "ok", f.error_en
    out.update(rows=f.rows_read, loaded=f.rows_loaded, quarantined=f.rows_quarantined,
               encoding=f.encoding)
out.setdefault("seconds", time.perf_counter() - t0)
out["cpu_seconds"] = time.process_time() - c0
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["load_after"] = os.getloadavg()[0]
print(json.dumps(out))
"""


def _child(*args: str) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, *args], check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["load_before"] = load_before
    return result


def _generate_twin(folder: Path, households: int, months: int) -> Path:
    twin = folder / "twin"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "povguard.cli",
            "synth",
            "--out",
            str(twin),
            "--households",
            str(households),
            "--months",
            str(months),
            "--seed",
            "1",
        ],
        check=True,
        capture_output=True,
    )
    return twin


def _biggest(twin: Path, pattern: str) -> Path:
    files = sorted((twin / "feeds").glob(f"*/{pattern}"), key=lambda p: p.stat().st_size)
    if not files:
        raise SystemExit(f"no {pattern} in the twin")
    return files[-1]


def _repeat_csv(src: Path, dest: Path, rows: int) -> int:
    """Write ``rows`` data lines of ``src`` (repeated in order) after its header line."""
    lines = src.read_bytes().split(b"\n")
    # blank lines (the twin writes some ",,,," lines) are not data rows: left out
    header, data = lines[0], [line for line in lines[1:] if line.strip(b" ,\t\r")]
    if b'"' in b"".join(data):
        print(f"note: {src.name} has quoted values (read with Python's csv module)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with dest.open("wb") as out:
        out.write(header + b"\n")
        while written < rows:
            part = data[: rows - written]
            out.write(b"\n".join(part) + b"\n")
            written += len(part)
    return written


def _summary(runs: list[dict[str, Any]], rows: int) -> dict[str, Any]:
    seconds = statistics.median(r["seconds"] for r in runs)
    return {
        "runs": runs,
        "median_seconds": seconds,
        "rows_per_minute_per_core": rows / seconds * 60,
        "rows_per_second": rows / seconds,
    }


def bench_csv(folder: Path, twin: Path, source: str, rows: int, repeat: int) -> dict[str, Any]:
    """One CSV feed: povguard ingest vs pandas.read_csv, alternating, ``repeat`` times."""
    src = _biggest(twin, f"{source}.csv")
    period = src.parent.name  # validation checks dates against the delivery period
    feeds = folder / f"feeds-{source}"
    path = feeds / period / f"{source}.csv"
    written = _repeat_csv(src, path, rows)
    head = src.read_bytes()[:3]
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    encoding = "utf-8"
    for i in range(repeat):
        home = folder / f"home-{source}-{i}"
        home.mkdir()
        run = _child("povguard", str(feeds), source, period, str(home))
        shutil.rmtree(home)
        assert run["rows"] == written, run
        encoding = "utf-8-sig" if head == b"\xef\xbb\xbf" else str(run["encoding"])
        ours.append(run)
        theirs.append(_child("pandas", str(path), encoding))
        assert theirs[-1]["rows"] == written
        print(
            f"  {source} run {i + 1}: povguard {run['seconds']:.2f} s, "
            f"pandas {theirs[-1]['seconds']:.2f} s (load {run['load_before']:.1f})",
            flush=True,
        )
    a, b = _summary(ours, written), _summary(theirs, written)
    return {
        "source": source,
        "built_from": f"{src.parent.name}/{src.name}",
        "built_from_rows": len(
            [x for x in src.read_bytes().split(b"\n")[1:] if x.strip(b" ,\t\r")]
        ),
        "rows": written,
        "bytes": path.stat().st_size,
        "encoding": encoding,
        "loaded": ours[-1]["loaded"],
        "quarantined": ours[-1]["quarantined"],
        "povguard": a,
        "pandas_read_csv": b,
        "time_ratio": a["median_seconds"] / b["median_seconds"],
    }


def bench_xlsx(folder: Path, twin: Path, repeat: int) -> dict[str, Any]:
    """The twin's biggest XLSX feed file: povguard ingest vs bare openpyxl iteration."""
    src = _biggest(twin, "*.xlsx")
    source, period = src.stem, src.parent.name
    feeds = folder / "feeds-xlsx"
    (feeds / period).mkdir(parents=True)
    path = feeds / period / src.name
    shutil.copy(src, path)
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    for i in range(repeat):
        home = folder / f"home-xlsx-{i}"
        home.mkdir()
        ours.append(_child("povguard", str(feeds), source, period, str(home)))
        shutil.rmtree(home)
        theirs.append(_child("openpyxl", str(path)))
    rows = int(ours[-1]["rows"])
    a = _summary(ours, rows)
    b = _summary(theirs, rows)
    return {
        "source": source,
        "file": f"{src.parent.name}/{src.name}",
        "bytes": src.stat().st_size,
        "rows": rows,
        "sheet_rows_iterated": theirs[-1]["rows"],
        "povguard": a,
        "openpyxl_iteration": b,
        "time_ratio": a["median_seconds"] / b["median_seconds"],
    }


def markdown(csv_results: list[dict[str, Any]], xlsx: dict[str, Any] | None) -> str:
    """The results as a Markdown table."""
    lines = [
        "| input | rows | povguard ingest (median) | povguard rows/min/core "
        "| reference | reference rows/min/core | time ratio |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for r in csv_results:
        a, b = r["povguard"], r["pandas_read_csv"]
        lines.append(
            f"| `{r['source']}.csv` x{r['rows'] // max(r['built_from_rows'], 1)} "
            f"({r['encoding']}, {r['bytes'] / 2**20:.0f} MB) | {r['rows']:,} "
            f"| {a['median_seconds']:.2f} s | {a['rows_per_minute_per_core']:,.0f} "
            f"| pandas.read_csv(dtype=str) {b['median_seconds']:.2f} s "
            f"| {b['rows_per_minute_per_core']:,.0f} | {r['time_ratio']:.2f} |"
        )
    if xlsx is not None:
        a, b = xlsx["povguard"], xlsx["openpyxl_iteration"]
        lines.append(
            f"| `{xlsx['file']}` ({xlsx['bytes'] / 2**10:.0f} KB) | {xlsx['rows']:,} "
            f"| {a['median_seconds']:.2f} s ({a['rows_per_second']:,.0f} rows/s) "
            f"| {a['rows_per_minute_per_core']:,.0f} "
            f"| openpyxl read-only iteration {b['median_seconds']:.2f} s "
            f"| {b['rows_per_minute_per_core']:,.0f} | {xlsx['time_ratio']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark, print the table and write bench/results/ingest.json."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=3)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sources", nargs="+", default=["medical_claims", "education"])
    ap.add_argument("--no-xlsx", action="store_true")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    load_start = os.getloadavg()
    try:
        print(f"generating a twin of {args.households:,} households ...", flush=True)
        twin = _generate_twin(folder, args.households, args.months)
        csv_results = [bench_csv(folder, twin, s, args.rows, args.repeat) for s in args.sources]
        xlsx = None if args.no_xlsx else bench_xlsx(folder, twin, args.repeat)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    load_end = os.getloadavg()
    table = markdown(csv_results, xlsx)
    print()
    print(table)
    print(
        f"\nload average (1/5/15 min) at start {load_start[0]:.2f}/{load_start[1]:.2f}/"
        f"{load_start[2]:.2f}, at end {load_end[0]:.2f}/{load_end[1]:.2f}/{load_end[2]:.2f} "
        f"on {os.cpu_count()} cores"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest.json").write_text(
        json.dumps(
            {
                "machine": machine(),
                "load_average_start": load_start,
                "load_average_end": load_end,
                "twin": {"households": args.households, "months": args.months, "seed": 1},
                "pinned_to_one_core": True,
                "csv": csv_results,
                "xlsx": xlsx,
                "target_rows_per_minute_per_core": 1_000_000,
                "markdown": table,
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
