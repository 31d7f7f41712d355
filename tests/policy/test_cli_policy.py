"""``povguard policy``: validate, show, diff and simulate (mounted on a local Typer app)."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from povguard.cli_policy import parse_sets, policy_app
from povguard.errors import ConfigError
from povguard.policy import PolicyPack, load_pack
from tests.policy.test_simulate import PERIOD, RULE, copy_store, line

app = typer.Typer()
app.add_typer(policy_app, name="policy")
runner = CliRunner()


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("POVGUARD_HOME", "POVGUARD_ENGINE", "POVGUARD_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POVGUARD_LANGUAGE", "zh")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_store(tmp_path_factory, "cli-policy")


@pytest.fixture(scope="module")
def pack() -> PolicyPack:
    return load_pack()


def default_yaml(tmp_path: Path, name: str = "pack.yaml") -> Path:
    """A copy of the packaged default pack (a standalone pack: it extends nothing)."""
    source = importlib.resources.files("povguard.resources").joinpath("policy/national-2021.yaml")
    path = tmp_path / name
    path.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def run(*args: str) -> Any:
    return runner.invoke(app, ["policy", *args])


# ------------------------------------------------------------------------ validate


def test_validate_ok(tmp_path: Path, pack: PolicyPack) -> None:
    path = default_yaml(tmp_path)
    result = run("validate", str(path))
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and f"{pack.id}@{pack.version}" in result.output
    assert f"{len(pack.rules)} 条规则" in result.output
    assert pack.effective_from.isoformat() in result.output and "全国" in result.output


def test_validate_error_names_file_rule_and_field(tmp_path: Path) -> None:
    good = default_yaml(tmp_path, "good.yaml")
    bad = tmp_path / "bad.yaml"
    text = good.read_text(encoding="utf-8")
    assert "condition: income_pc_12m < monitoring_line\n" in text
    bad.write_text(
        text.replace(
            "condition: income_pc_12m < monitoring_line\n",
            "condition: income_per_head < monitoring_line\n",
        ),
        encoding="utf-8",
    )
    result = run("validate", str(good), str(bad))
    assert result.exit_code == 1, result.output
    assert f"OK {good}" in result.output.replace("\n", "")
    assert "bad.yaml" in result.output
    assert RULE in result.output and "income_per_head" in result.output
    assert "1 个有效，1 个无效" in result.output


def test_validate_usage_errors(tmp_path: Path) -> None:
    assert run("validate").exit_code == 2
    assert run("validate", str(tmp_path / "missing.yaml")).exit_code == 2


# ------------------------------------------------------------------------ show


def test_show(pack: PolicyPack) -> None:
    result = run("show")
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"{pack.id}@{pack.version}" in out and pack.effective_from.isoformat() in out
    for r in pack.rules:
        assert r.id in out
    value = pack.parameters["monitoring_line"]
    if isinstance(value, dict):
        for year, v in value.items():
            assert f"{year}: {v:,.0f}" in out
    else:
        assert f"{value:,.0f}" in out
    assert "参数" in out and "规则" in out and "人均纯收入低于监测线" in out


def test_show_kind_json_and_english(monkeypatch: pytest.MonkeyPatch, pack: PolicyPack) -> None:
    result = run("show", "--kind", "risk")
    assert result.exit_code == 0, result.output
    assert RULE in result.output and "medical_inpatient_oop" not in result.output
    result = run("show", "--kind", "risk", "--json")
    data = json.loads(result.output)
    assert data["id"] == pack.id and data["rules"]
    assert {r["kind"] for r in data["rules"]} == {"risk"}
    assert run("show", "--kind", "rumour").exit_code == 2
    monkeypatch.setenv("POVGUARD_LANGUAGE", "en")
    result = run("show", "--kind", "risk")
    assert "parameters" in result.output and "rules" in result.output
    assert "national" in result.output


def test_show_bad_pack_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: x\n", encoding="utf-8")
    result = run("show", "--pack", str(path))
    assert result.exit_code == 2 and "broken.yaml" in result.output


# ------------------------------------------------------------------------ diff


def _changed_copy(tmp_path: Path) -> tuple[Path, Path]:
    a = default_yaml(tmp_path, "a.yaml")
    data = yaml.safe_load(a.read_text(encoding="utf-8"))
    data["parameters"]["outpatient_oop_month"] = 800
    for rule in data["rules"]:
        if rule["id"] == "medical_outpatient_oop":
            assert rule["severity"] != "high"
            rule["severity"] = "high"
    b = tmp_path / "b.yaml"
    b.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return a, b


def test_diff_reports_threshold_and_severity(tmp_path: Path, pack: PolicyPack) -> None:
    a, b = _changed_copy(tmp_path)
    result = run("diff", str(a), str(b), "--json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    assert data["equal"] is False and data["pack"] == []
    old = pack.parameters["outpatient_oop_month"]
    assert data["parameters"] == [
        {"name": "outpatient_oop_month", "status": "changed", "old": old, "new": 800, "years": []}
    ]
    assert data["rules"] == [
        {
            "rule_id": "medical_outpatient_oop",
            "status": "changed",
            "fields": [{"field": "severity", "old": "medium", "new": "high"}],
        }
    ]
    text = run("diff", str(a), str(b))
    assert text.exit_code == 1
    assert "outpatient_oop_month" in text.output and f"{old:,.0f} -> 800" in text.output
    assert "medical_outpatient_oop" in text.output and "severity" in text.output


def test_diff_per_year_values_added_and_removed(tmp_path: Path) -> None:
    a = default_yaml(tmp_path, "a.yaml")
    data = yaml.safe_load(a.read_text(encoding="utf-8"))
    per_year = next(n for n, v in data["parameters"].items() if isinstance(v, dict))
    year = max(data["parameters"][per_year])
    data["parameters"][per_year][year] += 100
    data["parameters"]["new_threshold"] = 3
    data["rules"] = [r for r in data["rules"] if r["id"] != "hotline_report"]
    b = tmp_path / "b.yaml"
    b.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = run("diff", str(a), str(b), "--json")
    assert result.exit_code == 1, result.output
    got = {p["name"]: p for p in json.loads(result.output)["parameters"]}
    assert [y["year"] for y in got[per_year]["years"]] == [year]
    assert got[per_year]["years"][0]["new"] - got[per_year]["years"][0]["old"] == 100
    assert got["new_threshold"]["status"] == "added"
    rules = json.loads(result.output)["rules"]
    assert rules == [{"rule_id": "hotline_report", "status": "removed", "fields": []}]


def test_diff_identical_packs_exit_0(tmp_path: Path) -> None:
    a = default_yaml(tmp_path, "a.yaml")
    b = default_yaml(tmp_path, "b.yaml")
    result = run("diff", str(a), str(b))
    assert result.exit_code == 0, result.output
    assert "相同" in result.output
    assert json.loads(run("diff", str(a), str(b), "--json").output)["equal"] is True


# ------------------------------------------------------------------------ simulate


def test_parse_sets() -> None:
    assert parse_sets(["monitoring_line=7,500", " rigid_share = 0.7"]) == {
        "monitoring_line": 7500.0,
        "rigid_share": 0.7,
    }
    for bad in ("monitoring_line", "=1", "monitoring_line=abc", "monitoring_line=inf"):
        with pytest.raises(ConfigError):
            parse_sets([bad])


def test_simulate_json(home: Path, pack: PolicyPack) -> None:
    raised = line(pack) * 1.5
    result = run(
        "simulate",
        "--period",
        PERIOD,
        "--set",
        f"monitoring_line={raised}",
        "--by",
        "village",
        "--home",
        str(home),
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["period"] == PERIOD and data["by"] == "village"
    assert data["overrides"] == {"monitoring_line": raised}
    rule = next(r for r in data["by_rule"] if r["rule_id"] == RULE and r["kind"] == "risk")
    assert rule["after"] > rule["before"] and rule["diff"] == rule["after"] - rule["before"]
    assert sum(r["diff"] for r in rule["by_region"]) == rule["diff"]
    assert data["newly_flagged"]["count"] == len(data["newly_flagged"]["ids"]) > 0
    assert data["newly_flagged"]["truncated"] is False


def test_simulate_table_and_markdown(home: Path, pack: PolicyPack) -> None:
    args = ["simulate", "--period", PERIOD, "--home", str(home)]
    result = run(*args, "--set", f"monitoring_line={line(pack) * 0.5}")
    assert result.exit_code == 0, result.output
    assert "政策模拟" in result.output and RULE in result.output and "按乡镇" in result.output
    result = run(*args, "--markdown", "--by", "county")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# 政策模拟") and "## 按县" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "monitoring_line"], "name=value"),
        (["--set", "monitoring_line=abc"], "not a number"),
        (["--set", "no_such_parameter=1"], "no_such_parameter"),
        (["--by", "province"], "--by"),
        (["--period", "2025-13"], "YYYY-MM"),
        (["--period", "2030-01"], "2030-01"),
        (["--engine", "oracle"], "--engine"),
    ],
)
def test_simulate_errors_exit_2(home: Path, args: list[str], message: str) -> None:
    base = ["simulate", "--home", str(home)]
    if "--period" not in args:
        base += ["--period", PERIOD]
    result = run(*base, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_simulate_without_a_store_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    result = run("simulate", "--period", PERIOD, "--home", str(tmp_path / "none"))
    assert result.exit_code == 2
    assert "no analytics store" in result.output
    assert not (tmp_path / "none").exists()


def test_simulate_a_new_pack_against_the_old(home: Path, tmp_path: Path, pack: PolicyPack) -> None:
    a, b = _changed_copy(tmp_path)
    args = ["--period", PERIOD, "--home", str(home), "--pack", str(b), "--base", str(a)]
    result = run("simulate", *args, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    old = pack.parameters["outpatient_oop_month"]
    assert data["parameters"] == [{"name": "outpatient_oop_month", "before": old, "after": 800}]
    assert data["overrides"] == {}
    rule = next(r for r in data["by_rule"] if r["rule_id"] == "medical_outpatient_oop")
    assert rule["after"] <= rule["before"]
