"""Helpers shared by the services: area scope, periods, row coercion, JSON values,
transactions."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Final, TypeVar

from sqlalchemy import ColumnElement, and_, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from povguard.errors import DataError, PovguardError

T = TypeVar("T")

#: A period: ``YYYY-MM`` with a year from 1900 to 2099 (the API's patterns use it).
PERIOD_PATTERN: Final = r"^(19|20)\d{2}-(0[1-9]|1[0-2])$"
_PERIOD_RE = re.compile(PERIOD_PATTERN)
_PREFIX_RE = re.compile(r"^\d{0,12}$")
_FULL_CODE_LEN = 12


class AreaScopeError(PovguardError, ValueError):
    """An area prefix is not a run of at most 12 region-code digits."""


def check_period(period: str) -> str:
    """Return ``period`` if it is a ``YYYY-MM`` month.

    Raises
    ------
    DataError
        If it is not.
    """
    if not isinstance(period, str) or not _PERIOD_RE.match(period):
        raise DataError(f"period must look like YYYY-MM (years 1900-2099), got {period!r}")
    return period


def check_area_prefix(prefix: str) -> str:
    """Return ``prefix`` if it is a region-code prefix (0-12 digits).

    Raises
    ------
    AreaScopeError
        If it is not.
    """
    if not isinstance(prefix, str) or not _PREFIX_RE.match(prefix):
        raise AreaScopeError(f"area prefix must be 0-12 digits, got {prefix!r}")
    return prefix


def region_prefix(code: str) -> str:
    """The area prefix of a 12-digit region code: its significant digits.

    ``520000000000`` (province) -> ``52``; ``520100000000`` (prefecture) -> ``5201``;
    ``520102000000`` (county) -> ``520102``; ``520102003000`` (township) ->
    ``520102003``; a village code is returned whole.

    Parameters
    ----------
    code
        A 12-digit region code.

    Returns
    -------
    str
        The prefix that selects the region and everything below it.
    """
    check_area_prefix(code)
    if len(code) != _FULL_CODE_LEN:
        raise AreaScopeError(f"a region code has 12 digits, got {code!r}")
    for keep in (2, 4, 6, 9):
        if set(code[keep:]) == {"0"}:
            return code[:keep]
    return code


def _next_prefix(prefix: str) -> str | None:
    """The smallest digit string greater than every string starting with ``prefix``."""
    stripped = prefix.rstrip("9")
    if not stripped:
        return None
    return stripped[:-1] + str(int(stripped[-1]) + 1)


def area_range(column: InstrumentedAttribute[str], prefix: str) -> ColumnElement[bool]:
    """SQL condition: ``column`` (a 12-digit region code) starts with ``prefix``,
    written as a range only.

    For digit codes of one length the range is exact, and the database estimates
    a range well (it multiplies the estimates of the ``LIKE`` and the range of
    :func:`in_area`, and so underestimates big areas).
    """
    check_area_prefix(prefix)
    if not prefix:
        return true()
    upper = _next_prefix(prefix)
    return column >= prefix if upper is None else and_(column >= prefix, column < upper)


def in_area(column: InstrumentedAttribute[str], prefix: str) -> ColumnElement[bool]:
    """SQL condition: ``column`` (a region code) starts with ``prefix``.

    Written as ``LIKE prefix || '%'`` plus the equivalent range, so that both SQLite
    and PostgreSQL can use the B-tree index on the column.
    """
    check_area_prefix(prefix)
    if not prefix:
        return true()
    clauses: list[ColumnElement[bool]] = [column.startswith(prefix), column >= prefix]
    upper = _next_prefix(prefix)
    if upper is not None:
        clauses.append(column < upper)
    return and_(*clauses)


def chunked(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items."""
    batch: list[T] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def plain(value: Any) -> Any:
    """``value`` with NumPy scalars turned into Python scalars (other values unchanged)."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return value.item()
    return value


def jsonable(value: Any, where: str = "value") -> Any:  # noqa: PLR0911
    """A JSON-compatible copy of ``value`` (NumPy scalars, decimals, dates converted).

    Raises
    ------
    DataError
        If a value cannot be represented in JSON.
    """
    value = plain(value)
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Decimal):
        return jsonable(float(value), where)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, f"{where}[]") for v in value]
    if hasattr(value, "tolist"):  # NumPy arrays
        return jsonable(value.tolist(), where)
    raise DataError(f"{where}: {type(value).__name__} cannot be stored as JSON")


def rename(row: Mapping[str, Any], aliases: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``row`` with alias keys renamed to column names.

    Raises
    ------
    DataError
        If a column is given twice (under its name and an alias).
    """
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = aliases.get(key, key)
        if name in out:
            raise DataError(f"column {name!r} is given twice (as {key!r} and {name!r})")
        out[name] = value
    return out


@contextmanager
def transaction(
    session: Session, *, commit: bool = True, conflict: str | None = None
) -> Iterator[None]:
    """Run the block as one unit of work: flush and (with ``commit``) commit it.

    Any error rolls the session back and is re-raised; with ``conflict`` an
    integrity error becomes ``DataError("<conflict>: <database message>")``.
    """
    try:
        yield
        session.flush()
        if commit:
            session.commit()
    except IntegrityError as exc:
        session.rollback()
        if conflict is None:
            raise
        raise DataError(f"{conflict}: {exc.orig}") from exc
    except BaseException:
        session.rollback()
        raise
