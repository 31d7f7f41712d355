"""``povguard risk ...``: train, evaluate, score and monitor the forward-looking risk model.

Mounted into the main command line as ``povguard risk``. Output is Chinese, or
English when ``POVGUARD_LANGUAGE=en``.

Exit codes: 0 done; 1 the model does not exist, or (``drift``) a major shift was
found; 2 bad arguments, configuration, or no data to train or score on.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, NoReturn

import typer
from rich.table import Table

from povguard.cli_support import fail, language, stdout_console, text
from povguard.errors import ConfigError, DataError, NotFoundError

if TYPE_CHECKING:
    from povguard.engine import Engine
    from povguard.policy import PackLibrary, PolicyPack

risk_app = typer.Typer(
    help="风险预测 / Risk prediction: train, evaluate, score, list and monitor models.",
    no_args_is_help=True,
    add_completion=False,
)
_PERIOD: Final = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

LABELS: Final[dict[str, dict[str, str]]] = {
    "zh": {
        "error": "错误",
        "building": "构建面板特征与标签……",
        "training": "训练模型（{label}）……",
        "trained": "已训练并保存模型 {id}：{rows:,} 行训练数据（{pos:,} 个正例），"
        "用时 {s:.0f} 秒。",
        "holdout": "留出月份 {test} 的样本外评估（每村每月 {k} 户）：",
        "activated": "月度流程将使用模型 {id} 生成预测预警。",
        "deactivated": "已停用预测预警。",
        "no_models": "尚无模型：先运行 povguard risk train。",
        "no_active": "没有启用的模型：用 --model 指定，或运行 povguard risk activate。",
        "models": "模型",
        "scored": "{period}：已评分 {n:,} 户，列入名单 {listed:,} 户（每村 {k} 户）。",
        "list_title": "{period} 预测预警名单",
        "written": "已写出 {path}",
        "comparing": "比较各算法（{label}，k={k}）……",
        "profiles": "{period} 风险画像：{n:,} 户监测户和风险户，{k} 类，稳定性（自助法 ARI）{ari}",
        "clustering": "聚类……",
    },
    "en": {
        "error": "error",
        "building": "building the panel features and labels...",
        "training": "training the model ({label})...",
        "trained": "model {id} trained and saved: {rows:,} training rows ({pos:,} positives), "
        "{s:.0f} s.",
        "holdout": "out-of-time evaluation on the held-out months {test} ({k} per village "
        "and month):",
        "activated": "the monthly cycle will add predicted warnings with model {id}.",
        "deactivated": "predicted warnings switched off.",
        "no_models": "no models yet: run povguard risk train first.",
        "no_active": "no active model: pass --model or run povguard risk activate.",
        "models": "Models",
        "scored": "{period}: {n:,} households scored, {listed:,} listed ({k} per village).",
        "list_title": "{period} predicted-risk list",
        "written": "wrote {path}",
        "comparing": "comparing the algorithms ({label}, k={k})...",
        "profiles": "{period} risk profiles: {n:,} monitored and at-risk households, {k} "
        "profiles, stability (bootstrap ARI) {ari}",
        "clustering": "clustering...",
    },
}

HomeOption = Annotated[Path | None, typer.Option(help="data directory (POVGUARD_HOME)")]
EngineOption = Annotated[str | None, typer.Option(help="duckdb or spark (POVGUARD_ENGINE)")]
PackOption = Annotated[
    Path | None, typer.Option("--pack", help="policy pack file or folder (default: packaged)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]
ModelOption = Annotated[
    str | None, typer.Option("--model", help="model id (default: the active model)")
]


def _fail(message: str, code: int = 2, lang: str = "zh") -> NoReturn:
    fail(LABELS, message, code, lang)


def _text(lang: str, label: str, /, **values: Any) -> str:
    return text(LABELS, lang, label, **values)


def _check_period(value: str | None, option: str, lang: str) -> None:
    if value is not None and not _PERIOD.match(value):
        _fail(f"{option} must be YYYY-MM, got {value!r}", lang=lang)


@contextlib.contextmanager
def _store(home: Path | None, engine: str | None, lang: str) -> Iterator[tuple[Any, Engine]]:
    """The settings and the opened analytics store (closed afterwards)."""
    from pydantic import ValidationError

    from povguard.cli import _settings  # imported here: povguard.cli mounts this app
    from povguard.engine import open_engine

    try:
        settings = _settings(home, engine)
    except ValidationError as exc:
        _fail(f"bad settings: {exc.errors()[0]['msg']}", lang=lang)
    if settings.engine == "duckdb" and not settings.analytics_path.exists():
        _fail(
            f"no analytics store at {settings.analytics_path}: run povguard cycle first", lang=lang
        )
    store = open_engine(settings.engine, settings.home)
    try:
        yield settings, store
    finally:
        store.close()


def _pack(path: Path | None, lang: str) -> PolicyPack | PackLibrary:
    from povguard.policy import load_policy

    try:
        return load_policy(path)
    except (ConfigError, DataError) as exc:
        _fail(str(exc), lang=lang)


def _load(model_id: str | None, home: Path, lang: str) -> Any:
    from povguard.risk.registry import active_model, load_model

    try:
        model_id = model_id or active_model(home)
        if model_id is None:
            _fail(_text(lang, "no_active"), lang=lang)
        return load_model(model_id, home)
    except NotFoundError as exc:
        _fail(str(exc), 1, lang)
    except (ConfigError, DataError) as exc:
        _fail(str(exc), lang=lang)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.3f}"
    return str(value)


@risk_app.command("train")
def train_command(
    horizon: Annotated[int, typer.Option(help="months ahead: 3 or 6")] = 3,
    cutoff: Annotated[
        str | None, typer.Option(help="last month the training may see (default: the last)")
    ] = None,
    holdout: Annotated[
        int, typer.Option(help="labelled months held out for the out-of-time evaluation")
    ] = 6,
    capacity: Annotated[
        int | None, typer.Option(help="households per village and month (POVGUARD_RISK_CAPACITY)")
    ] = None,
    max_negatives: Annotated[
        int, typer.Option(help="negatives kept in training (sampled, weighted back)")
    ] = 1_000_000,
    model_id: Annotated[str | None, typer.Option("--id", help="registry id")] = None,
    activate: Annotated[
        bool, typer.Option("--activate", help="use it in the monthly cycle from now on")
    ] = False,
    pack_file: PackOption = None,
    home: HomeOption = None,
    engine: EngineOption = None,
    as_json: JsonOption = False,
) -> None:
    """训练模型 / Train the risk model out of time and save it in the registry.

    Builds the panel (features and labels of every household-month), fits the
    default gradient-boosting model on the months whose outcome is known, evaluates
    it on the held-out later months against the rules-only baseline (AUC, PR-AUC,
    Brier, recall at capacity, fairness) and saves it with its card.
    """
    from povguard.risk.pipeline import train_model
    from povguard.risk.registry import set_active

    lang = language()
    _check_period(cutoff, "--cutoff", lang)
    if horizon < 1 or holdout < 0 or max_negatives < 1:
        _fail("--horizon and --max-negatives must be >= 1 and --holdout >= 0", lang=lang)
    pack = _pack(pack_file, lang)
    out = stdout_console()
    if capacity is not None and capacity < 1:
        _fail("--capacity must be >= 1", lang=lang)
    with _store(home, engine, lang) as (settings, store):
        k = capacity or settings.risk_capacity
        try:
            with out.status(_text(lang, "training", label=f"y_{horizon}")):
                result = train_model(
                    store,
                    pack,
                    horizon=horizon,
                    cutoff=cutoff,
                    holdout_months=holdout,
                    capacity=k,
                    max_negatives=max_negatives,
                    home=settings.home,
                    model_id=model_id,
                )
        except (ConfigError, DataError) as exc:
            _fail(str(exc), lang=lang)
        assert result.card is not None
        if activate:
            set_active(result.card.id, settings.home)
    card = result.card
    if as_json:
        data = {"id": card.id, "metrics": card.metrics, "timings": result.timings}
        data |= {k: v for k, v in card.details.items() if k != "reference"}
        print(json.dumps(data, ensure_ascii=False, indent=1, default=str))
        return
    seconds = sum(result.timings.values())
    out.print(
        _text(
            lang,
            "trained",
            id=card.id,
            rows=card.details["train_rows"],
            pos=card.details["train_positives"],
            s=seconds,
        )
    )
    if result.report is not None:
        test = "..".join(card.details["test_periods"])
        out.print(_text(lang, "holdout", test=test, k=k))
        out.print(result.report.to_markdown(), markup=False)
    if activate:
        out.print(_text(lang, "activated", id=card.id))


@risk_app.command("evaluate")
def evaluate_command(
    cutoff: Annotated[str, typer.Option(help="last month the models may see")],
    horizon: Annotated[list[int] | None, typer.Option(help="months ahead (repeatable)")] = None,
    capacity: Annotated[
        list[int] | None, typer.Option("--k", help="households per village and month")
    ] = None,
    all_models: Annotated[
        bool, typer.Option("--all", help="also the paper's algorithms (slower)")
    ] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="write report.md and report.json here")
    ] = None,
    pack_file: PackOption = None,
    home: HomeOption = None,
    engine: EngineOption = None,
) -> None:
    """算法比较 / Compare the algorithms out of time: train up to --cutoff, test after.

    Rules-only baseline, proxy-means test, the default gradient boosting and
    scikit-learn's HistGradientBoosting (with ``--all`` also logistic regression,
    decision tree, random forest, SVM, naive Bayes and a small neural network):
    AUC, PR-AUC, Brier, recall at capacity and its ratio to the rules, fairness gaps.
    """
    from povguard.risk import compare_models, out_of_time_split, panel_frame
    from povguard.risk.pipeline import comparison_models

    lang = language()
    _check_period(cutoff, "--cutoff", lang)
    horizons = horizon or [3, 6]
    ks = capacity or [2]
    if any(h < 1 for h in horizons) or any(k < 1 for k in ks):
        _fail("--horizon and --k must be >= 1", lang=lang)
    pack = _pack(pack_file, lang)
    models = comparison_models(paper=all_models)
    out = stdout_console()
    sections, runs = [], []
    with _store(home, engine, lang) as (_, store):
        with out.status(_text(lang, "building")):
            frame = panel_frame(store, pack, horizons=sorted(set(horizons)))
        for h in horizons:
            try:
                train, test = out_of_time_split(frame, cutoff, h)
            except ValueError as exc:
                _fail(str(exc), lang=lang)
            for k in ks:
                try:
                    with out.status(_text(lang, "comparing", label=f"y_{h}", k=k)):
                        report = compare_models(train, test, models, label=f"y_{h}", k=k)
                except ValueError as exc:  # e.g. no test month with a known outcome
                    _fail(f"y_{h}: {exc}", lang=lang)
                sections.append(report.to_markdown())
                out.print(sections[-1], markup=False)
                out.print()
                runs.append(
                    {
                        "split": report.split,
                        "table": report.table.reset_index().to_dict(orient="records"),
                        "gaps": report.gaps.to_dict(orient="records"),
                        "reliability": {
                            n: c.to_dict(orient="records") for n, c in report.reliability.items()
                        },
                    }
                )
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "report.md").write_text(
            "# 风险模型样本外比较 Risk models, out of time\n\n" + "\n\n".join(sections) + "\n",
            encoding="utf-8",
        )
        (out_dir / "report.json").write_text(
            json.dumps(runs, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
        )
        out.print(_text(lang, "written", path=out_dir / "report.md"))


@risk_app.command("score")
def score_command(
    period: Annotated[str, typer.Option(help="month to score YYYY-MM")],
    model_id: ModelOption = None,
    capacity: Annotated[
        int | None, typer.Option(help="households per village (POVGUARD_RISK_CAPACITY)")
    ] = None,
    village: Annotated[str | None, typer.Option(help="only villages with this code prefix")] = None,
    limit: Annotated[int, typer.Option(help="rows of the list to print")] = 30,
    csv: Annotated[Path | None, typer.Option(help="write every listed household as CSV")] = None,
    pack_file: PackOption = None,
    home: HomeOption = None,
    engine: EngineOption = None,
    as_json: JsonOption = False,
) -> None:
    """评分 / Score a month's households and print each village's list with reasons.

    Stores every household's score in ``risk_scores``; nothing else changes (the
    monthly cycle adds the warnings of the active model).
    """
    from povguard.risk.pipeline import score_period

    lang = language()
    _check_period(period, "--period", lang)
    pack = _pack(pack_file, lang)
    with _store(home, engine, lang) as (settings, store):
        loaded = _load(model_id, settings.home, lang)
        k = capacity if capacity is not None else settings.risk_capacity
        if k < 1:
            _fail("--capacity must be >= 1", lang=lang)
        try:
            scores = score_period(store, loaded, period, pack, capacity=k)
        except (ConfigError, DataError) as exc:
            _fail(str(exc), lang=lang)
    listed = scores.filter(scores["listed"]).to_pandas()
    if village:
        listed = listed[listed["village_code"].str.startswith(village)]
    listed = listed.sort_values(["village_code", "village_rank"])
    if csv is not None:
        listed.to_csv(csv, index=False)
    if as_json:
        rows = listed.drop(columns=["factors"]).to_dict(orient="records")
        print(json.dumps(rows, ensure_ascii=False, indent=1, default=str))
        return
    out = stdout_console()
    n_listed = int(scores["listed"].to_numpy().sum())
    out.print(_text(lang, "scored", period=period, n=scores.num_rows, listed=n_listed, k=k))
    table = Table(title=_text(lang, "list_title", period=period))
    for col in ("village", "#", "household", "p", "reason"):
        table.add_column(col, overflow="fold")
    reason = "reason_en" if lang == "en" else "reason_zh"
    for r in listed.head(limit).itertuples():
        table.add_row(
            r.village_code,
            str(r.village_rank),
            r.household_id,
            f"{r.score:.1%}",
            getattr(r, reason),
        )
    out.print(table)
    if csv is not None:
        out.print(_text(lang, "written", path=csv))


@risk_app.command("list")
def list_command(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """模型列表 / The saved models, newest first, with their metrics."""
    from povguard.cli import _settings
    from povguard.risk.registry import active_model, list_models

    lang = language()
    settings = _settings(home, None)
    cards = list_models(settings.home)
    active = active_model(settings.home)
    if as_json:
        rows = [
            {
                "id": c.id,
                "active": c.id == active,
                "created": c.created,
                "horizon_months": c.horizon_months,
                "policy_pack": f"{c.policy_pack_id} {c.policy_pack_version}",
                "rows": c.n_rows,
                "fingerprint": c.fingerprint,
                "metrics": c.metrics,
                "train_periods": c.details.get("train_periods"),
            }
            for c in cards
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    out = stdout_console()
    if not cards:
        out.print(_text(lang, "no_models"))
        return
    table = Table(title=_text(lang, "models"))
    for col in (
        "id",
        "active",
        "created",
        "horizon",
        "pack",
        "train",
        "AUC",
        "recall@k",
        "x rules",
    ):
        table.add_column(col, overflow="fold")
    for c in cards:
        m = c.metrics
        table.add_row(
            c.id,
            "✓" if c.id == active else "",
            c.created,
            str(c.horizon_months),
            f"{c.policy_pack_id} {c.policy_pack_version}",
            "..".join(c.details.get("train_periods", [])),
            _fmt(m.get("auc", float("nan"))),
            _fmt(m.get("recall_at_capacity", float("nan"))),
            _fmt(m.get("ratio_to_rules", float("nan"))),
        )
    out.print(table)


@risk_app.command("activate")
def activate_command(
    model_id: Annotated[str, typer.Argument(help="model id")], home: HomeOption = None
) -> None:
    """启用模型 / Use this model for the predicted warnings (预测预警) of the monthly cycle."""
    from povguard.cli import _settings
    from povguard.risk.registry import set_active

    lang = language()
    try:
        set_active(model_id, _settings(home, None).home)
    except NotFoundError as exc:
        _fail(str(exc), 1, lang)
    except ConfigError as exc:
        _fail(str(exc), lang=lang)
    stdout_console().print(_text(lang, "activated", id=model_id))


@risk_app.command("deactivate")
def deactivate_command(home: HomeOption = None) -> None:
    """停用预测预警 / Switch the monthly cycle's predicted warnings off."""
    from povguard.cli import _settings
    from povguard.risk.registry import set_active

    set_active(None, _settings(home, None).home)
    stdout_console().print(_text(language(), "deactivated"))


