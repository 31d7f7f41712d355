"""Printable forms: each workbook is opened with openpyxl and its content checked.

Every person here is synthetic (made-up names, masked made-up ID numbers).
"""

from __future__ import annotations

import io
import re
import string
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import openpyxl
import pytest
from openpyxl.cell.cell import MergedCell
from openpyxl.worksheet.worksheet import Worksheet

from povguard.cases import (
    Channel,
    HouseholdType,
    RiskCause,
    default_catalogue,
    open_case,
    recommend,
)
from povguard.cases.forms import (
    FORM_LABELS,
    CaseInfo,
    CrossCheckInfo,
    DecisionInfo,
    DeliveryInfo,
    EliminationInfo,
    FormInputError,
    GuaranteeCheck,
    HouseholdInfo,
    IncomeInfo,
    Lang,
    MeasureInfo,
    MemberInfo,
    NoticeEntry,
    NoticeKind,
    PlanInfo,
    ReviewLevel,
    WarningInfo,
    elimination_form,
    measures_record,
    notice_list,
    screening_form,
)
from povguard.errors import ConfigError, DataError

USER = "cadre.test01"
AT = datetime(2024, 7, 20, 15, 45)
PARAMS: dict[str, float] = {"elimination_team_min": 2, "notice_days_elimination": 7}
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")

# --------------------------------------------------------------- synthetic inputs


def make_household(lang: str = "zh") -> HouseholdInfo:
    if lang == "en":
        members = (
            MemberInfo("Ceshi Wang", "head", "male", 52, "healthy", "able", True, "5201**001X"),
            MemberInfo("Yangli Li", "spouse", "female", 50, "chronic illness", "limited", None),
            MemberInfo("Xiaoce Wang", "son", "male", 16, "healthy", "student", False),
        )
        return HouseholdInfo(
            "520102001001000001",
            "Ceshi Wang",
            "5201**********001X",
            "Test County",
            "Test Township",
            "Test Village",
            members,
            address="Group 3",
            phone="130****0000",
            former_poor=True,
        )
    members = (
        MemberInfo("王测试", "户主", "男", 52, "健康", "普通劳动力", True, "520102********001X"),
        MemberInfo("李样例", "配偶", "女", 50, "长期慢性病", "弱劳动力", None),
        MemberInfo("王小测", "子", "男", 16, "健康", "在校生", False, "520102********0021"),
    )
    return HouseholdInfo(
        "520102001001000001",
        "王测试",
        "520102********001X",
        "测试县",
        "测试镇",
        "测试村",
        members,
        address="测试村三组",
        phone="130****0000",
        former_poor=True,
    )


def make_income(line: float | None = 7100) -> IncomeInfo:
    return IncomeInfo(
        "2023-06",
        "2024-05",
        5820,
        household_net=17460,
        wage_income=12000,
        business_income=3000,
        property_income=0,
        transfer_income=2460,
        rigid_expenditure=21000,
        monitoring_line=line,
    )


def make_case(lang: str = "zh", **changes: Any) -> CaseInfo:
    zh = lang == "zh"
    case = CaseInfo(
        case_id="CASE-2024-0001",
        channel=Channel.DEPARTMENT_WARNING,
        discovered_on=date(2024, 6, 3),
        household_type=HouseholdType.EDGE,
        main_cause=RiskCause.ILLNESS,
        other_causes=(RiskCause.SCHOOLING,),
        monitored_on=date(2024, 6, 28),
        warnings=(
            WarningInfo(
                "medical_oop_other",
                "住院自付 23,000 元，超过 20,000 元",
                "inpatient out-of-pocket 23,000 yuan, above 20,000",
                "2024-05",
            ),
            WarningInfo("risk_model_v1", "模型风险分 0.82", "risk score 0.82", "2024-05"),
        ),
        income=make_income(),
        visit_on=date(2024, 6, 5),
        visitors=("测试员甲", "测试员乙") if zh else ("Tester A", "Tester B"),
        visit_findings="主要劳动力住院，收入下降" if zh else "main earner in hospital",
        cross_checks=(
            CrossCheckInfo(
                "公安" if zh else "police",
                "车辆" if zh else "vehicles",
                "无登记车辆" if zh else "none registered",
            ),
            CrossCheckInfo(
                "市场监管" if zh else "market regulation",
                "经营主体" if zh else "businesses",
                "有个体工商户" if zh else "one sole trader",
                flagged=True,
            ),
        ),
        decisions=(
            DecisionInfo(
                ReviewLevel.VILLAGE,
                "同意纳入" if zh else "agreed",
                date(2024, 6, 10),
                "测试村委" if zh else "Village Tester",
            ),
            DecisionInfo(
                ReviewLevel.TOWNSHIP,
                "审核通过" if zh else "passed",
                date(2024, 6, 20),
                "测试镇干部" if zh else "Township Tester",
            ),
            DecisionInfo(
                ReviewLevel.VILLAGE,
                "同意消除" if zh else "agreed to eliminate",
                date(2025, 3, 3),
                "测试村委" if zh else "Village Tester",
                stage="elimination",
            ),
            DecisionInfo(
                ReviewLevel.TOWNSHIP,
                "确认消除" if zh else "accepted",
                date(2025, 3, 14),
                "测试镇干部" if zh else "Township Tester",
                stage="elimination",
            ),
        ),
        elimination=make_elimination(lang),
    )
    return replace(case, **changes)


