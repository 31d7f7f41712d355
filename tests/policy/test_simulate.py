"""What-if simulation on a small twin run through the cycle: counts, breakdowns, no writes.

The store is built once per test session (:func:`simulation_store`, also used by the
command-line and API tests) and copied before each module opens it.
"""

from __future__ import annotations

import hashlib
import math
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from povguard.cycle import feed_periods, run_cycle
from povguard.engine import DuckDBEngine
from povguard.errors import ConfigError, NotFoundError
from povguard.policy import PolicyPack, load_pack, screen_period
from povguard.policy.simulate import Simulation, diff_packs, simulate
from povguard.synth import TwinConfig, generate_twin

#: The twin's only month: June, when the income survey is delivered (income is known).
PERIOD = "2025-06"
RULE = "income_below_line"


def simulation_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose analytics store went through one cycle of a small twin.

    Built once per session (under the session's base temporary folder); copy it
    before use.
    """
    root = tmp_path_factory.getbasetemp() / "policy-simulation-store"
    home = root / "home"
    if not (root / "ready").exists():
        shutil.rmtree(root, ignore_errors=True)
        twin = root / "twin"
        generate_twin(
            TwinConfig(out=twin, households=600, months=1, start=PERIOD, seed=5, counties=1)
        )
        engine = DuckDBEngine(home / "analytics.duckdb")
        try:
            for period in feed_periods(twin / "feeds"):
                run_cycle(engine, period, twin / "feeds", twin / "registry", load_pack())
        finally:
            engine.close()
        (root / "ready").touch()
    return home


def copy_store(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A private copy of the simulation store's data directory."""
    home = tmp_path_factory.mktemp(name) / "home"
    shutil.copytree(simulation_store(tmp_path_factory), home)
    return home


def line(pack: PolicyPack) -> float:
    """The monitoring line in force in :data:`PERIOD`."""
    return float(pack.params_for(PERIOD)["monitoring_line"])


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBEngine]:
    store = DuckDBEngine(copy_store(tmp_path_factory, "simulate") / "analytics.duckdb")
    yield store
    store.close()


@pytest.fixture(scope="module")
def pack() -> PolicyPack:
    return load_pack()


def _check_sums(sim: Simulation) -> None:
    """Differences are after - before; regions sum to the totals."""
    data = sim.to_dict()
    groups = [*data["by_rule"], *data["by_kind"], {**data["households"], **data}]
    for g in groups:
        assert g["diff"] == g["after"] - g["before"]
        for part in ("before", "after", "diff", "newly", "no_longer"):
            assert sum(r[part] for r in g["by_region"]) == g[part], (g.get("rule_id"), part)
        for r in [*g["by_region"], *g["by_type"]]:
            assert r["diff"] == r["after"] - r["before"]
    assert data["newly_flagged"]["count"] == data["households"]["newly"]
    assert data["no_longer_flagged"]["count"] == data["households"]["no_longer"]


def _screened(engine: DuckDBEngine, pack: PolicyPack) -> Counter[tuple[str, str]]:
    table = screen_period(engine, PERIOD, pack, store=False)
    pairs = set(
        zip(
            table["rule_id"].to_pylist(),
            table["kind"].to_pylist(),
            table["household_id"].to_pylist(),
            strict=True,
        )
    )
    return Counter((rule, kind) for rule, kind, _ in pairs)


