"""``povguard linkage ...``: linkage commands (mounted into the main command line).

Exit codes of ``povguard linkage evaluate``: 0 evaluated; 2 bad arguments, a
missing or malformed twin folder, no analytics store or no ``links`` table.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from povguard.errors import ConfigError

linkage_app = typer.Typer(
    help="记录链接 / Record linkage: evaluate the links against the synthetic twin's truth.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[bold red]错误 error:[/] {message}")
    raise typer.Exit(code)


@linkage_app.command("evaluate")
def evaluate(
    truth: Annotated[
        Path,
        typer.Option(
            "--truth", help="twin folder (with truth/ and registry/) or its truth/ folder"
        ),
    ],
    home: Annotated[Path | None, typer.Option(help="data directory (POVGUARD_HOME)")] = None,
    engine: Annotated[str | None, typer.Option(help="duckdb or spark (POVGUARD_ENGINE)")] = None,
    period: Annotated[
        list[str] | None, typer.Option(help="period YYYY-MM to evaluate (repeatable; default all)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """链接评估 / Precision, recall and F1 of the links against the twin's true links.

    Broken down by defect type, source and link method, with the clerical
    review volume. Exit codes: 0 evaluated; 2 bad arguments, no twin truth, no
    analytics store or no links table.
    """
    from pydantic import ValidationError

    from povguard.cli import _settings  # imported here: povguard.cli mounts this app
    from povguard.engine import open_engine
    from povguard.linkage.evaluate import evaluate_linkage, resolve_twin

    bad = [p for p in period or [] if not _PERIOD.match(p)]
    if bad:
        _fail(f"--period must be YYYY-MM, got {', '.join(bad)}")
    try:
        truth_dir, registry_dir = resolve_twin(truth)
    except ConfigError as exc:
        _fail(str(exc))
    try:
        settings = _settings(home, engine)
    except ValidationError as exc:
        _fail(f"bad settings: {exc.errors()[0]['msg']} (--engine duckdb or spark)")
    if settings.engine == "duckdb" and not settings.analytics_path.exists():
        _fail(f"no analytics store at {settings.analytics_path}: run povguard cycle first")
    store = open_engine(settings.engine, settings.home)
    try:
        if not store.exists("links"):
            _fail(f"no links table in the analytics store of {settings.home}: run povguard cycle")
        result = evaluate_linkage(store, truth_dir, registry_dir, period or None)
    except ConfigError as exc:
        _fail(str(exc))
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=1))
        return
    probe = Console()
    out = probe if probe.is_terminal else Console(width=160)  # pipes: no 80-column squeeze
    out.print(result.to_rich())
