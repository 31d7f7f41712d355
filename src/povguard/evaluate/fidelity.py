"""Rule fidelity against the twin's truth: do the rules decide what the truth says?

The policy is applied through link, indicators and screen to the *clean* records
the departments meant to send (:func:`clean_run`). For each rule whose decision
the twin's truth encodes, the engine's decision is compared with the truth's on
the household-months where the rule's inputs were observed in that month (income
surveyed, house or water inspected); elsewhere the engine carries an older
observation forward and the truth has moved on, which is a question of coverage,
not of the rule. Disagreements on observed household-months are rule errors.

What the truth encodes (``households_monthly.parquet``, see
:mod:`povguard.synth.truth`): the income test (``below_line``), rigid-expenditure
hardship (part of ``sudden_hardship``), the guarantees (``housing_ok``,
``water_ok``, ``education_ok``, ``medical_ok``) and ineligibility
(``ineligible_reason``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from povguard.engine import DuckDBEngine
from povguard.evaluate.clean import load_clean_period
from povguard.evaluate.scores import Score, score
from povguard.indicators import build_indicators
from povguard.linkage import link_period, load_registry
from povguard.policy import PackLibrary, PolicyPack, screen_period

Row = dict[str, Any]


@dataclass(frozen=True)
class TruthRule:
    """How one rule's decision is read from the truth, and where it can be judged."""

    rule_id: str
    truth: str  # the truth's definition, for the report
    positive: Callable[[Row], bool]  # the truth's decision, from its household-month row
    observed: Callable[[Row], bool]  # the rule's inputs were observed (indicators row)
    scope: str = "every household-month with a truth row"
    #: twin events whose department record the rule waits for: between the event and
    #: the record's delivery the household-month cannot be judged (reporting latency)
    pending_events: tuple[str, ...] = ()


def _this_period(field: str) -> Callable[[Row], bool]:
    return lambda ind: ind.get(field) == ind["period"]


def _reason(name: str) -> Callable[[Row], bool]:
    return lambda t: name in (t["ineligible_reason"] or "").split(",")


#: The rules whose decisions the twin's truth encodes.
TRUTH_RULES: tuple[TruthRule, ...] = (
    TruthRule(
        "income_below_line",
        "below_line (12-month per-capita net income below the year's line)",
        lambda t: bool(t["below_line"]),
        _this_period("survey_period"),
        "income surveyed this month",
    ),
    TruthRule(
        "rigid_expenditure_hardship",
        "rigid_hardship (not below the line; medical, schooling and rehabilitation "
        "spending above the share of income and what is left below the line)",
        lambda t: bool(t["rigid_hardship"]),
        _this_period("survey_period"),
        "income surveyed this month",
    ),
    TruthRule(
        "house_unsafe",
        "not housing_ok (house grade C or D)",
        lambda t: not t["housing_ok"],
        _this_period("house_period"),
        "house inspected this month",
    ),
    TruthRule(
        "water_insecure",
        "not water_ok (quantity, quality, distance or shortfall days)",
        lambda t: not t["water_ok"],
        _this_period("water_period"),
        "water inspected this month",
    ),
    TruthRule(
        "school_age_out_of_school",
        "not education_ok (a child aged 6-15 out of school, health exemptions)",
        lambda t: not t["education_ok"],
        _this_period("roster_period"),
        "student roster delivered this month",
    ),
    TruthRule(
        "uninsured_member",
        "not medical_ok (a member without basic medical insurance)",
        lambda t: not t["medical_ok"],
        lambda ind: bool(ind.get("former_poor")) or ind.get("monitoring_status") == "监测户",
        "former-poor or monitored households (the rule's scope)",
    ),
    *(
        TruthRule(
            f"ineligible_{name}",
            f"'{name}' in ineligible_reason (members and non-resident children)",
            _reason(name),
            lambda ind: True,
            "every household-month but those awaiting the department's record",
            (event,) if event else (),
        )
        for name, event in (
            ("vehicle", "vehicle_purchase"),
            ("business", "business_registered"),
            ("commercial_housing", "property_purchase"),
            ("public_employee", None),
        )
    ),
)
_IND_COLUMNS = [
    "period",
    "household_id",
    "former_poor",
    "monitoring_status",
    "survey_period",
    "house_period",
    "water_period",
    "roster_period",
]
_TRUTH_COLUMNS = [
    "period",
    "household_id",
    "below_line",
    "rigid_hardship",
    "housing_ok",
    "water_ok",
    "education_ok",
    "medical_ok",
    "ineligible_reason",
]


