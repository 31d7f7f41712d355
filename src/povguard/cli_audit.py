"""``povguard audit ...``: verify the tamper-evident audit trail and list its events.

Mounted into the main command line as ``povguard audit``. The operations database
is the one of ``--home`` (or ``POVGUARD_DATABASE_URL``). Output is Chinese, or
English when ``POVGUARD_LANGUAGE=en``.

Exit codes:

- ``verify``: 0 the hash chain is intact; 1 it is broken (the first broken event's
  id and what is wrong are printed); 2 bad arguments or configuration.
- ``list``: 0 listed; 2 bad arguments or configuration.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, NoReturn

import typer
from rich.table import Table
from rich.text import Text

from povguard.cli_support import fail, language, stdout_console, text
from povguard.errors import ConfigError, DataError

if TYPE_CHECKING:
    from povguard.store.services import AuditVerification

audit_app = typer.Typer(
    help="审计日志 / Tamper-evident audit trail: verify its hash chain, list its events.",
    no_args_is_help=True,
    add_completion=False,
)

#: User-facing texts, Chinese and English.
LABELS: Final[dict[str, dict[str, str]]] = {
    "zh": {
        "error": "错误",
        "intact": "审计链完整：已校验 {n} 条事件。",
        "broken": "审计链已损坏：第一个异常事件 #{id}",
        "broken_no_id": "审计链已损坏",
        "checked": "异常之前已校验 {n} 条事件。",
        "reason": "原因",
        "expected": "应为",
        "found": "实际",
        "content": "事件 #{id} 的内容被改动：内容与其哈希不符",
        "link": "事件 #{id} 未链接到事件 #{prev}：其 prev_hash 不是该事件的哈希",
        "link_first": "事件 #1 不是链的起点：其 prev_hash 不是 64 个零",
        "gap": "事件 #{first}–#{last} 缺失（已被删除）",
        "gap_tail": "链尾事件 #{first}–#{last} 缺失（已被删除）",
        "out_of_sequence": "事件编号 #{found} 顺序异常（应为 #{expected}）",
        "head_missing": "链头记录缺失",
        "head_mismatch": "最后一条事件 #{id} 与链头记录的哈希不符",
        "beyond_head": "事件 #{id} 位于链头（#{head}）之后：不是经审计服务追加的",
        "events": "审计事件",
        "empty": "没有符合条件的审计事件。",
        "id": "编号",
        "at": "时间 (UTC)",
        "actor": "操作人",
        "action": "操作",
        "entity": "对象",
        "change": "变更前 → 变更后",
        "reason_col": "理由",
        "request": "请求编号",
    },
    "en": {
        "error": "error",
        "intact": "audit chain intact: {n} events verified.",
        "broken": "audit chain BROKEN: first broken event #{id}",
        "broken_no_id": "audit chain BROKEN",
        "checked": "{n} events verified before the break.",
        "reason": "reason",
        "expected": "expected",
        "found": "found",
        "content": "event #{id} was changed: its content does not match its hash",
        "link": "event #{id} does not link to event #{prev}: its prev_hash is not that "
        "event's hash",
        "link_first": "event #1 does not start the chain: its prev_hash is not 64 zeros",
        "gap": "events #{first}-#{last} are missing (deleted)",
        "gap_tail": "events #{first}-#{last} are missing from the end of the chain (deleted)",
        "out_of_sequence": "event id #{found} is out of sequence (expected #{expected})",
        "head_missing": "the chain head is missing",
        "head_mismatch": "the last event #{id} does not match the hash the chain head names",
        "beyond_head": "event #{id} lies beyond the chain head (#{head}): it was not appended "
        "through the audit service",
        "events": "audit events",
        "empty": "no audit events match.",
        "id": "id",
        "at": "at (UTC)",
        "actor": "actor",
        "action": "action",
        "entity": "entity",
        "change": "before → after",
        "reason_col": "reason",
        "request": "request id",
    },
}
_VALUE_WIDTH: Final = 60

HomeOption = Annotated[Path | None, typer.Option(help="data directory (POVGUARD_HOME)")]


_lang = language


def _t(lang: str, label: str, /, **values: Any) -> str:
    return text(LABELS, lang, label, **values)


def _fail(message: str, code: int = 2, lang: str = "zh") -> NoReturn:
    fail(LABELS, message, code, lang)


_out = stdout_console


@contextlib.contextmanager
def _session(home: Path | None, lang: str) -> Iterator[Any]:
    """A session on the operations database; configuration errors exit with code 2."""
    from povguard.cli import _ops_session  # at call time: povguard.cli mounts this app

    try:
        with _ops_session(home) as session:
            yield session
    except (DataError, ConfigError) as exc:
        _fail(str(exc), 2, lang)


def describe_problem(result: AuditVerification, lang: str = "zh") -> str:  # noqa: PLR0911
    """What is wrong with a broken audit chain, in words of ``lang`` (``zh`` or ``en``).

    Parameters
    ----------
    result
        A broken result of :func:`povguard.store.services.verify_chain`.
    lang
        ``zh`` (default) or ``en``.

    Returns
    -------
    str
        One sentence naming the first broken event and the problem.
    """
    broken, head = result.broken_id, result.head_id
    if result.problem == "content":
        return _t(lang, "content", id=broken)
    if result.problem == "link":
        if broken == 1:
            return _t(lang, "link_first")
        return _t(lang, "link", id=broken, prev=(broken or 0) - 1)
    if result.problem == "gap":
        found = int(result.found) if result.found is not None else None
        if found is None:
            return _t(lang, "gap_tail", first=broken, last=head)
        if found < int(result.expected or 0):
            return _t(lang, "out_of_sequence", found=found, expected=result.expected)
        return _t(lang, "gap", first=broken, last=found - 1)
    if head is None:
        return _t(lang, "head_missing")
    if broken is not None and broken > head:
        return _t(lang, "beyond_head", id=broken, head=result.expected)
    return _t(lang, "head_mismatch", id=broken)


@audit_app.command("verify")
def verify(
    batch_size: Annotated[
        int, typer.Option(help="events read per query (memory stays bounded)", min=1)
    ] = 1000,
    home: HomeOption = None,
) -> None:
    """校验审计链 / Verify the audit trail's hash chain.

    Exit codes: 0 intact; 1 broken (prints the first broken event and why); 2 bad
    arguments or configuration.
    """
    from povguard.store import services

    lang = _lang()
    with _session(home, lang) as session:
        result = services.verify_chain(session, batch_size=batch_size)
    out = _out()
    if result.ok:
        out.print(Text(_t(lang, "intact", n=f"{result.checked:,}"), style="bold green"))
        return
    title = (
        _t(lang, "broken", id=result.broken_id)
        if result.broken_id is not None
        else _t(lang, "broken_no_id")
    )
    out.print(Text(title, style="bold red"))
    out.print(Text(f"{_t(lang, 'reason')}: {describe_problem(result, lang)}"))
    if result.problem in ("content", "link", "head") and result.expected and result.found:
        out.print(Text(f"{_t(lang, 'expected')}: {result.expected}"))
        out.print(Text(f"{_t(lang, 'found')}: {result.found}"))
    out.print(Text(_t(lang, "checked", n=f"{result.checked:,}")))
    raise typer.Exit(1)


def _compact(value: Any) -> str:
    if value is None:
        return "-"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 1] + "…"


@audit_app.command("list")
def list_(
    entity_type: Annotated[
        str | None, typer.Option("--entity-type", help="only events about this kind of record")
    ] = None,
    entity_id: Annotated[
        str | None, typer.Option("--entity-id", help="only events about this record")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="only events of this actor")] = None,
    action: Annotated[str | None, typer.Option(help="only events of this action")] = None,
    limit: Annotated[int, typer.Option(help="events to show (1-500)")] = 20,
    offset: Annotated[int, typer.Option(help="events to skip")] = 0,
    home: HomeOption = None,
) -> None:
    """列出审计事件 / List audit events, newest first."""
    from povguard.store import services

    lang = _lang()
    with _session(home, lang) as session:
        events = services.list_events(
            session,
            entity_type=entity_type,
            entity_id=entity_id,
            actor=actor,
            action=action,
            limit=limit,
            offset=offset,
        )
    out = _out()
    if not events:
        out.print(_t(lang, "empty"))
        return
    table = Table(title=_t(lang, "events"))
    table.add_column(_t(lang, "id"), justify="right")
    table.add_column(_t(lang, "at"), no_wrap=True)
    for col in ("actor", "action", "entity", "change", "reason_col", "request"):
        table.add_column(_t(lang, col), overflow="fold")
    for event in events:
        table.add_row(
            str(event.id),
            f"{event.at:%Y-%m-%d %H:%M:%S}",
            Text(event.actor),
            Text(event.action),
            Text(f"{event.entity_type}:{event.entity_id}"),
            Text(f"{_compact(event.before)} → {_compact(event.after)}"),
            Text(event.reason or "-"),
            Text(event.request_id or "-"),
        )
    out.print(table)
