"""The `povguard synth` command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from povguard.cli import app, calibration_markdown
from povguard.synth import parameter_table

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--households", "5"], "--households"),
        (["--start", "2025-13"], "--start"),
        (["--province", "99"], "province"),
        (["--months", "0"], "--months"),
        (["--defect-rate", "1.5"], "--defect-rate"),
        (["--set", "shocks.nonexistent=1"], "shocks.nonexistent"),
        (["--county", "110101"], "110101"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_error(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["synth", "--out", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_synth_writes_manifest(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "synth",
            "--out",
            str(tmp_path),
            "--households",
            "600",
            "--months",
            "2",
            "--counties",
            "1",
            "--set",
            "defects.name_typo=0.05",
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["months"] == 2 and manifest["files"]


def test_calibration_doc_is_in_step_with_the_code() -> None:
    doc = Path(__file__).parents[2] / "docs" / "synth-parameters.md"
    assert doc.read_text(encoding="utf-8") == calibration_markdown(parameter_table())


def test_generating_into_an_existing_twin_replaces_it(tmp_path: Path) -> None:
    base = ["synth", "--out", str(tmp_path), "--households", "500", "--counties", "1"]
    assert runner.invoke(app, [*base, "--months", "3"]).exit_code == 0
    assert runner.invoke(app, [*base, "--months", "1", "--start", "2024-06"]).exit_code == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    on_disk = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "feeds").rglob("*.*"))
    assert on_disk == sorted(f["path"] for f in manifest["files"])
    assert {p.name for p in (tmp_path / "feeds").iterdir()} == {"2024-06"}