def test_raising_the_line_flags_more_households(engine: DuckDBEngine, pack: PolicyPack) -> None:
    raised = line(pack) * 1.5
    sim = simulate(engine, PERIOD, pack, {"monitoring_line": raised}, by="village")
    rule = sim.rule(RULE)
    assert rule.after > rule.before > 0
    assert rule.total.newly == rule.diff and rule.total.no_longer == 0  # a higher line only adds
    assert sim.kind("risk").after > sim.kind("risk").before
    assert sim.total.after > sim.total.before
    assert [(p.name, p.before, p.after) for p in sim.parameters] == [
        ("monitoring_line", line(pack), raised)
    ]
    assert sim.overrides == {"monitoring_line": raised}
    _check_sums(sim)
    assert len(sim.by_region) >= 2 and all(len(c.key or "") == 12 for c in sim.by_region)
    assert {c.key for c in rule.by_type} <= {"unstable_former_poor", "edge"}
    assert sum(c.after for c in rule.by_type) == rule.after
    # rules that do not use the line do not move
    line_free = {r.id for r in pack.rules if "monitoring_line" not in r.condition}
    for g in sim.by_rule:
        if g.key in line_free:
            assert g.diff == 0 and g.total.newly == 0, g.key
    # the counts are those of the screen itself
    before = _screened(engine, pack)
    after = _screened(engine, pack.with_overrides({"monitoring_line": raised}))
    for g in sim.by_rule:
        assert (g.before, g.after) == (before[(g.key, g.kind)], after[(g.key, g.kind)])
    flagged_before = set(
        screen_period(engine, PERIOD, pack, store=False)["household_id"].to_pylist()
    )
    assert sim.newly_flagged and not set(sim.newly_flagged) & flagged_before


def test_lowering_the_line_flags_fewer_households(engine: DuckDBEngine, pack: PolicyPack) -> None:
    sim = simulate(engine, PERIOD, pack, {"monitoring_line": line(pack) * 0.5}, by="township")
    rule = sim.rule(RULE)
    assert rule.after < rule.before
    assert rule.total.no_longer == -rule.diff and rule.total.newly == 0
    assert all(len(c.key or "") == 9 for c in sim.by_region)
    assert set(sim.no_longer_flagged) <= set(
        screen_period(engine, PERIOD, pack, store=False)["household_id"].to_pylist()
    )
    _check_sums(sim)


def test_county_level_and_no_change(engine: DuckDBEngine, pack: PolicyPack) -> None:
    sim = simulate(engine, PERIOD, pack, {}, by="county")
    assert all(g.diff == 0 and g.total.newly == 0 for g in sim.by_rule)
    assert sim.total.before == sim.total.after > 0
    assert [c.key for c in sim.by_region] == [sim.by_region[0].key]
    assert len(sim.by_region[0].key or "") == 6 and sim.by_region[0].name  # named from regions
    assert (sim.newly_flagged, sim.no_longer_flagged, sim.parameters) == ((), (), ())


def test_base_pack_is_compared_with(engine: DuckDBEngine, pack: PolicyPack) -> None:
    raised = pack.with_overrides({"monitoring_line": line(pack) * 1.5})
    direct = simulate(engine, PERIOD, pack, {"monitoring_line": line(pack) * 1.5})
    versus = simulate(engine, PERIOD, raised, {}, base=pack)
    assert versus.to_dict() == direct.to_dict() | {"overrides": {}}


def test_area_prefix_restricts_the_households(engine: DuckDBEngine, pack: PolicyPack) -> None:
    overrides = {"monitoring_line": line(pack) * 1.5}
    whole = simulate(engine, PERIOD, pack, overrides, by="village")
    village = whole.by_region[0]
    assert village.key is not None
    part = simulate(engine, PERIOD, pack, overrides, by="village", area_prefix=village.key)
    assert [c.key for c in part.by_region] == [village.key]
    assert (part.total.before, part.total.after) == (village.before, village.after)
    assert any("prefix" in n for n in part.notes)


def _tables(engine: DuckDBEngine) -> dict[str, list[tuple[Any, ...]]]:
    raw = engine.con.con
    names = [
        r[0]
        for r in raw.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY 1"
        ).fetchall()
    ]
    return {n: raw.execute(f'SELECT * FROM "{n}" ORDER BY ALL').fetchall() for n in names}


def test_simulation_changes_nothing_in_the_store(
    tmp_path_factory: pytest.TempPathFactory, pack: PolicyPack
) -> None:
    path = copy_store(tmp_path_factory, "untouched") / "analytics.duckdb"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    store = DuckDBEngine(path)
    try:
        tables = _tables(store)
        assert {"indicators", "warnings", "regions"} <= set(tables)
        for by in ("county", "village"):
            simulate(store, PERIOD, pack, {"monitoring_line": line(pack) * 2}, by=by)
        simulate(store, PERIOD, pack, {"outpatient_oop_month": 1})
        assert _tables(store) == tables
    finally:
        store.close()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest  # byte-identical file