def make_elimination(lang: str = "zh", **changes: Any) -> EliminationInfo:
    zh = lang == "zh"
    el = EliminationInfo(
        income=IncomeInfo(
            "2024-03",
            "2025-02",
            9350.5,
            household_net=28051.5,
            wage_income=20000,
            monitoring_line=7100,
        ),
        readiness_reason=(
            "连续 8 个月人均纯收入高于监测线，医疗费用已报销"
            if zh
            else "income above the line for 8 months; medical costs reimbursed"
        ),
        team=("测试员甲", "测试员乙") if zh else ("Tester A", "Tester B"),
        checked_on=date(2025, 2, 26),
        findings="收入稳定" if zh else "income stable",
        labour_members=2,
        stable_months=8,
        rigid_expenditure_resolved=True,
        guarantees=(
            GuaranteeCheck("medical", True, "已参保" if zh else "insured"),
            GuaranteeCheck("housing", True),
            GuaranteeCheck("water", False, "水质待检测" if zh else "quality untested"),
        ),
        notice_start=date(2025, 3, 3),
        notice_end=date(2025, 3, 9),
        notice_result="无异议" if zh else "no objection",
    )
    return replace(el, **changes)


def make_plan(lang: str = "zh") -> PlanInfo:
    zh = lang == "zh"
    return PlanInfo(
        plan_id="PLAN-0001",
        helper="测试帮扶人" if zh else "Helper Tester",
        measures=(
            MeasureInfo(
                "脱贫人口小额信贷",
                "development",
                "Small loan",
                "small_loan",
                person="王测试" if zh else "Ceshi Wang",
                amount=30000,
                unit="yuan_loan",
                years=3,
                start_on=date(2024, 7, 1),
                status="delivered",
                deliveries=(DeliveryInfo(date(2024, 7, 1), 30000),),
                continues_after_elimination="loan_contract_end",
            ),
            MeasureInfo(
                "医疗救助",
                "guarantee",
                "Medical assistance",
                "medical_assistance",
                person="李样例" if zh else "Yangli Li",
                amount=8000,
                unit="yuan_once",
                status="in_progress",
                deliveries=(
                    DeliveryInfo(date(2024, 8, 15), 5000),
                    DeliveryInfo(date(2024, 7, 10), 1500.5),
                ),
            ),
            MeasureInfo(
                "农村最低生活保障（低保）",
                "social_assistance",
                "Minimum living guarantee",
                "dibao",
                amount=300,
                unit="yuan_per_person_month",
            ),
        ),
    )


def make_entries(lang: str = "zh") -> list[NoticeEntry]:
    if lang == "en":
        return [
            NoticeEntry("Ceshi Wang", "Group 3", 3, "illness: hospital costs", HouseholdType.EDGE),
            NoticeEntry("Yangli Zhao", "Group 5", 1, "accident", HouseholdType.SUDDEN_HARDSHIP),
        ]
    return [
        NoticeEntry("王测试", "三组", 3, "因病：住院自付费用高", HouseholdType.EDGE),
        NoticeEntry("赵样例", "五组", 1, "因意外事故", HouseholdType.SUDDEN_HARDSHIP),
        NoticeEntry("钱示范", "", 4, "因务工就业不稳", HouseholdType.UNSTABLE_FORMER_POOR),
    ]


# ----------------------------------------------------------------- workbook helpers


def sheet(data: bytes) -> Worksheet:
    assert data[:2] == b"PK"  # an XLSX (zip) file
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert len(wb.worksheets) == 1
    ws: Worksheet = wb.active
    return ws


def find(ws: Worksheet, text: str, *, nth: int = 0) -> Any:
    """The ``nth`` cell whose value equals ``text``."""
    hits = [c for row in ws.iter_rows() for c in row if c.value == text]
    assert len(hits) > nth, f"{text!r} not found {nth + 1} times"
    return hits[nth]


def count(ws: Worksheet, text: str) -> int:
    return sum(1 for row in ws.iter_rows() for c in row if c.value == text)


def right(ws: Worksheet, cell: Any) -> Any:
    """The cell right of ``cell`` (after its merged range)."""
    last = cell.column
    for rng in ws.merged_cells.ranges:
        if cell.coordinate in rng:
            last = rng.max_col
    return ws.cell(row=cell.row, column=last + 1)


def span(ws: Worksheet, cell: Any) -> int:
    for rng in ws.merged_cells.ranges:
        if cell.coordinate in rng:
            return int(rng.max_col - rng.min_col + 1)
    return 1


def row_values(ws: Worksheet, row: int) -> list[Any]:
    return [c.value for c in ws[row] if not isinstance(c, MergedCell) and c.value is not None]


def texts(ws: Worksheet) -> list[str]:
    return [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]


def boxed(cell: Any) -> bool:
    b = cell.border
    return all(getattr(b, s).style == "thin" for s in ("left", "right", "top", "bottom"))


