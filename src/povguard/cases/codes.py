"""Code lists of case management, each code with a Chinese and an English label.

Identification channels (DOMAIN.md section 3), the three monitored household types
(section 2) and the risk causes of the current registration codes (section 7).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final, TypeVar

from povguard.errors import DataError

E = TypeVar("E", bound=StrEnum)

#: Most further risk causes a household may have besides its main cause.
MAX_OTHER_CAUSES: Final = 2


class Channel(StrEnum):
    """How a household came to the case workflow (识别渠道)."""

    DEPARTMENT_WARNING = "department_warning"
    RISK_MODEL = "risk_model"
    SELF_REPORT = "self_report"
    CADRE_SCREENING = "cadre_screening"
    HOTLINE = "hotline"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return CHANNEL_LABELS[self][0]

    @property
    def label_en(self) -> str:
        """English label."""
        return CHANNEL_LABELS[self][1]


class HouseholdType(StrEnum):
    """The three monitored household types (三类户)."""

    UNSTABLE_FORMER_POOR = "unstable_former_poor"
    EDGE = "edge"
    SUDDEN_HARDSHIP = "sudden_hardship"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return HOUSEHOLD_TYPE_LABELS[self][0]

    @property
    def label_en(self) -> str:
        """English label."""
        return HOUSEHOLD_TYPE_LABELS[self][1]


class RiskCause(StrEnum):
    """Risk causes (风险类型) of a monitored household."""

    ILLNESS = "illness"
    SCHOOLING = "schooling"
    DISABILITY = "disability"
    NATURAL_DISASTER = "natural_disaster"
    ACCIDENT = "accident"
    INDUSTRY_FAILURE = "industry_failure"
    UNSTABLE_WORK = "unstable_work"
    LACK_OF_LABOUR = "lack_of_labour"
    OTHER = "other"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return CAUSE_LABELS[self][0]

    @property
    def label_en(self) -> str:
        """English label."""
        return CAUSE_LABELS[self][1]


CHANNEL_LABELS: Final[dict[Channel, tuple[str, str]]] = {
    Channel.DEPARTMENT_WARNING: ("部门筛查预警", "department screening and early warning"),
    Channel.RISK_MODEL: ("平台风险模型", "platform risk model"),
    Channel.SELF_REPORT: ("农户自主申报", "self-report by the household"),
    Channel.CADRE_SCREENING: ("基层干部排查", "screening by village cadres"),
    Channel.HOTLINE: ("12317热线及群众反映", "hotline 12317 and public reports"),
}

HOUSEHOLD_TYPE_LABELS: Final[dict[HouseholdType, tuple[str, str]]] = {
    HouseholdType.UNSTABLE_FORMER_POOR: ("脱贫不稳定户", "unstable former-poor household"),
    HouseholdType.EDGE: ("边缘易致贫户", "edge household prone to poverty"),
    HouseholdType.SUDDEN_HARDSHIP: ("突发严重困难户", "household in sudden severe hardship"),
}

CAUSE_LABELS: Final[dict[RiskCause, tuple[str, str]]] = {
    RiskCause.ILLNESS: ("因病", "illness"),
    RiskCause.SCHOOLING: ("因学", "schooling costs"),
    RiskCause.DISABILITY: ("因残", "disability"),
    RiskCause.NATURAL_DISASTER: ("因自然灾害", "natural disaster"),
    RiskCause.ACCIDENT: ("因意外事故", "accident"),
    RiskCause.INDUSTRY_FAILURE: ("因产业项目失败", "failed industry project"),
    RiskCause.UNSTABLE_WORK: ("因务工就业不稳", "unstable work"),
    RiskCause.LACK_OF_LABOUR: ("缺劳动力", "lack of labour"),
    RiskCause.OTHER: ("其他", "other"),
}


def parse_code(kind: type[E], value: object, what: str) -> E:
    """``value`` as a member of the string enum ``kind``.

    Parameters
    ----------
    kind
        The enum class.
    value
        A member or its string value.
    what
        The field name used in the error message.

    Raises
    ------
    DataError
        Naming the field, the bad value and the allowed values.
    """
    allowed = ", ".join(m.value for m in kind)
    if not isinstance(value, str):
        raise DataError(f"{what}: unknown value {value!r} (allowed: {allowed})")
    try:
        return kind(value)
    except ValueError:
        raise DataError(f"{what}: unknown value {value!r} (allowed: {allowed})") from None


def validate_causes(
    main_cause: RiskCause | str, other_causes: Iterable[RiskCause | str] = ()
) -> tuple[RiskCause, tuple[RiskCause, ...]]:
    """Check a household's risk causes: one main cause and up to two different further ones.

    Parameters
    ----------
    main_cause
        The main risk cause.
    other_causes
        Further causes, at most :data:`MAX_OTHER_CAUSES`, none equal to the main cause
        and no repeats.

    Returns
    -------
    tuple
        ``(main, others)`` as :class:`RiskCause` members.

    Raises
    ------
    DataError
        For an unknown cause, too many causes or a repeated cause.
    """
    main = parse_code(RiskCause, main_cause, "main_cause")
    others = tuple(parse_code(RiskCause, c, "other_causes") for c in other_causes)
    if len(others) > MAX_OTHER_CAUSES:
        raise DataError(
            f"other_causes: at most {MAX_OTHER_CAUSES} further causes, got {len(others)}"
        )
    if main in others or len(set(others)) != len(others):
        raise DataError(f"other_causes: causes repeat ({main.value}; {[c.value for c in others]})")
    return main, others
