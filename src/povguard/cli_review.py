"""Command line of the clerical review queue of record linkage (``povguard linkage review``).

Pairs of a department record and a registry person whose match probability is
uncertain wait here for a reviewer: ``list`` them, ``show`` one side by side,
``decide`` or ``undo``, or work through them with ``next``. Output is Chinese, or
English when ``POVGUARD_LANGUAGE=en``.

Exit codes: 0 done; 1 the pair does not exist or its state does not allow the
change (the message names the pair key); 2 bad arguments or configuration.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Final, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from povguard.cli_support import fail, language, stdout_console, text
from povguard.errors import ConfigError, ConflictError, DataError, NotFoundError

review_app = typer.Typer(
    help="记录关联人工复核 / Clerical review of uncertain record-linkage pairs.",
    no_args_is_help=True,
)

#: User-facing texts, Chinese and English.
LABELS: Final[dict[str, dict[str, str]]] = {
    "zh": {
        "error": "错误",
        "queue": "待复核配对",
        "pairs": "复核配对",
        "key": "配对键",
        "source": "来源",
        "period": "期间",
        "probability": "匹配概率",
        "record_name": "部门记录姓名",
        "candidate_name": "候选人姓名",
        "status": "状态",
        "decided_by": "决定人",
        "decided_at": "决定时间",
        "reason": "理由",
        "version": "版本",
        "file": "文件:行",
        "periods": "出现期间",
        "person": "候选人 / 户",
        "field": "字段",
        "record": "部门记录",
        "candidate": "登记库候选",
        "level": "比较结果",
        "bayes_factor": "贝叶斯因子",
        "history": "复核记录",
        "at": "时间",
        "action": "操作",
        "actor": "操作人",
        "change": "状态变化",
        "counts": "合计",
        "empty": "没有符合条件的配对。",
        "none_left": "没有待复核的配对了。",
        "not_found": "复核配对 {key} 不存在",
        "recorded": "已记录：{key} → {status}（{by}，版本 {version}）",
        "undone": "已撤销：{key} 重新待复核（版本 {version}）",
        "prompt": "m 同一人 / n 非同一人 / s 跳过 / q 退出",
        "invalid_answer": "请输入 m、n、s 或 q",
        "summary": "本次决定 {decided} 对，跳过 {skipped} 对，剩余待复核 {left} 对。",
        "bad_decision": "决定必须是 match 或 non-match，而不是 {value!r}",
        "bad_status": "状态必须是 pending、match、non-match 或 all，而不是 {value!r}",
        "queued": "入队",
        "decided": "决定",
        "undone_action": "撤销",
        "pending": "待复核",
        "match": "同一人",
        "non_match": "非同一人",
    },
    "en": {
        "error": "error",
        "queue": "pairs to review",
        "pairs": "review pairs",
        "key": "pair key",
        "source": "source",
        "period": "period",
        "probability": "match probability",
        "record_name": "record name",
        "candidate_name": "candidate name",
        "status": "status",
        "decided_by": "decided by",
        "decided_at": "decided at",
        "reason": "reason",
        "version": "version",
        "file": "file:row",
        "periods": "seen in",
        "person": "candidate / household",
        "field": "field",
        "record": "department record",
        "candidate": "registry candidate",
        "level": "comparison",
        "bayes_factor": "Bayes factor",
        "history": "review history",
        "at": "at",
        "action": "action",
        "actor": "by",
        "change": "status change",
        "counts": "totals",
        "empty": "no pairs match.",
        "none_left": "no pairs left to review.",
        "not_found": "review pair {key} does not exist",
        "recorded": "recorded: {key} -> {status} ({by}, version {version})",
        "undone": "undone: {key} is pending again (version {version})",
        "prompt": "m match / n non-match / s skip / q quit",
        "invalid_answer": "answer m, n, s or q",
        "summary": "decided {decided}, skipped {skipped}, {left} left to review.",
        "bad_decision": "the decision must be match or non-match, not {value!r}",
        "bad_status": "the status must be pending, match, non-match or all, not {value!r}",
        "queued": "queued",
        "decided": "decided",
        "undone_action": "undone",
        "pending": "pending",
        "match": "match",
        "non_match": "non-match",
    },
}

#: Names of the usual compared fields.
FIELD_LABELS: Final[dict[str, dict[str, str]]] = {
    "zh": {
        "name": "姓名",
        "id_number": "身份证号",
        "birth_date": "出生日期",
        "sex": "性别",
        "village_code": "村代码",
        "household_id": "户编号",
        "phone": "电话",
        "address": "地址",
    },
    "en": {
        "name": "name",
        "id_number": "ID number",
        "birth_date": "birth date",
        "sex": "sex",
        "village_code": "village code",
        "household_id": "household",
        "phone": "phone",
        "address": "address",
    },
}

_DECISIONS: Final = {"match": "match", "non-match": "non_match", "non_match": "non_match"}
_STATUSES: Final = {
    "pending": "pending",
    "match": "match",
    "non-match": "non_match",
    "non_match": "non_match",
    "all": None,
}
_ANSWERS: Final = {
    "m": "match",
    "match": "match",
    "n": "non_match",
    "non-match": "non_match",
    "s": "skip",
    "skip": "skip",
    "q": "quit",
    "quit": "quit",
}
_PAGE: Final = 50

HomeOption = Annotated[Path | None, typer.Option(help="data directory (POVGUARD_HOME)")]
ByOption = Annotated[str, typer.Option("--by", help="reviewer name (kept in the audit trail)")]
KeyArgument = Annotated[str, typer.Argument(help="pair key (see review list)")]


_lang = language


def _t(lang: str, label: str, /, **values: Any) -> str:
    return text(LABELS, lang, label, **values)


def _status_label(lang: str, status: str) -> str:
    return _t(lang, status) if status in LABELS["zh"] else status


def _action_label(lang: str, action: str) -> str:
    return _t(lang, "undone_action" if action == "undone" else action)


_out = stdout_console


def _fail(message: str, code: int = 2, lang: str = "zh") -> NoReturn:
    fail(LABELS, message, code, lang)


@contextlib.contextmanager
def _session(home: Path | None, lang: str) -> Iterator[Any]:
    """A session on the operations database; service errors become exit codes."""
    from povguard.cli import _ops_session  # at call time: povguard.cli may mount this app

    try:
        with _ops_session(home) as session:
            yield session
    except (NotFoundError, ConflictError) as exc:
        _fail(str(exc), 1, lang)
    except (DataError, ConfigError) as exc:
        _fail(str(exc), 2, lang)


def _value(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def _field_label(lang: str, name: str) -> str:
    label = FIELD_LABELS.get(lang, {}).get(name)
    return f"{label} ({name})" if label and label != name else name


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _bayes(entry: dict[str, Any]) -> str:
    """The entry's Bayes factor (or ``2 ** weight`` for a log2 match weight)."""
    factor = _number(entry.get("bayes_factor"))
    weight = _number(entry.get("weight", entry.get("match_weight")))
    if factor is None and weight is not None:
        factor = 2.0 ** min(weight, 1000.0)
    if factor is None:
        return _value(entry.get("bayes_factor"))
    return f"{factor:,.2f}" if factor >= 0.01 else f"{factor:.2e}"


