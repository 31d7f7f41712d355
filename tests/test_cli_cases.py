"""``povguard cases ...``: lists, detail, overdue alerts, reminders, forms and notices.

One operations database (SQLite in a temporary ``--home``) is filled through the
case services once for the module, on the sample registry of ``tests.store``:

| case of | village      | path                                              | on 2025-06-25      |
|---------|--------------|---------------------------------------------------|--------------------|
| H1      | 520102001001 | warning 2025-06 (06-03), visit assigned to 王芳    | 19 days overdue    |
| H2      | 520102001001 | cadre screening 06-20 -> notice started 06-23      | due 07-05          |
| H3      | 520102001002 | eliminated in May, relapse case opened 06-10       | 12 days overdue    |
| H4      | 520102002001 | from 02-14 to the elimination notice (06-04)       | follow-up 08-23    |
| H5      | 520103001001 | hotline 06-24                                      | visit due 06-27    |

Deadlines are judged on ``--today`` so that the expected values do not move.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from povguard.cases import Action, CaseStatus
from povguard.cli import app
from povguard.settings import Settings
from povguard.store import make_engine, migrate, replace_warnings, services, session_factory
from povguard.store.services import CaseView
from tests.cases.test_workflow import HAPPY, payload_for
from tests.store import sample_data as sd

A, S = Action, CaseStatus
runner = CliRunner()
TODAY = "2025-06-25"
STEP = dt.timedelta(days=10)
#: The household's income as the elimination proposal records it (``payload.income``).
INCOME: dict[str, Any] = {
    "period_from": "2024-06",
    "period_to": "2025-05",
    "per_capita_net": 8200.0,
    "household_net": 16400.0,
    "rigid_expenditure": 1200.0,
    "monitoring_line": 7100.0,
}


def _step(session: Session, case: CaseView, action: Action, at: dt.datetime) -> CaseView:
    """Apply ``action`` with the workflow tests' canonical payload (a real plan to accept)."""
    if action is A.ACCEPT_PLAN:
        plan = services.recommend_plan(
            session, case.id, labour_members=2, has_stable_income=True, actor="cadre",
            area_prefix="",
        )  # fmt: skip
        return services.accept_plan(
            session, plan.id, expected_version=case.version, actor="cadre", at=at, area_prefix=""
        )
    payload: dict[str, Any] = payload_for(CaseStatus(case.status), action)
    if action is A.PROPOSE_ELIMINATION:
        payload |= {"income": INCOME, "stable_months": 6}
    return services.transition(
        session, case.id, action, expected_version=case.version, actor="cadre", at=at,
        area_prefix="", payload=payload,
    )  # fmt: skip


def _walk(
    session: Session, case: CaseView, actions: tuple[Action, ...], start: dt.datetime
) -> CaseView:
    at = start
    for action in actions:
        at += STEP
        case = _step(session, case, action, at)
    return case


def _open(session: Session, household: str, channel: str, at: dt.datetime) -> CaseView:
    return services.open_case(session, household, channel, at=at, actor="窗口", area_prefix="").case