def assert_signature_box(ws: Worksheet, label_text: str, *, nth: int = 0) -> Any:
    """The label exists, the cell right of it is empty, bordered and tall enough to sign."""
    lab = find(ws, label_text, nth=nth)
    box = right(ws, lab)
    assert box.value is None
    assert boxed(box)
    assert span(ws, box) >= 2
    assert ws.row_dimensions[box.row].height >= 40
    return box


def screening(lang: Lang = "zh", **kw: Any) -> bytes:
    return screening_form(
        make_household(lang),
        make_case(lang),
        lang,
        generated_by=USER,
        generated_at=AT,
        **kw,
    )


def elimination(lang: Lang = "zh") -> bytes:
    return elimination_form(
        make_household(lang),
        make_case(lang),
        make_plan(lang),
        lang,
        params=PARAMS,
        generated_by=USER,
        generated_at=AT,
    )


def record(lang: Lang = "zh") -> bytes:
    return measures_record(
        make_household(lang),
        make_case(lang),
        make_plan(lang),
        lang,
        generated_by=USER,
        generated_at=AT,
    )


def notice(lang: Lang = "zh", kind: NoticeKind = "identification") -> bytes:
    return notice_list(
        make_entries(lang),
        kind=kind,
        village="测试村" if lang == "zh" else "Test Village",
        start=date(2024, 6, 10),
        end=date(2024, 6, 14),
        days=5,
        contact="0851-0000000",
        lang=lang,
        generated_by=USER,
        generated_at=AT,
    )


BUILDERS: dict[str, Callable[[Lang], bytes]] = {
    "screening": screening,
    "elimination": elimination,
    "record": record,
    "notice": notice,
}

# ------------------------------------------------------------------ screening form


def test_screening_form_title_and_household() -> None:
    ws = sheet(screening())
    assert ws.title == "识别登记表"
    assert ws["A1"].value == "防止返贫监测对象识别登记表"
    assert ws["A1"].font.b and ws["A1"].font.sz == 18
    assert "A1:I1" in {str(r) for r in ws.merged_cells.ranges}
    subtitle = ws["A2"].value
    assert "测试县 测试镇 测试村" in subtitle and "CASE-2024-0001" in subtitle
    assert "王测试" in subtitle and "520102001001000001" in subtitle
    assert right(ws, find(ws, "户主姓名")).value == "王测试"
    assert right(ws, find(ws, "户主身份证号")).value == "520102********001X"
    assert right(ws, find(ws, "县（市、区）")).value == "测试县"
    assert right(ws, find(ws, "乡（镇）")).value == "测试镇"
    assert right(ws, find(ws, "村")).value == "测试村"
    assert right(ws, find(ws, "户编号")).value == "520102001001000001"
    assert right(ws, find(ws, "家庭住址")).value == "测试村三组"
    assert right(ws, find(ws, "家庭人口（人）")).value == 3
    assert right(ws, find(ws, "是否脱贫户")).value == "是"
    assert right(ws, find(ws, "拟认定户类型")).value == "边缘易致贫户"
    assert right(ws, find(ws, "是否返贫风险")).value == "否"


def test_screening_form_member_rows() -> None:
    ws = sheet(screening())
    head = find(ws, "与户主关系")
    assert row_values(ws, head.row) == [
        "序号",
        "姓名",
        "与户主关系",
        "性别",
        "年龄",
        "身份证号",
        "健康状况",
        "劳动能力",
        "参加基本医保",
    ]
    rows = [row_values(ws, head.row + k) for k in (1, 2, 3)]
    assert rows[0] == [
        1,
        "王测试",
        "户主",
        "男",
        52,
        "520102********001X",
        "健康",
        "普通劳动力",
        "是",
    ]
    # no ID number given: the cell stays empty; insurance not verified
    assert rows[1] == [2, "李样例", "配偶", "女", 50, "长期慢性病", "弱劳动力", "待核实"]
    assert rows[2][:2] == [3, "王小测"] and rows[2][-1] == "否"
    assert ws.cell(row=head.row + 4, column=1).value == "三、家庭收入情况（近12个月）"
    for col in range(1, 10):
        assert boxed(ws.cell(row=head.row + 1, column=col))
    assert ws.column_dimensions["F"].width >= 18  # an 18-character ID number fits