def _summary_table(lang: str, item: Any) -> Table:
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    decided = item.status != "pending"
    rows = [
        ("key", item.pair_key),
        ("source", item.source),
        ("file", f"{item.file}:{item.row}"),
        ("periods", f"{item.first_period} – {item.last_period}"),
        ("person", f"{item.person_id} / {_value(item.household_id)}"),
        ("probability", f"{item.match_probability:.3f}"),
        ("status", _status_label(lang, item.status)),
    ]
    if decided:
        rows += [
            ("decided_by", _value(item.decided_by)),
            ("decided_at", f"{item.decided_at:%Y-%m-%d %H:%M} UTC" if item.decided_at else "-"),
            ("reason", _value(item.reason)),
        ]
    rows.append(("version", str(item.version)))
    for label, value in rows:
        table.add_row(_t(lang, label), Text(value))
    return table


def _pair_table(lang: str, item: Any) -> Table:
    """Both records side by side, differing values highlighted, with the explanation."""
    explained = {
        str(entry.get("field")): entry for entry in item.explanation if isinstance(entry, dict)
    }
    names = item.fields + [f for f in explained if f not in item.record and f not in item.candidate]
    table = Table(title=f"{_t(lang, 'probability')} {item.match_probability:.3f}")
    table.add_column(_t(lang, "field"), style="bold")
    table.add_column(_t(lang, "record"))
    table.add_column(_t(lang, "candidate"))
    table.add_column("", justify="center")
    table.add_column(_t(lang, "level"))
    table.add_column(_t(lang, "bayes_factor"), justify="right")
    for name in names:
        left = _value(item.record.get(name))
        right = _value(item.candidate.get(name))
        compared = name in item.record or name in item.candidate
        differs = compared and left != right
        style = "bold red" if differs else ""
        entry = explained.get(name, {})
        table.add_row(
            Text(_field_label(lang, name)),
            Text(left, style=style),
            Text(right, style=style),
            Text(("≠" if differs else "=") if compared else "", style=style),
            Text(_value(entry.get("level"))),
            Text(_bayes(entry)),
        )
    return table