def _fill(session: Session) -> None:
    sync = sd.regions(), sd.households(), sd.persons()
    services.sync_registry(session, *sync, period="2025-06")
    replace_warnings(session, "2025-06", [sd.warnings_2025_06()[0]])  # H1: income below line

    # H1: the department warning of June, visit assigned, never made: overdue
    services.open_cases_from_warnings(session, "2025-06", at=dt.datetime(2025, 6, 3, 9))
    h1 = services.list_cases(session, "", household_id=sd.H1).items[0]
    services.transition(
        session, h1.id, A.ASSIGN_VISIT, expected_version=h1.version, actor="cadre",
        at=dt.datetime(2025, 6, 3, 10), area_prefix="", payload={"assignee": "王芳"},
    )  # fmt: skip

    # H2: cadre screening, on to the village review and its public notice
    h2 = _open(session, sd.H2, "cadre_screening", dt.datetime(2025, 6, 20, 9))
    day = dt.timedelta(days=1)
    for i, action in enumerate(HAPPY[:4], start=0):
        h2 = _step(session, h2, action, dt.datetime(2025, 6, 20, 10) + i * day)
    assert (h2.status, h2.state.notice_started_on) == ("village_review", dt.date(2025, 6, 23))

    # H3: the whole path to risk elimination, then a relapse case in June
    h3 = _open(session, sd.H3, "self_report", dt.datetime(2025, 1, 1, 9))
    assert _walk(session, h3, HAPPY, dt.datetime(2025, 1, 1, 9)).status == "eliminated"
    relapse = _open(session, sd.H3, "hotline", dt.datetime(2025, 6, 10, 9))
    assert relapse.relapse

    # H4: on to the elimination notice, with a plan and one delivery
    start = dt.datetime(2025, 2, 14, 9)
    h4 = _walk(session, _open(session, sd.H4, "cadre_screening", start), HAPPY[:11], start)
    assert (h4.status, h4.state.notice_started_on) == ("elimination_notice", dt.date(2025, 6, 4))
    plan = services.get_plan(session, int(h4.plan_id or 0), "")
    services.record_delivery(
        session, plan.active_measures[0].id, delivered_on=dt.date(2025, 4, 1), actor="cadre",
        area_prefix="", amount=1000.0,
    )  # fmt: skip

    # H5: the hotline, in the other county
    _open(session, sd.H5, "hotline", dt.datetime(2025, 6, 24, 9))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose operations database holds the five cases of the module."""
    path = tmp_path_factory.mktemp("cases_home")
    url = Settings(home=path, database_url=None).ops_url
    migrate(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            _fill(session)
    finally:
        engine.dispose()
    return path


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POVGUARD_DATABASE_URL", raising=False)
    monkeypatch.delenv("POVGUARD_HOME", raising=False)
    monkeypatch.setenv("POVGUARD_LANGUAGE", "zh")


@pytest.fixture
def db(home: Path) -> Iterator[Session]:
    """A session on the module's database."""
    engine = make_engine(Settings(home=home, database_url=None).ops_url)
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def run(home: Path, *args: str) -> Result:
    """Invoke ``povguard cases <args> --home <home>``."""
    return runner.invoke(app, ["cases", *args, "--home", str(home)])


def case_id(db: Session, household: str, *, relapse: bool = False) -> str:
    """The (latest, or relapse) case of a household."""
    items = services.list_cases(db, "", household_id=household, relapse=relapse).items
    return items[0].id


def cells(path: Path) -> list[Any]:
    """Every non-empty cell value of the workbook's first sheet."""
    sheet = load_workbook(path).worksheets[0]
    return [c.value for row in sheet.iter_rows() for c in row if c.value is not None]


def text_of(path: Path) -> str:
    return "\n".join(str(v) for v in cells(path))


# ------------------------------------------------------------------------- lists


def row_of(output: str, key: str) -> str:
    """The output line that holds ``key``."""
    lines = [line for line in output.splitlines() if key in line]
    assert len(lines) == 1, (key, output)
    return lines[0]


def test_list_shows_status_channel_due_and_days_overdue(home: Path, db: Session) -> None:
    result = run(home, "list", "--today", TODAY)
    assert result.exit_code == 0, result.output
    out = result.output
    h1 = row_of(out, case_id(db, sd.H1))
    for value in ("入户核实", "部门筛查预警", "王芳", "2025-06-06", " 19 "):
        assert value in h1
    h2 = row_of(out, case_id(db, sd.H2))
    for value in ("村级民主评议和公示", "基层干部排查", "2025-07-05", "识别认定", " 0 "):
        assert value in h2
    assert "风险已消除" in row_of(out, f"{sd.H3}-01")
    assert "第 1/1 页，共 6 件" in out

    data = json.loads(run(home, "list", "--today", TODAY, "--json").output)
    assert (data["total"], data["page"], data["pages"]) == (6, 1, 1)
    items = {i["id"]: i for i in data["items"]}
    first = items[case_id(db, sd.H1)]
    assert (first["due_on"], first["days_overdue"], first["overdue"], first["status"]) == (
        "2025-06-06",
        19,
        True,
        "visit",
    )
    assert items[f"{sd.H3}-02"]["relapse"] is True


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (("--overdue",), [f"{sd.H1}-01", f"{sd.H3}-02"]),  # most overdue first
        (("--open",), [f"{sd.H5}-01", f"{sd.H2}-01", f"{sd.H3}-02", f"{sd.H4}-01", f"{sd.H1}-01"]),
        (("--status", "village_review"), [f"{sd.H2}-01"]),
        (
            ("--status", "eliminated", "--status", "elimination_notice"),
            [f"{sd.H4}-01", f"{sd.H3}-01"],
        ),
        (("--channel", "hotline"), [f"{sd.H5}-01", f"{sd.H3}-02"]),
        (("--assignee", "王芳"), [f"{sd.H1}-01"]),
        (("--area", "520103"), [f"{sd.H5}-01"]),
        (("--area", "520102001", "--overdue"), [f"{sd.H1}-01", f"{sd.H3}-02"]),
    ],
)
def test_list_filters(home: Path, options: tuple[str, ...], expected: list[str]) -> None:
    result = run(home, "list", "--today", TODAY, "--json", *options)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [i["id"] for i in data["items"]] == expected
    assert data["total"] == len(expected)


