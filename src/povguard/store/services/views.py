"""Read models of the web pages (worklist, map, trends, timeline, quality) and bulk
assignment of cases to cadres.

Every function takes the caller's area (region-code prefix, ``''`` = everything) and
applies it inside its queries. Writes go through the case workflow
(:func:`povguard.store.services.cases.transition`) or, for a task that the workflow
has no action for, through a direct update recorded in the audit trail
(:func:`povguard.store.services.audit.record_event`) in the same transaction.

Analytics-store reads (department records linked to a household, household-month
indicators, data-quality reports) are bounded queries for one household or one
period; :func:`open_analytics` answers None when there is no store (e.g. a
PostgreSQL-only deployment) or another process holds its write lock, and callers
then show "no records".
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sqlalchemy import ColumnElement, distinct, func, or_, select, update
from sqlalchemy.orm import Session

from povguard.cases import Action, CaseStatus, TransitionError
from povguard.errors import ConflictError, DataError, NotFoundError
from povguard.store.models import (
    ACTOR_LEN,
    Case,
    CaseEventRecord,
    Household,
    HouseholdWarning,
    Region,
    Task,
    User,
)
from povguard.store.services._common import (
    check_area_prefix,
    check_period,
    in_area,
    region_prefix,
    transaction,
)
from povguard.store.services.audit import record_event
from povguard.store.services.cases import get_case, relapse_counts, transition
from povguard.store.services.queries import MAX_PAGE_SIZE, Page

logger = logging.getLogger(__name__)

__all__ = [
    "CADRE_ROLES",
    "MAX_ASSIGN",
    "AreaUnit",
    "AssignResult",
    "Cadre",
    "CauseCount",
    "RecordItem",
    "TrendPoint",
    "WorklistRow",
    "area_units",
    "assign_cases",
    "child_length",
    "household_indicators",
    "household_records",
    "list_cadres",
    "monitored_by_cause",
    "open_analytics",
    "quality_report",
    "trends",
    "worklist",
]

#: Roles of users who may be given cases (cadres and officials, not auditors).
CADRE_ROLES: Final = ("village", "township", "county", "city", "province", "admin")
#: Most cases one bulk assignment may name.
MAX_ASSIGN: Final = 500
#: Most records of one household a page of its timeline may hold.
MAX_RECORDS_PAGE: Final = 200
_CLOSED: Final = tuple(s.value for s in CaseStatus if s.is_closed)
#: Significant digits of a region code per level.
LEVEL_DIGITS: Final = {"province": 2, "city": 4, "county": 6, "township": 9, "village": 12}
_ASSIGNABLE_TASK: Final = "task.assign"


# -------------------------------------------------------------------------- items


@dataclass(frozen=True, slots=True)
class WorklistRow:
    """One household of the worklist: its open case and task, and its warnings."""

    household_id: str
    village_code: str
    village_name: str
    case_id: str | None
    case_status: str | None
    case_version: int | None
    household_type: str | None
    main_cause: str | None
    relapse: bool
    assignee: str | None
    due_on: dt.date | None
    overdue: bool
    task_kind: str | None
    task_level: str | None
    rule_ids: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    severity: str | None = None


@dataclass(frozen=True, slots=True)
class Cadre:
    """A user who may be given cases."""

    username: str
    display_name: str
    role: str
    area_code: str


@dataclass(frozen=True, slots=True)
class AssignResult:
    """What a bulk assignment did: cases assigned, and refused ones with why."""

    assignee: str
    assigned: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AreaUnit:
    """A region one level below the shown area, with its households and warnings."""

    code: str
    prefix: str
    name: str
    level: str
    lon: float | None
    lat: float | None
    households: int
    warned_households: int

    @property
    def rate(self) -> float | None:
        """At-risk rate: warned households / households (None without households)."""
        return self.warned_households / self.households if self.households else None


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One month of the area's trends."""

    period: str
    warnings: int
    warned_households: int
    opened: int
    relapses: int
    monitored: int
    eliminated: int


@dataclass(frozen=True, slots=True)
class CauseCount:
    """Cases opened in a period by main risk cause (None: not yet classified)."""

    period: str
    cause: str | None
    count: int


