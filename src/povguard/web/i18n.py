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
    "ids_masked": ("身份证号已脱敏显示。", "ID numbers are masked."),
}

KIND_LABELS: Final[Mapping[str, tuple[str, str]]] = {
    "risk": ("风险预警", "Risk"),
    "screening": ("筛查预警", "Screening"),
    "guarantee": ("保障缺口", "Guarantee gap"),
    "ineligibility": ("不符合条件", "Ineligibility"),
    "elimination": ("可风险消除", "Ready for risk elimination"),
    "tier": ("救助分层", "Assistance tier"),
    "needs_verification": ("待核实", "Needs verification"),
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
