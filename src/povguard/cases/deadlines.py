"""Due dates of case steps, from policy-pack parameters (calendar days).

Rules (every number is a pack parameter):

- identification (discovery to county approval) is due ``identification_limit_days``
  after the day of discovery;
- the home visit is due ``visit_due_days`` after discovery;
- a township or county review step (identification and elimination) is due
  ``review_due_days`` after the day the case entered it;
- a monitored household gets a follow-up visit every ``follow_up_visit_days``,
  counted from the last follow-up (or home check), else from the day it became
  monitored;
- a public notice of at least N days posted on day D may be closed at the earliest
  on day D + N (:func:`notice_earliest_end`); that is an earliest date, not a deadline.

A step due on day X is on time when done on day X and overdue from day X + 1: with a
15-day limit, a case discovered on 1 March is due on 16 March, not overdue on
16 March and one day overdue on 17 March. After an appeal re-opens an identification
step, the identification limit (counted from discovery) no longer applies; the
re-opened step is due ``review_due_days`` after it was re-opened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from povguard.cases.workflow import CaseState, CaseStatus, notice_earliest_end, param_days

_IDENTIFICATION_STEPS: Final = frozenset(
    {
        CaseStatus.DISCOVERED,
        CaseStatus.VISIT,
        CaseStatus.CROSS_CHECK,
        CaseStatus.VILLAGE_REVIEW,
        CaseStatus.TOWNSHIP_REVIEW,
        CaseStatus.COUNTY_APPROVAL,
    }
)
_REVIEW_STEPS: Final = frozenset(
    {
        CaseStatus.TOWNSHIP_REVIEW,
        CaseStatus.COUNTY_APPROVAL,
        CaseStatus.TOWNSHIP_ACCEPTANCE,
        CaseStatus.COUNTY_ELIMINATION_APPROVAL,
    }
)
_MONITORED_STEPS: Final = frozenset(
    {
        CaseStatus.MONITORED,
        CaseStatus.ASSISTED,
        CaseStatus.ELIMINATION_ASSESSMENT,
        CaseStatus.ELIMINATION_NOTICE,
        CaseStatus.TOWNSHIP_ACCEPTANCE,
        CaseStatus.COUNTY_ELIMINATION_APPROVAL,
    }
)

#: Policy-pack parameters the deadlines read.
DEADLINE_PARAMETERS: Final = frozenset(
    {"identification_limit_days", "visit_due_days", "review_due_days", "follow_up_visit_days"}
)

#: Labels of the deadline kinds, Chinese and English.
DEADLINE_LABELS: Final[dict[str, tuple[str, str]]] = {
    "home_visit": ("入户核实", "home visit"),
    "identification": ("识别认定", "identification"),
    "review": ("审核审定", "review"),
    "follow_up": ("跟踪回访", "follow-up visit"),
}


@dataclass(frozen=True)
class Deadline:
    """One due date of a case's open step.

    ``kind`` is a key of :data:`DEADLINE_LABELS`; ``param`` names the pack parameter
    that sets it; ``since`` is the day it is counted from.
    """

    kind: str
    due_on: date
    param: str
    since: date

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return DEADLINE_LABELS[self.kind][0]

    @property
    def label_en(self) -> str:
        """English label."""
        return DEADLINE_LABELS[self.kind][1]


@dataclass(frozen=True)
class DueStatus:
    """Where a case stands against its most pressing deadline on ``today``."""

    deadline: Deadline
    today: date
    overdue: bool
    days_overdue: int
    days_left: int

    @property
    def due_on(self) -> date:
        """The due date."""
        return self.deadline.due_on


def due_after(start: date, params: Mapping[str, float], param: str) -> date:
    """``start`` plus the number of days of the parameter ``param``.

    Raises
    ------
    ConfigError
        When the parameter is missing or not a whole number of days.
    """
    return start + timedelta(days=param_days(params, param))


def identification_due(discovered_on: date, params: Mapping[str, float]) -> date:
    """Last day to complete identification (``identification_limit_days`` after discovery)."""
    return due_after(discovered_on, params, "identification_limit_days")


def visit_due(discovered_on: date, params: Mapping[str, float]) -> date:
    """Last day for the home visit (``visit_due_days`` after discovery)."""
    return due_after(discovered_on, params, "visit_due_days")


def review_due(entered_on: date, params: Mapping[str, float]) -> date:
    """Last day of a township or county review step (``review_due_days`` after entering it)."""
    return due_after(entered_on, params, "review_due_days")


def follow_up_due(last_visit_on: date, params: Mapping[str, float]) -> date:
    """Day of the next follow-up visit (``follow_up_visit_days`` after the last one)."""
    return due_after(last_visit_on, params, "follow_up_visit_days")


def notice_end(case: CaseState, params: Mapping[str, float]) -> date | None:
    """The earliest day the case's running public notice may be closed (None: no notice).

    Uses ``notice_days_identification`` in village review and
    ``notice_days_elimination`` in the elimination notice step.
    """
    if case.notice_started_on is None:
        return None
    name = (
        "notice_days_elimination"
        if case.status is CaseStatus.ELIMINATION_NOTICE
        else "notice_days_identification"
    )
    return notice_earliest_end(case.notice_started_on, param_days(params, name, minimum=1))


def deadlines(case: CaseState, params: Mapping[str, float]) -> tuple[Deadline, ...]:
    """Every deadline that applies to the case's open step (empty when it is closed).

    Parameters
    ----------
    case
        The case.
    params
        Policy-pack parameters in force.

    Returns
    -------
    tuple of Deadline
        In the order: home visit, identification, review, follow-up.
    """
    status = case.status
    out: list[Deadline] = []
    discovered = case.discovered_on
    entered = case.entered_at.date()
    if status in {CaseStatus.DISCOVERED, CaseStatus.VISIT} and case.appeals == 0:
        out.append(
            Deadline("home_visit", visit_due(discovered, params), "visit_due_days", discovered)
        )
    if status in _IDENTIFICATION_STEPS:
        if case.appeals == 0:
            due = identification_due(discovered, params)
            out.append(Deadline("identification", due, "identification_limit_days", discovered))
        elif status not in _REVIEW_STEPS:
            out.append(Deadline("review", review_due(entered, params), "review_due_days", entered))
    if status in _REVIEW_STEPS:
        out.append(Deadline("review", review_due(entered, params), "review_due_days", entered))
    if status in _MONITORED_STEPS:
        since = case.last_follow_up_on or case.monitored_on or entered
        out.append(
            Deadline("follow_up", follow_up_due(since, params), "follow_up_visit_days", since)
        )
    return tuple(out)


def due_status(
    case: CaseState, now: datetime | date, params: Mapping[str, float]
) -> DueStatus | None:
    """The case's most pressing deadline and whether it is overdue on ``now``.

    Parameters
    ----------
    case
        The case.
    now
        The current time or day (local; only its date counts).
    params
        Policy-pack parameters in force.

    Returns
    -------
    DueStatus or None
        The earliest of :func:`deadlines` with ``overdue`` (today after the due day),
        ``days_overdue`` (0 when on time) and ``days_left`` (0 when due today or
        overdue); None for a closed case.
    """
    found = deadlines(case, params)
    if not found:
        return None
    today = now.date() if isinstance(now, datetime) else now
    first = min(found, key=lambda d: d.due_on)
    delta = (today - first.due_on).days
    return DueStatus(
        deadline=first,
        today=today,
        overdue=delta > 0,
        days_overdue=max(delta, 0),
        days_left=max(-delta, 0),
    )