@dataclass(frozen=True, slots=True)
class RecordItem:
    """A department record linked to a household (from the analytics store)."""

    period: str
    source: str
    file: str
    row: int
    person_id: str | None
    method: str | None
    match_probability: float | None


# --------------------------------------------------------------------- worklist


def _today(now: dt.datetime | dt.date | None) -> dt.date:
    if now is None:
        return dt.date.today()
    return now.date() if isinstance(now, dt.datetime) else now


def _check_page(page: int, page_size: int) -> None:
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise DataError(f"page must be >= 1 and page_size 1..{MAX_PAGE_SIZE}")


def _warned(period: str | None, **filters: str | None) -> Any:
    stmt = select(HouseholdWarning.household_id)
    if period is not None:
        stmt = stmt.where(HouseholdWarning.period == period)
    for name, value in filters.items():
        if value is not None:
            stmt = stmt.where(getattr(HouseholdWarning, name) == value)
    return stmt


def worklist(
    session: Session,
    area_prefix: str,
    *,
    period: str | None = None,
    household_type: str | None = None,
    cause: str | None = None,
    rule_id: str | None = None,
    kind: str | None = None,
    village: str | None = None,
    status: str | None = None,
    task_kind: str | None = None,
    overdue: bool | None = None,
    now: dt.datetime | dt.date | None = None,
    page: int = 1,
    page_size: int = 50,
) -> Page[WorklistRow]:
    """One page of the area's worklist: households with an open case or a warning.

    Parameters
    ----------
    session
        Session on the operations database.
    area_prefix
        The caller's area (``''`` = everything).
    period
        Warnings of this period (None: of any period).
    household_type
        The case's household type, or a warning's in the period.
    cause
        The case's main risk cause.
    rule_id, kind
        Households with a warning of this rule / kind in the period.
    village
        Region-code prefix within the area (a township or a village).
    status
        Case status; ``"none"`` for households without an open case.
    task_kind
        Kind of the case's open task.
    overdue
        True: only cases past their due date on ``now``'s day; False: only not.
    now
        The day deadlines are judged on (default: today).
    page, page_size
        1-based page and its size.

    Returns
    -------
    Page of WorklistRow
        Overdue cases first, then by due date, then by household.

    Raises
    ------
    DataError
        On a bad period, prefix or page.
    """
    check_area_prefix(area_prefix)
    _check_page(page, page_size)
    if period is not None:
        check_period(period)
    today = _today(now)
    oc = (
        select(
            Case.id,
            Case.household_id,
            Case.status,
            Case.version,
            Case.assignee,
            Case.due_on,
            Case.main_cause,
            Case.household_type,
            Case.relapse,
        )
        .where(Case.status.not_in(_CLOSED), in_area(Case.village_code, area_prefix))
        .subquery("oc")
    )
    ot = (
        select(Task.case_id, Task.kind, Task.level, Task.assignee)
        .where(Task.status == "open")
        .subquery("ot")
    )
    conditions: list[ColumnElement[bool]] = [
        in_area(Household.village_code, area_prefix),
        or_(oc.c.id.is_not(None), Household.id.in_(_warned(period))),
    ]
    if village:
        conditions.append(in_area(Household.village_code, check_area_prefix(village)))
    if rule_id is not None or kind is not None:
        conditions.append(Household.id.in_(_warned(period, rule_id=rule_id, kind=kind)))
    if household_type is not None:
        conditions.append(
            or_(
                oc.c.household_type == household_type,
                Household.id.in_(_warned(period, household_type=household_type)),
            )
        )
    if cause is not None:
        conditions.append(oc.c.main_cause == cause)
    if status == "none":
        conditions.append(oc.c.id.is_(None))
    elif status is not None:
        conditions.append(oc.c.status == status)
    if task_kind is not None:
        conditions.append(ot.c.kind == task_kind)
    if overdue is True:
        conditions.append(oc.c.due_on < today)
    elif overdue is False:
        conditions.append(or_(oc.c.due_on.is_(None), oc.c.due_on >= today))
    base = (
        select(
            Household.id,
            Household.village_code,
            Region.name,
            oc.c.id.label("case_id"),
            oc.c.status,
            oc.c.version,
            oc.c.household_type,
            oc.c.main_cause,
            oc.c.relapse,
            func.coalesce(ot.c.assignee, oc.c.assignee).label("assignee"),
            oc.c.due_on,
            ot.c.kind.label("task_kind"),
            ot.c.level.label("task_level"),
        )
        .select_from(Household)
        .join(Region, Region.code == Household.village_code, isouter=True)
        .join(oc, oc.c.household_id == Household.id, isouter=True)
        .join(ot, ot.c.case_id == oc.c.id, isouter=True)
        .where(*conditions)
    )
    total = session.scalar(select(func.count()).select_from(base.subquery()))
    rows = session.execute(
        base.order_by(oc.c.due_on.is_(None), oc.c.due_on, Household.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    ids = [r.id for r in rows]
    warned: dict[str, list[Any]] = {}
    if ids:
        stmt = select(
            HouseholdWarning.household_id,
            HouseholdWarning.rule_id,
            HouseholdWarning.kind,
            HouseholdWarning.severity,
            HouseholdWarning.household_type,
        ).where(HouseholdWarning.household_id.in_(ids))
        if period is not None:
            stmt = stmt.where(HouseholdWarning.period == period)
        for w in session.execute(stmt.order_by(HouseholdWarning.rule_id)):
            warned.setdefault(w.household_id, []).append(w)
    order = {"high": 0, "medium": 1, "low": 2}
    items = []
    for r in rows:
        ws = warned.get(r.id, [])
        severities = sorted((w.severity for w in ws), key=lambda s: order.get(s, 3))
        types = [w.household_type for w in ws if w.household_type]
        items.append(
            WorklistRow(
                household_id=r.id,
                village_code=r.village_code,
                village_name=r.name or "",
                case_id=r.case_id,
                case_status=r.status,
                case_version=r.version,
                household_type=r.household_type or (types[0] if types else None),
                main_cause=r.main_cause,
                relapse=bool(r.relapse),
                assignee=r.assignee,
                due_on=r.due_on,
                overdue=r.due_on is not None and today > r.due_on,
                task_kind=r.task_kind,
                task_level=r.task_level,
                rule_ids=tuple(dict.fromkeys(w.rule_id for w in ws)),
                kinds=tuple(dict.fromkeys(w.kind for w in ws)),
                severity=severities[0] if severities else None,
            )
        )
    return Page(items=items, total=int(total or 0), page=page, page_size=page_size)


def village_choices(session: Session, area_prefix: str) -> list[tuple[str, str, str]]:
    """Townships and villages of the area, for a filter: (code prefix, name, level).

    Raises
    ------
    AreaScopeError
        On a bad prefix.
    """
    check_area_prefix(area_prefix)
    rows = session.execute(
        select(Region.code, Region.name, Region.level)
        .where(in_area(Region.code, area_prefix), Region.level.in_(("township", "village")))
        .order_by(Region.code)
        .limit(2000)
    ).all()
    return [(str(c)[: LEVEL_DIGITS[lvl]], str(n), str(lvl)) for c, n, lvl in rows]


# ------------------------------------------------------------------ assignment


def list_cadres(session: Session, area_prefix: str) -> list[Cadre]:
    """Active users of the area who may be given cases (their area inside the caller's).

    Raises
    ------
    AreaScopeError
        On a bad prefix.
    """
    check_area_prefix(area_prefix)
    rows = session.execute(
        select(User.username, User.display_name, User.role, User.area_code)
        .where(
            User.active.is_(True),
            User.role.in_(CADRE_ROLES),
            in_area(User.area_code, area_prefix),
        )
        .order_by(User.area_code, User.username)
        .limit(1000)
    ).all()
    return [Cadre(u, d, r, a) for u, d, r, a in rows]


def _user_prefix(area_code: str) -> str:
    """The prefix of a user's area: a 12-digit code's significant digits, else as is."""
    return region_prefix(area_code) if len(area_code) == 12 else area_code


def _cadre(session: Session, username: str, area_prefix: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if (
        user is None
        or not user.active
        or user.role not in CADRE_ROLES
        or not _user_prefix(user.area_code).startswith(area_prefix)
    ):
        raise NotFoundError(
            f"user {username!r} not found in your area / 未找到本辖区用户 {username}"
        )
    return user


def _assign_task(
    session: Session, case_id: str, assignee: str, actor: str, key: str | None
) -> bool:
    task = session.execute(
        select(Task.id, Task.assignee).where(Task.case_id == case_id, Task.status == "open")
    ).first()
    if task is None:
        return False
    if task.assignee == assignee:
        return True
    with transaction(session):
        session.execute(update(Task).where(Task.id == task.id).values(assignee=assignee))
        record_event(
            session,
            actor=actor,
            action=_ASSIGNABLE_TASK,
            entity_type="case",
            entity_id=case_id,
            before={"task_id": task.id, "assignee": task.assignee},
            after={"task_id": task.id, "assignee": assignee},
            request_id=key,
        )
    return True


def assign_cases(
    session: Session,
    case_ids: Sequence[str],
    assignee: str,
    *,
    actor: str,
    area_prefix: str,
    at: dt.datetime,
    request_key: str | None = None,
) -> AssignResult:
    """Give the named open cases of the area to a cadre.

    A case waiting for its home visit (``discovered`` or ``visit``) is assigned with
    the workflow action ``assign_visit`` (event, task and audit written by
    :func:`~povguard.store.services.cases.transition`); for a case at another step
    the open task is given to the cadre and the change recorded in the audit trail
    (``task.assign``). Each case is its own transaction; cases outside the area,
    unknown or closed ones are refused, not failed.

    Parameters
    ----------
    session
        Session on the operations database.
    case_ids
        The cases (at most :data:`MAX_ASSIGN`; repeats count once).
    assignee
        User name of an active cadre whose area is within the caller's and covers
        the case's village.
    actor
        Who assigns.
    area_prefix
        The caller's area (``''`` = everything).
    at
        When (local time).
    request_key
        Key of the request; with it a repeated submission assigns nothing twice.

    Returns
    -------
    AssignResult
        Assigned case ids and refused ones with the reason code (``not_found``,
        ``closed``, ``outside_assignee_area``, ``no_task``, ``conflict``).

    Raises
    ------
    NotFoundError
        When the assignee is not an active cadre of the caller's area.
    DataError
        On too many cases, or an empty actor.
    """
    check_area_prefix(area_prefix)
    ids = list(dict.fromkeys(str(c).strip() for c in case_ids if str(c).strip()))
    if len(ids) > MAX_ASSIGN:
        raise DataError(f"at most {MAX_ASSIGN} cases at once, got {len(ids)}")
    if not actor or len(actor) > ACTOR_LEN:
        raise DataError("actor must be a non-empty name")
    user = _cadre(session, assignee, area_prefix)
    result = AssignResult(assignee=user.username)
    for case_id in ids:
        key = f"assign:{request_key}:{user.username}"[:128] if request_key else None
        try:
            view = get_case(session, case_id, area_prefix, now=at)
        except NotFoundError:
            result.refused.append((case_id, "not_found"))
            continue
        if not view.is_open:
            result.refused.append((case_id, "closed"))
            continue
        if not view.village_code.startswith(_user_prefix(user.area_code)):
            result.refused.append((case_id, "outside_assignee_area"))
            continue
        try:
            if Action.ASSIGN_VISIT.value in view.allowed_actions:
                if view.assignee != user.username:
                    transition(
                        session,
                        case_id,
                        Action.ASSIGN_VISIT,
                        expected_version=view.version,
                        actor=actor,
                        at=at,
                        area_prefix=area_prefix,
                        payload={"assignee": user.username},
                        idempotency_key=key,
                    )
            elif not _assign_task(session, case_id, user.username, actor, key):
                result.refused.append((case_id, "no_task"))
                continue
        except (TransitionError, ConflictError) as exc:
            logger.info("assignment of %s refused: %s", case_id, exc)
            result.refused.append((case_id, "conflict"))
            continue
        result.assigned.append(case_id)
    return result


# ---------------------------------------------------------------- map and trends


def child_length(area_prefix: str) -> int:
    """Digits of the regions one level below the area (county, township or village)."""
    n = len(area_prefix)
    if n < 6:
        return 6
    if n < 9:
        return 9
    return 12


def _level(digits: int) -> str:
    return {6: "county", 9: "township", 12: "village"}[digits]


def area_units(session: Session, area_prefix: str, period: str | None) -> list[AreaUnit]:
    """The regions one level below the area with households and warned households.

    Centroids come from the regions table; a region without one gets the mean of
    its villages' centroids (None when none has one).

    Parameters
    ----------
    session
        Session on the operations database.
    area_prefix
        The area shown (``''`` = everything); must already be within the caller's.
    period
        Warnings of this period (None: no warnings counted).

    Returns
    -------
    list of AreaUnit
        By code.
    """
    check_area_prefix(area_prefix)
    n = child_length(area_prefix)
    unit = func.substr(Household.village_code, 1, n)
    counts = {
        str(c): int(k)
        for c, k in session.execute(
            select(unit, func.count())
            .where(in_area(Household.village_code, area_prefix))
            .group_by(unit)
        )
    }
    warned: dict[str, int] = {}
    if period is not None:
        check_period(period)
        warned = {
            str(c): int(k)
            for c, k in session.execute(
                select(unit, func.count(distinct(HouseholdWarning.household_id)))
                .select_from(HouseholdWarning)
                .join(Household, Household.id == HouseholdWarning.household_id)
                .where(in_area(Household.village_code, area_prefix))
                .where(HouseholdWarning.period == period)
                .group_by(unit)
            )
        }
    codes = {p: p.ljust(12, "0") for p in counts}
    regions = {
        r.code: r
        for r in session.execute(
            select(Region.code, Region.name, Region.lon, Region.lat).where(
                Region.code.in_(list(codes.values()))
            )
        )
    }
    vcode = func.substr(Region.code, 1, n)
    means = {
        str(c): (lon, lat)
        for c, lon, lat in session.execute(
            select(vcode, func.avg(Region.lon), func.avg(Region.lat))
            .where(
                in_area(Region.code, area_prefix),
                Region.level == "village",
                Region.lon.is_not(None),
                Region.lat.is_not(None),
            )
            .group_by(vcode)
        )
    }
    out = []
    for prefix in sorted(counts):
        region = regions.get(codes[prefix])
        lon = region.lon if region is not None else None
        lat = region.lat if region is not None else None
        if lon is None or lat is None:
            lon, lat = means.get(prefix, (None, None))
        out.append(
            AreaUnit(
                code=codes[prefix],
                prefix=prefix,
                name=region.name if region is not None else prefix,
                level=_level(n),
                lon=None if lon is None else float(lon),
                lat=None if lat is None else float(lat),
                households=counts[prefix],
                warned_households=warned.get(prefix, 0),
            )
        )
    return out


def _months(start: str, end: str) -> list[str]:
    out = []
    year, month = int(start[:4]), int(start[5:])
    while (period := f"{year:04d}-{month:02d}") <= end:
        out.append(period)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _month_start(period: str) -> dt.datetime:
    return dt.datetime(int(period[:4]), int(period[5:]), 1)


def _next_start(period: str) -> dt.datetime:
    year, month = int(period[:4]), int(period[5:])
    return dt.datetime(year + 1, 1, 1) if month == 12 else dt.datetime(year, month + 1, 1)


#: Most months a trend covers.
MAX_TREND_MONTHS: Final = 60


def trends(session: Session, area_prefix: str, start: str, end: str) -> list[TrendPoint]:
    """Monthly trends of the area from ``start`` to ``end`` (both included).

    Per month: warnings and warned households of the period; cases opened and
    relapse cases opened; households monitored at the month's end (cases that
    entered ``monitored`` by then and were not yet eliminated); cases eliminated in
    the month.

    Raises
    ------
    DataError
        On bad periods, a reversed range, or more than :data:`MAX_TREND_MONTHS` months.
    """
    check_area_prefix(area_prefix)
    check_period(start)
    check_period(end)
    if end < start:
        raise DataError(f"the range ends ({end}) before it starts ({start})")
    if int(start[:4]) < 1 or int(end[:4]) >= 9999:
        raise DataError(f"periods must lie in the years 1 to 9998, got {start} to {end}")
    months = _months(start, end)
    if len(months) > MAX_TREND_MONTHS:
        raise DataError(f"at most {MAX_TREND_MONTHS} months")
    area = in_area(Household.village_code, area_prefix)
    warn = {
        str(p): (int(n), int(h))
        for p, n, h in session.execute(
            select(
                HouseholdWarning.period,
                func.count(),
                func.count(distinct(HouseholdWarning.household_id)),
            )
            .join(Household, Household.id == HouseholdWarning.household_id)
            .where(area, HouseholdWarning.period >= start, HouseholdWarning.period <= end)
            .group_by(HouseholdWarning.period)
        )
    }
    opened = {c.period: c for c in relapse_counts(session, area_prefix, start, end)}
    entered = (
        select(CaseEventRecord.case_id, func.min(CaseEventRecord.at).label("at"))
        .join(Case, Case.id == CaseEventRecord.case_id)
        .where(in_area(Case.village_code, area_prefix))
        .where(CaseEventRecord.after_status == CaseStatus.MONITORED.value)
        .group_by(CaseEventRecord.case_id)
        .subquery("entered")
    )
    left = (
        select(CaseEventRecord.case_id, func.min(CaseEventRecord.at).label("at"))
        .join(Case, Case.id == CaseEventRecord.case_id)
        .where(in_area(Case.village_code, area_prefix))
        .where(CaseEventRecord.after_status == CaseStatus.ELIMINATED.value)
        .group_by(CaseEventRecord.case_id)
        .subquery("left_")
    )
    out = []
    for period in months:
        upto = _next_start(period)
        monitored = session.scalar(
            select(func.count())
            .select_from(entered)
            .join(left, left.c.case_id == entered.c.case_id, isouter=True)
            .where(entered.c.at < upto, or_(left.c.at.is_(None), left.c.at >= upto))
        )
        eliminated = session.scalar(
            select(func.count())
            .select_from(left)
            .where(left.c.at >= _month_start(period), left.c.at < upto)
        )
        n, h = warn.get(period, (0, 0))
        o = opened[period]
        out.append(
            TrendPoint(
                period=period,
                warnings=n,
                warned_households=h,
                opened=o.opened,
                relapses=o.relapses,
                monitored=int(monitored or 0),
                eliminated=int(eliminated or 0),
            )
        )
    return out


def monitored_by_cause(
    session: Session, area_prefix: str, start: str, end: str
) -> list[CauseCount]:
    """Cases opened per period by main risk cause (None while not classified).

    Raises
    ------
    DataError
        On bad periods.
    """
    check_area_prefix(area_prefix)
    check_period(start)
    check_period(end)
    rows = session.execute(
        select(Case.period, Case.main_cause, func.count())
        .where(in_area(Case.village_code, area_prefix), Case.period >= start, Case.period <= end)
        .group_by(Case.period, Case.main_cause)
        .order_by(Case.period, Case.main_cause)
    )
    return [CauseCount(str(p), c, int(n)) for p, c, n in rows]


# --------------------------------------------------------------- analytics store


@contextmanager
def open_analytics(kind: str, home: Path) -> Iterator[Any | None]:
    """The analytics store of a data directory for one read, or None.

    None when there is no store (a PostgreSQL-only deployment, or no cycle has run)
    or it cannot be opened (another process writing it). Never creates a store.
    """
    from povguard.engine import open_engine  # the engine pulls in ibis: only when needed

    if kind == "duckdb" and not (home / "analytics.duckdb").exists():
        yield None
        return
    try:
        engine = open_engine(kind, home)
    except Exception as exc:
        logger.warning("analytics store not available: %s", exc)
        yield None
        return
    try:
        yield engine
    finally:
        engine.close()


def _household_in_area(session: Session, household_id: str, area_prefix: str) -> None:
    check_area_prefix(area_prefix)
    found = session.scalar(
        select(Household.id).where(
            Household.id == household_id, in_area(Household.village_code, area_prefix)
        )
    )
    if found is None:
        raise NotFoundError(f"household {household_id} not found (or outside your area)")


def household_records(
    engine: Any | None,
    session: Session,
    household_id: str,
    *,
    area_prefix: str,
    page: int = 1,
    page_size: int = 50,
) -> Page[RecordItem]:
    """One page of the department records linked to a household, newest period first.

    Parameters
    ----------
    engine
        The analytics store (:func:`open_analytics`), or None: an empty page.
    session
        Session on the operations database (the household must be in the area).
    household_id
        The household.
    area_prefix
        The caller's area.
    page, page_size
        1-based page and its size (at most :data:`MAX_RECORDS_PAGE`).

    Raises
    ------
    NotFoundError
        When the household does not exist or is outside the area.
    """
    _household_in_area(session, household_id, area_prefix)
    if page < 1 or not 1 <= page_size <= MAX_RECORDS_PAGE:
        raise DataError(f"page must be >= 1 and page_size 1..{MAX_RECORDS_PAGE}")
    empty: Page[RecordItem] = Page(items=[], total=0, page=page, page_size=page_size)
    if engine is None or not engine.exists("links"):
        return empty
    t = engine.table("links")
    t = t.filter(t.household_id == household_id)
    total = engine.count(t)
    cols = [c for c in ("period", "source", "_file", "_row", "person_id", "method",
                        "match_probability") if c in t.columns]  # fmt: skip
    expr = (
        t.select(*cols)
        .order_by([t.period.desc(), t.source, t._file, t._row])
        .limit(page_size, offset=(page - 1) * page_size)
    )
    rows = engine.fetch(expr).to_pylist()
    items = [
        RecordItem(
            period=str(r.get("period")),
            source=str(r.get("source")),
            file=str(r.get("_file") or ""),
            row=int(r.get("_row") or 0),
            person_id=r.get("person_id"),
            method=r.get("method"),
            match_probability=r.get("match_probability"),
        )
        for r in rows
    ]
    return Page(items=items, total=int(total), page=page, page_size=page_size)


#: Indicators charted on the household page (when present).
CHART_INDICATORS: Final = ("income_pc_12m", "rigid_12m", "medical_oop_12m", "education_cost_12m")
#: Most periods of one household's indicators read.
MAX_INDICATOR_PERIODS: Final = 120


def household_indicators(
    engine: Any | None,
    session: Session,
    household_id: str,
    *,
    area_prefix: str,
    columns: Sequence[str] = CHART_INDICATORS,
) -> list[dict[str, Any]]:
    """The household's indicators per period, oldest first (empty without a store).

    Raises
    ------
    NotFoundError
        When the household does not exist or is outside the area.
    """
    _household_in_area(session, household_id, area_prefix)
    if engine is None or not engine.exists("indicators"):
        return []
    t = engine.table("indicators")
    cols = [c for c in columns if c in t.columns]
    expr = (
        t.filter(t.household_id == household_id)
        .select("period", *cols)
        .order_by("period")
        .limit(MAX_INDICATOR_PERIODS)
    )
    rows: list[dict[str, Any]] = engine.fetch(expr).to_pylist()
    return rows


def quality_report(
    engine: Any | None,
    *,
    area_prefix: str,
    source: str | None = None,
    period: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Rows of the data-quality report (one per source and delivery period).

    Quality rows describe departments' deliveries for the whole store and hold no
    personal data, so every area sees them; ``area_prefix`` is validated only.

    Parameters
    ----------
    engine
        The analytics store, or None (no rows).
    area_prefix
        The caller's area.
    source, period
        Filters.
    limit
        Most rows (newest period first).

    Raises
    ------
    DataError
        On a bad period or prefix.
    """
    check_area_prefix(area_prefix)
    if period is not None:
        check_period(period)
    if engine is None or not engine.exists("quality"):
        return []
    t = engine.table("quality")
    if source is not None:
        t = t.filter(t.source == source)
    if period is not None:
        t = t.filter(t.period == period)
    expr = t.order_by([t.period.desc(), t.source]).limit(limit)
    rows: list[dict[str, Any]] = engine.fetch(expr).to_pylist()
    return rows