def _pending(twin_dir: Path, kinds: tuple[str, ...], periods: list[str]) -> set[tuple[str, str]]:
    """(period, household) between an event of ``kinds`` and its record's delivery."""
    if not kinds:
        return set()
    truth = twin_dir / "truth"
    events = pq.read_table(
        truth / "events.parquet",
        columns=["event_id", "period", "household_id"],
        filters=[("kind", "in", list(kinds))],
    ).to_pylist()
    delivered: dict[int, str] = {}
    for c in pq.read_table(truth / "event_coverage.parquet").to_pylist():
        if c["covered"]:
            delivered[c["event_id"]] = min(c["deliver_period"], delivered.get(c["event_id"], "9"))
    return {
        (p, e["household_id"])
        for e in events
        for p in periods
        if e["period"] <= p < delivered.get(e["event_id"], "9999-99")
    }


@dataclass
class PeriodRun:
    """What the pipeline made of one period's clean records."""

    period: str
    warnings: pa.Table
    indicators: pa.Table


def clean_run(
    twin_dir: Path, periods: list[str], pack: PolicyPack | PackLibrary
) -> Iterator[PeriodRun]:
    """Link, build indicators and screen the twin's clean records, period by period.

    Every delivered period up to the last of ``periods`` is linked (the registry of
    links builds up as in production); ``periods`` are screened and yielded.
    """
    from povguard.cycle import id_fields, link_keys
    from povguard.ingest import load_mappings

    mappings = load_mappings()
    ids, keys = id_fields(mappings), link_keys(mappings)
    engine = DuckDBEngine(":memory:")
    try:
        load_registry(engine, twin_dir / "registry")
        available = sorted(p.name for p in (twin_dir / "truth" / "feeds").iterdir() if p.is_dir())
        for period in [p for p in available if p <= max(periods)]:
            load_clean_period(engine, twin_dir / "truth", period, ids)
            link_period(engine, period, keys)
            if period in periods:
                build_indicators(engine, period)
                warnings = screen_period(engine, period, pack, store=False)
                ind = engine.table("indicators")
                ind = ind.filter(ind.period == period)
                yield PeriodRun(period, warnings, engine.fetch(ind.select(*_IND_COLUMNS)))
    finally:
        engine.close()


@dataclass
class RuleFidelity:
    """Agreement of one rule with the truth on the household-months it can judge."""

    rule_id: str
    truth: str
    scope: str
    judged: int  # household-months in scope with the inputs observed
    positives: int  # of which the truth says yes
    score: Score

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "truth": self.truth,
            "scope": self.scope,
            "judged": self.judged,
            "positives": self.positives,
            "agreement": round(1 - (self.score.fp + self.score.fn) / self.judged, 6)
            if self.judged
            else 1.0,
            **self.score.as_dict(),
        }


def truth_fidelity(
    twin_dir: Path, periods: list[str], pack: PolicyPack | PackLibrary
) -> dict[str, RuleFidelity]:
    """Per rule the truth encodes: the engine's decisions on the clean records vs the truth.

    Parameters
    ----------
    twin_dir
        A twin written by ``povguard synth`` (``registry/`` and ``truth/``).
    periods
        Periods to judge (``YYYY-MM``).
    pack
        The policy: one pack or the library.

    Returns
    -------
    dict[str, RuleFidelity]
        By rule id, in the order of :data:`TRUTH_RULES`.
    """
    return judge_against_truth(twin_dir, periods, clean_run(twin_dir, periods, pack))


def judge_against_truth(
    twin_dir: Path, periods: list[str], runs: Iterable[PeriodRun]
) -> dict[str, RuleFidelity]:
    """:func:`truth_fidelity` on the periods of a clean run already made."""
    truth = pq.read_table(
        twin_dir / "truth" / "households_monthly.parquet",
        columns=_TRUTH_COLUMNS,
        filters=[("period", "in", periods)],
    ).to_pylist()
    truth_of = {(t["period"], t["household_id"]): t for t in truth}
    predicted: dict[str, set[tuple[str, str]]] = {r.rule_id: set() for r in TRUTH_RULES}
    judged: dict[str, set[tuple[str, str]]] = {r.rule_id: set() for r in TRUTH_RULES}
    pending = {r.rule_id: _pending(twin_dir, r.pending_events, periods) for r in TRUTH_RULES}
    for run in runs:
        for w in run.warnings.select(["period", "household_id", "rule_id"]).to_pylist():
            if w["rule_id"] in predicted:
                predicted[w["rule_id"]].add((w["period"], w["household_id"]))
        for ind in run.indicators.to_pylist():
            key = (ind["period"], ind["household_id"])
            if key not in truth_of:
                continue  # the household had left (the registry lags the truth)
            for rule in TRUTH_RULES:
                if rule.observed(ind) and key not in pending[rule.rule_id]:
                    judged[rule.rule_id].add(key)
    out: dict[str, RuleFidelity] = {}
    for rule in TRUTH_RULES:
        keys = judged[rule.rule_id]
        actual = {k for k in keys if rule.positive(truth_of[k])}
        out[rule.rule_id] = RuleFidelity(
            rule.rule_id,
            rule.truth,
            rule.scope,
            judged=len(keys),
            positives=len(actual),
            score=score(predicted[rule.rule_id] & keys, actual),
        )
    return out
