"""Policy packs: validation on load and compiled conditions evaluated by the engine."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from povguard.engine import DuckDBEngine
from povguard.errors import ConfigError
from povguard.policy import load_pack, load_packs
from povguard.policy.expr import compile_condition, names, parse

PACK = """
id: test
version: "1"
name_zh: 测试
name_en: test
effective_from: 2021-01-01
parameters:
  monitoring_line: {2024: 7000, 2025: 7100}
rules:
  - id: income_below_line
    kind: risk
    title_zh: 低于监测线
    title_en: below the line
    condition: CONDITION
    household_type: by_registration
    reason_zh: "人均 {income_pc_12m:,.0f} 元，低于 {year} 年监测线 {monitoring_line:,.0f} 元"
    reason_en: "{income_pc_12m:,.0f} below {monitoring_line:,.0f}"
"""


def _write(tmp_path: Path, condition: str = "income_pc_12m < monitoring_line") -> Path:
    path = tmp_path / "pack.yaml"
    path.write_text(PACK.replace("CONDITION", condition), encoding="utf-8")
    return path


def test_default_pack_loads_and_parameters_follow_the_year() -> None:
    pack = load_pack()
    assert len(pack.rules) >= 20
    assert pack.params_for("2025-06")["monitoring_line"] == 6000  # national: 2021's line
    guizhou = load_packs().select("2025-06", "522625100200")
    assert guizhou.id == "guizhou-monitoring"
    assert guizhou.params_for("2025-06")["monitoring_line"] == 7100
    assert guizhou.params_for("2021-01")["monitoring_line"] == 6000
    assert guizhou.params_for("2030-01")["monitoring_line"] == 7100  # latest known year


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("income_pc < monitoring_line", "unknown field(s) ['income_pc']"),
        ("income_pc_12m <", "cannot parse"),
        ("__import__('os')", "only"),
        ("income_pc_12m.real > 1", "Attribute is not allowed"),
        ("house_grade > monitoring_line", "type error"),
        ("income_pc_12m + 1", "not a yes/no test"),
        ("min_over(income_pc_12m)", "min_over(field, months)"),
    ],
)
def test_bad_conditions_are_rejected_naming_file_and_rule(
    tmp_path: Path, condition: str, message: str
) -> None:
    path = _write(tmp_path, condition)
    with pytest.raises(ConfigError) as err:
        load_pack(path)
    assert str(path) in str(err.value) and "income_below_line" in str(err.value)
    assert message in str(err.value)


def test_schema_errors_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(PACK.replace("kind: risk", "kind: rumour"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rules\.0\.kind"):
        load_pack(path)


def _eval(condition: str, rows: list[dict[str, object]], params: dict[str, object]) -> list[object]:
    engine = DuckDBEngine(":memory:")
    engine.replace_table("t", pa.Table.from_pylist(rows))
    t = engine.table("t")
    expr = compile_condition(parse(condition, "test"), t, params)
    return t.select(r=expr).to_pyarrow()["r"].to_pylist()


def test_threshold_at_below_and_above() -> None:
    rows = [{"x": 7099.0}, {"x": 7100.0}, {"x": 7101.0}, {"x": None}]
    assert _eval("x < line", rows, {"line": 7100}) == [True, False, False, None]
    assert _eval("x >= line", rows, {"line": 7100}) == [False, True, True, None]


def test_functions_lists_and_chains() -> None:
    rows = [
        {"g": "C", "fp": True, "v": 6000.0},
        {"g": "A", "fp": False, "v": 6000.0},
        {"g": None, "fp": False, "v": 25000.0},
    ]
    assert _eval("g in ['C', 'D']", rows, {}) == [True, False, None]
    assert _eval("v >= if_else(fp, 5000, 20000)", rows, {}) == [True, False, True]
    assert _eval("is_null(g)", rows, {}) == [False, False, True]
    assert _eval("coalesce(g, 'A') == 'A'", rows, {}) == [False, True, True]
    assert _eval("5000 < v <= 6000", rows, {}) == [True, True, False]
    assert names(parse("v >= if_else(fp, a, b)", "t")) == {"v", "fp", "a", "b"}


def test_every_rule_kind_can_be_published_and_shown() -> None:
    """The operations database, the API and the web labels accept every pack kind."""
    from typing import get_args

    from povguard.api.schemas import WarningKind
    from povguard.policy.pack import Kind
    from povguard.store import WARNING_KINDS
    from povguard.web.i18n import KIND_LABELS

    kinds = {*get_args(Kind), "needs_verification"}
    assert kinds <= set(WARNING_KINDS)
    assert kinds <= set(get_args(WarningKind))
    assert kinds <= set(KIND_LABELS)