def test_list_page_beyond_the_last_is_empty(home: Path) -> None:
    result = run(home, "list", "--page", "2")
    assert result.exit_code == 0
    assert "没有符合条件的案件。" in result.output and "共 6 件" in result.output


@pytest.mark.parametrize(
    "options",
    [
        ("--status", "done"),
        ("--channel", "rumour"),
        ("--today", "2025-13-01"),
        ("--area", "52x"),
        ("--area", "5201020010011"),
        ("--page", "0"),
    ],
)
def test_list_rejects_bad_arguments(home: Path, options: tuple[str, ...]) -> None:
    result = run(home, "list", *options)
    assert result.exit_code == 2, result.output


# -------------------------------------------------------------------------- show


def test_show_gives_state_actions_deadlines_tasks_and_history(home: Path, db: Session) -> None:
    result = run(home, "show", case_id(db, sd.H2), "--today", TODAY)
    assert result.exit_code == 0, result.output
    out = result.output
    assert re.search(r"^\s*状态\s+村级民主评议和公示\s*$", out, re.MULTILINE)
    assert "民主评议通过，开始公示, 公示期满无异议, 不予纳入" in out
    deadline = row_of(out, "identification_limit_days")
    for value in ("识别认定", "2025-07-05", "2025-06-20", "剩 10 天"):
        assert value in deadline
    assert "公示自 2025-06-23 起，最早 2025-06-28 可结束" in out
    assert "待办" in row_of(out, "│ 公示 ")
    assert "已完成" in row_of(out, "部门数据比对 │ 县级")
    opened = row_of(out, "建立案件")
    assert "2025-06-20 09:00" in opened and "窗口" in opened and "- → 已发现" in opened
    notice = row_of(out, "民主评议通过，开始公示 │")
    assert "cadre" in notice and "2025-06-23 10:00" in notice

    late = run(home, "show", case_id(db, sd.H1), "--today", TODAY)
    assert "逾期 19 天" in row_of(late.output, "visit_due_days")
    data = json.loads(run(home, "show", case_id(db, sd.H1), "--today", TODAY, "--json").output)
    assert [(d["kind"], d["due_on"], d["overdue"]) for d in data["deadlines"]] == [
        ("home_visit", "2025-06-06", True),
        ("identification", "2025-06-18", True),
    ]
    assert [(e["seq"], e["action"], e["actor"]) for e in data["history"]] == [
        (1, "open", "system"),
        (2, "assign_visit", "cadre"),
    ]
    assert data["tasks"][0]["assignee"] == "王芳"


def test_show_of_a_closed_case_has_no_deadline(home: Path, db: Session) -> None:
    result = run(home, "show", f"{sd.H3}-01", "--today", TODAY)
    assert result.exit_code == 0, result.output
    assert "办理时限: 无" in result.output
    assert "农户申诉" in row_of(result.output, "可办理操作")


def test_show_unknown_or_outside_the_area_exits_1(home: Path, db: Session) -> None:
    missing = run(home, "show", "nope-01")
    assert missing.exit_code == 1
    assert "未找到案件 nope-01" in missing.output
    outside = run(home, "show", case_id(db, sd.H5), "--area", "520102")
    assert outside.exit_code == 1


# ----------------------------------------------------------------------- overdue


def test_overdue_per_township_exits_1(home: Path, db: Session) -> None:
    result = run(home, "overdue", "--today", TODAY)
    assert result.exit_code == 1, result.output
    row = row_of(result.output, "520102001000")
    for value in ("甲镇", " 2 ", case_id(db, sd.H1), "2025-06-06", "入户核实", " 19 "):
        assert value in row
    assert "共 2 件案件逾期。" in result.output

    data = json.loads(run(home, "overdue", "--today", TODAY, "--json").output)
    assert data["total"] == 2
    assert [(g["code"], g["name"], g["count"]) for g in data["groups"]] == [
        ("520102001000", "甲镇", 2)
    ]
    assert data["groups"][0]["oldest"] == {
        "case_id": f"{sd.H1}-01",
        "household_id": sd.H1,
        "due_on": "2025-06-06",
        "due_kind": "home_visit",
        "days_overdue": 19,
    }