def test_screening_form_income_causes_channel() -> None:
    ws = sheet(screening())
    assert right(ws, find(ws, "收入计算期")).value == "2023-06 至 2024-05"
    per_capita = right(ws, find(ws, "人均纯收入（元）"))
    assert per_capita.value == 5820 and per_capita.number_format == "#,##0.00"
    assert right(ws, find(ws, "家庭年纯收入（元）")).value == 17460
    assert right(ws, find(ws, "工资性收入（元）")).value == 12000
    assert right(ws, find(ws, "生产经营性净收入（元）")).value == 3000
    assert right(ws, find(ws, "财产性收入（元）")).value == 0
    assert right(ws, find(ws, "转移性收入（元）")).value == 2460
    assert right(ws, find(ws, "刚性支出（元）")).value == 21000
    assert right(ws, find(ws, "监测线（元/人·年）")).value == 7100
    assert right(ws, find(ws, "与监测线比较")).value == "低于监测线 1,280.00 元"
    assert right(ws, find(ws, "主要风险类型")).value == "因病"
    assert right(ws, find(ws, "其他风险类型")).value == "因学"
    assert right(ws, find(ws, "发现渠道")).value == "部门筛查预警"
    found = right(ws, find(ws, "发现日期"))
    assert found.value == datetime(2024, 6, 3)
    assert found.number_format == 'yyyy"年"m"月"d"日"'
    rule = find(ws, "medical_oop_other")
    assert row_values(ws, rule.row) == [
        1,
        "medical_oop_other",
        "住院自付 23,000 元，超过 20,000 元",
        "2024-05",
    ]
    assert row_values(ws, rule.row + 1)[:2] == [2, "risk_model_v1"]


def test_screening_form_visit_cross_check_and_unknown_income() -> None:
    ws = sheet(screening())
    assert right(ws, find(ws, "入户核实日期")).value == datetime(2024, 6, 5)
    assert right(ws, find(ws, "核实人员")).value == "测试员甲、测试员乙"
    assert right(ws, find(ws, "入户核实情况")).value == "主要劳动力住院，收入下降"
    vehicles = find(ws, "车辆")
    assert row_values(ws, vehicles.row) == [1, "公安", "车辆", "无登记车辆", "否"]
    assert row_values(ws, vehicles.row + 1) == [2, "市场监管", "经营主体", "有个体工商户", "是"]

    # unknown is not safe: no income gives "to be verified", no checks "not yet checked"
    bare = make_case(income=None, cross_checks=(), warnings=())
    ws = sheet(screening_form(make_household(), bare, generated_by=USER, generated_at=AT))
    assert right(ws, find(ws, "人均纯收入（元）")).value == "待核实"
    assert find(ws, "尚未比对")
    assert span(ws, find(ws, "无")) == 9  # the empty warnings table


def test_screening_form_authorisation_and_review_boxes() -> None:
    ws = sheet(screening())
    auth = [t for t in texts(ws) if t.startswith("本户承诺")]
    assert len(auth) == 1 and "授权有关部门" in auth[0]
    box = assert_signature_box(ws, "户主（签字或按手印）")
    assert right(ws, box).value == "日期"
    assert right(ws, right(ws, box)).value.strip() == "年    月    日"
    assert count(ws, "负责人签字（盖章）") == 3
    for nth in range(3):
        assert_signature_box(ws, "负责人签字（盖章）", nth=nth)
    village = right(ws, find(ws, "村级民主评议意见"))
    assert village.value == "同意纳入\n经办人：测试村委"
    assert ws.row_dimensions[village.row].height >= 48
    township = right(ws, find(ws, "乡（镇）审核意见"))
    assert township.value == "审核通过\n经办人：测试镇干部"
    # the date box of each level: filled when decided, blank otherwise
    dates = [right(ws, find(ws, "日期", nth=k)).value for k in range(1, 4)]
    assert dates[0] == datetime(2024, 6, 10) and dates[1] == datetime(2024, 6, 20)
    assert dates[2].strip() == "年    月    日"
    assert right(ws, find(ws, "县级审定意见")).value is None
    # elimination decisions do not appear on the identification form
    assert "同意消除" not in " ".join(texts(ws))


def test_long_text_rows_grow() -> None:
    long = "主要劳动力住院治疗，家庭收入明显下降，需进一步核实。" * 12
    ws = sheet(
        screening_form(
            make_household(), make_case(visit_findings=long), generated_by=USER, generated_at=AT
        )
    )
    cell = right(ws, find(ws, "入户核实情况"))
    assert cell.value == long and cell.alignment.wrap_text
    assert ws.row_dimensions[cell.row].height > 100  # merged cells do not auto-fit in Excel


# ---------------------------------------------------------------- elimination form


def test_elimination_form_content() -> None:
    ws = sheet(elimination())
    assert ws["A1"].value == "风险消除评估表"
    assert "A1:H1" in {str(r) for r in ws.merged_cells.ranges}
    assert right(ws, find(ws, "户主姓名")).value == "王测试"
    assert right(ws, find(ws, "家庭人口（人）")).value == 3
    assert right(ws, find(ws, "家庭劳动力（人）")).value == 2
    assert right(ws, find(ws, "户类型")).value == "边缘易致贫户"
    assert right(ws, find(ws, "纳入监测日期")).value == datetime(2024, 6, 28)
    assert right(ws, find(ws, "收入计算期")).value == "2024-03 至 2025-02"
    assert right(ws, find(ws, "人均纯收入（元）")).value == 9350.5
    assert right(ws, find(ws, "监测线（元/人·年）")).value == 7100
    assert right(ws, find(ws, "与监测线比较")).value == "高于监测线 2,250.50 元"
    assert right(ws, find(ws, "收入稳定高于监测线（月）")).value == 8
    assert right(ws, find(ws, "大额刚性支出是否已解决")).value == "是"
    # the five guarantee items, each with its status; unverified ones say so
    items = {
        "不愁吃、不愁穿": "待核实",
        "义务教育有保障": "待核实",
        "基本医疗有保障": "是",
        "住房安全有保障": "是",
        "饮水安全有保障": "否",
    }
    for item, status in items.items():
        assert right(ws, find(ws, item)).value == status
    assert right(ws, right(ws, find(ws, "饮水安全有保障"))).value == "水质待检测"


