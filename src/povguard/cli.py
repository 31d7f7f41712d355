"""povguard command line (Typer)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from povguard.errors import ConfigError
from povguard.ui import progress_bar

app = typer.Typer(
    name="povguard",
    help="povguard：防止返贫致贫监测平台 / keeps households from falling (back) into poverty.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]错误 error:[/] {message}")
    raise typer.Exit(code)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logs")] = False,
) -> None:
    """povguard command line."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )


@app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", help="output folder")],
    province: Annotated[str, typer.Option(help="2-digit province code (52 = Guizhou)")] = "52",
    households: Annotated[int, typer.Option(help="number of households")] = 20000,
    months: Annotated[int, typer.Option(help="months of feeds to generate")] = 12,
    start: Annotated[str, typer.Option(help="first month YYYY-MM")] = "2025-01",
    seed: Annotated[int, typer.Option(help="random seed")] = 20250101,
    defect_rate: Annotated[
        float | None,
        typer.Option(help="overall share of rows with a defect (default 0.08; 0 = clean)"),
    ] = None,
    counties: Annotated[
        int | None,
        typer.Option(help="use this many (rural) counties of the province, chosen by seed"),
    ] = None,
    county: Annotated[
        list[str] | None, typer.Option(help="6-digit county code to use (repeatable)")
    ] = None,
    params_file: Annotated[
        Path | None, typer.Option("--params", help="YAML file overriding parameters")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="override one parameter: section.name=value")
    ] = None,
) -> None:
    """生成合成省份数据 / Generate a synthetic province twin (registry, feeds, truth)."""
    import yaml

    from povguard.synth import TwinConfig, generate_twin, load_params

    overrides: dict[str, Any] = {}
    for item in set_ or []:
        name, sep, value = item.partition("=")
        if not sep:
            _fail(f"--set {item!r}: use section.name=value")
        overrides[name.strip()] = yaml.safe_load(value)
    try:
        params = load_params(params_file, overrides)
        config = TwinConfig(
            out=out,
            province=province,
            households=households,
            months=months,
            start=start,
            seed=seed,
            counties=counties,
            county_codes=tuple(county or ()),
            defect_rate=defect_rate,
        )
        config.validate()
    except ConfigError as exc:
        _fail(str(exc))
        return
    with progress_bar(console) as bar:
        task = bar.add_task("模拟月份 simulating months", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            summary = generate_twin(config, params, progress=progress)
        except ConfigError as exc:
            _fail(str(exc))
            return
    table = Table(title="合成省份 twin")
    table.add_column("item")
    table.add_column("value", justify="right")
    table.add_row("households 户", f"{summary.households:,}")
    table.add_row("persons 人", f"{summary.persons:,}")
    table.add_row("feed files 文件", f"{summary.files:,}")
    table.add_row("feed rows 记录", f"{summary.feed_rows:,}")
    for status, count in sorted(summary.at_risk_onsets.items()):
        table.add_row(f"new at-risk ({status})", f"{count:,}")
    table.add_row("manifest", str(summary.manifest))
    Console().print(table)


@app.command("synth-params")
def synth_params(
    markdown: Annotated[bool, typer.Option(help="print the Markdown calibration table")] = False,
) -> None:
    """列出合成参数 / List every twin parameter with its default and source."""
    from povguard.synth import parameter_table

    rows = parameter_table()
    if markdown:
        typer.echo(calibration_markdown(rows), nl=False)
        return
    table = Table(title="twin parameters")
    for col in ("parameter", "default", "description", "source"):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def calibration_markdown(rows: list[tuple[str, str, str, str]]) -> str:
    """The calibration table as Markdown (docs/synth-parameters.md is this output)."""
    lines = [
        "# Synthetic twin: parameters and calibration",
        "",
        "Generated by `povguard synth-params --markdown`;"
        " a test keeps this file in step with the code.",
        "Rates are per person-year or household-year unless the description says per month.",
        "",
        "| parameter | default | description | source |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{n}` | {d} | {desc} | {src} |" for n, d, desc, src in rows]
    return "\n".join(lines) + "\n"


def _settings(home: Path | None, engine: str | None) -> Any:
    from povguard.settings import Settings

    overrides: dict[str, Any] = {}
    if home is not None:
        overrides["home"] = home
    if engine is not None:
        overrides["engine"] = engine
    return Settings(**overrides)


@app.command()
def cycle(
    feeds: Annotated[Path, typer.Option("--feeds", help="folder with <YYYY-MM>/ sub-folders")],
    period: Annotated[str | None, typer.Option(help="one period YYYY-MM")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every period in the feed folder")] = False,
    registry: Annotated[
        Path | None, typer.Option(help="registry folder (default: <feeds>/../registry)")
    ] = None,
    pack: Annotated[Path | None, typer.Option(help="policy pack YAML (default: national)")] = None,
    home: Annotated[Path | None, typer.Option(help="data directory (POVGUARD_HOME)")] = None,
    engine: Annotated[str | None, typer.Option(help="duckdb or spark (POVGUARD_ENGINE)")] = None,
) -> None:
    """运行月度监测 / Run the monthly cycle: ingest, link, quality, indicators, screen.

    With an active risk model (``povguard risk activate``) a predict stage adds its
    预测预警 warnings beside the rules'. Exit codes: 0 all files loaded; 1 finished but
    some files could not be read (reported by name); 2 bad arguments or configuration
    (e.g. an active risk model that cannot be loaded).
    """
    from povguard.cycle.driver import run_periods

    if bool(period) == all_:
        _fail("give exactly one of --period YYYY-MM or --all")
    try:
        code = run_periods(
            _settings(home, engine), feeds, None if all_ else period, registry, pack, console
        )
    except ConfigError as exc:
        _fail(str(exc))
        return
    raise typer.Exit(code)


@app.command()
def evaluate(
    truth: Annotated[Path, typer.Option("--truth", help="twin folder (with truth/ and registry/)")],
    period: Annotated[
        list[str] | None, typer.Option(help="period(s) to evaluate (default all)")
    ] = None,
    pack: Annotated[Path | None, typer.Option(help="policy pack used by the cycle")] = None,
    home: Annotated[Path | None, typer.Option(help="data directory (POVGUARD_HOME)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    no_fidelity: Annotated[
        bool, typer.Option(help="skip the clean-records rule fidelity run")
    ] = False,
) -> None:
    """评估 / Compare warnings with the twin's truth: precision, recall, lag, rule fidelity."""
    from povguard.cycle.driver import run_evaluation

    try:
        run_evaluation(_settings(home, None), truth, period or None, pack, as_json, not no_fidelity)
    except ConfigError as exc:
        _fail(str(exc))


@app.command()
def quality(
    period: Annotated[str | None, typer.Option(help="period YYYY-MM")] = None,
    home: Annotated[Path | None, typer.Option(help="data directory (POVGUARD_HOME)")] = None,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="write an XLSX workbook")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="write an HTML page")] = None,
    all_periods: Annotated[
        bool, typer.Option("--all-periods", help="(re)compute and export every ingested period")
    ] = False,
) -> None:
    """数据质量报告 / Data-quality report per source: completeness, validity, timeliness, links.

    (Re)computes the report of ``--period`` (or of every ingested period with
    ``--all-periods``) into table ``quality``, prints it and optionally exports it.
    Exit codes: 0 done; 2 bad arguments or no ingest for the period.
    """
    import pyarrow.compute as pc

    from povguard.engine import open_engine
    from povguard.errors import DataError
    from povguard.ingest import (
        build_quality,
        export_quality_html,
        export_quality_xlsx,
        ingested_periods,
        quality_rich_table,
        quality_trend,
    )

    if period is None and not all_periods:
        _fail("give --period YYYY-MM or --all-periods")
        return
    settings = _settings(home, None)
    if settings.engine == "duckdb" and not settings.analytics_path.exists():
        _fail(f"no analytics store at {settings.analytics_path}: run povguard cycle first")
        return
    engine = open_engine(settings.engine, settings.home)
    try:
        available = ingested_periods(engine)
        if period is not None and period not in available:
            _fail(f"no ingest for period {period} in the store: run povguard cycle first")
            return
        if not available:
            _fail("nothing ingested in the store yet: run povguard cycle first")
            return
        todo = available if all_periods else [str(period)]
        with progress_bar(console) as bar:
            task = bar.add_task("数据质量 data quality", total=len(todo))
            for p in todo:
                build_quality(engine, p)
                bar.advance(task)
        shown = period or todo[-1]
        trend = quality_trend(engine, until=None if all_periods else shown)
    except (ConfigError, DataError) as exc:
        _fail(str(exc))
        return
    finally:
        engine.close()
    probe = Console()
    out = probe if probe.is_terminal else Console(width=160)  # pipes: no 80-column squeeze
    out.print(quality_rich_table(trend, shown))
    exported = trend if all_periods else trend.filter(pc.equal(trend["period"], shown))
    if xlsx is not None:
        out.print(f"XLSX: {export_quality_xlsx(exported, xlsx)}")
    if html is not None:
        sections = None if all_periods else [shown]
        out.print(f"HTML: {export_quality_html(trend, html, periods=sections)}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="folder for the demo twin and data")] = Path("demo"),
    households: Annotated[int, typer.Option(help="households of the demo county")] = 20000,
    months: Annotated[int, typer.Option(help="months of feeds")] = 18,
    seed: Annotated[int, typer.Option(help="random seed")] = 20250101,
    serve: Annotated[bool, typer.Option(help="serve the web app afterwards")] = True,
    port: Annotated[int, typer.Option(help="web port")] = 8000,
) -> None:
    """演示 / Generate a one-county twin, run every cycle, evaluate and serve the web app."""
    from povguard.cycle.driver import run_demo

    try:
        run_demo(out, households, months, seed, serve, port, console)
    except ConfigError as exc:
        _fail(str(exc))


