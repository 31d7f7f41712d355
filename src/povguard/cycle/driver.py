"""Command-line drivers of the cycle, the evaluation and the demo (rich output)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from povguard.cycle.publish import (
    publish_cases,
    publish_link_reviews,
    publish_registry,
    publish_warnings,
    record_run,
)
from povguard.cycle.run import CycleResult, ensure_registry, feed_periods, run_cycle
from povguard.engine import open_engine
from povguard.errors import ConfigError
from povguard.policy import load_policy
from povguard.settings import Settings
from povguard.ui import progress_bar

log = logging.getLogger(__name__)
STAGES = ("registry", "ingest", "link", "quality", "indicators", "screen", "publish")


def _ops(settings: Settings) -> Any:
    from povguard.store import make_engine, migrate, session_factory

    settings.home.mkdir(parents=True, exist_ok=True)
    migrate(settings.ops_url)
    return session_factory(make_engine(settings.ops_url))


def run_periods(
    settings: Settings,
    feeds: Path,
    period: str | None,
    registry: Path | None,
    pack_path: Path | None,
    console: Console,
) -> int:
    """Run one period or all periods; returns the exit code (1 if a file failed)."""
    periods = feed_periods(feeds)
    if period is not None:
        if period not in periods:
            raise ConfigError(
                f"no folder {feeds / period} (periods: {', '.join(periods) or 'none'})"
            )
        periods = [period]
    if not periods:
        raise ConfigError(f"no YYYY-MM folders in {feeds}")
    registry = registry or feeds.parent / "registry"
    pack = load_policy(pack_path)
    risk_model = _active_risk_model(settings)
    names = STAGES if risk_model is None else (*STAGES[:-1], "predict", STAGES[-1])
    engine = open_engine(settings.engine, settings.home)
    sessions = _ops(settings)
    failed = 0
    results: list[CycleResult] = []
    intakes: dict[str, dict[str, Any]] = {}
    try:
        with progress_bar(console) as bar:
            task = bar.add_task("月度监测 cycle", total=len(periods) * len(names))
            for p in periods:
                started = dt.datetime.now(dt.UTC)

                def step(name: str, p: str = p) -> None:
                    bar.update(task, description=f"{p} {name}", advance=1)

                loaded, _ = ensure_registry(engine, registry)
                with sessions() as session:
                    decisions = _link_decisions(session)
                result = run_cycle(
                    engine,
                    p,
                    feeds,
                    registry,
                    pack,
                    progress=step,
                    link_decisions=decisions,
                    risk_model=risk_model,
                    risk_capacity=settings.risk_capacity,
                )
                step("publish")
                with sessions() as session:
                    if loaded or not _has_registry(session):
                        publish_registry(session, registry, p)
                    publish_warnings(session, p, result.warnings)
                    publish_link_reviews(session, engine, p)
                    intakes[p] = publish_cases(session, p, started, pack)
                    stages = {
                        s.name: {"seconds": round(s.seconds, 3), "rows": s.rows, **s.detail}
                        for s in result.stages
                    }
                    stages["cases"] = intakes[p]
                    error = (
                        "; ".join(f"{f.path}: {f.error_en}" for f in result.failed_files) or None
                    )
                    record_run(session, p, started, stages, error)
                results.append(result)
                failed += len(result.failed_files)
    finally:
        engine.close()
    _print_cycles(console, results)
    _print_intakes(intakes)
    return 1 if failed else 0


def _active_risk_model(settings: Settings) -> Any:
    """The registry's active risk model (``povguard risk activate``), or None.

    Raises
    ------
    ConfigError
        If the active model cannot be loaded (exit code 2, before any stage runs).
    """
    from povguard.errors import DataError, NotFoundError
    from povguard.risk.registry import active_model, load_model, models_dir

    if not models_dir(settings.home).is_dir():
        return None
    try:
        model_id = active_model(settings.home)
        return None if model_id is None else load_model(model_id, settings.home)
    except (DataError, NotFoundError) as exc:
        raise ConfigError(
            f"the active risk model cannot be loaded: {exc}; train another one or run "
            "povguard risk deactivate"
        ) from exc


def _link_decisions(session: Any) -> dict[str, str]:
    from povguard.store import services

    return services.link_decisions(session)


def _has_registry(session: Any) -> bool:
    from povguard.store import services

    return services.household_count(session) > 0


def _print_intakes(intakes: dict[str, dict[str, Any]]) -> None:
    """Cases opened from each period's warnings (new, relapse, attached; by basis)."""
    if not intakes:
        return
    table = Table(title="案件 cases from warnings")
    for col in ("period", "new", "relapse", "attached", "needs verification", "already"):
        table.add_column(col, justify="right")
    for period, r in intakes.items():
        table.add_row(
            period,
            f"{r['new_cases']:,}",
            f"{r['relapses']:,}",
            f"{r['attached']:,}",
            f"{sum(r['needs_verification'].values()):,}",
            f"{r['already']:,}",
        )
    Console().print(table)