def test_overdue_per_village(home: Path) -> None:
    result = run(home, "overdue", "--today", TODAY, "--by", "village", "--json")
    assert result.exit_code == 1
    groups = json.loads(result.output)["groups"]
    assert [(g["code"], g["name"], g["count"], g["oldest"]["days_overdue"]) for g in groups] == [
        ("520102001001", "东村", 1, 19),
        ("520102001002", "西村", 1, 12),
    ]
    assert groups[1]["cases"] == [f"{sd.H3}-02"]


@pytest.mark.parametrize(
    "options", [("--today", TODAY, "--area", "520103"), ("--today", "2025-06-05")]
)
def test_overdue_none_exits_0(home: Path, options: tuple[str, ...]) -> None:
    result = run(home, "overdue", *options)
    assert result.exit_code == 0, result.output
    assert "没有逾期案件" in result.output


@pytest.mark.parametrize("options", [("--by", "county"), ("--today", "25-06-2025")])
def test_overdue_bad_arguments_exit_2(home: Path, options: tuple[str, ...]) -> None:
    assert run(home, "overdue", *options).exit_code == 2


# ------------------------------------------------------------------------ remind


def test_remind_groups_due_and_overdue_tasks_per_assignee(home: Path, db: Session) -> None:
    result = run(home, "remind", "--today", TODAY)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "王芳：1 项" in out and "未指派（村级）：2 项" in out
    assert "逾期 19 天" in row_of(out, case_id(db, sd.H1))
    assert "逾期 12 天" in row_of(out, f"{sd.H3}-02")
    h5 = row_of(out, case_id(db, sd.H5))
    assert "2025-06-27" in h5 and "剩 2 天" in h5 and "村级 入户核实" in h5
    assert case_id(db, sd.H2) not in out  # its notice task is due on 07-05
    assert "共 3 项任务，2 个责任人。" in out

    data = json.loads(run(home, "remind", "--today", TODAY, "--within", "10", "--json").output)
    assert (data["total"], data["within_days"]) == (4, 10)
    blocks = {b["label"]: b for b in data["reminders"]}
    assert list(blocks) == ["村干部王芳", "王芳", "未指派（村级）"]
    notice = blocks["村干部王芳"]["tasks"][0]
    assert (notice["case_id"], notice["kind"], notice["due_on"], notice["days_left"]) == (
        f"{sd.H2}-01",
        "notice",
        "2025-07-05",
        10,
    )
    assert [(t["case_id"], t["overdue"], t["days_overdue"]) for t in blocks["王芳"]["tasks"]] == [
        (f"{sd.H1}-01", True, 19)
    ]
    assert blocks["未指派（村级）"]["assignee"] is None
    assert blocks["未指派（村级）"]["level"] == "village"


def test_remind_in_an_area_and_with_nothing_due(home: Path, db: Session) -> None:
    data = json.loads(run(home, "remind", "--today", TODAY, "--area", "520103", "--json").output)
    assert [t["case_id"] for b in data["reminders"] for t in b["tasks"]] == [case_id(db, sd.H5)]
    quiet = run(home, "remind", "--today", "2025-06-01", "--within", "0")
    assert quiet.exit_code == 0
    assert "没有 0 天内到期或已逾期的任务" in quiet.output
    assert run(home, "remind", "--within", "-1").exit_code == 2


# ------------------------------------------------------------------------- forms


def test_screening_form_holds_the_household_and_is_audited(
    home: Path, db: Session, tmp_path: Path
) -> None:
    out = tmp_path / "screening.xlsx"
    result = run(home, "form", case_id(db, sd.H1), "--kind", "screening", "--out", str(out),
                 "--user", "cadre.test")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "已生成识别登记表" in result.output
    values = cells(out)
    assert values[0] == "防止返贫监测对象识别登记表"
    for value in ("张伟", "赵敏", "张小明", "东村", "甲镇", "南明区", "部门筛查预警", "慢性病"):
        assert value in values
    assert "income_below_line：人均纯收入 5,820 元，低于 2025 年监测线 7,100 元" in values
    assert "2025-06" in values  # the warning's period
    # ID numbers are masked, as in the API's exports
    assert sd.H1_HEAD_ID not in text_of(out)
    assert "5201**********1234" in values
    sheet = load_workbook(out).worksheets[0]
    assert "导出人：cadre.test" in sheet.oddFooter.right.text

    events = services.list_events(db, action="case.form_export", entity_id=case_id(db, sd.H1))
    assert [(e.actor, e.entity_type) for e in events] == [("cadre.test", "case")]
    assert events[0].after == {"form": "screening", "lang": "zh", "file": "screening.xlsx"}


