"""``povguard cases ...``: case lists, deadlines, overdue alerts, reminders, printable forms.

Mounted into the main command line as ``povguard cases``. The operations database is
the one of ``--home`` (or ``POVGUARD_HOME``), or ``--database-url`` (or
``POVGUARD_DATABASE_URL``). Every read takes ``--area PREFIX`` (a region-code
prefix, default everything), applied inside the queries by the case services.
Deadlines are judged on ``--today`` (default: the local date), with the due dates
the policy pack in force for each case's village sets (DOMAIN.md section 3: the
15-day identification limit, the home visit, reviews, notices, follow-ups). Output
is Chinese, or English when ``POVGUARD_LANGUAGE=en``; the forms follow the same
language.

Commands: ``list``, ``show``, ``overdue``, ``remind``, ``form``, ``notices`` and
``relapses``. ``form`` and ``notices`` write the XLSX files that
:func:`povguard.store.services.case_form` and
:func:`povguard.store.services.notice_list_form` make, the same functions behind the
API's exports (ID numbers masked, the household's income taken from the ``income``
object of a visit, proposal or home-check payload), so a form printed here and one
downloaded from the web are the same; they record the export in the audit trail
(personal data leaves the database).

Exit codes: 0 done; 1 the case (or household, village notice) is not found in the
area, a form's data is not there yet (the reason is printed), or, for ``overdue``,
some cases are overdue (so that a cron job can alert); 2 bad arguments or
configuration.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, NoReturn, TypeVar

import typer
from rich.table import Table
from rich.text import Text

from povguard.cli_support import fail, language, stdout_console, text
from povguard.errors import ConfigError, ConflictError, DataError, NotFoundError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from povguard.store.services import CaseView, HouseholdDetail, TaskItem
    from povguard.store.services.case_forms import FormKind, NoticeKind

Lang = Literal["zh", "en"]
_T = TypeVar("_T", bound=str)

cases_app = typer.Typer(
    help="案件管理 / Cases: lists, deadlines, overdue alerts, reminders, printable forms.",
    no_args_is_help=True,
    add_completion=False,
)

#: User-facing texts, Chinese and English.
LABELS: Final[dict[str, dict[str, str]]] = {
    "zh": {
        "error": "错误",
        "cases": "案件",
        "case": "案件编号",
        "household": "户编号",
        "village": "村代码",
        "status": "状态",
        "channel": "发现渠道",
        "basis": "依据",
        "relapse": "返贫风险",
        "assignee": "责任人",
        "household_type": "户类型",
        "causes": "风险类型",
        "discovered": "发现时间",
        "updated": "最近变更",
        "plan": "帮扶计划",
        "version": "版本",
        "due": "到期日",
        "due_kind": "到期事项",
        "days_overdue": "逾期天数",
        "page": "第 {page}/{pages} 页，共 {total} 件",
        "empty": "没有符合条件的案件。",
        "allowed": "可办理操作",
        "none": "无",
        "deadlines": "办理时限",
        "deadline": "事项",
        "since": "起算日",
        "param": "政策参数",
        "state": "情况",
        "overdue_by": "逾期 {n} 天",
        "due_today": "今天到期",
        "days_left": "剩 {n} 天",
        "notice_until": "公示自 {start} 起，最早 {day} 可结束",
        "tasks": "任务",
        "task": "任务",
        "level": "层级",
        "created": "创建时间",
        "done": "完成时间",
        "history": "办理记录",
        "seq": "序号",
        "at": "时间",
        "action": "操作",
        "actor": "操作人",
        "change": "状态变化",
        "reason": "理由",
        "overdue_title": "逾期案件（截至 {today}）",
        "area": "区域代码",
        "area_name": "名称",
        "count": "逾期件数",
        "oldest": "逾期最久",
        "oldest_due": "其到期日",
        "oldest_days": "其逾期天数",
        "total_overdue": "共 {n} 件案件逾期。",
        "none_overdue": "截至 {today} 没有逾期案件。",
        "reminders_title": "待办提醒（截至 {today}，{within} 天内到期或已逾期）",
        "reminder_block": "{who}：{n} 项",
        "unassigned": "未指派（{level}）",
        "step": "办理事项",
        "case_status": "案件状态",
        "no_reminders": "截至 {today} 没有 {within} 天内到期或已逾期的任务。",
        "reminders_total": "共 {n} 项任务，{people} 个责任人。",
        "form_written": "已生成{form}：{path}",
        "notice_written": "已生成公示名单（{n} 户，{start} 至 {end}）：{path}",
        "relapses_title": "返贫统计 {start} 至 {end}",
        "period": "期间",
        "opened": "新建案件",
        "relapses": "返贫案件",
        "relapse_households": "返贫户数",
        "share": "返贫占比",
        "total": "合计",
        "yes": "是",
        "no": "否",
        "bad_status": "状态必须是 {allowed} 之一，而不是 {value!r}",
        "bad_channel": "发现渠道必须是 {allowed} 之一，而不是 {value!r}",
        "bad_choice": "{option} 必须是 {allowed} 之一，而不是 {value!r}",
        "bad_date": "{option} 必须是日期 YYYY-MM-DD，而不是 {value!r}",
        "bad_area": "区域代码前缀必须是 0 到 12 位数字，而不是 {value!r}",
        "bad_village": "村代码必须是 12 位数字，而不是 {value!r}",
        "bad_out": "输出文件夹 {path} 不存在",
        "bad_suffix": "输出文件必须以 .xlsx 结尾：{path}",
        "write_failed": "无法写入 {path}：{why}",
        "form_input": "表格数据不完整：{why}",
        "form.screening": "识别登记表",
        "form.elimination": "风险消除评估表",
        "form.measures": "帮扶措施台账",
        "level.village": "村级",
        "level.township": "乡镇",
        "level.county": "县级",
        "task.visit": "入户核实",
        "task.cross_check": "部门数据比对",
        "task.review": "审核",
        "task.notice": "公示",
        "task.plan": "制定帮扶计划",
        "task.follow_up": "跟踪回访",
        "task.home_check": "风险消除入户核查",
        "task_status.open": "待办",
        "task_status.done": "已完成",
        "task_status.cancelled": "已取消",
        "basis.risk": "风险预警",
        "basis.needs_verification": "待核实预警",
        "basis.report": "申报或反映",
    },
    "en": {
        "error": "error",
        "cases": "cases",
        "case": "case",
        "household": "household",
        "village": "village code",
        "status": "status",
        "channel": "channel",
        "basis": "basis",
        "relapse": "relapse",
        "assignee": "assignee",
        "household_type": "household type",
        "causes": "risks",
        "discovered": "discovered",
        "updated": "last change",
        "plan": "plan",
        "version": "version",
        "due": "due",
        "due_kind": "due for",
        "days_overdue": "days overdue",
        "page": "page {page}/{pages}, {total} cases",
        "empty": "no cases match.",
        "allowed": "allowed actions",
        "none": "none",
        "deadlines": "deadlines",
        "deadline": "deadline",
        "since": "counted from",
        "param": "policy parameter",
        "state": "state",
        "overdue_by": "{n} days overdue",
        "due_today": "due today",
        "days_left": "{n} days left",
        "notice_until": "public notice since {start}; may end on {day} at the earliest",
        "tasks": "tasks",
        "task": "task",
        "level": "level",
        "created": "created",
        "done": "done",
        "history": "history",
        "seq": "#",
        "at": "at",
        "action": "action",
        "actor": "by",
        "change": "status change",
        "reason": "reason",
        "overdue_title": "overdue cases (as of {today})",
        "area": "area code",
        "area_name": "name",
        "count": "overdue",
        "oldest": "most overdue",
        "oldest_due": "its due date",
        "oldest_days": "its days overdue",
        "total_overdue": "{n} cases overdue.",
        "none_overdue": "no cases overdue as of {today}.",
        "reminders_title": "reminders (as of {today}: due within {within} days or overdue)",
        "reminder_block": "{who}: {n} tasks",
        "unassigned": "unassigned ({level})",
        "step": "step",
        "case_status": "case status",
        "no_reminders": "no tasks due within {within} days or overdue as of {today}.",
        "reminders_total": "{n} tasks for {people} assignees.",
        "form_written": "{form} written: {path}",
        "notice_written": "notice list written ({n} households, {start} to {end}): {path}",
        "relapses_title": "relapses {start} to {end}",
        "period": "period",
        "opened": "cases opened",
        "relapses": "relapse cases",
        "relapse_households": "relapse households",
        "share": "relapse share",
        "total": "total",
        "yes": "yes",
        "no": "no",
        "bad_status": "the status must be one of {allowed}, not {value!r}",
        "bad_channel": "the channel must be one of {allowed}, not {value!r}",
        "bad_choice": "{option} must be one of {allowed}, not {value!r}",
        "bad_date": "{option} must be a date YYYY-MM-DD, not {value!r}",
        "bad_area": "the area prefix must be 0 to 12 digits, not {value!r}",
        "bad_village": "the village code must have 12 digits, not {value!r}",
        "bad_out": "the output folder {path} does not exist",
        "bad_suffix": "the output file must end in .xlsx: {path}",
        "write_failed": "cannot write {path}: {why}",
        "form_input": "the form's data are incomplete: {why}",
        "form.screening": "screening form",
        "form.elimination": "elimination assessment form",
        "form.measures": "measures record",
        "level.village": "village",
        "level.township": "township",
        "level.county": "county",
        "task.visit": "home visit",
        "task.cross_check": "data cross-check",
        "task.review": "review",
        "task.notice": "public notice",
        "task.plan": "assistance plan",
        "task.follow_up": "follow-up visit",
        "task.home_check": "elimination home check",
        "task_status.open": "open",
        "task_status.done": "done",
        "task_status.cancelled": "cancelled",
        "basis.risk": "risk warning",
        "basis.needs_verification": "needs verification",
        "basis.report": "report",
    },
}

_PAGE_SIZE: Final = 50
#: Rows read per query when a command walks a whole list (the services' maximum).
_BATCH: Final = 500
_FORM_KINDS: Final[tuple[FormKind, ...]] = ("screening", "elimination", "measures")
_NOTICE_KINDS: Final[tuple[NoticeKind, ...]] = ("identification", "elimination")
_GROUPINGS: Final = ("township", "village")
_LEVELS: Final = ("village", "township", "county")
_VILLAGE_CODE_LEN: Final = 12
_TOWNSHIP_PREFIX_LEN: Final = 9

HomeOption = Annotated[Path | None, typer.Option(help="data directory (POVGUARD_HOME)")]
DatabaseOption = Annotated[
    str | None,
    typer.Option("--database-url", help="operations database URL (POVGUARD_DATABASE_URL)"),
]
AreaOption = Annotated[
    str, typer.Option("--area", help="region-code prefix of your area ('' = everything)")
]
TodayOption = Annotated[
    str | None,
    typer.Option("--today", help="judge deadlines on this day YYYY-MM-DD (default: today)"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]
CaseArgument = Annotated[str, typer.Argument(help="case id (see cases list)")]
UserOption = Annotated[
    str | None, typer.Option("--user", help="who exports (printed on the form; default: OS user)")
]


# ------------------------------------------------------------------------ helpers


_lang = language


def _t(lang: str, label: str, /, **values: Any) -> str:
    return text(LABELS, lang, label, **values)


def _fail(message: str, code: int = 2, lang: str = "zh") -> NoReturn:
    fail(LABELS, message, code, lang)


_out = stdout_console


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {value!r}")


@contextlib.contextmanager
def _session(home: Path | None, database_url: str | None, lang: Lang) -> Iterator[Session]:
    """A session on the migrated operations database; service errors become exit codes."""
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from povguard.settings import Settings
    from povguard.store import make_engine, migrate, session_factory
    from povguard.store.services import AreaScopeError

    overrides: dict[str, Any] = {}
    if home is not None:
        overrides["home"] = home
    if database_url is not None:
        overrides["database_url"] = database_url
    try:
        url = Settings(**overrides).ops_url
    except ValidationError as exc:
        _fail(f"invalid settings: {exc.errors()[0].get('msg', exc)}", 2, lang)
    try:
        migrate(url)
        engine = make_engine(url)
    except (ConfigError, DataError, SQLAlchemyError) as exc:
        _fail(f"operations database: {exc}", 2, lang)
    try:
        with session_factory(engine)() as session:
            yield session
    except (NotFoundError, ConflictError) as exc:
        _fail(str(exc), 1, lang)
    except (DataError, ConfigError, AreaScopeError) as exc:
        _fail(str(exc), 2, lang)
    finally:
        engine.dispose()


def _check_area(area: str, lang: Lang) -> str:
    value = area.strip()
    if len(value) > _VILLAGE_CODE_LEN or (value and not value.isdigit()):
        _fail(_t(lang, "bad_area", value=area), 2, lang)
    return value


def _parse_day(value: str | None, option: str, lang: Lang) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        _fail(_t(lang, "bad_date", option=option, value=value), 2, lang)


def _choice(value: str, allowed: Sequence[_T], option: str, lang: Lang) -> _T:
    for choice in allowed:
        if choice == value:
            return choice
    _fail(_t(lang, "bad_choice", option=option, allowed=", ".join(allowed), value=value), 2, lang)


def _check_out(out: Path, lang: Lang) -> Path:
    if out.suffix.lower() != ".xlsx":
        _fail(_t(lang, "bad_suffix", path=out), 2, lang)
    if not out.parent.is_dir():
        _fail(_t(lang, "bad_out", path=out.parent), 2, lang)
    return out


def _export_user(user: str | None) -> str:
    if user is not None and user.strip():
        return user.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return os.environ.get("USER") or os.environ.get("USERNAME") or "povguard"


def _pair(labels: Mapping[Any, tuple[str, str]], key: Any, lang: Lang) -> str:
    zh, en = labels[key]
    return en if lang == "en" else zh


def _status(status: str, lang: Lang) -> str:
    from povguard.cases import STATUS_LABELS, CaseStatus

    return _pair(STATUS_LABELS, CaseStatus(status), lang) if status in set(CaseStatus) else status


def _channel(channel: str, lang: Lang) -> str:
    from povguard.cases import CHANNEL_LABELS, Channel

    return _pair(CHANNEL_LABELS, Channel(channel), lang) if channel in set(Channel) else channel


def _action(action: str, lang: Lang) -> str:
    from povguard.cases import ACTION_LABELS, Action

    return _pair(ACTION_LABELS, Action(action), lang) if action in set(Action) else action


def _deadline_kind(kind: str | None, lang: Lang) -> str:
    from povguard.cases import DEADLINE_LABELS

    if kind is None:
        return "-"
    return _pair(DEADLINE_LABELS, kind, lang) if kind in DEADLINE_LABELS else kind


def _maybe(lang: Lang, prefix: str, key: str | None) -> str:
    """The label ``prefix.key`` if there is one, else ``key`` (``-`` for None)."""
    if key is None:
        return "-"
    name = f"{prefix}.{key}"
    return _t(lang, name) if name in LABELS[lang] else key


def _value(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def _when(value: dt.datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M}"


def _due_state(due_on: dt.date | None, today: dt.date, lang: Lang) -> Text:
    """The days overdue (red), "due today" (yellow) or the days left."""
    if due_on is None:
        return Text("-")
    delta = (today - due_on).days
    if delta > 0:
        return Text(_t(lang, "overdue_by", n=delta), style="bold red")
    if delta == 0:
        return Text(_t(lang, "due_today"), style="yellow")
    return Text(_t(lang, "days_left", n=-delta))


def _period_of(day: dt.date | dt.datetime) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _case_json(view: CaseView) -> dict[str, Any]:
    return {
        "id": view.id,
        "household_id": view.household_id,
        "village_code": view.village_code,
        "period": view.period,
        "status": view.status,
        "channel": view.channel,
        "basis": view.basis,
        "relapse": view.relapse,
        "assignee": view.assignee,
        "household_type": view.household_type,
        "main_cause": view.main_cause,
        "other_causes": list(view.other_causes),
        "discovered_at": view.discovered_at,
        "updated_at": view.updated_at,
        "version": view.version,
        "plan_id": view.plan_id,
        "due_on": view.due_on,
        "due_kind": view.due_kind,
        "overdue": view.overdue,
        "days_overdue": view.due.days_overdue if view.due is not None else 0,
        "allowed_actions": list(view.allowed_actions),
    }


# -------------------------------------------------------------------- exports


def _region_names(household: HouseholdDetail) -> dict[str, str]:
    return {r.level: r.name for r in household.regions}


def _write(out: Path, data: bytes, lang: Lang) -> None:
    try:
        out.write_bytes(data)
    except OSError as exc:
        _fail(_t(lang, "write_failed", path=out, why=exc.strerror or exc), 2, lang)


# ------------------------------------------------------------------------ commands


@cases_app.command("list")
def list_(
    status: Annotated[
        list[str] | None, typer.Option("--status", help="only this status (repeatable)")
    ] = None,
    open_only: Annotated[bool, typer.Option("--open", help="only cases not closed")] = False,
    channel: Annotated[str | None, typer.Option(help="only cases found through it")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="only overdue cases")] = False,
    assignee: Annotated[str | None, typer.Option(help="only cases of this cadre")] = None,
    page: Annotated[int, typer.Option(help="page of 50 cases", min=1)] = 1,
    area: AreaOption = "",
    today: TodayOption = None,
    as_json: JsonOption = False,
    home: HomeOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """列出案件 / List cases: status, channel, due date, days overdue."""
    from povguard.cases import CaseStatus, Channel
    from povguard.store import services

    lang = _lang()
    prefix = _check_area(area, lang)
    day = _parse_day(today, "--today", lang)
    statuses = [s.value for s in CaseStatus]
    for value in status or []:
        if value not in statuses:
            _fail(_t(lang, "bad_status", allowed=", ".join(statuses), value=value), 2, lang)
    channels = [c.value for c in Channel]
    if channel is not None and channel not in channels:
        _fail(_t(lang, "bad_channel", allowed=", ".join(channels), value=channel), 2, lang)
    with _session(home, database_url, lang) as session:
        found = services.list_cases(
            session,
            prefix,
            status=status or None,
            open_only=open_only,
            channel=channel,
            overdue=True if overdue else None,
            assignee=assignee,
            now=day,
            page=page,
            page_size=_PAGE_SIZE,
        )
    if as_json:
        _echo_json(
            {
                "today": day,
                "area": prefix,
                "total": found.total,
                "page": found.page,
                "pages": found.pages,
                "items": [_case_json(v) for v in found.items],
            }
        )
        return
    out = _out()
    if not found.items:
        out.print(_t(lang, "empty"))
    else:
        table = Table(title=_t(lang, "cases"))
        for col in ("case", "household", "status", "channel", "assignee", "due", "due_kind"):
            table.add_column(_t(lang, col), no_wrap=col in ("case", "household", "due"))
        table.add_column(_t(lang, "days_overdue"), justify="right")
        for v in found.items:
            late = v.due.days_overdue if v.due is not None else 0
            table.add_row(
                v.id,
                v.household_id,
                _status(v.status, lang),
                _channel(v.channel, lang),
                Text(_value(v.assignee)),
                _value(v.due_on),
                _deadline_kind(v.due_kind, lang),
                Text(str(late), style="bold red") if late else Text("0"),
            )
        out.print(table)
    out.print(_t(lang, "page", page=found.page, pages=found.pages, total=found.total))


@cases_app.command("show")
def show(
    case_id: CaseArgument,
    area: AreaOption = "",
    today: TodayOption = None,
    as_json: JsonOption = False,
    home: HomeOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """查看案件 / Show a case: state, allowed actions, deadlines, tasks, history."""
    from povguard.cases import deadlines, notice_end
    from povguard.store import services

    lang = _lang()
    prefix = _check_area(area, lang)
    day = _parse_day(today, "--today", lang)
    with _session(home, database_url, lang) as session:
        detail = services.case_detail(session, case_id, prefix, now=day)
        view = detail.case
        state = view.state
        params = services.case_params(_period_of(state.entered_at), view.village_code)
        due_list = deadlines(state, params) if view.is_open else ()
        notice_day = notice_end(state, params) if view.is_open else None
    if as_json:
        _echo_json(
            {
                "case": _case_json(view),
                "deadlines": [
                    {
                        "kind": d.kind,
                        "due_on": d.due_on,
                        "since": d.since,
                        "param": d.param,
                        "overdue": day > d.due_on,
                    }
                    for d in due_list
                ],
                "notice_started_on": state.notice_started_on,
                "notice_earliest_end": notice_day,
                "tasks": [
                    {
                        "id": t.id,
                        "kind": t.kind,
                        "level": t.level,
                        "assignee": t.assignee,
                        "due_on": t.due_on,
                        "status": t.status,
                        "created_at": t.created_at,
                        "done_at": t.done_at,
                    }
                    for t in detail.tasks
                ],
                "history": [
                    {
                        "seq": e.seq,
                        "at": e.at,
                        "action": e.action,
                        "actor": e.actor,
                        "before": e.before,
                        "after": e.after,
                        "reason": e.reason,
                    }
                    for e in detail.events
                ],
            }
        )
        return
    out = _out()
    summary = Table(show_header=False, box=None, padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    causes = [view.main_cause, *view.other_causes] if view.main_cause else []
    rows = [
        ("case", view.id),
        ("household", view.household_id),
        ("village", view.village_code),
        ("status", _status(view.status, lang)),
        ("channel", _channel(view.channel, lang)),
        ("basis", _maybe(lang, "basis", view.basis)),
        ("relapse", _t(lang, "yes" if view.relapse else "no")),
        ("assignee", _value(view.assignee)),
        ("household_type", _household_type(view.household_type, lang)),
        ("causes", ", ".join(_cause(c, lang) for c in causes) or "-"),
        ("discovered", _when(view.discovered_at)),
        ("updated", _when(view.updated_at)),
        ("plan", _value(view.plan_id)),
        ("version", str(view.version)),
        ("allowed", ", ".join(_action(a, lang) for a in view.allowed_actions) or _t(lang, "none")),
    ]
    for label, value in rows:
        summary.add_row(_t(lang, label), Text(value))
    out.print(summary)

    table = Table(title=_t(lang, "deadlines"))
    for col in ("deadline", "due", "since", "param", "state"):
        table.add_column(_t(lang, col))
    for d in due_list:
        table.add_row(
            _deadline_kind(d.kind, lang),
            d.due_on.isoformat(),
            d.since.isoformat(),
            d.param,
            _due_state(d.due_on, day, lang),
        )
    if due_list:
        out.print(table)
    else:
        out.print(f"{_t(lang, 'deadlines')}: {_t(lang, 'none')}")
    if notice_day is not None and state.notice_started_on is not None:
        start = state.notice_started_on.isoformat()
        out.print(_t(lang, "notice_until", start=start, day=notice_day.isoformat()))

    tasks = Table(title=_t(lang, "tasks"))
    for col in ("task", "level", "assignee", "due", "status", "created", "done"):
        tasks.add_column(_t(lang, col))
    for t in detail.tasks:
        tasks.add_row(
            _maybe(lang, "task", t.kind),
            _maybe(lang, "level", t.level),
            Text(_value(t.assignee)),
            _value(t.due_on),
            _maybe(lang, "task_status", t.status),
            _when(t.created_at),
            _when(t.done_at),
        )
    out.print(tasks)

    history = Table(title=_t(lang, "history"))
    history.add_column(_t(lang, "seq"), justify="right")
    for col in ("at", "action", "actor", "change", "reason"):
        history.add_column(_t(lang, col))
    for e in detail.events:
        before = _status(e.before, lang) if e.before else "-"
        history.add_row(
            str(e.seq),
            _when(e.at),
            _action(e.action, lang),
            Text(e.actor),
            f"{before} → {_status(e.after, lang)}",
            Text(_value(e.reason)),
        )
    out.print(history)


def _household_type(value: str | None, lang: Lang) -> str:
    from povguard.cases import HOUSEHOLD_TYPE_LABELS, HouseholdType

    if value is None or value not in set(HouseholdType):
        return _value(value)
    return _pair(HOUSEHOLD_TYPE_LABELS, HouseholdType(value), lang)


def _cause(value: str, lang: Lang) -> str:
    from povguard.cases import CAUSE_LABELS, RiskCause

    return _pair(CAUSE_LABELS, RiskCause(value), lang) if value in set(RiskCause) else value


def _all_overdue(session: Session, prefix: str, day: dt.date) -> list[CaseView]:
    from povguard.store import services

    items: list[CaseView] = []
    page = 1
    while True:
        found = services.overdue(session, prefix, day, page=page, page_size=_BATCH)
        items.extend(found.items)
        if not found.has_next:
            return items
        page += 1


def _group_code(village_code: str, by: str) -> str:
    if by == "village":
        return village_code
    return village_code[:_TOWNSHIP_PREFIX_LEN].ljust(_VILLAGE_CODE_LEN, "0")


@cases_app.command("overdue")
def overdue_(
    area: AreaOption = "",
    by: Annotated[str, typer.Option("--by", help="group per township or village")] = "township",
    today: TodayOption = None,
    as_json: JsonOption = False,
    home: HomeOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """逾期案件 / Overdue cases per area, with counts and the most overdue.

    Exit codes: 0 none overdue; 1 some overdue (for a cron job to alert); 2 bad
    arguments or configuration.
    """
    from povguard.store import services

    lang = _lang()
    prefix = _check_area(area, lang)
    grouping = _choice(by, _GROUPINGS, "--by", lang)
    day = _parse_day(today, "--today", lang)
    groups: dict[str, list[CaseView]] = {}
    names: dict[str, str] = {}
    with _session(home, database_url, lang) as session:
        for view in _all_overdue(session, prefix, day):
            groups.setdefault(_group_code(view.village_code, grouping), []).append(view)
        for code, views in groups.items():
            household = services.household_detail(session, views[0].household_id, prefix)
            if household is not None:
                names[code] = _region_names(household).get(grouping, "")
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    total = sum(len(v) for v in groups.values())

    def oldest(views: list[CaseView]) -> CaseView:
        return min(views, key=lambda v: (v.due_on or day, v.id))

    def oldest_json(views: list[CaseView]) -> dict[str, Any]:
        o = oldest(views)
        return {
            "case_id": o.id,
            "household_id": o.household_id,
            "due_on": o.due_on,
            "due_kind": o.due_kind,
            "days_overdue": o.due.days_overdue if o.due is not None else 0,
        }

    if as_json:
        _echo_json(
            {
                "today": day,
                "area": prefix,
                "by": grouping,
                "total": total,
                "groups": [
                    {
                        "code": code,
                        "name": names.get(code, ""),
                        "count": len(views),
                        "oldest": oldest_json(views),
                        "cases": [v.id for v in views],
                    }
                    for code, views in ordered
                ],
            }
        )
    else:
        out = _out()
        if not total:
            out.print(Text(_t(lang, "none_overdue", today=day.isoformat()), style="bold green"))
        else:
            table = Table(title=_t(lang, "overdue_title", today=day.isoformat()))
            table.add_column(_t(lang, "area"), no_wrap=True)
            table.add_column(_t(lang, "area_name"))
            table.add_column(_t(lang, "count"), justify="right")
            table.add_column(_t(lang, "oldest"), no_wrap=True)
            table.add_column(_t(lang, "household"), no_wrap=True)
            table.add_column(_t(lang, "oldest_due"))
            table.add_column(_t(lang, "due_kind"))
            table.add_column(_t(lang, "oldest_days"), justify="right")
            for code, views in ordered:
                o = oldest(views)
                table.add_row(
                    code,
                    Text(names.get(code, "")),
                    str(len(views)),
                    o.id,
                    o.household_id,
                    _value(o.due_on),
                    _deadline_kind(o.due_kind, lang),
                    Text(str(o.due.days_overdue if o.due is not None else 0), style="bold red"),
                )
            out.print(table)
            out.print(Text(_t(lang, "total_overdue", n=total), style="bold red"))
    if total:
        raise typer.Exit(1)


def _due_tasks(session: Session, prefix: str, day: dt.date, within: int) -> list[TaskItem]:
    """Open tasks due on or before ``day + within`` (overdue ones included), earliest first."""
    from povguard.store import services

    limit = day + dt.timedelta(days=within)
    items: list[TaskItem] = []
    page = 1
    while True:
        found = services.list_tasks(
            session, prefix, status="open", now=day, page=page, page_size=_BATCH
        )
        for task in found.items:
            if task.due_on is None or task.due_on > limit:
                return items  # sorted by due date, undated last: nothing further is due
            items.append(task)
        if not found.has_next:
            return items
        page += 1


@cases_app.command("remind")
def remind(
    area: AreaOption = "",
    within: Annotated[
        int, typer.Option("--within", help="days ahead (tasks due by then, or overdue)", min=0)
    ] = 2,
    today: TodayOption = None,
    as_json: JsonOption = False,
    home: HomeOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """待办提醒 / Reminders: open tasks due soon or overdue, one block per assignee.

    Tasks of the township and county levels (no named assignee) are grouped per level.
    ``--json`` gives the same blocks for a mail or SMS gateway.
    """
    lang = _lang()
    prefix = _check_area(area, lang)
    day = _parse_day(today, "--today", lang)
    with _session(home, database_url, lang) as session:
        tasks = _due_tasks(session, prefix, day, within)
    blocks: dict[tuple[int, str, str], list[TaskItem]] = {}
    for task in tasks:
        if task.assignee:
            key = (0, task.assignee, "")
        else:
            level = task.level if task.level in _LEVELS else "village"
            key = (1, str(_LEVELS.index(level)), level)
        blocks.setdefault(key, []).append(task)
    ordered = sorted(blocks.items(), key=lambda kv: kv[0])

    def who(key: tuple[int, str, str]) -> str:
        return (
            key[1] if key[0] == 0 else _t(lang, "unassigned", level=_maybe(lang, "level", key[2]))
        )

    if as_json:
        _echo_json(
            {
                "today": day,
                "area": prefix,
                "within_days": within,
                "total": len(tasks),
                "reminders": [
                    {
                        "assignee": key[1] if key[0] == 0 else None,
                        "level": None if key[0] == 0 else key[2],
                        "label": who(key),
                        "tasks": [
                            {
                                "task_id": t.id,
                                "case_id": t.case_id,
                                "household_id": t.household_id,
                                "village_code": t.village_code,
                                "kind": t.kind,
                                "level": t.level,
                                "step": _maybe(lang, "task", t.kind),
                                "case_status": t.case_status,
                                "due_on": t.due_on,
                                "overdue": t.overdue_on(day),
                                "days_overdue": max((day - t.due_on).days, 0) if t.due_on else 0,
                                "days_left": max((t.due_on - day).days, 0) if t.due_on else None,
                            }
                            for t in items
                        ],
                    }
                    for key, items in ordered
                ],
            }
        )
        return
    out = _out()
    if not tasks:
        out.print(_t(lang, "no_reminders", today=day.isoformat(), within=within))
        return
    out.print(Text(_t(lang, "reminders_title", today=day.isoformat(), within=within), style="bold"))
    for key, items in ordered:
        table = Table(title=_t(lang, "reminder_block", who=who(key), n=len(items)))
        for col in ("case", "household", "village", "step", "case_status", "due", "state"):
            table.add_column(_t(lang, col), no_wrap=col in ("case", "household", "village"))
        for t in items:
            table.add_row(
                t.case_id,
                t.household_id,
                t.village_code,
                f"{_maybe(lang, 'level', t.level)} {_maybe(lang, 'task', t.kind)}",
                _status(t.case_status, lang),
                _value(t.due_on),
                _due_state(t.due_on, day, lang),
            )
        out.print(table)
    out.print(_t(lang, "reminders_total", n=len(tasks), people=len(blocks)))


@cases_app.command("form")
def form(
    case_id: CaseArgument,
    kind: Annotated[str, typer.Option("--kind", help="screening, elimination or measures")],
    out: Annotated[Path, typer.Option("--out", help="XLSX file to write")],
    user: UserOption = None,
    area: AreaOption = "",
    home: HomeOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """打印表格 / Write a case's printable form (XLSX) for signature.

    ``screening``: the identification form; ``elimination``: the risk-elimination
    assessment (needs the proposal with the household's income, and the home
    check); ``measures``: the record of assistance measures. The forms are filled
    exactly as the API's exports (:func:`povguard.store.services.case_form`), ID
    numbers masked. The export is recorded in the audit trail. Exit code 1 when the
    case is not found or its data are not there yet (the reason is printed).
    """
    from povguard.cases import FormInputError
    from povguard.store.services import FormError, case_form

    lang = _lang()
    chosen = _choice(kind, _FORM_KINDS, "--kind", lang)
    prefix = _check_area(area, lang)
    target = _check_out(out, lang)
    who = _export_user(user)
    now = dt.datetime.now().replace(microsecond=0)
    with _session(home, database_url, lang) as session:
        try:
            data, _ = case_form(
                session,
                case_id,
                chosen,
                prefix,
                lang=lang,
                generated_by=who,
                generated_at=now,
                file_name=target.name,
            )
        except FormInputError as exc:
            _fail(_t(lang, "form_input", why=exc), 1, lang)
        except FormError as exc:  # the data are not there yet, or the household is not found
            _fail(exc.message(lang), 1, lang)
    _write(target, data, lang)
    _out().print(Text(_t(lang, "form_written", form=_t(lang, f"form.{chosen}"), path=target)))


@cases_app.command("notices")
def notices(
    village: Annotated[str, typer.Option("--village", help="12-digit village code")],
    kind: Annotated[str, typer.Option("--kind", help="identification or elimination")],
    out: Annotated[Path, typer.Option("--out", help="XLSX file to write")],
    user: UserOption = None,
    contact: Annotated[str, typer.Option(help="phone or office for objections")] = "",
    area: AreaOption = "",
    home: HomeOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """公示名单 / Write the village's public-notice list of the cases whose notice runs.

    The period printed runs from the first notice's start to the last day the
    longest-running one must stay on display (the pack's ``notice_days_*`` when it
    started). The export is recorded in the audit trail. Exit code 1 when no case
    of the village (in your area) has a running notice of that kind.
    """
    from povguard.cases import FormInputError
    from povguard.store.services import FormError, notice_list_form

    lang = _lang()
    chosen = _choice(kind, _NOTICE_KINDS, "--kind", lang)
    code = village.strip()
    if len(code) != _VILLAGE_CODE_LEN or not code.isdigit():
        _fail(_t(lang, "bad_village", value=village), 2, lang)
    prefix = _check_area(area, lang)
    target = _check_out(out, lang)
    who = _export_user(user)
    now = dt.datetime.now().replace(microsecond=0)
    with _session(home, database_url, lang) as session:
        try:
            exported = notice_list_form(
                session,
                prefix,
                village_code=code,
                kind=chosen,
                lang=lang,
                generated_by=who,
                generated_at=now,
                contact=contact,
                file_name=target.name,
            )
        except FormInputError as exc:
            _fail(_t(lang, "form_input", why=exc), 1, lang)
        except FormError as exc:  # no running notice of that kind in the village
            _fail(exc.message(lang), 1, lang)
    _write(target, exported.data, lang)
    message = _t(
        lang,
        "notice_written",
        n=exported.households,
        start=exported.start.isoformat(),
        end=exported.end.isoformat(),
        path=target,
    )
    _out().print(Text(message))


@cases_app.command("relapses")
def relapses(
    start: Annotated[str, typer.Option("--from", help="first month YYYY-MM")],
    end: Annotated[str, typer.Option("--to", help="last month YYYY-MM")],
    area: AreaOption = "",
    as_json: JsonOption = False,
    home: HomeOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """返贫统计 / Cases opened per month and how many are relapses (返贫)."""
    from povguard.store import services

    lang = _lang()
    prefix = _check_area(area, lang)
    with _session(home, database_url, lang) as session:
        counts = services.relapse_counts(session, prefix, start, end)
    opened = sum(c.opened for c in counts)
    relapse_cases = sum(c.relapses for c in counts)
    if as_json:
        _echo_json(
            {
                "area": prefix,
                "from": start,
                "to": end,
                "periods": [
                    {
                        "period": c.period,
                        "opened": c.opened,
                        "relapses": c.relapses,
                        "relapse_households": c.relapse_households,
                        "relapse_share": c.relapse_share,
                    }
                    for c in counts
                ],
                "opened": opened,
                "relapses": relapse_cases,
            }
        )
        return
    table = Table(title=_t(lang, "relapses_title", start=start, end=end))
    table.add_column(_t(lang, "period"))
    for col in ("opened", "relapses", "relapse_households", "share"):
        table.add_column(_t(lang, col), justify="right")

    def share(n: int, of: int) -> str:
        return f"{n / of:.1%}" if of else "-"

    for c in counts:
        table.add_row(
            c.period,
            str(c.opened),
            str(c.relapses),
            str(c.relapse_households),
            share(c.relapses, c.opened),
        )
    table.add_row(
        _t(lang, "total"), str(opened), str(relapse_cases), "", share(relapse_cases, opened)
    )
    _out().print(table)