def _print_cycles(console: Console, results: list[CycleResult]) -> None:
    table = Table(title="月度监测 monthly cycles")
    columns = ["period", "rows loaded", "quarantined", "link rate", "warnings", "risk"]
    predicted = any(s.name == "predict" for r in results for s in r.stages)
    columns += ["预测 predicted", "seconds"] if predicted else ["seconds"]
    for col in columns:
        table.add_column(col, justify="right")
    for r in results:
        link = next((s for s in r.stages if s.name == "link"), None)
        kinds = Counter(r.warnings["kind"].to_pylist())
        table.add_row(
            r.period,
            f"{r.ingest.rows_loaded:,}" if r.ingest else "-",
            f"{r.ingest.rows_quarantined:,}" if r.ingest else "-",
            f"{link.detail.get('link_rate', 0):.4f}" if link else "-",
            f"{r.warnings.num_rows:,}",
            f"{kinds.get('risk', 0):,}",
            *([f"{kinds.get('prediction', 0):,}"] if predicted else []),
            f"{sum(s.seconds for s in r.stages):.1f}",
        )
    Console().print(table)
    if results:
        last = results[-1].warnings
        types = Counter(
            t or k
            for t, k in zip(
                last["household_type"].to_pylist(), last["kind"].to_pylist(), strict=True
            )
        )
        rules = Counter(last["rule_id"].to_pylist())
        summary = Table(title=f"{results[-1].period} 预警构成 warnings by type and rule")
        summary.add_column("type / kind")
        summary.add_column("n", justify="right")
        summary.add_column("rule")
        summary.add_column("n", justify="right")
        tr, rr = types.most_common(), rules.most_common()
        for i in range(max(len(tr), len(rr))):
            a, b = tr[i] if i < len(tr) else ("", ""), rr[i] if i < len(rr) else ("", "")
            summary.add_row(str(a[0]), str(a[1]), str(b[0]), str(b[1]))
        Console().print(summary)
    for r in results:
        for f in r.failed_files:
            console.print(
                f"[bold red]文件读取失败 file failed:[/] {f.path}: {f.error_zh} / {f.error_en}"
            )


def run_evaluation(
    settings: Settings,
    twin: Path,
    periods: list[str] | None,
    pack_path: Path | None,
    as_json: bool,
    fidelity: bool,
    console: Console | None = None,
) -> dict[str, Any]:
    """Evaluate the store's warnings against the twin's truth and print the figures."""
    from povguard.evaluate import evaluate

    if not (twin / "truth" / "households_monthly.parquet").exists():
        raise ConfigError(f"{twin} has no truth/households_monthly.parquet")
    engine = open_engine(settings.engine, settings.home)
    try:
        if not engine.exists("warnings"):
            raise ConfigError(f"no warnings in {settings.home}: run `povguard cycle` first")
        have = engine.fetch(engine.table("warnings").select("period").distinct())["period"]
        periods = periods or sorted(have.to_pylist())
        result = evaluate(engine, twin, periods, load_policy(pack_path), fidelity=fidelity)
    finally:
        engine.close()
    data = result.as_dict()
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=1))
        return data
    out = Console()
    t = Table(title=f"评估 evaluation {periods[0]}..{periods[-1]}")
    for col in ("measure", "precision", "recall", "F1", "tp", "fp", "fn"):
        t.add_column(col, justify="right")
    rows = [
        ("identification (risk rules)", data["identification"]),
        ("clues (any warning)", data["clues"]),
    ]
    if data["fidelity"]:
        rows.append(("rule fidelity (clean vs dirty)", data["fidelity"]))
    for name, s in rows:
        t.add_row(
            name,
            f"{s['precision']:.3f}",
            f"{s['recall']:.3f}",
            f"{s['f1']:.3f}",
            str(s["tp"]),
            str(s["fp"]),
            str(s["fn"]),
        )
    out.print(t)
    for title, group in (
        ("by household type 按户类型", data["by_type"]),
        ("by cause 按致贫原因", data["by_cause"]),
    ):
        g = Table(title=title)
        for col in ("group", "households", "recall (risk rules)", "recall (clues)"):
            g.add_column(col, justify="right")
        for k, v in group.items():
            g.add_row(
                k,
                f"{v['households']:,}",
                f"{v['recall_identification']:.3f}",
                f"{v['recall_clues']:.3f}",
            )
        out.print(g)
    if data["truth_by_rule"]:
        g = Table(title="规则与真值一致性（干净数据，输入已观测）rule fidelity vs truth")
        for col in ("rule", "judged", "truth yes", "agreement", "precision", "recall", "F1"):
            g.add_column(col, justify="right")
        for rule, v in data["truth_by_rule"].items():
            g.add_row(
                rule,
                f"{v['judged']:,}",
                f"{v['positives']:,}",
                f"{v['agreement']:.4f}",
                f"{v['precision']:.3f}",
                f"{v['recall']:.3f}",
                f"{v['f1']:.3f}",
            )
        out.print(g)
    d = data["detection"]
    out.print(
        f"detection: {d['detected']:,}/{d['onsets']:,} onsets detected "
        f"({d['share_detected']:.1%}), "
        f"median lag {d['median_lag_months']} months, mean {d['mean_lag_months']}"
    )
    return data