def test_elimination_form_holds_income_team_and_reason(
    home: Path, db: Session, tmp_path: Path
) -> None:
    out = tmp_path / "elimination.xlsx"
    result = run(home, "form", case_id(db, sd.H4), "--kind", "elimination", "--out", str(out))
    assert result.exit_code == 0, result.output
    values = cells(out)
    assert values[0] == "风险消除评估表"
    for value in ("刘洋", "南村", "李明", "张华", "连续 6 个月人均纯收入高于监测线", "收入稳定"):
        assert value in values
    assert 8200 in values and 7100 in values and 16400 in values and 1200 in values
    assert "2024-06 至 2025-05" in values
    assert "高于监测线 1,100.00 元" in values
    assert "医疗救助" in values and "边缘易致贫户" in values


@pytest.mark.parametrize(
    ("household", "reason"),
    [
        (sd.H1, "尚未启动风险消除（状态：入户核实）"),
        (sd.H2, "尚未启动风险消除（状态：村级民主评议和公示）"),
    ],
)
def test_elimination_form_before_the_data_exits_1(
    home: Path, db: Session, tmp_path: Path, household: str, reason: str
) -> None:
    out = tmp_path / "early.xlsx"
    result = run(home, "form", case_id(db, household), "--kind", "elimination", "--out", str(out))
    assert result.exit_code == 1
    assert reason in result.output
    assert not out.exists()


def test_measures_record_holds_measures_and_deliveries(
    home: Path, db: Session, tmp_path: Path
) -> None:
    out = tmp_path / "measures.xlsx"
    result = run(home, "form", case_id(db, sd.H4), "--kind", "measures", "--out", str(out))
    assert result.exit_code == 0, result.output
    values = cells(out)
    assert values[0] == "帮扶措施台账"
    assert "医疗救助" in values and "国家助学金" in values
    assert "2025年4月1日  1,000.00 元" in values
    assert "落实中" in values and "落实 1 次" in values
    assert any("帮扶责任人：村干部王芳" in str(v) for v in values)

    none = run(home, "form", case_id(db, sd.H1), "--kind", "measures", "--out", str(out))
    assert none.exit_code == 1
    assert f"案件 {sd.H1}-01 还没有帮扶计划" in none.output


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("nope-01", "--kind", "screening"), 1),
        (("CASE_H5", "--kind", "screening", "--area", "520102"), 1),
        (("CASE_H1", "--kind", "poster"), 2),
    ],
)
def test_form_errors(
    home: Path, db: Session, tmp_path: Path, args: tuple[str, ...], code: int
) -> None:
    ids = {"CASE_H5": case_id(db, sd.H5), "CASE_H1": case_id(db, sd.H1)}
    out = tmp_path / "form.xlsx"
    result = run(home, "form", *(ids.get(a, a) for a in args), "--out", str(out))
    assert result.exit_code == code, result.output
    assert not out.exists()


def test_form_output_must_be_an_xlsx_in_an_existing_folder(
    home: Path, db: Session, tmp_path: Path
) -> None:
    for target in (tmp_path / "form.txt", tmp_path / "missing" / "form.xlsx"):
        result = run(home, "form", case_id(db, sd.H1), "--kind", "screening", "--out", str(target))
        assert result.exit_code == 2, result.output


# ----------------------------------------------------------------------- notices