def _history_table(lang: str, events: list[Any]) -> Table:
    table = Table(title=_t(lang, "history"))
    for col in ("at", "action", "actor", "change", "reason"):
        table.add_column(_t(lang, col))
    for event in events:
        before = _status_label(lang, event.before_status) if event.before_status else "-"
        table.add_row(
            f"{event.at:%Y-%m-%d %H:%M:%S}",
            _action_label(lang, event.action),
            Text(event.actor),
            f"{before} → {_status_label(lang, event.after_status)}",
            Text(_value(event.reason)),
        )
    return table


def _counts_line(lang: str, counts: dict[str, int]) -> str:
    parts = [f"{_status_label(lang, status)} {n:,}" for status, n in counts.items()]
    return f"{_t(lang, 'counts')}: " + " · ".join(parts)


def _render_pair(out: Console, lang: str, item: Any, events: list[Any] | None = None) -> None:
    out.print(_summary_table(lang, item))
    out.print(_pair_table(lang, item))
    if events is not None:
        out.print(_history_table(lang, events))


@review_app.command("list")
def review_list(
    status: Annotated[str, typer.Option(help="pending, match, non-match or all")] = "pending",
    source: Annotated[str | None, typer.Option(help="only this department source")] = None,
    limit: Annotated[int, typer.Option(help="pairs to show (1-500)")] = 50,
    offset: Annotated[int, typer.Option(help="pairs to skip")] = 0,
    home: HomeOption = None,
) -> None:
    """列出复核配对 / List review pairs, most probable matches first."""
    from povguard.store import services

    lang = _lang()
    if status not in _STATUSES:
        _fail(_t(lang, "bad_status", value=status), 2, lang)
    wanted = _STATUSES[status]
    with _session(home, lang) as session:
        items = services.list_link_reviews(
            session, status=wanted, source=source, limit=limit, offset=offset
        )
        counts = services.count_link_reviews(session, source=source)
    out = _out()
    title = _t(lang, "queue") if wanted == "pending" else _t(lang, "pairs")
    table = Table(title=f"{title} ({status})")
    for col in ("key", "source", "period", "probability", "record_name", "candidate_name"):
        table.add_column(_t(lang, col), no_wrap=col == "key")
    table.add_column(_t(lang, "status"))
    table.add_column(_t(lang, "decided_by"))
    for item in items:
        table.add_row(
            item.pair_key,
            item.source,
            item.last_period,
            f"{item.match_probability:.3f}",
            Text(_value(item.record.get("name"))),
            Text(_value(item.candidate.get("name"))),
            _status_label(lang, item.status),
            Text(_value(item.decided_by)),
        )
    if items:
        out.print(table)
    else:
        out.print(_t(lang, "empty"))
    out.print(_counts_line(lang, counts))


@review_app.command("show")
def review_show(key: KeyArgument, home: HomeOption = None) -> None:
    """查看配对 / Show a pair: both records side by side, the explanation and the history."""
    from povguard.store import services

    lang = _lang()
    with _session(home, lang) as session:
        item = services.get_link_review(session, key)
        if item is None:
            _fail(_t(lang, "not_found", key=key), 1, lang)
        events = services.link_review_history(session, key)
    _render_pair(_out(), lang, item, events)