#: Demo users: (username, role, display name, area level: county or village).
DEMO_USERS: Final = (
    ("demo.county", "county", "县级管理员（演示）", "county"),
    ("demo.village", "village", "村级信息员（演示）", "village"),
    ("demo.analyst", "analyst", "数据分析员（演示）", "county"),
)


def demo_users(settings: Settings, console: Console) -> dict[str, str]:
    """Create (or reset) the demo's users with fresh random passwords and print them.

    The village officer gets the village with the latest period's first warning,
    the others its county. Passwords are also written to
    ``<home>/demo-users.txt`` (readable by the owner only).

    Returns
    -------
    dict
        username -> password.
    """
    import secrets

    from povguard.errors import NotFoundError
    from povguard.store import make_engine, services, session_factory

    engine = make_engine(settings.ops_url)
    passwords: dict[str, str] = {}
    try:
        with session_factory(engine)() as session:
            first = services.list_warnings(session, page_size=1).items
            if not first:
                return passwords
            village = first[0].village_code
            areas = {"village": village, "county": village[:6] + "000000"}
            for username, role, display, level in DEMO_USERS:
                password = secrets.token_urlsafe(9)
                try:
                    services.get_user(session, username)
                    services.set_password(session, username, password, actor="demo")
                except NotFoundError:
                    services.create_user(
                        session,
                        username=username,
                        password=password,
                        role=role,
                        area_code=areas[level],
                        display_name=display,
                        actor="demo",
                    )
                passwords[username] = password
    finally:
        engine.dispose()
    lines = [f"{name}  {password}" for name, password in passwords.items()]
    path = settings.home / "demo-users.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    console.print("演示账户 demo users (用户名 user / 密码 password):\n  " + "\n  ".join(lines))
    return passwords


def demo_predictions(settings: Settings, console: Console) -> None:
    """Train the risk model on the demo's months, activate it, predict the last month.

    The last month's "预测预警" warnings are published beside its rule warnings; the
    next ``povguard cycle`` adds them by itself (the model is active).
    """
    from povguard.errors import DataError
    from povguard.risk.pipeline import predict_period, train_model
    from povguard.risk.registry import LoadedModel, set_active

    pack = load_policy(None)
    engine = open_engine(settings.engine, settings.home)
    try:
        with console.status("训练风险预测模型 training the risk model"):
            result = train_model(engine, pack, capacity=settings.risk_capacity, home=settings.home)
        assert result.card is not None
        loaded = LoadedModel(model=result.model, card=result.card)
        periods = engine.fetch(engine.table("indicators").select("period").distinct())["period"]
        period = max(periods.to_pylist())
        warnings = predict_period(engine, loaded, period, pack, capacity=settings.risk_capacity)
        set_active(result.card.id, settings.home)
    except DataError as exc:
        console.print(f"[yellow]风险预测模型未训练 risk model not trained:[/] {exc}")
        return
    finally:
        engine.close()
    sessions = _ops(settings)
    with sessions() as session:
        publish_warnings(session, period, warnings)
    m = {k: result.metrics.get(k, float("nan")) for k in ("auc", "recall_at_capacity")}
    rules = result.metrics.get("rules_recall_at_capacity", float("nan"))
    console.print(
        f"风险预测 risk model {result.card.id}: 样本外 out of time AUC {m['auc']:.3f}, "
        f"每村每月 {settings.risk_capacity} 户名单的召回率 recall at capacity "
        f"{m['recall_at_capacity']:.3f} (规则 rules {rules:.3f}); "
        f"{period} 预测预警 predicted warnings: "
        f"{sum(k == 'prediction' for k in warnings['kind'].to_pylist()):,}"
    )


def run_demo(
    out: Path, households: int, months: int, seed: int, serve: bool, port: int, console: Console
) -> None:
    """Generate a one-county twin, run every cycle, evaluate, and serve the web app."""
    from povguard.synth import TwinConfig, generate_twin

    twin = out / "twin"
    if not (twin / "manifest.json").exists():
        console.print(
            f"生成合成县 generating a one-county twin ({households:,} households, {months} months)"
        )
        with progress_bar(console) as bar:
            task = bar.add_task("合成 twin", total=None)
            generate_twin(
                TwinConfig(out=twin, households=households, months=months, seed=seed, counties=1),
                progress=lambda _s, done, total: bar.update(task, completed=done, total=total),
            )
    settings = Settings(home=out / "data")
    code = run_periods(settings, twin / "feeds", None, twin / "registry", None, console)
    run_evaluation(settings, twin, None, None, as_json=False, fidelity=True)
    demo_predictions(settings, console)
    if code:
        console.print("[yellow]some files could not be read; see above[/]")
    demo_users(settings, console)
    if serve:
        import uvicorn

        from povguard.web import create_app

        console.print(f"网页 web app: http://127.0.0.1:{port}  (Ctrl+C to stop)")
        uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