def test_elimination_form_measures_team_notice_and_boxes() -> None:
    ws = sheet(elimination())
    loan = find(ws, "脱贫人口小额信贷")
    assert row_values(ws, loan.row) == [
        1,
        "开发式帮扶（产业、就业）",
        "脱贫人口小额信贷",
        "王测试",
        30000,
        "元（贷款额度）",
        "已落实",
        "持续至贷款合同到期",
    ]
    dibao = row_values(ws, loan.row + 2)
    assert dibao[:4] == [3, "社会救助兜底", "农村最低生活保障（低保）", "全户"]
    assert dibao[-1] == "风险消除后停止"
    reason = right(ws, find(ws, "风险消除理由"))
    assert reason.value == "连续 8 个月人均纯收入高于监测线，医疗费用已报销"
    assert right(ws, find(ws, "核查日期")).value == datetime(2025, 2, 26)
    assert right(ws, find(ws, "核查人数")).value == 2
    # one signature box per team member
    for name in ("测试员甲", "测试员乙"):
        member = find(ws, name)
        box = right(ws, member)
        assert box.value is None and boxed(box) and span(ws, box) == 3
        assert ws.row_dimensions[member.row].height >= 40
        assert right(ws, box).value == datetime(2025, 2, 26)
    period = right(ws, find(ws, "公示时间"))
    assert period.value == "2025年3月3日 至 2025年3月9日"
    assert right(ws, period).value == "公示期不少于 7 天"
    assert right(ws, find(ws, "公示结果")).value == "无异议"
    assert right(ws, find(ws, "村级民主评议意见")).value == "同意消除\n经办人：测试村委"
    assert_signature_box(ws, "村负责人签字（盖章）")
    township = right(ws, find(ws, "乡（镇）审核确认意见"))
    assert township.value == "确认消除\n经办人：测试镇干部"
    assert right(ws, find(ws, "县级审定意见")).value is None
    assert count(ws, "负责人签字（盖章）") == 2  # township and county
    for nth in range(2):
        assert_signature_box(ws, "负责人签字（盖章）", nth=nth)
    assert_signature_box(ws, "农户确认（签字或按手印）")
    # identification decisions are not on the elimination form
    assert "同意纳入" not in " ".join(texts(ws))


def test_elimination_form_blank_notice_dates_for_hand_filling() -> None:
    el = make_elimination(notice_start=None, notice_end=None)
    data = elimination_form(
        make_household(),
        make_case(elimination=el),
        make_plan(),
        params=PARAMS,
        generated_by=USER,
        generated_at=AT,
    )
    ws = sheet(data)
    period = right(ws, find(ws, "公示时间")).value
    assert period.count("年    月    日") == 2


@pytest.mark.parametrize(
    "team",
    [("测试员甲",), ("测试员甲", " 测试员甲 "), ("测试员甲", "  "), ()],
    ids=["one", "same-name-twice", "blank", "none"],
)
def test_elimination_team_too_small(team: tuple[str, ...]) -> None:
    el = make_elimination(team=team)
    with pytest.raises(ValueError, match=r"^case\.elimination\.team: .*at least 2") as info:
        elimination_form(
            make_household(),
            make_case(elimination=el),
            make_plan(),
            params=PARAMS,
            generated_by=USER,
            generated_at=AT,
        )
    assert isinstance(info.value, FormInputError) and isinstance(info.value, DataError)


def test_elimination_team_minimum_is_a_policy_parameter() -> None:
    params = {**PARAMS, "elimination_team_min": 3}
    with pytest.raises(FormInputError, match="at least 3 different names, got 2"):
        elimination_form(
            make_household(),
            make_case(),
            make_plan(),
            params=params,
            generated_by=USER,
            generated_at=AT,
        )
    with pytest.raises(ConfigError, match="notice_days_elimination"):
        elimination_form(
            make_household(),
            make_case(),
            make_plan(),
            params={"elimination_team_min": 2},
            generated_by=USER,
            generated_at=AT,
        )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"notice_end": date(2025, 3, 2)}, "case.elimination.notice_end"),
        ({"notice_end": date(2025, 3, 8)}, "case.elimination.notice_end"),  # 6 days only
        ({"income": make_income(line=None)}, "case.elimination.income.monitoring_line"),
        (
            {"income": replace(make_income(), period_to="2024-13")},
            "case.elimination.income.period_to",
        ),
        ({"readiness_reason": " "}, "case.elimination.readiness_reason"),
        ({"stable_months": -1}, "case.elimination.stable_months"),
    ],
)
def test_elimination_input_validation(changes: dict[str, Any], field: str) -> None:
    el = make_elimination(**changes)
    with pytest.raises(FormInputError, match=rf"^{re.escape(field)}: "):
        elimination_form(
            make_household(),
            make_case(elimination=el),
            make_plan(),
            params=PARAMS,
            generated_by=USER,
            generated_at=AT,
        )


