"""Registry synchronisation: regions, households and persons (upsert, idempotent).

With a period, :func:`sync_registry` also keeps ``membership_history``: a person
seen for the first time opens a membership of their household from that period; a
person seen in another household than their open membership's closes it (``valid_to``
= the period) and opens one in the new household. A snapshot of an earlier period
than a membership's start changes nothing (snapshots may arrive late); one of the
same period corrects the open membership's household. A person missing from a
snapshot is not taken to have left (snapshots may be partial and rows are never
deleted).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    Integer,
    String,
    Table,
    bindparam,
    insert,
    select,
)
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from povguard.errors import DataError
from povguard.store.models import REGION_LEVELS, Household, MembershipHistory, Person, Region
from povguard.store.services._common import (
    check_period,
    chunked,
    plain,
    rename,
    transaction,
)
from povguard.store.services._upsert import upsert

logger = logging.getLogger(__name__)

#: Rows written per statement batch.
BATCH_SIZE: Final = 5000

#: Column names of the twin's ``registry/*.parquet`` files accepted as aliases.
REGION_ALIASES: Final = {"region_code": "code"}
HOUSEHOLD_ALIASES: Final = {"household_id": "id", "head_id": "head_id_number"}
PERSON_ALIASES: Final[dict[str, str]] = {}

#: Year columns where 0 (or less) means "none".
_YEAR_COLUMNS: Final = frozenset({"registered_year", "exit_year"})


@dataclass(frozen=True, slots=True)
class SyncResult:
    """Rows written by :func:`sync_registry` (inserted or updated)."""

    regions: int
    households: int
    persons: int


def _coerce_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value.strip())
    raise TypeError(f"not a date: {value!r}")


def _coerce_bool(value: Any) -> bool:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "t", "yes", "y", "是"):
            return True
        if lowered in ("0", "false", "f", "no", "n", "否", ""):
            return False
        raise ValueError(f"not a boolean: {value!r}")
    return bool(value)


class _RowCoercer:
    """Checks and converts mapping rows into complete rows of one table."""

    def __init__(self, table: Table, aliases: Mapping[str, str], label: str) -> None:
        self.table = table
        self.aliases = aliases
        self.label = label
        self.columns: dict[str, Column[Any]] = {c.name: c for c in table.columns}
        self.keys = [c.name for c in table.primary_key.columns]

    def _convert(self, column: Column[Any], value: Any) -> Any:
        value = plain(value)
        if isinstance(value, float) and math.isnan(value):
            value = None
        if isinstance(value, str) and not value.strip() and not isinstance(column.type, String):
            value = None
        if value is None:
            return None
        kind = column.type
        convert: Callable[[Any], Any]
        if isinstance(kind, Boolean):
            convert = _coerce_bool
        elif isinstance(kind, Integer):
            convert = int
        elif isinstance(kind, Float):
            convert = float
        elif isinstance(kind, Date):
            convert = _coerce_date
        else:
            convert = str
        out = convert(value)
        if isinstance(kind, String) and isinstance(out, str):
            out = out.strip()
            if not out and column.nullable:
                return None
            if kind.length is not None and len(out) > kind.length:
                raise ValueError(f"longer than {kind.length} characters")
        if column.name in _YEAR_COLUMNS and isinstance(out, int) and out <= 0:
            return None
        return out

    def __call__(self, raw: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
        row = rename(raw, self.aliases)
        unknown = sorted(set(row) - set(self.columns))
        if unknown:
            raise DataError(f"{self.label}: unknown columns {unknown}")
        for key, value in extra.items():
            if row.get(key) in (None, ""):
                row[key] = value
        out: dict[str, Any] = {}
        for name, column in self.columns.items():
            try:
                value = self._convert(column, row.get(name))
            except (TypeError, ValueError) as exc:
                raise DataError(f"{self.label}.{name}: {exc} ({row.get(name)!r})") from exc
            if value is None and not column.nullable:
                default = column.default
                if default is not None and getattr(default, "is_scalar", False):
                    value = getattr(default, "arg", None)
                if value is None:
                    ident = {k: row.get(k) for k in self.keys}
                    raise DataError(f"{self.label} {ident}: {name} is required")
            out[name] = value
        return out


def _write(
    session: Session,
    rows: Iterable[Mapping[str, Any]],
    coercer: _RowCoercer,
    extra: Mapping[str, Any],
    check: Callable[[dict[str, Any]], None] | None = None,
    after: Callable[[list[dict[str, Any]]], None] | None = None,
) -> int:
    count = 0
    for batch in chunked(rows, BATCH_SIZE):
        unique: dict[tuple[Any, ...], dict[str, Any]] = {}
        for raw in batch:
            row = coercer(raw, extra)
            if check is not None:
                check(row)
            unique[tuple(row[k] for k in coercer.keys)] = row
        upsert(session, coercer.table, list(unique.values()))
        if after is not None:
            after(list(unique.values()))
        count += len(batch)
    return count


def _track_memberships(session: Session, rows: list[dict[str, Any]], period: str) -> None:
    """Open, close or correct the memberships of a batch of person rows (see the module)."""
    table = cast(Table, MembershipHistory.__table__)
    ids = [row["id_number"] for row in rows]
    current = {
        m.id_number: m
        for m in session.execute(
            select(
                MembershipHistory.id,
                MembershipHistory.id_number,
                MembershipHistory.household_id,
                MembershipHistory.valid_from,
            ).where(MembershipHistory.id_number.in_(ids), MembershipHistory.valid_to.is_(None))
        )
    }
    opened: list[dict[str, Any]] = []
    closed: list[dict[str, Any]] = []
    corrected: list[dict[str, Any]] = []
    for row in rows:
        person, household = row["id_number"], row["household_id"]
        member = current.get(person)
        if member is None:
            opened.append({"household_id": household, "id_number": person, "valid_from": period})
        elif member.household_id == household or period < member.valid_from:
            continue
        elif period == member.valid_from:
            corrected.append({"mid": member.id, "household": household})
        else:
            closed.append({"mid": member.id})
            opened.append({"household_id": household, "id_number": person, "valid_from": period})
    key = table.c.id == bindparam("mid")
    if closed:
        session.execute(sql_update(table).where(key).values(valid_to=period), closed)
    if corrected:
        session.execute(
            sql_update(table).where(key).values(household_id=bindparam("household")), corrected
        )
    if opened:
        session.execute(insert(table), opened)


def _check_region(row: dict[str, Any]) -> None:
    if row["level"] not in REGION_LEVELS:
        raise DataError(f"region {row['code']}: level must be one of {REGION_LEVELS}")
    if not row["code"].isdigit():
        raise DataError(f"region code must be digits, got {row['code']!r}")


def sync_registry(
    session: Session,
    regions_rows: Iterable[Mapping[str, Any]],
    household_rows: Iterable[Mapping[str, Any]],
    person_rows: Iterable[Mapping[str, Any]],
    *,
    period: str | None = None,
    commit: bool = True,
) -> SyncResult:
    """Insert or update regions, households and persons (idempotent upsert).

    Each row is the whole record: columns missing from a row are stored as NULL
    (or the column default), so re-sending the same rows changes nothing. Rows are
    never deleted. Rows are read lazily and written in batches, so generators over
    large files are fine.

    Parameters
    ----------
    session
        Session on the operations database.
    regions_rows
        Mappings with ``code`` (alias ``region_code``), ``name``, ``level``
        (province/county/township/village), ``parent_code``, ``lon``, ``lat``.
    household_rows
        Mappings with ``id`` (alias ``household_id``), ``village_code`` and the other
        :class:`~povguard.store.models.Household` columns (alias ``head_id`` for
        ``head_id_number``). A year of 0 means "none"; an empty string is NULL.
    person_rows
        Mappings with ``id_number``, ``household_id`` and the other
        :class:`~povguard.store.models.Person` columns; ``birth_date`` may be a date
        or an ISO string.
    period
        ``YYYY-MM`` written to ``households.updated_period`` where a row has none,
        and the period from which membership changes date (``membership_history``;
        without a period memberships are not tracked).
    commit
        Commit at the end (default). With ``False`` the caller commits.

    Returns
    -------
    SyncResult
        Number of rows received per table (duplicates within a batch count once
        per occurrence).

    Raises
    ------
    DataError
        On an unknown column, a missing required value, a value of the wrong type,
        or a household/person whose village/household does not exist. Nothing is
        written then (the transaction is rolled back).
    """
    extra: dict[str, Any] = {}
    track: Callable[[list[dict[str, Any]]], None] | None = None
    if period is not None:
        extra["updated_period"] = check_period(period)

        def track(rows: list[dict[str, Any]]) -> None:
            _track_memberships(session, rows, period)

    with transaction(session, commit=commit, conflict="registry rows violate a constraint"):
        n_regions = _write(
            session,
            regions_rows,
            _RowCoercer(Region.__table__, REGION_ALIASES, "region"),  # type: ignore[arg-type]
            {},
            _check_region,
        )
        n_households = _write(
            session,
            household_rows,
            _RowCoercer(Household.__table__, HOUSEHOLD_ALIASES, "household"),  # type: ignore[arg-type]
            extra,
        )
        n_persons = _write(
            session,
            person_rows,
            _RowCoercer(Person.__table__, PERSON_ALIASES, "person"),  # type: ignore[arg-type]
            {},
            after=track,
        )
    logger.info(
        "registry synced: %d regions, %d households, %d persons",
        n_regions,
        n_households,
        n_persons,
    )
    return SyncResult(n_regions, n_households, n_persons)