@pytest.mark.parametrize(
    ("overrides", "period", "by", "message"),
    [
        ({"no_such_parameter": 1.0}, PERIOD, "village", "no_such_parameter"),
        ({"monitoring_line": math.nan}, PERIOD, "village", "finite"),
        ({"monitoring_line": "7500"}, PERIOD, "village", "number"),
        ({}, PERIOD, "province", "county, township, village"),
        ({}, "2025-6", "village", "YYYY-MM"),
    ],
)
def test_bad_arguments_are_config_errors(
    engine: DuckDBEngine,
    pack: PolicyPack,
    overrides: dict[str, Any],
    period: str,
    by: str,
    message: str,
) -> None:
    with pytest.raises(ConfigError, match=message):
        simulate(engine, period, pack, overrides, by=by)


def test_period_without_indicators_is_not_found(engine: DuckDBEngine, pack: PolicyPack) -> None:
    with pytest.raises(NotFoundError, match="2030-01"):
        simulate(engine, "2030-01", pack, {"monitoring_line": 9000})
    empty = DuckDBEngine(":memory:")
    with pytest.raises(NotFoundError, match="2025-06"):
        simulate(empty, PERIOD, pack, {})


def test_renderings(engine: DuckDBEngine, pack: PolicyPack) -> None:
    sim = simulate(engine, PERIOD, pack, {"monitoring_line": line(pack) * 3}, by="village")
    data = sim.to_dict(max_ids=3)
    assert data["newly_flagged"]["count"] > 3 and data["newly_flagged"]["truncated"]
    assert data["newly_flagged"]["ids"] == list(sim.newly_flagged[:3])
    assert len(sim.to_dict()["newly_flagged"]["ids"]) == len(sim.newly_flagged)

    def text(lang: str) -> str:
        console = Console(record=True, width=200)
        console.print(sim.to_rich(lang))
        return console.export_text()

    zh, en = text("zh"), text("en")
    assert "政策模拟" in zh and "调整前" in zh and RULE in zh and "按村" in zh
    assert "Policy simulation" in en and "before" in en and "by village" in en
    markdown = sim.to_markdown("en")
    assert f"| `{RULE}` | risk |" in markdown and "## by household type" in markdown
    assert "## 按规则" in sim.to_markdown("zh")


def test_diff_packs(pack: PolicyPack) -> None:
    assert diff_packs(pack, pack).equal
    params = dict(pack.parameters)
    params["outpatient_oop_month"] = 800.0
    params["new_parameter"] = 1.0
    rules = [
        r.model_copy(update={"severity": "low"}) if r.id == RULE else r
        for r in pack.rules
        if r.id != "hotline_report"
    ]
    other = pack.model_copy(update={"parameters": params, "rules": tuple(rules), "version": "x"})
    d = diff_packs(pack, other)
    assert not d.equal
    assert [(f.field, f.new) for f in d.pack] == [("version", "x")]
    by_name = {p.name: p for p in d.parameters}
    assert by_name["outpatient_oop_month"].status == "changed"
    assert by_name["outpatient_oop_month"].describe().endswith("-> 800")
    assert by_name["new_parameter"].status == "added"
    by_rule = {r.rule_id: r for r in d.rules}
    assert by_rule["hotline_report"].status == "removed"
    assert [(f.field, f.new) for f in by_rule[RULE].fields] == [("severity", "low")]


def test_diff_packs_reports_risk_triggers(pack: PolicyPack) -> None:
    triggers = [
        t.model_copy(update={"condition": "house_grade == 'D'"}) if t.id == "house_unsafe" else t
        for t in pack.triggers
        if t.id != "uninsured"
    ]
    d = diff_packs(pack, pack.model_copy(update={"triggers": tuple(triggers)}))
    by_id = {r.rule_id: r for r in d.rules}
    assert set(by_id) == {"trigger:house_unsafe", "trigger:uninsured"}
    assert by_id["trigger:uninsured"].status == "removed"
    assert [(f.field, f.new) for f in by_id["trigger:house_unsafe"].fields] == [
        ("condition", "house_grade == 'D'")
    ]
    assert d.pack == ()
