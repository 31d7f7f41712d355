"""``povguard policy ...``: validate, show, compare and simulate policy packs.

Mounted into the main command line as ``povguard policy``. Output is Chinese, or
English when ``POVGUARD_LANGUAGE=en``.

Exit codes:

- ``validate``: 0 every pack is valid; 1 a pack is invalid (the message names the
  file, rule and field); 2 bad arguments (e.g. a file that does not exist).
- ``show``: 0 shown; 2 bad arguments or an invalid pack.
- ``diff``: 0 the packs are equal; 1 they differ (like ``diff``); 2 bad arguments or
  an invalid pack.
- ``simulate``: 0 simulated; 2 bad arguments (a bad ``--set``, period or ``--by``),
  an invalid pack, no analytics store, or no indicators for the period.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from povguard.cli_support import fail, language, stdout_console, text
from povguard.errors import ConfigError, DataError

if TYPE_CHECKING:
    from povguard.policy import PackLibrary, PolicyPack

policy_app = typer.Typer(
    help="政策包 / Policy packs: validate, show, compare and simulate parameter changes.",
    no_args_is_help=True,
    add_completion=False,
)
_PERIOD: Final = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

#: User-facing texts, Chinese and English.
LABELS: Final[dict[str, dict[str, str]]] = {
    "zh": {
        "error": "错误 error",
        "invalid": "无效",
        "rules_n": "{n} 条规则",
        "effective": "有效期 {range}",
        "region": "适用区域 {region}",
        "national": "全国",
        "open_end": "长期",
        "pack": "政策包",
        "name": "名称",
        "effective_col": "有效期",
        "region_col": "适用区域",
        "parameters": "参数",
        "parameter": "参数",
        "value": "取值",
        "rules": "规则",
        "triggers": "风险因素（与收入条件同时满足方纳入监测）",
        "trigger": "风险因素",
        "rule": "规则",
        "kind": "类别",
        "severity": "级别",
        "title": "名称",
        "condition": "条件",
        "household_type": "户类型",
        "no_rules": "没有类别为 {kind} 的规则",
        "high": "高",
        "medium": "中",
        "low": "低",
        "by_registration": "按登记（脱贫不稳定户/边缘易致贫户）",
        "sudden_hardship": "突发严重困难户",
        "summary": "{ok} 个有效，{bad} 个无效",
    },
    "en": {
        "error": "error",
        "invalid": "INVALID",
        "rules_n": "{n} rules",
        "effective": "effective {range}",
        "region": "region {region}",
        "national": "national",
        "open_end": "open-ended",
        "pack": "pack",
        "name": "name",
        "effective_col": "effective",
        "region_col": "region",
        "parameters": "parameters",
        "parameter": "parameter",
        "value": "value",
        "rules": "rules",
        "triggers": "risk triggers (needed with the income test)",
        "trigger": "trigger",
        "rule": "rule",
        "kind": "kind",
        "severity": "severity",
        "title": "title",
        "condition": "condition",
        "household_type": "household type",
        "no_rules": "no rules of kind {kind}",
        "high": "high",
        "medium": "medium",
        "low": "low",
        "by_registration": "by registration (unstable former-poor / edge)",
        "sudden_hardship": "sudden severe hardship",
        "summary": "{ok} valid, {bad} invalid",
    },
}

PackOption = Annotated[
    Path | None,
    typer.Option("--pack", help="policy pack YAML (default: the packaged national pack)"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]


_lang = language


def _t(lang: str, label: str, /, **values: Any) -> str:
    return text(LABELS, lang, label, **values)


def _fail(message: str, code: int = 2, lang: str = "zh") -> NoReturn:
    fail(LABELS, message, code, lang)


_out = stdout_console


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=1))


def _load(path: Path | None) -> PolicyPack:
    from povguard.policy import load_pack

    try:
        return load_pack(path)
    except ConfigError as exc:
        _fail(str(exc))


def _library() -> PackLibrary:
    from povguard.policy import load_packs

    try:
        return load_packs()
    except ConfigError as exc:
        _fail(str(exc))


def _range(pack: PolicyPack, lang: str) -> str:
    end = pack.effective_to.isoformat() if pack.effective_to else _t(lang, "open_end")
    return f"{pack.effective_from.isoformat()}..{end}"


def _region(pack: PolicyPack, lang: str) -> str:
    return pack.region or _t(lang, "national")


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,}"


def _param_value(value: float | dict[int, float]) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{y}: {_number(v)}" for y, v in sorted(value.items()))
    return _number(value)


# ------------------------------------------------------------------------ validate


@policy_app.command("validate")
def validate(
    files: Annotated[
        list[Path],
        typer.Argument(help="policy pack YAML file(s)", exists=True, dir_okay=False),
    ],
) -> None:
    """校验政策包 / Validate policy packs: id@version, rules, effective dates and region.

    Exit codes: 0 every pack is valid; 1 a pack is invalid; 2 bad arguments.
    """
    from povguard.policy import load_pack

    lang = _lang()
    out, err = _out(), Console(stderr=True)
    bad = 0
    for path in files:
        try:
            pack = load_pack(path)
        except ConfigError as exc:
            bad += 1
            err.print(f"[bold red]{_t(lang, 'invalid')}[/] {escape(str(exc))}", soft_wrap=True)
            continue
        out.print(
            f"[bold green]OK[/] {escape(str(path))}: {escape(pack.id)}@{escape(pack.version)}, "
            f"{_t(lang, 'rules_n', n=len(pack.rules))}, "
            f"{_t(lang, 'effective', range=_range(pack, lang))}, "
            f"{_t(lang, 'region', region=escape(_region(pack, lang)))}",
            soft_wrap=True,
        )
    if len(files) > 1:
        out.print(_t(lang, "summary", ok=len(files) - bad, bad=bad))
    if bad:
        raise typer.Exit(1)


# ------------------------------------------------------------------------ show


def _kinds() -> set[str]:
    """Rule kinds the pack schema allows."""
    from typing import get_args

    from povguard.policy import Rule

    return {a for a in get_args(Rule.model_fields["kind"].annotation) if isinstance(a, str)}


@policy_app.command("show")
def show(
    pack_file: PackOption = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="only rules of this kind (e.g. risk, screening)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """查看政策包 / Show a pack: header, parameters (per year) and rules.

    Exit codes: 0 shown; 2 bad arguments or an invalid pack.
    """
    from povguard.policy.simulate import kind_label

    lang = _lang()
    pack = _load(pack_file)
    rules = list(pack.rules)
    if kind is not None:
        known = _kinds() | {r.kind for r in pack.rules}
        if kind not in known:
            _fail(f"--kind {kind!r}: use one of {', '.join(sorted(known))}", lang=lang)
        rules = [r for r in rules if r.kind == kind]
    if as_json:
        data = pack.model_dump(mode="json")
        data["rules"] = [r.model_dump(mode="json") for r in rules]
        _echo_json(data)
        return
    out = _out()
    header = Table(title=f"{_t(lang, 'pack')} {pack.id}@{pack.version}", show_header=False)
    header.add_column()
    header.add_column(overflow="fold")
    header.add_row(_t(lang, "name"), escape(pack.name_en if lang == "en" else pack.name_zh))
    header.add_row(_t(lang, "effective_col"), _range(pack, lang))
    header.add_row(_t(lang, "region_col"), _region(pack, lang))
    out.print(header)

    params = Table(title=_t(lang, "parameters"))
    params.add_column(_t(lang, "parameter"))
    params.add_column(_t(lang, "value"), overflow="fold")
    for name, value in pack.parameters.items():
        params.add_row(name, _param_value(value))
    out.print(params)

    if pack.triggers:
        triggers = Table(title=_t(lang, "triggers"))
        for col in ("trigger", "title", "condition"):
            triggers.add_column(_t(lang, col), overflow="fold")
        for t in pack.triggers:
            triggers.add_row(
                t.id,
                escape(t.title_en if lang == "en" else t.title_zh),
                escape(" ".join(t.condition.split())),
            )
        out.print(triggers)

    table = Table(title=_t(lang, "rules"))
    for col in ("rule", "kind", "severity", "title", "condition", "household_type"):
        table.add_column(_t(lang, col), overflow="fold")
    for r in rules:
        htype = r.household_type
        table.add_row(
            r.id,
            kind_label(r.kind, lang),
            _t(lang, r.severity) if r.severity in LABELS["zh"] else r.severity,
            escape(r.title_en if lang == "en" else r.title_zh),
            escape(" ".join(r.condition.split())),
            (_t(lang, htype) if htype in LABELS["zh"] else htype) if htype else "—",
        )
    if not rules:
        table.caption = _t(lang, "no_rules", kind=kind)
    out.print(table)


# ------------------------------------------------------------------------ diff


@policy_app.command("diff")
def diff(
    a: Annotated[Path, typer.Argument(help="old pack YAML", exists=True, dir_okay=False)],
    b: Annotated[Path, typer.Argument(help="new pack YAML", exists=True, dir_okay=False)],
    as_json: JsonOption = False,
) -> None:
    """比较政策包 / Compare two packs: parameters and rules added, removed, changed.

    Exit codes: 0 equal; 1 different; 2 bad arguments or an invalid pack.
    """
    from povguard.policy.simulate import diff_packs

    lang = _lang()
    result = diff_packs(_load(a), _load(b))
    if as_json:
        _echo_json(result.to_dict())
    else:
        _out().print(result.to_rich(lang))
    if not result.equal:
        raise typer.Exit(1)


# ------------------------------------------------------------------------ simulate


def parse_sets(items: list[str]) -> dict[str, float]:
    """``name=value`` items -> ``{name: value}``.

    Raises
    ------
    ConfigError
        For an item without ``=`` or a name, or a value that is not a finite number.
    """
    out: dict[str, float] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"--set {item!r}: use name=value, e.g. monitoring_line=7500")
        try:
            value = float(raw.strip().replace(",", "").replace("_", ""))
        except ValueError:
            raise ConfigError(f"--set {item!r}: {raw.strip()!r} is not a number") from None
        if not math.isfinite(value):
            raise ConfigError(f"--set {item!r}: the value must be a finite number")
        out[name] = value
    return out


@policy_app.command("simulate")
def simulate_command(
    period: Annotated[str, typer.Option("--period", help="period YYYY-MM to screen")],
    pack_file: PackOption = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="override a parameter: name=value (repeatable)"),
    ] = None,
    base_file: Annotated[
        Path | None,
        typer.Option("--base", help="compare with this pack (default: --pack without --set)"),
    ] = None,
    by: Annotated[
        str, typer.Option("--by", help="region level: county, township or village")
    ] = "township",
    home: Annotated[Path | None, typer.Option(help="data directory (POVGUARD_HOME)")] = None,
    engine: Annotated[str | None, typer.Option(help="duckdb or spark (POVGUARD_ENGINE)")] = None,
    as_json: JsonOption = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="print Markdown")] = False,
) -> None:
    """政策模拟 / What if: warnings of a period before and after changing parameters.

    Screens the period's indicators with the pack and with the pack modified by
    ``--set`` (nothing is written) and prints households flagged before and after
    per rule, kind, region and household type, and who is newly or no longer flagged.
    Exit codes: 0 simulated; 2 bad arguments, an invalid pack, no analytics store or
    no indicators for the period.
    """
    from pydantic import ValidationError

    from povguard.cli import _settings  # imported here: povguard.cli mounts this app
    from povguard.engine import open_engine
    from povguard.policy.simulate import REGION_LEVELS, simulate

    lang = _lang()
    if not _PERIOD.match(period):
        _fail(f"--period must be YYYY-MM, got {period!r}", lang=lang)
    if by not in REGION_LEVELS:
        _fail(f"--by must be one of {', '.join(REGION_LEVELS)}, got {by!r}", lang=lang)
    try:
        overrides = parse_sets(set_ or [])
    except ConfigError as exc:
        _fail(str(exc), lang=lang)
    # without --pack: the packaged library, as the cycle screens (pack per period and region)
    pack: PolicyPack | PackLibrary = _load(pack_file) if pack_file else _library()
    base = _load(base_file) if base_file is not None else None
    try:
        pack.with_overrides(overrides)
    except ConfigError as exc:
        known = ", ".join(pack.parameters)
        _fail(f"--set: {exc} (parameters of the pack: {known})", lang=lang)
    try:
        settings = _settings(home, engine)
    except ValidationError as exc:
        _fail(f"bad settings: {exc.errors()[0]['msg']} (--engine duckdb or spark)", lang=lang)
    if settings.engine == "duckdb" and not settings.analytics_path.exists():
        _fail(
            f"no analytics store at {settings.analytics_path}: run povguard cycle first",
            lang=lang,
        )
    store = open_engine(settings.engine, settings.home)
    try:
        result = simulate(store, period, pack, overrides, base=base, by=by)
    except (ConfigError, DataError) as exc:
        _fail(str(exc), lang=lang)
    finally:
        store.close()
    if as_json:
        _echo_json(result.to_dict())
    elif markdown:
        typer.echo(result.to_markdown(lang), nl=False)
    else:
        _out().print(result.to_rich(lang))
