"""``povguard evaluate``: warnings against the twin's truth, and rule fidelity.

* **Identification**: a household is flagged in a period when it has a *risk*
  warning (a household type was assigned); truth: status is not ``none``.
* **Clues**: any warning except ineligibility (risk, screening, guarantee, needs
  verification) against the same truth: what a cadre's visit list would catch.
* **Detection lag**: months from each true onset to the first clue in that spell.
* **Rule fidelity, clean vs dirty**: the same pack applied through link,
  indicators and screen to the clean records the departments meant to send,
  against the pipeline's warnings on the dirty feeds; differences isolate
  ingestion and linkage errors.
* **Rule fidelity vs truth**: on the same clean run, each rule whose decision the
  truth encodes against the truth (:mod:`povguard.evaluate.fidelity`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import ibis
import pyarrow.compute as pc
import pyarrow.parquet as pq

from povguard.engine import Engine
from povguard.evaluate.fidelity import clean_run, judge_against_truth
from povguard.evaluate.scores import score
from povguard.policy import PackLibrary, PolicyPack
from povguard.policy.screen import PREDICTION_KIND

Key = tuple[str, str]  # (period, household_id)


@dataclass
class Evaluation:
    """All figures of one evaluation."""

    periods: list[str]
    identification: dict[str, Any]
    clues: dict[str, Any]
    by_type: dict[str, dict[str, Any]]
    by_cause: dict[str, dict[str, Any]]
    detection: dict[str, Any]
    fidelity: dict[str, Any] | None = None
    fidelity_by_rule: dict[str, dict[str, Any]] = field(default_factory=dict)
    truth_by_rule: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def _warning_sets(engine: Engine, periods: list[str]) -> dict[str, set[Any]]:
    w = engine.table("warnings").filter(ibis._.period.isin(periods))
    rows = engine.fetch(w.select("period", "household_id", "kind", "rule_id")).to_pylist()
    out: dict[str, set[Any]] = defaultdict(set)
    for r in rows:
        key = (r["period"], r["household_id"])
        if r["kind"] == "risk":
            out["risk"].add(key)
        if r["kind"] == PREDICTION_KIND:
            continue  # the risk model's warnings: measured by povguard risk, not here
        if r["kind"] != "ineligibility":
            out["clues"].add(key)
        out["rules"].add((r["period"], r["household_id"], r["rule_id"]))
    return out


def evaluate(
    engine: Engine,
    twin_dir: Path,
    periods: list[str],
    pack: PolicyPack | PackLibrary | None = None,
    fidelity: bool = True,
) -> Evaluation:
    """Evaluate the warnings of ``periods`` in ``engine`` against the twin in ``twin_dir``."""
    truth = pq.read_table(
        twin_dir / "truth" / "households_monthly.parquet",
        columns=["period", "household_id", "status", "onset", "main_cause"],
        filters=[("period", "in", periods)],
    )
    at_risk = truth.filter(pc.not_equal(truth["status"], "none")).to_pylist()
    actual = {(r["period"], r["household_id"]) for r in at_risk}
    ws = _warning_sets(engine, periods)
    ident, clues = score(ws["risk"], actual), score(ws["clues"], actual)
    by_type: dict[str, dict[str, Any]] = {}
    by_cause: dict[str, dict[str, Any]] = {}
    for attr, target in (("status", by_type), ("main_cause", by_cause)):
        groups: dict[str, set[Key]] = defaultdict(set)
        for r in at_risk:
            groups[r[attr] or "other"].add((r["period"], r["household_id"]))
        for g, keys in sorted(groups.items()):
            target[g] = {
                "households": len(keys),
                "recall_identification": round(len(keys & ws["risk"]) / len(keys), 4),
                "recall_clues": round(len(keys & ws["clues"]) / len(keys), 4),
            }
    # detection lag: first clue at or after each onset, within the observed periods
    flagged: dict[str, list[str]] = defaultdict(list)
    for p, h in ws["clues"]:
        flagged[h].append(p)
    lags: list[int] = []
    missed = 0
    for r in at_risk:
        if not r["onset"]:
            continue
        later = sorted(p for p in flagged.get(r["household_id"], []) if p >= r["period"])
        if later:
            lags.append(_months(r["period"], later[0]))
        else:
            missed += 1
    lags.sort()
    detection = {
        "onsets": len(lags) + missed,
        "detected": len(lags),
        "share_detected": round(len(lags) / (len(lags) + missed), 4) if lags or missed else 1.0,
        "median_lag_months": lags[len(lags) // 2] if lags else None,
        "mean_lag_months": round(sum(lags) / len(lags), 2) if lags else None,
    }
    result = Evaluation(
        periods=periods,
        identification=ident.as_dict(),
        clues=clues.as_dict(),
        by_type=by_type,
        by_cause=by_cause,
        detection=detection,
    )
    if fidelity and pack is not None:
        runs = list(clean_run(twin_dir, periods, pack))
        clean = {
            (w["period"], w["household_id"], w["rule_id"])
            for run in runs
            for w in run.warnings.select(["period", "household_id", "rule_id"]).to_pylist()
        }
        result.truth_by_rule = {
            k: v.as_dict() for k, v in judge_against_truth(twin_dir, periods, runs).items()
        }
        dirty_rules = ws["rules"]
        s = score(dirty_rules, clean)
        result.fidelity = s.as_dict()
        rules = sorted({r for _, _, r in clean | dirty_rules})
        for rule in rules:
            result.fidelity_by_rule[rule] = score(
                {k for k in dirty_rules if k[2] == rule}, {k for k in clean if k[2] == rule}
            ).as_dict()
    return result


def _months(a: str, b: str) -> int:
    return (int(b[:4]) * 12 + int(b[5:7])) - (int(a[:4]) * 12 + int(a[5:7]))
