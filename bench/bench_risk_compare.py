"""Out-of-time comparison of the risk models on a twin (issue 9).

Generates a twin (or reuses a store that already ran every monthly cycle), builds
the panel features and labels, trains on the months up to ``--cutoff`` whose label
is known by then, tests on the later months, and writes the comparison table of
every model (rules-only baseline, proxy-means test, the default gradient boosting,
scikit-learn's HistGradientBoosting and the paper's algorithms) to
``bench/results/risk_compare.{json,md}``.

Usage::

    .venv/bin/python bench/bench_risk_compare.py --households 2000 --months 24 --seed 7
    .venv/bin/python bench/bench_risk_compare.py --store /tmp/twin/analytics.duckdb
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from povguard.cycle import feed_periods, run_cycle
from povguard.engine import DuckDBEngine
from povguard.policy import load_pack
from povguard.risk import compare_models, out_of_time_split, panel_frame
from povguard.risk.pipeline import comparison_models
from povguard.synth import TwinConfig, generate_twin

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, help="a DuckDB store that ran every cycle")
    ap.add_argument("--households", type=int, default=2000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cutoff", default="2025-12", help="last month the models may see")
    ap.add_argument("--k", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--labels", nargs="+", default=["y_3", "y_6"], choices=["y_3", "y_6"])
    ap.add_argument("--quick", action="store_true", help="baselines and boosting only")
    ap.add_argument("--name", default="risk_compare")
    args = ap.parse_args()
    pack = load_pack()
    timings: dict[str, float] = {}
    if args.store is None:
        out = Path(tempfile.mkdtemp(prefix="risk-twin-"))
        t = time.perf_counter()
        generate_twin(
            TwinConfig(
                out=out, households=args.households, months=args.months, seed=args.seed, counties=1
            )
        )
        engine = DuckDBEngine(out / "analytics.duckdb")
        for p in feed_periods(out / "feeds"):
            run_cycle(engine, p, out / "feeds", out / "registry", pack)
        timings["twin_and_cycles_s"] = round(time.perf_counter() - t, 1)
        print(f"store: {out / 'analytics.duckdb'}", flush=True)
    else:
        engine = DuckDBEngine(args.store)
    t = time.perf_counter()
    frame = panel_frame(engine, pack, horizons=(3, 6))
    timings["panel_s"] = round(time.perf_counter() - t, 1)
    runs = []
    lines = [f"# Risk models, out of time ({args.name})", ""]
    models = comparison_models(paper=not args.quick)
    for label in args.labels:
        train, test = out_of_time_split(frame, args.cutoff, int(label[2:]))
        for k in args.k:
            t = time.perf_counter()
            report = compare_models(train, test, models, label=label, k=k)
            seconds = round(time.perf_counter() - t, 1)
            runs.append(
                {
                    "label": label,
                    "k": k,
                    "seconds": seconds,
                    "split": report.split,
                    "table": report.table.reset_index().to_dict(orient="records"),
                    "gaps": report.gaps.to_dict(orient="records"),
                }
            )
            lines += [report.to_markdown(), ""]
            print(report.to_markdown(), flush=True)
    meta = {
        "households": args.households if args.store is None else None,
        "months": args.months if args.store is None else None,
        "seed": args.seed if args.store is None else None,
        "store": str(args.store) if args.store else None,
        "cutoff": args.cutoff,
        "villages": int(frame["village_code"].nunique()),
        "rows": len(frame),
        "timings": timings,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(
        json.dumps({"meta": meta, "runs": runs}, indent=1, default=str, ensure_ascii=False)
    )
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
