"""Warnings of a period: replaced as a whole (idempotent per period)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any, Final

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from povguard.errors import DataError
from povguard.store.models import (
    HOUSEHOLD_TYPES,
    WARNING_KINDS,
    Household,
    HouseholdWarning,
    utcnow,
)
from povguard.store.services._common import (
    check_period,
    chunked,
    jsonable,
    plain,
    transaction,
)

logger = logging.getLogger(__name__)

BATCH_SIZE: Final = 5000
_REQUIRED: Final = (
    "household_id",
    "rule_id",
    "rule_version",
    "severity",
    "kind",
    "reason_zh",
    "reason_en",
)
_OPTIONAL: Final = ("period", "household_type", "values", "evidence", "created_at")
_EVIDENCE_KEYS: Final = ("source", "file", "row")


def _decoded(value: Any, where: str) -> Any:
    """A JSON document given as text (as the screen stage stores it) decoded."""
    if isinstance(value, str | bytes):
        try:
            return json.loads(value) if value.strip() else None
        except ValueError as exc:
            raise DataError(f"{where}: not valid JSON ({exc})") from exc
    return value


def _warning_row(raw: Mapping[str, Any], period: str, now: dt.datetime) -> dict[str, Any]:
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise DataError(f"warning: unknown fields {unknown}")
    row: dict[str, Any] = {}
    for name in _REQUIRED:
        value = plain(raw.get(name))
        if value is None or (isinstance(value, str) and not value.strip()):
            raise DataError(f"warning {dict(raw).get('household_id')!r}: {name} is required")
        row[name] = str(value)
    where = f"warning {row['household_id']}/{row['rule_id']}"
    if raw.get("period") not in (None, period):
        raise DataError(f"{where}: period {raw.get('period')!r} is not {period!r}")
    if row["kind"] not in WARNING_KINDS:
        raise DataError(f"{where}: kind must be one of {WARNING_KINDS}, got {row['kind']!r}")
    household_type = plain(raw.get("household_type")) or None
    if household_type is not None and household_type not in HOUSEHOLD_TYPES:
        raise DataError(
            f"{where}: household_type must be one of {HOUSEHOLD_TYPES} or None, "
            f"got {household_type!r}"
        )
    values = jsonable(_decoded(raw.get("values"), f"{where}.values") or {}, f"{where}.values")
    if not isinstance(values, dict):
        raise DataError(f"{where}: values must be a mapping")
    evidence = jsonable(
        _decoded(raw.get("evidence"), f"{where}.evidence") or [], f"{where}.evidence"
    )
    if not isinstance(evidence, list) or not all(isinstance(e, dict) for e in evidence):
        raise DataError(f"{where}: evidence must be a list of mappings")
    for item in evidence:
        missing = [k for k in _EVIDENCE_KEYS if k not in item]
        if missing:
            raise DataError(f"{where}: evidence item lacks {missing}")
    created_at = raw.get("created_at") or now
    if not isinstance(created_at, dt.datetime):
        raise DataError(f"{where}: created_at must be a datetime")
    row.update(
        period=period,
        household_type=household_type,
        values=values,
        evidence=evidence,
        created_at=created_at,
    )
    return row


def replace_warnings(
    session: Session,
    period: str,
    rows: Iterable[Mapping[str, Any]],
    *,
    commit: bool = True,
) -> int:
    """Replace every warning of ``period`` with ``rows`` in one transaction.

    Running it twice with the same rows leaves the same warnings (new ids and
    ``created_at``), so a crashed or repeated screening stage can simply run again.

    Parameters
    ----------
    session
        Session on the operations database.
    period
        ``YYYY-MM``.
    rows
        Mappings with ``household_id``, ``rule_id``, ``rule_version`` (policy-pack
        version), ``severity``, ``kind``, ``reason_zh``, ``reason_en``, and optionally
        ``household_type`` (``unstable_former_poor`` | ``edge`` | ``sudden_hardship``
        or None), ``values`` (mapping of the real values used), ``evidence`` (list
        of mappings each with at least ``source``, ``file``, ``row``, plus record
        fields), ``period`` (must equal ``period``) and ``created_at``.
        ``values`` and ``evidence`` may also be JSON text. ``kind`` is one of
        :data:`~povguard.store.models.WARNING_KINDS`.
    commit
        Commit at the end (default). With ``False`` the caller commits.

    Returns
    -------
    int
        Number of warnings written.

    Raises
    ------
    DataError
        On an invalid row, a duplicate ``(household_id, rule_id)``, or an unknown
        household. Nothing changes then (the transaction is rolled back).
    """
    check_period(period)
    now = utcnow()
    seen: set[tuple[str, str]] = set()
    count = 0
    with transaction(session, commit=commit, conflict=f"warnings of {period} violate a constraint"):
        session.execute(delete(HouseholdWarning).where(HouseholdWarning.period == period))
        for batch in chunked(rows, BATCH_SIZE):
            prepared = []
            for raw in batch:
                row = _warning_row(raw, period, now)
                key = (row["household_id"], row["rule_id"])
                if key in seen:
                    raise DataError(f"warning {key[0]}/{key[1]} appears twice in {period}")
                seen.add(key)
                prepared.append(row)
            ids = sorted({row["household_id"] for row in prepared})
            villages = {
                hid: village
                for hid, village in session.execute(
                    select(Household.id, Household.village_code).where(Household.id.in_(ids))
                )
            }
            for row in prepared:
                village = villages.get(row["household_id"])
                if village is None:
                    raise DataError(
                        f"warning {row['household_id']}/{row['rule_id']}: unknown household"
                    )
                row["village_code"] = village
            session.execute(insert(HouseholdWarning), prepared)
            count += len(prepared)
    logger.info("replaced warnings of %s: %d rows", period, count)
    return count