def test_elimination_needs_its_data() -> None:
    with pytest.raises(FormInputError, match=r"^case\.elimination: "):
        elimination_form(
            make_household(),
            make_case(elimination=None),
            make_plan(),
            params=PARAMS,
            generated_by=USER,
            generated_at=AT,
        )


# ----------------------------------------------------------------- measures record


def test_measures_record_rows_and_totals() -> None:
    ws = sheet(record())
    assert ws["A1"].value == "帮扶措施台账"
    assert "A1:L1" in {str(r) for r in ws.merged_cells.ranges}
    assert "PLAN-0001" in ws["A3"].value and "测试帮扶人" in ws["A3"].value
    assert "因病、因学" in ws["A3"].value
    header = find(ws, "落实日期及金额")
    assert header.row == 4
    assert row_values(ws, 4) == [
        "序号",
        "措施类别",
        "措施名称",
        "受益人",
        "计划金额",
        "单位",
        "期限（年）",
        "开始日期",
        "状态",
        "落实日期及金额",
        "已落实金额（元）",
        "风险消除后",
    ]
    loan, medical, dibao = (ws[r] for r in (5, 6, 7))
    assert [c.value for c in loan] == [
        1,
        "开发式帮扶（产业、就业）",
        "脱贫人口小额信贷",
        "王测试",
        30000,
        "元（贷款额度）",
        3,
        datetime(2024, 7, 1),
        "已落实",
        "2024年7月1日  30,000.00 元",
        30000,
        "持续至贷款合同到期",
    ]
    # deliveries in date order, one line each, summed
    assert medical[9].value == "2024年7月10日  1,500.50 元\n2024年8月15日  5,000.00 元"
    assert medical[10].value == 6500.5
    assert medical[8].value == "落实中"
    assert [dibao[k].value for k in (0, 3, 4, 5, 8, 9, 10)] == [
        3,
        "全户",
        300,
        "元/人·月",
        "计划",
        None,
        None,
    ]
    total = ws[8]
    assert total[0].value == "合计"
    assert total[2].value == "共 3 项，已落实 1 项"
    assert total[9].value == "落实 3 次"
    assert total[10].value == 36500.5
    assert total[10].number_format == "#,##0.00"
    assert total[4].value is None  # planned amounts are in different units: not added up
    subtotals = {
        ws.cell(row=r, column=1).value: ws.cell(row=r, column=11).value for r in (9, 10, 11)
    }
    assert subtotals == {
        "其中：开发式帮扶（产业、就业）": 30000,
        "其中：三保障和饮水安全": 6500.5,
        "其中：社会救助兜底": 0,
    }
    assert "不予合计" in ws["A12"].value
    assert_signature_box(ws, "帮扶责任人（签字）")
    assert_signature_box(ws, "户主（签字）")


def test_measures_record_from_plan_and_case_state() -> None:
    plan = recommend("illness", ["schooling"], labour_members=1, has_stable_income=True)
    info = PlanInfo.from_plan("PLAN-9", plan)
    assert [m.measure_id for m in info.measures] == list(plan.measure_ids)
    assert all(m.status == "planned" and not m.deliveries for m in info.measures)
    state = open_case("CASE-9", "520102001001000001", channel="self_report", at=AT, actor="tester")
    case = CaseInfo.from_state(state, visit_findings="测试")
    assert (case.case_id, case.channel, case.discovered_on) == ("CASE-9", "self_report", AT.date())
    ws = sheet(measures_record(make_household(), case, info, generated_by=USER, generated_at=AT))
    first = ws.cell(row=5, column=3).value
    assert first == default_catalogue().measure(plan.measure_ids[0]).name_zh
    assert find(ws, f"共 {len(plan.measures)} 项，已落实 0 项")


@pytest.mark.parametrize(
    ("measure", "field"),
    [
        ({"unit": "yuan_per_week"}, "plan.measures[0].unit"),
        ({"category": "charity"}, "plan.measures[0].category"),
        ({"status": "done"}, "plan.measures[0].status"),
        ({"amount": -1}, "plan.measures[0].amount"),
        ({"years": 0}, "plan.measures[0].years"),
        (
            {"deliveries": (DeliveryInfo(date(2024, 1, 1), -5),)},
            "plan.measures[0].deliveries[0].amount",
        ),
        (
            {"continues_after_elimination": "forever"},
            "plan.measures[0].continues_after_elimination",
        ),
    ],
)
def test_measures_validation(measure: dict[str, Any], field: str) -> None:
    plan = make_plan()
    bad = replace(plan, measures=(replace(plan.measures[0], **measure), *plan.measures[1:]))
    with pytest.raises(FormInputError, match=rf"^{re.escape(field)}: "):
        measures_record(make_household(), make_case(), bad, generated_by=USER, generated_at=AT)


# --------------------------------------------------------------------- notice list


