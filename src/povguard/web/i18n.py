"""User-facing text in Chinese (default) and English.

The language comes from ``?lang=zh|en`` (remembered in a cookie), then the cookie,
then :attr:`povguard.settings.Settings.language`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

from fastapi import Request

Language = Literal["zh", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("zh", "en")
#: Cookie that remembers the chosen language.
LANG_COOKIE: Final = "povguard_lang"

MESSAGES: Final[Mapping[str, tuple[str, str]]] = {
    "app_name": ("防返贫监测预警平台", "povguard: poverty-return early warning"),
    "nav_overview": ("概览", "Overview"),
    "nav_warnings": ("预警名单", "Warnings"),
    "switch_language": ("English", "中文"),
    "overview_title": ("概览", "Overview"),
    "period": ("期次", "Period"),
    "all_periods": ("全部期次", "All periods"),
    "no_period": ("暂无数据", "No data yet"),
    "show": ("查看", "Show"),
    "filter": ("筛选", "Filter"),
    "households": ("户数", "Households"),
    "persons": ("人数", "Persons"),
    "former_poor": ("脱贫户", "Former-poor households"),
    "former_poor_share": ("脱贫户占比", "Former-poor share"),
    "warnings_this_period": ("本期预警", "Warnings this period"),
    "warned_households": ("预警户数", "Households warned"),
    "by_type": ("按监测类型", "By household type"),
    "by_kind": ("按预警类别", "By kind"),
    "by_rule": ("按规则", "By rule"),
    "by_township": ("按乡镇", "By township"),
    "township": ("乡镇", "Township"),
    "count": ("数量", "Count"),
    "share": ("占比", "Share"),
    "none_yet": ("暂无", "None"),
    "warnings_title": ("预警名单", "Warnings"),
    "household_id": ("户编号", "Household number"),
    "village": ("村", "Village"),
    "household_type": ("监测类型", "Household type"),
    "rule": ("规则", "Rule"),
    "rule_version": ("规则版本", "Rule version"),
    "kind": ("类别", "Kind"),
    "all_kinds": ("全部类别", "All kinds"),
    "severity": ("等级", "Severity"),
    "reason": ("预警原因", "Reason"),
    "page_of": ("第 {page} / {pages} 页，共 {total} 条", "Page {page} of {pages}, {total} in all"),
    "previous": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "no_warnings": ("没有符合条件的预警。", "No warnings match."),
    "household_title": ("农户 {id}", "Household {id}"),
    "area": ("所在地", "Location"),
    "address": ("地址", "Address"),
    "head_name": ("户主", "Head of household"),
    "head_id_number": ("户主身份证号", "Head's ID number"),
    "members": ("家庭人口", "Members"),
    "registered_year": ("识别年份", "Registered"),
    "exit_year": ("脱贫年份", "Left poverty"),
    "registration_cause": ("致贫原因", "Cause of poverty"),
    "monitoring_status": ("监测状态", "Monitoring status"),
    "monitoring_type": ("监测类型", "Monitoring type"),
    "dibao": ("低保", "Minimum living guarantee (dibao)"),
    "tekun": ("特困供养", "Extreme-poverty support (tekun)"),
    "updated_period": ("登记更新期次", "Registry updated"),
    "members_title": ("家庭成员", "Household members"),
    "name": ("姓名", "Name"),
    "relation": ("与户主关系", "Relation to head"),
    "sex": ("性别", "Sex"),
    "birth_date": ("出生日期", "Birth date"),
    "id_number": ("身份证号", "ID number"),
    "ethnicity": ("民族", "Ethnicity"),
    "education": ("文化程度", "Education"),
    "school_status": ("在校情况", "School"),
    "health": ("健康状况", "Health"),
    "chronic_illness": ("慢性病", "chronic illness"),
    "serious_illness": ("大病", "serious illness"),
    "healthy": ("健康", "healthy"),
    "disability_grade": ("残疾等级", "Disability grade"),
    "work_capacity": ("劳动能力", "Work capacity"),
    "migrant_worker": ("务工", "Migrant work"),
    "medical_insured": ("参加医保", "Medical insurance"),
    "warning_history": ("预警记录", "Warning history"),
    "values": ("依据数值", "Values used"),
    "evidence": ("证据", "Evidence"),
    "source": ("数据来源", "Source"),
    "file": ("文件", "File"),
    "row": ("行号", "Row"),
    "record": ("记录内容", "Record"),
    "no_household_warnings": ("该户暂无预警。", "No warnings for this household."),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "error_title": ("出错了", "Something went wrong"),
    "back_home": ("返回概览", "Back to the overview"),
    "ids_masked": ("姓名和身份证号已脱敏显示。", "Names and ID numbers are masked."),
    "reveal": (
        "显示完整姓名和身份证号（将记入访问日志）",
        "Show full names and ID numbers (written to the access log)",
    ),
    "revealed_audited": (
        "完整姓名和身份证号仅供核查使用，本次查看已记入访问日志。",
        "Full names and ID numbers are for verification only; this view was logged.",
    ),
    # issue 8: work pages, map, trends, timeline, quality, what-if
    "nav_worklist": ("工作台", "Worklist"),
    "nav_cases": ("案件看板", "Case board"),
    "nav_quality": ("数据质量", "Data quality"),
    "nav_whatif": ("政策模拟", "Policy what-if"),
    "login": ("登录", "Sign in"),
    "logout": ("退出", "Sign out"),
    "worklist_title": ("工作台：预警与任务", "Worklist: warnings and tasks"),
    "warnings_col": ("预警", "Warnings"),
    "case_status": ("案件状态", "Case status"),
    "no_case": ("未立案", "No case"),
    "task": ("待办任务", "Task"),
    "assignee": ("负责人", "Assignee"),
    "due_on": ("办理期限", "Due"),
    "overdue": ("已超期", "overdue"),
    "overdue_only": ("仅超期", "Overdue only"),
    "on_time": ("未超期", "On time"),
    "main_cause": ("主要风险类型", "Main risk"),
    "relapse": ("返贫", "relapse"),
    "select": ("选择", "Select"),
    "select_all": ("全选", "Select all"),
    "bulk_assign": ("批量分派", "Bulk assignment"),
    "assign_to": ("分派给", "Assign to"),
    "assign": ("分派所选案件", "Assign the selected cases"),
    "no_cadres": ("本辖区暂无可分派的干部账号。", "No cadre accounts in your area yet."),
    "no_work": ("没有符合条件的预警或案件。", "No warnings or cases match."),
    "task_visit": ("入户核实", "home visit"),
    "task_cross_check": ("部门比对", "data cross-check"),
    "task_review": ("审核", "review"),
    "task_notice": ("公示", "public notice"),
    "task_plan": ("制定帮扶计划", "assistance plan"),
    "task_follow_up": ("跟踪回访", "follow-up visit"),
    "task_home_check": ("风险消除核查", "elimination home check"),
    "flash_done": ("已保存。", "Saved."),
    "flash_assigned": (
        "已分派 {n} 个案件，{refused} 个未能分派（已关闭、不在辖区或不在该干部辖区）。",
        "{n} cases assigned, {refused} refused (closed, outside your area or the cadre's).",
    ),
    "flash_assign_none": ("请先勾选要分派的案件。", "Select the cases to assign first."),
    "flash_assign_no_cadre": ("请选择负责的干部。", "Choose the cadre to assign to."),
    "flash_assign_unknown_cadre": (
        "该干部不存在或不在本辖区。",
        "That cadre does not exist or is outside your area.",
    ),
    "err_stale": (
        "案件已被他人修改，请刷新页面后重试。",
        "Someone changed the case meanwhile: reload the page and try again.",
    ),
    "err_illegal_action": (
        "当前状态不允许该操作。",
        "The case's status does not allow that action.",
    ),
    "err_guard_failed": ("不满足办理条件。", "A condition of the step is not met."),
    "err_time_order": ("办理时间早于上一步。", "The time is before the case's last step."),
    "err_idempotency_conflict": (
        "该表单已提交过不同的内容，请刷新页面。",
        "This form was already submitted with other values: reload the page.",
    ),
    "err_missing_payload": ("请填写必填项。", "Fill in the required fields."),
    "err_invalid_payload": ("填写的内容无效。", "A value is not valid."),
    "err_conflict": ("操作与案件当前情况冲突。", "The action conflicts with the case's state."),
    "err_invalid": ("填写的内容无效。", "A value is not valid."),
    "cases_title": ("案件看板", "Case board"),
    "show_all_cases": ("显示全部在办案件", "Show every open case"),
    "show_overdue_cases": ("只看超期案件", "Show overdue cases only"),
    "overdue_count": ("超期案件 {n} 件", "{n} overdue cases"),
    "more_cases": ("另有 {n} 件未显示", "{n} more not shown"),
    "case": ("案件", "Case"),
    "version": ("版本", "Version"),
    "days_overdue": ("超期 {n} 天", "{n} days overdue"),
    "days_left": ("剩余 {n} 天", "{n} days left"),
    "save": ("保存", "Save"),
    "move_case": ("推进案件（审核、决定）", "Move the case forward (reviews, decisions)"),
    "action": ("操作", "Action"),
    "fields_hint": (
        "只需填写所选操作需要的项目（括号中列出，带 ? 的为选填）。",
        "Fill in only what the chosen action needs (listed in brackets; ? = optional).",
    ),
    "submit_action": ("提交", "Submit"),
    "no_actions": (
        "该案件当前没有可在网页办理的操作。",
        "No action of this case can be taken here.",
    ),
    "names_hint": ("（多人用逗号分隔）", "(several: separate with commas)"),
    "assistance_plan": ("帮扶计划", "Assistance plan"),
    "plan_no": ("计划编号", "Plan"),
    "plan_status_draft": ("草案", "draft"),
    "plan_status_accepted": ("已确认", "accepted"),
    "plan_status_superseded": ("已替代", "superseded"),
    "measure": ("帮扶措施", "Measure"),
    "amount": ("金额（元）", "Amount (yuan)"),
    "status": ("状态", "Status"),
    "deliveries": ("落实次数", "Deliveries"),
    "measure_status_proposed": ("建议", "proposed"),
    "measure_status_accepted": ("采纳", "accepted"),
    "measure_status_removed": ("删除", "removed"),
    "no_plan": ("暂无帮扶计划。", "No assistance plan yet."),
    "case_history": ("办理记录", "Case history"),
    "visits": ("走访记录", "Visits"),
    "visit_kind_visit": ("入户核实", "home visit"),
    "visit_kind_follow_up": ("跟踪回访", "follow-up"),
    "visit_kind_home_check": ("风险消除核查", "elimination home check"),
    "decisions": ("审核决定", "Decisions"),
    "level_village": ("村级", "village"),
    "level_township": ("乡镇", "township"),
    "level_county": ("县级", "county"),
    "outcome_approve": ("通过", "approved"),
    "outcome_reject": ("不通过", "rejected"),
    "all_cases": ("该户全部案件", "All cases of the household"),
    "no_case_for_household": ("该户暂无案件。", "No case for this household."),
    "indicators_title": ("指标变化", "Indicators over time"),
    "no_indicators": ("暂无指标数据。", "No indicators yet."),
    "ind_income_pc_12m": ("人均纯收入（近12个月）", "Per-capita net income (12 months)"),
    "ind_rigid_12m": ("刚性支出（近12个月）", "Rigid expenditure (12 months)"),
    "ind_medical_oop_12m": ("医疗自付（近12个月）", "Medical out-of-pocket (12 months)"),
    "timeline_title": ("部门数据记录", "Department records"),
    "person": ("人员", "Person"),
    "link_method": ("关联方式", "Link method"),
    "match_probability": ("匹配概率", "Match probability"),
    "no_records": ("暂无部门数据记录。", "No department records."),
    "map_title": ("风险分布图", "At-risk map"),
    "map_caption": (
        "区域形状为根据各区域中心点推算的近似范围，并非行政边界；点击区域可逐级查看。",
        "Cell shapes are approximate (derived from the regions' centroids), not boundaries; "
        "click a region to drill down.",
    ),
    "map_cell": (
        "{name}：风险率 {rate}（预警 {warned} 户 / 共 {n} 户）",
        "{name}: at-risk rate {rate} ({warned} of {n} households warned)",
    ),
    "map_up": ("返回上一级", "Up one level"),
    "map_top": ("返回全辖区", "Whole area"),
    "at_risk_rate": ("风险率", "At-risk rate"),
    "no_households": ("无农户", "No households"),
    "region": ("区域", "Region"),
    "trends_title": ("月度趋势", "Monthly trends"),
    "trend_warned": ("预警户数", "Households warned"),
    "trend_opened": ("新立案件", "Cases opened"),
    "trend_monitored": ("监测户数", "Households monitored"),
    "trend_eliminated": ("风险消除", "Risk eliminated"),
    "trend_relapsed": ("返贫", "Relapsed"),
    "by_cause": ("按风险类型（新立案件）", "By risk cause (cases opened)"),
    "not_classified": ("尚未认定", "not yet classified"),
    "quality_title": ("数据质量", "Data quality"),
    "no_analytics_store": (
        "没有分析库（尚未运行月度流程，或仅使用 PostgreSQL 部署）。",
        "No analytics store (no monthly cycle has run, or a PostgreSQL-only deployment).",
    ),
    "no_quality": ("暂无数据质量报告。", "No quality report yet."),
    "quality_note": (
        "隔离率高于 5% 或其他比率低于 90% 的单元格突出显示。",
        "Cells with a quarantine rate above 5% or another rate below 90% are highlighted.",
    ),
    "whatif_title": ("政策模拟", "Policy what-if"),
    "whatif_intro": (
        "修改一个政策参数（如监测线），查看本辖区在某期会被预警的农户如何变化。不写入任何数据。",
        "Change one policy parameter (e.g. the monitoring line) and see how the households "
        "flagged in your area for a period would change. Nothing is written.",
    ),
    "parameter": ("参数", "Parameter"),
    "new_value": ("新值", "New value"),
    "breakdown": ("分组", "Breakdown"),
    "simulate": ("模拟", "Simulate"),
    "whatif_result": ("模拟结果", "Result"),
    "flagged_before": ("调整前预警户数", "Flagged before"),
    "flagged_after": ("调整后预警户数", "Flagged after"),
    "newly_flagged": ("新增预警户", "Newly flagged"),
    "no_longer_flagged": ("不再预警户", "No longer flagged"),
    "before": ("调整前", "Before"),
    "after": ("调整后", "After"),
    "diff": ("变化", "Change"),
    "by_region": ("按区域", "By region"),
    "whatif_bad_value": ("新值必须是数字。", "The new value must be a number."),
    "whatif_bad_parameter": ("该参数无法修改。", "That parameter cannot be changed."),
    "whatif_no_store": (
        "没有分析库，无法模拟（请先运行月度流程）。",
        "No analytics store to simulate on (run the monthly cycle first).",
    ),
    "whatif_no_data": ("该期没有指标数据。", "No indicators for that period."),
}

KIND_LABELS: Final[Mapping[str, tuple[str, str]]] = {
    "risk": ("风险预警", "Risk"),
    "screening": ("筛查预警", "Screening"),
    "guarantee": ("保障缺口", "Guarantee gap"),
    "ineligibility": ("不符合条件", "Ineligibility"),
    "elimination": ("可风险消除", "Ready for risk elimination"),
    "tier": ("救助分层", "Assistance tier"),
    "needs_verification": ("待核实", "Needs verification"),
    "prediction": ("预测预警", "Predicted risk"),
}

HOUSEHOLD_TYPE_LABELS: Final[Mapping[str, tuple[str, str]]] = {
    "unstable_former_poor": ("脱贫不稳定户", "Unstable former-poor household"),
    "edge": ("边缘易致贫户", "Edge household prone to poverty"),
    "sudden_hardship": ("突发严重困难户", "Household in sudden severe hardship"),
}
UNCLASSIFIED: Final = ("未分类", "Unclassified")

SEVERITY_LABELS: Final[Mapping[str, tuple[str, str]]] = {
    "high": ("高", "high"),
    "medium": ("中", "medium"),
    "low": ("低", "low"),
}


class Translator:
    """Text of one language, for templates and pages."""

    def __init__(self, lang: Language) -> None:
        self.lang: Language = lang
        self._index = LANGUAGES.index(lang)

    def __call__(self, key: str, **params: object) -> str:
        """The message ``key`` with ``{name}`` placeholders filled in."""
        pair = MESSAGES.get(key)
        text = pair[self._index] if pair else key
        return text.format(**params) if params else text

    def kind(self, kind: str | None) -> str:
        """Label of a warning kind."""
        pair = KIND_LABELS.get(kind or "")
        return pair[self._index] if pair else str(kind or "")

    def household_type(self, household_type: str | None) -> str:
        """Label of a household type (unclassified when None)."""
        pair = HOUSEHOLD_TYPE_LABELS.get(household_type or "", UNCLASSIFIED)
        return pair[self._index]

    def severity(self, severity: str | None) -> str:
        """Label of a severity (the raw value when unknown)."""
        pair = SEVERITY_LABELS.get(severity or "")
        return pair[self._index] if pair else str(severity or "")

    def yesno(self, value: bool | None) -> str:
        """Yes or no."""
        return self("yes") if value else self("no")

    def reason(self, zh: str, en: str) -> str:
        """The reason text in this language (the Chinese text if English is empty)."""
        return en if self.lang == "en" and en else zh


def _valid(value: str | None) -> Language | None:
    if value == "zh":
        return "zh"
    if value == "en":
        return "en"
    return None


def requested_language(request: Request) -> Language | None:
    """The language asked for with ``?lang=``, if valid."""
    return _valid(request.query_params.get("lang"))


def resolve_language(request: Request, default: str = "zh") -> Language:
    """The language of a request: ``?lang=``, then the cookie, then ``default``.

    Parameters
    ----------
    request
        The request.
    default
        Fallback language (``Settings.language``).

    Returns
    -------
    str
        ``"zh"`` or ``"en"``.
    """
    return (
        requested_language(request)
        or _valid(request.cookies.get(LANG_COOKIE))
        or _valid(default)
        or "zh"
    )