@risk_app.command("drift")
def drift_command(
    period: Annotated[str, typer.Option(help="month to monitor YYYY-MM")],
    model_id: ModelOption = None,
    pack_file: PackOption = None,
    home: HomeOption = None,
    engine: EngineOption = None,
    as_json: JsonOption = False,
) -> None:
    """漂移监测 / Monthly drift report: feature and score shifts, calibration.

    Population stability index of every feature and of the scores against the
    training data, and the calibration of the months this model scored whose
    outcome is now known. Exit code 1 when a shift is major (PSI >= 0.25).
    """
    from povguard.risk.pipeline import monitor_period

    lang = language()
    _check_period(period, "--period", lang)
    pack = _pack(pack_file, lang)
    with _store(home, engine, lang) as (settings, store):
        loaded = _load(model_id, settings.home, lang)
        try:
            report = monitor_period(store, loaded, period, pack)
        except (ConfigError, DataError) as exc:
            _fail(str(exc), lang=lang)
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=1, allow_nan=False))
    else:
        stdout_console().print(report.to_markdown(lang), markup=False)
    if report.status() == "major":
        raise typer.Exit(1)


@risk_app.command("typology")
def typology_command(
    period: Annotated[str, typer.Option(help="month YYYY-MM")],
    clusters: Annotated[
        int | None, typer.Option("--k", help="number of profiles (default: by silhouette)")
    ] = None,
    pack_file: PackOption = None,
    home: HomeOption = None,
    engine: EngineOption = None,
    as_json: JsonOption = False,
) -> None:
    """风险画像 / Sort monitored and at-risk households into named risk profiles.

    K-Means on demographics, income structure, costs and shocks, the number of
    profiles chosen by silhouette, names from the naming table, stability as the
    mean adjusted Rand index over bootstrap resamples. Stores ``risk_profiles``.
    """
    from povguard.risk.pipeline import profile_period

    lang = language()
    _check_period(period, "--period", lang)
    if clusters is not None and clusters < 2:
        _fail("--k must be >= 2", lang=lang)
    pack = _pack(pack_file, lang)
    out = stdout_console()
    with _store(home, engine, lang) as (_, store):
        try:
            with out.status(_text(lang, "clustering")):
                model, table = profile_period(store, period, pack, n_clusters=clusters)
        except (ConfigError, DataError) as exc:
            _fail(str(exc), lang=lang)
    name = "name_en" if lang == "en" else "name_zh"
    profiles = [
        {
            "cluster": p.cluster,
            "name_zh": p.name_zh,
            "name_en": p.name_en,
            "size": p.size,
            "share": round(p.share, 4),
            "distinctive": [[f, round(z, 2)] for f, z in p.distinctive[:5]],
        }
        for p in model.profiles_
    ]
    if as_json:
        data = {
            "period": period,
            "households": table.num_rows,
            "stability": model.stability_,
            "profiles": profiles,
        }
        print(json.dumps(data, ensure_ascii=False, indent=1))
        return
    ari = _fmt(float(model.stability_))
    out.print(
        _text(lang, "profiles", period=period, n=table.num_rows, k=model.n_clusters_, ari=ari)
    )
    t = Table()
    for col in ("#", "profile", "households", "share", "distinctive (z)"):
        t.add_column(col, overflow="fold")
    for p in model.profiles_:
        top = ", ".join(f"{f} {z:+.1f}" for f, z in p.distinctive[:3])
        t.add_row(str(p.cluster), getattr(p, name), f"{p.size:,}", f"{p.share:.0%}", top)
    out.print(t)
