"""The monthly cycle end to end on a small twin: idempotent, restartable, failure-isolating."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from povguard.cli import app
from povguard.cycle import feed_periods, run_cycle
from povguard.engine import DuckDBEngine
from povguard.policy import load_pack
from povguard.synth import TwinConfig, generate_twin

runner = CliRunner()
TABLES = ("raw_medical_claims", "links", "indicators", "warnings", "quarantine", "ingest_files")


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cycle-twin")
    generate_twin(TwinConfig(out=out, households=2500, months=3, seed=5, counties=1))
    return out


def _snapshot(engine: DuckDBEngine, period: str) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    for name in TABLES:
        cols = [c for c in engine.table(name).columns if c not in ("created_at",)]
        sql = f'SELECT {", ".join(cols)} FROM "{name}" WHERE period = ? ORDER BY ALL'
        out[name] = engine.con.con.execute(sql, [period]).fetchall()
    return out


def test_running_a_period_twice_gives_identical_tables(twin: Path, tmp_path: Path) -> None:
    engine = DuckDBEngine(tmp_path / "a.duckdb")
    pack = load_pack()
    periods = feed_periods(twin / "feeds")
    for p in periods:
        run_cycle(engine, p, twin / "feeds", twin / "registry", pack)
    first = _snapshot(engine, periods[-1])
    result = run_cycle(engine, periods[-1], twin / "feeds", twin / "registry", pack)
    assert _snapshot(engine, periods[-1]) == first
    assert result.warnings.num_rows == len(first["warnings"]) > 20
    assert {s.name for s in result.stages} == {
        "registry",
        "ingest",
        "link",
        "quality",
        "indicators",
        "screen",
    }
    reasons = [r for r in first["warnings"] if "低于" in str(r)]
    assert reasons  # warnings carry reasons with real values


def test_a_run_killed_half_way_finishes_with_the_same_result(twin: Path, tmp_path: Path) -> None:
    pack = load_pack()
    p = feed_periods(twin / "feeds")[0]
    whole = DuckDBEngine(tmp_path / "whole.duckdb")
    run_cycle(whole, p, twin / "feeds", twin / "registry", pack)
    broken = DuckDBEngine(tmp_path / "broken.duckdb")

    class KilledError(Exception):
        pass

    def kill(stage: str) -> None:
        if stage == "indicators":
            raise KilledError

    with pytest.raises(KilledError):
        run_cycle(broken, p, twin / "feeds", twin / "registry", pack, progress=kill)
    assert not broken.exists("indicators")
    run_cycle(broken, p, twin / "feeds", twin / "registry", pack)
    assert _snapshot(broken, p) == _snapshot(whole, p)


def test_corrupt_file_is_reported_by_name_others_load_exit_nonzero(
    twin: Path, tmp_path: Path
) -> None:
    feeds = tmp_path / "twin" / "feeds"
    shutil.copytree(twin / "feeds", feeds)
    shutil.copytree(twin / "registry", tmp_path / "twin" / "registry")
    period = feed_periods(feeds)[0]
    xlsx = next((feeds / period).glob("*.xlsx"))
    xlsx.write_bytes(xlsx.read_bytes()[:500])  # truncated
    result = runner.invoke(
        app, ["cycle", "--feeds", str(feeds), "--period", period, "--home", str(tmp_path / "h")]
    )
    assert result.exit_code == 1, result.output
    assert xlsx.name in result.output
    engine = DuckDBEngine(tmp_path / "h" / "analytics.duckdb")
    files = engine.fetch(engine.table("ingest_files")).to_pylist()
    failed = [f for f in files if f["status"] == "failed"]
    assert [f["file"] for f in failed] == [xlsx.name]
    assert sum(f["rows_loaded"] for f in files) > 1000  # the other files loaded
    assert engine.count(engine.table("warnings")) > 0


def test_cli_cycle_all_then_evaluate_json(twin: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = runner.invoke(
        app, ["cycle", "--feeds", str(twin / "feeds"), "--all", "--home", str(home)]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["evaluate", "--truth", str(twin), "--home", str(home), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["periods"] == feed_periods(twin / "feeds")
    assert 0 < data["identification"]["precision"] <= 1
    assert data["fidelity"]["f1"] >= 0.95
    assert set(data["by_type"]) <= {"unstable_former_poor", "edge", "sudden_hardship"}
    assert data["detection"]["onsets"] > 0


@pytest.mark.parametrize(
    "args",
    [["--period", "2025-13"], [], ["--period", "2025-01", "--all"], ["--period", "1999-01"]],
)
def test_bad_cycle_arguments_exit_2(twin: Path, tmp_path: Path, args: list[str]) -> None:
    result = runner.invoke(
        app, ["cycle", "--feeds", str(twin / "feeds"), "--home", str(tmp_path), *args]
    )
    assert result.exit_code == 2, result.output