@review_app.command("decide")
def review_decide(
    key: KeyArgument,
    decision: Annotated[str, typer.Argument(help="match or non-match")],
    by: ByOption,
    reason: Annotated[str | None, typer.Option(help="why (kept with the decision)")] = None,
    version: Annotated[
        int | None, typer.Option(help="refuse if the pair is no longer at this version")
    ] = None,
    home: HomeOption = None,
) -> None:
    """决定 / Decide a pending pair: match (same person) or non-match."""
    from povguard.store import services

    lang = _lang()
    chosen = _DECISIONS.get(decision.strip().lower())
    if chosen is None:
        _fail(_t(lang, "bad_decision", value=decision), 2, lang)
    with _session(home, lang) as session:
        item = services.decide_link_review(
            session, key, chosen, actor=by, reason=reason, expected_version=version
        )
    _out().print(
        Text(
            _t(
                lang,
                "recorded",
                key=item.pair_key,
                status=_status_label(lang, item.status),
                by=item.decided_by,
                version=item.version,
            )
        )
    )


@review_app.command("undo")
def review_undo(
    key: KeyArgument,
    by: ByOption,
    reason: Annotated[str, typer.Option(help="why the decision is undone (required)")],
    home: HomeOption = None,
) -> None:
    """撤销决定 / Undo a pair's decision: it is pending again."""
    from povguard.store import services

    lang = _lang()
    with _session(home, lang) as session:
        item = services.undo_link_review(session, key, actor=by, reason=reason)
    _out().print(Text(_t(lang, "undone", key=item.pair_key, version=item.version)))


def _next_pending(session: Any, source: str | None, skipped: set[str]) -> Any:
    """The first pending pair (queue order) that was not skipped, or None."""
    from povguard.store import services

    offset = 0
    while True:
        page = services.list_link_reviews(session, source=source, limit=_PAGE, offset=offset)
        for item in page:
            if item.pair_key not in skipped:
                return item
        if len(page) < _PAGE:
            return None
        offset += _PAGE


def _ask(lang: str) -> str:
    """The reviewer's answer: match, non_match, skip or quit (end of input quits)."""
    while True:
        try:
            answer = typer.prompt(_t(lang, "prompt"))
        except typer.Abort:
            return "quit"
        chosen = _ANSWERS.get(str(answer).strip().lower())
        if chosen is not None:
            return chosen
        typer.echo(_t(lang, "invalid_answer"))


@review_app.command("next")
def review_next(
    by: ByOption,
    source: Annotated[str | None, typer.Option(help="only this department source")] = None,
    home: HomeOption = None,
) -> None:
    """逐对复核 / Review pending pairs one by one: m(atch), n(on-match), s(kip), q(uit)."""
    from povguard.store import services

    lang = _lang()
    out = _out()
    skipped: set[str] = set()
    decided = 0
    with _session(home, lang) as session:
        while True:
            item = _next_pending(session, source, skipped)
            if item is None:
                out.print(_t(lang, "none_left"))
                break
            out.rule(Text(item.pair_key))
            _render_pair(out, lang, item)
            answer = _ask(lang)
            if answer == "quit":
                break
            if answer == "skip":
                skipped.add(item.pair_key)
                continue
            try:
                done = services.decide_link_review(
                    session, item.pair_key, answer, actor=by, expected_version=item.version
                )
            except ConflictError as exc:
                Console(stderr=True).print(f"[yellow]{escape(str(exc))}[/]", soft_wrap=True)
                skipped.add(item.pair_key)
                continue
            decided += 1
            out.print(
                Text(
                    _t(
                        lang,
                        "recorded",
                        key=done.pair_key,
                        status=_status_label(lang, done.status),
                        by=done.decided_by,
                        version=done.version,
                    )
                )
            )
        left = services.count_link_reviews(session, status="pending", source=source)["pending"]
    out.print(_t(lang, "summary", decided=decided, skipped=len(skipped), left=left))