# ------------------------------------------------------------------------ accounts

accounts_app = typer.Typer(
    name="accounts",
    help="推送接口的部门账户 / Department accounts of the push API (POST /api/v1/feeds).",
    no_args_is_help=True,
)
app.add_typer(accounts_app, name="accounts")


@contextlib.contextmanager
def _ops_session(home: Path | None) -> Iterator[Any]:
    """A session on the migrated operations database, closed (and its engine disposed)."""
    from povguard.store import make_engine, migrate, session_factory

    settings = _settings(home, None)
    migrate(settings.ops_url)
    engine = make_engine(settings.ops_url)
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


@accounts_app.command("create")
def accounts_create(
    name: Annotated[str, typer.Option("--name", help="unique account name")],
    department: Annotated[str, typer.Option("--department", help="department, e.g. 医疗保障局")],
    source: Annotated[
        list[str], typer.Option("--source", help="source id the account may push (repeatable)")
    ],
    home: Annotated[Path | None, typer.Option(help="data directory (POVGUARD_HOME)")] = None,
) -> None:
    """新建账户 / Create an account; prints its API token once (it is not stored)."""
    from povguard.errors import DataError
    from povguard.ingest import load_mappings
    from povguard.store import services

    known = load_mappings()
    unknown = [s for s in source if s not in known]
    if unknown:
        _fail(f"unknown source(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    try:
        with _ops_session(home) as session:
            account, token = services.create_account(session, name, department, source)
    except DataError as exc:
        _fail(str(exc))
        return
    console.print(
        f"account {account.id} [bold]{account.name}[/] ({account.department}) may push "
        f"{', '.join(account.sources)}.\n"
        "API token (shown only this once; send it as Authorization: Bearer <token>):"
    )
    typer.echo(token)


@accounts_app.command("list")
def accounts_list(
    home: Annotated[Path | None, typer.Option(help="data directory (POVGUARD_HOME)")] = None,
) -> None:
    """列出账户 / List accounts (tokens are never shown)."""
    from povguard.store import services

    with _ops_session(home) as session:
        accounts = services.list_accounts(session)
    table = Table(title="push API accounts")
    for col in ("id", "name", "department", "sources", "active", "created", "last used"):
        table.add_column(col)
    for a in accounts:
        table.add_row(
            str(a.id),
            a.name,
            a.department,
            ", ".join(a.sources),
            "yes" if a.active else "no",
            f"{a.created_at:%Y-%m-%d %H:%M}",
            f"{a.last_used_at:%Y-%m-%d %H:%M}" if a.last_used_at else "-",
        )
    Console().print(table)


@accounts_app.command("deactivate")
def accounts_deactivate(
    account_id: Annotated[int, typer.Argument(help="account id (see accounts list)")],
    home: Annotated[Path | None, typer.Option(help="data directory (POVGUARD_HOME)")] = None,
) -> None:
    """停用账户 / Deactivate an account: its token stops working at once."""
    from povguard.errors import DataError
    from povguard.store import services

    try:
        with _ops_session(home) as session:
            account = services.deactivate(session, account_id)
    except DataError as exc:
        _fail(str(exc))
        return
    console.print(f"account {account.id} {account.name} deactivated")


# ------------------------------------------------------------------------ linkage, policy


def _mount_subcommands() -> None:
    from povguard.cli_audit import audit_app
    from povguard.cli_cases import cases_app
    from povguard.cli_linkage import linkage_app
    from povguard.cli_policy import policy_app
    from povguard.cli_review import review_app
    from povguard.cli_risk import risk_app
    from povguard.cli_users import users_app

    linkage_app.add_typer(review_app, name="review")
    app.add_typer(linkage_app, name="linkage")
    app.add_typer(policy_app, name="policy")
    app.add_typer(audit_app, name="audit")
    app.add_typer(cases_app, name="cases")
    app.add_typer(users_app, name="users")
    app.add_typer(risk_app, name="risk")


_mount_subcommands()


if __name__ == "__main__":  # pragma: no cover
    app()