def test_notice_list_identification() -> None:
    ws = sheet(notice())
    assert ws["A1"].value == "测试村防止返贫监测对象识别公示"
    assert ws["A2"].value == "公示时间：2024年6月10日 至 2024年6月14日（共 5 天）"
    assert "拟将以下农户纳入防止返贫监测对象" in ws["A3"].value
    assert row_values(ws, 4) == [
        "序号",
        "户主姓名",
        "所在村（组）",
        "家庭人口",
        "拟认定类型",
        "主要风险及理由",
    ]
    assert row_values(ws, 5) == [1, "王测试", "三组", 3, "边缘易致贫户", "因病：住院自付费用高"]
    assert row_values(ws, 6) == [2, "赵样例", "五组", 1, "突发严重困难户", "因意外事故"]
    assert row_values(ws, 7) == [3, "钱示范", "测试村", 4, "脱贫不稳定户", "因务工就业不稳"]
    assert all(boxed(ws.cell(row=7, column=c)) for c in range(1, 7))
    body = texts(ws)
    objection = [t for t in body if "12317" in t]
    assert len(objection) == 1 and "异议" in objection[0]
    assert "联系电话：0851-0000000" in body
    assert "测试村村民委员会（盖章）" in body
    assert "2024年6月10日" in body  # the posting date under the seal line
    assert ws.print_title_rows == "$1:$4"