def test_identification_notice_list(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "notice.xlsx"
    result = run(home, "notices", "--village", "520102001001", "--kind", "identification",
                 "--out", str(out), "--contact", "0851-1234567")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 户，2025-06-23 至 2025-06-27" in result.output
    values = cells(out)
    assert values[0] == "东村防止返贫监测对象识别公示"
    assert "公示时间：2025年6月23日 至 2025年6月27日（共 5 天）" in values
    assert "李娜" in values and 2 in values
    assert "主要劳动力住院，收入下降" in values
    assert "联系电话：0851-1234567" in values
    assert "张伟" not in values  # H1's case is still at the home visit


def test_elimination_notice_list(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "notice.xlsx"
    result = run(home, "notices", "--village", "520102002001", "--kind", "elimination",
                 "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    values = cells(out)
    assert values[0] == "南村监测对象风险消除公示"
    assert "公示时间：2025年6月4日 至 2025年6月10日（共 7 天）" in values
    assert "刘洋" in values and "边缘易致贫户" in values
    assert "连续 6 个月人均纯收入高于监测线" in values


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--village", "520102001002", "--kind", "identification"), 1),
        (("--village", "520102001001", "--kind", "elimination"), 1),
        (("--village", "520102001001", "--kind", "identification", "--area", "520103"), 1),
        (("--village", "5201020010", "--kind", "identification"), 2),
        (("--village", "520102001001", "--kind", "poster"), 2),
    ],
)
def test_notices_errors(home: Path, tmp_path: Path, args: tuple[str, ...], code: int) -> None:
    out = tmp_path / "notice.xlsx"
    result = run(home, "notices", *args, "--out", str(out))
    assert result.exit_code == code, result.output
    assert not out.exists()


# ---------------------------------------------------------------------- relapses


def test_relapses(home: Path) -> None:
    result = run(home, "relapses", "--from", "2025-05", "--to", "2025-06")
    assert result.exit_code == 0, result.output
    june = row_of(result.output, "│ 2025-06 │")
    assert [part.strip() for part in june.split("│")[1:-1]] == ["2025-06", "4", "1", "1", "25.0%"]
    data = json.loads(
        run(home, "relapses", "--from", "2025-01", "--to", "2025-06", "--json").output
    )
    assert [(p["period"], p["opened"], p["relapses"]) for p in data["periods"]] == [
        ("2025-01", 1, 0),
        ("2025-02", 1, 0),
        ("2025-03", 0, 0),
        ("2025-04", 0, 0),
        ("2025-05", 0, 0),
        ("2025-06", 4, 1),
    ]
    assert (data["opened"], data["relapses"]) == (6, 1)
    area = json.loads(
        run(
            home, "relapses", "--from", "2025-06", "--to", "2025-06", "--area", "520103", "--json"
        ).output
    )
    assert area["periods"] == [
        {"period": "2025-06", "opened": 1, "relapses": 0, "relapse_households": 0,
         "relapse_share": 0.0}
    ]  # fmt: skip


@pytest.mark.parametrize(
    "options", [("--from", "2025-6", "--to", "2025-06"), ("--from", "2025-06", "--to", "2025-01")]
)
def test_relapses_bad_range_exits_2(home: Path, options: tuple[str, ...]) -> None:
    assert run(home, "relapses", *options).exit_code == 2


# ----------------------------------------------------------------- language, URL


def test_english_output(
    home: Path, db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POVGUARD_LANGUAGE", "en")
    listed = run(home, "list", "--today", TODAY)
    h1 = row_of(listed.output, case_id(db, sd.H1))
    assert "home visit" in h1 and "department screening" in h1  # the channel wraps
    assert "page 1/1, 6 cases" in listed.output

    overdue = run(home, "overdue", "--today", TODAY)
    assert overdue.exit_code == 1
    assert "overdue cases (as of 2025-06-25)" in overdue.output
    assert "2 cases overdue." in overdue.output

    reminders = run(home, "remind", "--today", TODAY)
    assert "unassigned (village): 2 tasks" in reminders.output
    assert "19 days overdue" in reminders.output

    out = tmp_path / "en.xlsx"
    form = run(home, "form", case_id(db, sd.H1), "--kind", "screening", "--out", str(out))
    assert form.exit_code == 0, form.output
    assert "screening form written" in form.output
    values = cells(out)
    assert values[0] == "Identification form: household to be monitored"
    assert "chronic illness" in text_of(out)

    early = run(home, "form", case_id(db, sd.H1), "--kind", "elimination", "--out", str(out))
    assert early.exit_code == 1
    assert "error:" in early.output
    assert "risk elimination has not been proposed" in early.output
    assert "(status: home visit)" in early.output


def test_database_url_option(home: Path, db: Session) -> None:
    url = Settings(home=home, database_url=None).ops_url
    result = runner.invoke(app, ["cases", "list", "--database-url", url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["total"] == 6