def test_notice_list_elimination_labels() -> None:
    ws = sheet(notice(kind="elimination"))
    assert ws["A1"].value == "测试村监测对象风险消除公示"
    assert "拟标注风险消除" in ws["A3"].value
    assert row_values(ws, 4)[-2:] == ["户类型", "风险消除理由"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"end": date(2024, 6, 9)}, "end"),
        ({"end": date(2024, 6, 13)}, "end"),  # 4 days of display, 5 required
        ({"entries": []}, "entries"),
        ({"kind": "exit"}, "kind"),
        ({"village": " "}, "village"),
        ({"days": 0}, "days"),
        ({"entries": [NoticeEntry("王测试", "三组", 0, "因病")]}, "entries[0].members"),
        ({"entries": [NoticeEntry(" ", "三组", 2, "因病")]}, "entries[0].head_name"),
        (
            {"entries": [NoticeEntry("王测试", "三组", 2, "因病", "poor")]},  # type: ignore[arg-type]
            "entries[0].household_type",
        ),
        ({"lang": "fr"}, "lang"),
        ({"generated_by": ""}, "generated_by"),
    ],
)
def test_notice_list_validation(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {
        "entries": make_entries(),
        "kind": "identification",
        "village": "测试村",
        "start": date(2024, 6, 10),
        "end": date(2024, 6, 14),
        "days": 5,
        "lang": "zh",
        "generated_by": USER,
        "generated_at": AT,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=rf"^{re.escape(field)}: "):
        notice_list(**args)


def test_notice_list_exact_minimum_and_no_minimum() -> None:
    # 5 days of display, 10 to 14 June, meets a 5-day minimum (may close on 15 June)
    ws = sheet(notice())
    assert "共 5 天" in ws["A2"].value
    one_day = notice_list(
        make_entries(),
        kind="identification",
        village="测试村",
        start=date(2024, 6, 10),
        end=date(2024, 6, 10),
        generated_by=USER,
        generated_at=AT,
    )
    assert "（共 1 天）" in sheet(one_day)["A2"].value


# ------------------------------------------------------- print set-up, all forms


@pytest.mark.parametrize(
    ("name", "orientation", "title_rows"),
    [
        ("screening", "portrait", "$1:$2"),
        ("elimination", "portrait", "$1:$2"),
        ("record", "landscape", "$1:$4"),
        ("notice", "portrait", "$1:$4"),
    ],
)
def test_print_setup(name: str, orientation: str, title_rows: str) -> None:
    ws = sheet(BUILDERS[name]("zh"))
    assert int(ws.page_setup.paperSize) == 9  # A4
    assert ws.page_setup.orientation == orientation
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    assert int(ws.page_setup.fitToWidth) == 1
    assert int(ws.page_setup.fitToHeight) == 0  # as many pages down as needed
    assert ws.print_title_rows == title_rows
    assert ws.print_options.horizontalCentered
    last = get_last_col(ws)
    assert ws.print_area == f"'{ws.title}'!$A$1:${last}${ws.max_row}"
    assert ws.oddFooter.center.text == "第 &P 页，共 &N 页"
    assert ws.oddFooter.right.text == "povguard 于 2024-07-20 15:45 生成，导出人：cadre.test01"
    # the title spans the whole width
    assert span(ws, ws["A1"]) == ws.max_column
    assert ws.row_dimensions[1].height >= 30
    # every column has a width set for Chinese text
    for k in range(1, ws.max_column + 1):
        assert ws.column_dimensions[openpyxl.utils.get_column_letter(k)].width >= 6


def get_last_col(ws: Worksheet) -> str:
    return str(openpyxl.utils.get_column_letter(ws.max_column))


def test_footer_escapes_ampersand_and_shows_time_zone() -> None:
    data = screening_form(
        make_household(),
        make_case(),
        generated_by="li & wang",
        generated_at=datetime(2024, 7, 20, 7, 45, tzinfo=UTC),
    )
    assert sheet(data).oddFooter.right.text == (
        "povguard 于 2024-07-20 07:45 +0000 生成，导出人：li && wang"
    )
    with pytest.raises(FormInputError, match=r"^generated_by: too long"):
        screening_form(make_household(), make_case(), generated_by="x" * 300, generated_at=AT)


def test_workbook_properties_record_the_export() -> None:
    wb = openpyxl.load_workbook(io.BytesIO(record()))
    assert wb.properties.title == "帮扶措施台账"
    assert wb.properties.creator == "povguard"
    assert wb.properties.lastModifiedBy == USER
    assert wb.properties.created == AT


# ------------------------------------------------------------------------- English


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_english_forms_have_no_chinese(name: str) -> None:
    ws = sheet(BUILDERS[name]("en"))
    chinese = [t for t in texts(ws) if CJK.search(t)]
    assert chinese == []
    assert not CJK.search(ws.title)
    for part in (ws.oddFooter.center, ws.oddFooter.right):
        assert not CJK.search(part.text or "")
    assert ws.oddFooter.center.text == "page &P of &N"
    assert ws.oddFooter.right.text == "generated by povguard on 2024-07-20 15:45 by cadre.test01"
    assert ws["A1"].font.name == "Arial"


def test_english_screening_labels_and_values() -> None:
    ws = sheet(screening("en"))
    assert ws["A1"].value == "Identification form: household to be monitored"
    assert right(ws, find(ws, "head of household")).value == "Ceshi Wang"
    assert right(ws, find(ws, "proposed household type")).value == "edge household prone to poverty"
    assert right(ws, find(ws, "main risk")).value == "illness"
    assert right(ws, find(ws, "how found")).value == "department screening and early warning"
    assert (
        right(ws, find(ws, "against the monitoring line")).value == "1,280.00 yuan below the line"
    )
    assert right(ws, find(ws, "discovered on")).number_format == "yyyy-mm-dd"
    rule = find(ws, "medical_oop_other")
    assert "inpatient out-of-pocket 23,000 yuan, above 20,000" in row_values(ws, rule.row)
    assert_signature_box(ws, "head of household (signature or fingerprint)")
    assert count(ws, "person in charge: signature (seal)") == 3


def test_english_notice_and_record() -> None:
    ws = sheet(notice("en"))
    assert ws["A1"].value == "Public notice: households proposed for monitoring, Test Village"
    assert ws["A2"].value == "Notice period: 2024-06-10 to 2024-06-14 (5 days)"
    assert any("12317" in t for t in texts(ws))
    ws = sheet(record("en"))
    assert ws.cell(row=5, column=3).value == "Small loan"
    assert ws.cell(row=8, column=3).value == "3 measures, 1 delivered"


# -------------------------------------------------------------- labels and inputs


def test_every_label_in_both_languages() -> None:
    def fields(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    for key, (zh, en) in FORM_LABELS.items():
        assert zh.strip() and en.strip(), key
        assert not CJK.search(en), key
        assert fields(zh) == fields(en), key
        assert zh.count("&") == en.count("&"), key


@pytest.mark.parametrize(
    ("household", "case", "field"),
    [
        ({"members": ()}, {}, "household.members"),
        ({"head_name": ""}, {}, "household.head_name"),
        ({"members": (MemberInfo("王测试", "户主", "男", -1),)}, {}, "household.members[0].age"),
        ({}, {"channel": "rumour"}, "case.channel"),
        ({}, {"household_type": "rich"}, "case.household_type"),
        ({}, {"other_causes": (RiskCause.ILLNESS,)}, "case.other_causes"),
        ({}, {"other_causes": ("schooling", "accident", "disability")}, "case.other_causes"),
        ({}, {"main_cause": None}, "case.main_cause"),
        ({}, {"income": replace(make_income(), period_from="2024-06")}, "case.income.period_to"),
        ({}, {"income": replace(make_income(), monitoring_line=0)}, "case.income.monitoring_line"),
        (
            {},
            {"decisions": (DecisionInfo("province", "ok", date(2024, 6, 1), "x"),)},  # type: ignore[arg-type]
            "case.decisions[0].level",
        ),
    ],
)
def test_screening_input_validation(
    household: dict[str, Any], case: dict[str, Any], field: str
) -> None:
    with pytest.raises(FormInputError, match=rf"^{re.escape(field)}: "):
        screening_form(
            replace(make_household(), **household),
            make_case(**case),
            generated_by=USER,
            generated_at=AT,
        )


def test_codes_given_as_strings_are_accepted() -> None:
    case = make_case(
        channel="hotline",
        household_type="sudden_hardship",
        main_cause="accident",
        other_causes=("unstable_work",),
    )
    ws = sheet(screening_form(make_household(), case, generated_by=USER, generated_at=AT))
    assert right(ws, find(ws, "发现渠道")).value == "12317热线及群众反映"
    assert right(ws, find(ws, "拟认定户类型")).value == "突发严重困难户"
    assert right(ws, find(ws, "其他风险类型")).value == "因务工就业不稳"
