"""Tamper-evident, append-only audit trail of the operations database.

A service that changes something worth auditing calls :func:`record_event` in the
same transaction as the change (preferably as its last statement), so the change
and its event are committed, or rolled back, together. Auditors read the trail
with :func:`list_events` and check it with :func:`verify_chain`
(``povguard audit verify``).

Hash chain
----------
Events are numbered 1, 2, 3... without gaps (the service assigns ``id``; a
database sequence would leave holes after a rollback). Each event stores
``prev_hash``, the ``hash`` of the event before it (64 zeros for event 1), and
its own ``hash``: the SHA-256 (lower-case hex) of the UTF-8 bytes of this JSON
object, keys sorted, no whitespace (``separators=(",", ":")``), non-ASCII
characters kept as they are::

    {"action": str, "actor": str, "after": str | null, "at": "YYYY-MM-DDTHH:MM:SS.ffffffZ",
     "before": str | null, "entity_id": str, "entity_type": str, "id": int,
     "prev_hash": str, "reason": str | null, "request_id": str | null}

``before`` and ``after`` enter as the stored JSON text (itself canonical: sorted
keys, no whitespace), ``at`` as UTC with microseconds. :func:`event_hash` computes
it, so anyone can re-check an exported trail.

The one row of ``audit_chain_head`` holds the id and hash of the last event. It
lets :func:`verify_chain` notice events cut off the end of the chain or added
behind the service's back, and it is the lock that serialises appenders.

Concurrency
-----------
:func:`record_event` first updates the chain-head row (``UPDATE ... RETURNING``)
and only then reads the last id and hash, from that same statement:

- PostgreSQL: the UPDATE takes the row lock; a concurrent appender waits until
  the holder commits or rolls back and then (READ COMMITTED, the default) sees
  the new head. Under REPEATABLE READ or SERIALIZABLE the waiter fails with a
  serialisation error instead: retry the transaction.
- SQLite: the UPDATE is the write that starts the write transaction (the driver
  emits ``BEGIN`` before it), so the read happens under the database's single
  write lock; a concurrent appender waits (busy timeout) for the commit. If the
  connection already holds an older read snapshot (a transaction opened by a
  read), SQLite refuses the upgrade with "database is locked": retry.

Either way two transactions never link to the same ``prev_hash``; the primary
key on ``id`` and a unique constraint on ``prev_hash`` back this up. The lock is
held until the caller's transaction ends, so keep that transaction short.

Append-only
-----------
This module never updates or deletes events. Migration ``0004`` adds triggers
that refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) of ``audit_events``,
and deleting the head or moving it backwards. Someone allowed to drop the
triggers can still tamper; :func:`verify_chain` then reports the first event that
is changed (``content``), not linked to its predecessor (``link``), missing
(``gap``) or disagrees with the chain head (``head``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import ColumnElement, String, Table, func, insert, select, type_coerce, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from povguard.errors import ConflictError, DataError
from povguard.store.models import (
    ACTOR_LEN,
    AUDIT_ACTION_LEN,
    ENTITY_ID_LEN,
    ENTITY_TYPE_LEN,
    GENESIS_HASH,
    REQUEST_ID_LEN,
    AuditChainHead,
    AuditEvent,
    utcnow,
)
from povguard.store.services._common import jsonable, plain

__all__ = [
    "AUDIT_PROBLEMS",
    "GENESIS_HASH",
    "AuditChainError",
    "AuditEventItem",
    "AuditVerification",
    "event_hash",
    "list_events",
    "record_event",
    "verify_chain",
]

#: What :func:`verify_chain` can find wrong with an event: its content no longer
#: matches its hash, its ``prev_hash`` is not the hash of the event before, an id
#: is missing, or the chain head disagrees with the events.
AUDIT_PROBLEMS: Final = ("content", "link", "gap", "head")
#: Events read per batch by :func:`verify_chain`.
BATCH_SIZE: Final = 1000
#: Largest page :func:`list_events` returns.
MAX_LIMIT: Final = 500
_HEAD_ROW: Final = 1

_EVENTS = cast(Table, AuditEvent.__table__)
_HEAD = cast(Table, AuditChainHead.__table__)


class AuditChainError(DataError):
    """The audit tables are damaged so that no event can be appended (no chain head)."""


@dataclass(frozen=True, slots=True)
class AuditEventItem:
    """One event of the audit trail, ``before`` and ``after`` parsed from their JSON text."""

    id: int
    at: dt.datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: Any
    after: Any
    reason: str | None
    request_id: str | None
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """The result of :func:`verify_chain`.

    Attributes
    ----------
    ok
        Whether the whole chain is intact.
    checked
        Events whose content and link were verified (all of them when ``ok``).
    head_id
        Id of the last event according to the chain head when the check started
        (events appended later are not checked); None if the head is missing.
    broken_id
        Id of the first broken event (for a ``gap``: the first missing id).
    problem
        One of :data:`AUDIT_PROBLEMS`, or None when ``ok``.
    detail
        What is wrong, in English (the command line words it in Chinese too).
    expected
        For ``gap``: the first missing id; for ``link`` and ``head``: the hash the
        event should carry; for ``content``: the hash of its stored content.
    found
        What was found instead (the next present id, or the stored hash).
    """

    ok: bool
    checked: int
    head_id: int | None
    broken_id: int | None = None
    problem: str | None = None
    detail: str | None = None
    expected: str | None = None
    found: str | None = None


# ---------------------------------------------------------------------- hashing


def format_at(at: dt.datetime) -> str:
    """``at`` in the canonical form of the hash: UTC, microseconds, ``Z`` (naive = UTC)."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def event_hash(
    *,
    id: int,
    at: dt.datetime,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    before: str | None,
    after: str | None,
    reason: str | None,
    request_id: str | None,
    prev_hash: str,
) -> str:
    """The hash of an audit event: SHA-256 of its canonical serialisation.

    Parameters
    ----------
    id, at, actor, action, entity_type, entity_id, reason, request_id, prev_hash
        The event's columns as stored (``at`` naive means UTC).
    before, after
        The stored JSON text (not the parsed value), or None.

    Returns
    -------
    str
        64 lower-case hex digits.
    """
    doc = {
        "action": action,
        "actor": actor,
        "after": after,
        "at": format_at(at),
        "before": before,
        "entity_id": entity_id,
        "entity_type": entity_type,
        "id": id,
        "prev_hash": prev_hash,
        "reason": reason,
        "request_id": request_id,
    }
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------- helpers


def _text(value: Any, what: str, max_len: int) -> str:
    value = plain(value)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise DataError(f"{what} must be a non-empty string, got {value!r}")
    if len(text) > max_len:
        raise DataError(f"{what} is longer than {max_len} characters")
    if "\x00" in text:
        raise DataError(f"{what} must not contain NUL characters")
    return text


def _optional_text(value: str | None, what: str, max_len: int | None = None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataError(f"{what} must be a string, got {value!r}")
    text = value.strip()
    if not text:
        return None
    if max_len is not None and len(text) > max_len:
        raise DataError(f"{what} is longer than {max_len} characters")
    if "\x00" in text:
        raise DataError(f"{what} must not contain NUL characters")
    return text


def _json_text(value: Any, what: str) -> str | None:
    """``value`` as canonical JSON text (sorted keys, compact), None for None."""
    if value is None:
        return None
    return json.dumps(
        jsonable(value, what),
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    )


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _aware(value: dt.datetime) -> dt.datetime:
    """``value`` as an aware UTC time (SQLite hands back naive UTC times)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _item(row: Row[Any] | Mapping[str, Any]) -> AuditEventItem:
    values = row._mapping if isinstance(row, Row) else row
    return AuditEventItem(
        id=int(values["id"]),
        at=_aware(values["at"]),
        actor=values["actor"],
        action=values["action"],
        entity_type=values["entity_type"],
        entity_id=values["entity_id"],
        before=_loads(values["before"]),
        after=_loads(values["after"]),
        reason=values["reason"],
        request_id=values["request_id"],
        prev_hash=values["prev_hash"],
        hash=values["hash"],
    )


def _lock_head(session: Session) -> tuple[int, str]:
    """Lock the chain head (see the module notes) and return its last id and hash."""
    stmt = (
        update(_HEAD)
        .where(_HEAD.c.id == _HEAD_ROW)
        .values(last_id=_HEAD.c.last_id)
        .returning(_HEAD.c.last_id, _HEAD.c.last_hash)
    )
    row = session.execute(stmt).one_or_none()
    if row is None:
        raise AuditChainError(
            "the audit chain head is missing: the audit tables are damaged "
            "(run `povguard audit verify`)"
        )
    return int(row[0]), str(row[1])


def _replay(
    session: Session, request_id: str, action: str, entity_type: str, entity_id: str
) -> Row[Any] | None:
    """The event recorded earlier for the same request, action and entity, if any."""
    stmt = (
        select(_EVENTS)
        .where(
            _EVENTS.c.request_id == request_id,
            _EVENTS.c.action == action,
            _EVENTS.c.entity_type == entity_type,
            _EVENTS.c.entity_id == entity_id,
        )
        .order_by(_EVENTS.c.id)
        .limit(1)
    )
    return session.execute(stmt).first()


# ---------------------------------------------------------------------- write side


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | int,
    before: Any,
    after: Any,
    reason: str | None = None,
    request_id: str | None = None,
) -> AuditEventItem:
    """Append an event to the audit trail, inside the caller's transaction.

    The event is written but not committed: the caller commits it together with
    the change it describes (or rolls both back). Pending ORM changes of the
    session are flushed first, so that the chain head is the last lock the
    transaction takes; until the commit other appenders wait.

    Parameters
    ----------
    session
        Session on the operations database.
    actor
        Who did it (user or system name; at most 100 characters).
    action
        What was done, e.g. ``case.verify`` (at most 64 characters).
    entity_type
        Kind of record changed, e.g. ``case`` (at most 64 characters).
    entity_id
        Its key (a string or an integer; at most 128 characters).
    before, after
        The record's state before and after (JSON-compatible values, typically
        dicts; None for "did not exist"). Stored as canonical JSON text.
    reason
        Optional explanation.
    request_id
        Optional request or idempotency key. When an event with the same key,
        action, entity type and entity id exists, that event is returned and
        nothing is appended (a retried request is recorded once).

    Returns
    -------
    AuditEventItem
        The appended (or, for a repeated ``request_id``, the earlier) event.

    Raises
    ------
    DataError
        On an empty or too long actor, action, entity type or id, or a value
        that cannot be stored as JSON.
    ConflictError
        If ``request_id`` was used for the same action and entity with a
        different actor, before, after or reason.
    AuditChainError
        If the chain head row is missing.
    """
    who = _text(actor, "actor", ACTOR_LEN)
    what = _text(action, "action", AUDIT_ACTION_LEN)
    kind = _text(entity_type, "entity_type", ENTITY_TYPE_LEN)
    key = _text(entity_id, "entity_id", ENTITY_ID_LEN)
    before_text = _json_text(before, "before")
    after_text = _json_text(after, "after")
    note = _optional_text(reason, "reason")
    request = _optional_text(request_id, "request_id", REQUEST_ID_LEN)

    session.flush()
    last_id, last_hash = _lock_head(session)
    if request is not None:
        earlier = _replay(session, request, what, kind, key)
        if earlier is not None:
            same = (earlier.actor, earlier.before, earlier.after, earlier.reason) == (
                who,
                before_text,
                after_text,
                note,
            )
            if not same:
                raise ConflictError(
                    f"request {request!r} already recorded event {earlier.id} for "
                    f"{kind} {key} ({what}) with other content"
                )
            return _item(earlier)

    values: dict[str, Any] = {
        "id": last_id + 1,
        "at": utcnow(),
        "actor": who,
        "action": what,
        "entity_type": kind,
        "entity_id": key,
        "before": before_text,
        "after": after_text,
        "reason": note,
        "request_id": request,
        "prev_hash": last_hash,
    }
    values["hash"] = event_hash(**values)
    session.execute(insert(_EVENTS).values(**values))
    session.execute(
        update(_HEAD)
        .where(_HEAD.c.id == _HEAD_ROW)
        .values(last_id=values["id"], last_hash=values["hash"])
    )
    return _item(values)


# ---------------------------------------------------------------------- read side


def list_events(
    session: Session,
    *,
    entity_type: str | None = None,
    entity_id: str | int | None = None,
    actor: str | None = None,
    action: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[AuditEventItem]:
    """A page of the audit trail, newest first, for the auditor.

    Parameters
    ----------
    session
        Session on the operations database.
    entity_type
        Only events about this kind of record.
    entity_id
        Only events about the record with this key.
    actor
        Only events of this actor.
    action
        Only events of this action.
    limit
        Page size (1-500).
    offset
        Events to skip.

    Returns
    -------
    list of AuditEventItem
        Ordered by id, descending.

    Raises
    ------
    DataError
        On an invalid limit or offset.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise DataError(f"limit must lie in 1-{MAX_LIMIT}, got {limit}")
    if offset < 0:
        raise DataError(f"offset must not be negative, got {offset}")
    stmt = select(_EVENTS)
    if entity_type is not None:
        stmt = stmt.where(_EVENTS.c.entity_type == entity_type)
    if entity_id is not None:
        stmt = stmt.where(_EVENTS.c.entity_id == str(entity_id))
    if actor is not None:
        stmt = stmt.where(_EVENTS.c.actor == actor)
    if action is not None:
        stmt = stmt.where(_EVENTS.c.action == action)
    stmt = stmt.order_by(_EVENTS.c.id.desc()).limit(limit).offset(offset)
    return [_item(row) for row in session.execute(stmt)]


def _at_column(session: Session) -> ColumnElement[Any]:
    """``at`` as stored: raw text on SQLite, so a tampered value cannot break the read."""
    if session.get_bind().dialect.name == "sqlite":
        return type_coerce(_EVENTS.c.at, String()).label("at")
    return _EVENTS.c.at


def _parse_at(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _stored_hash(row: Row[Any]) -> str | None:
    """The hash of the row's content as stored, or None if it cannot be hashed."""
    at = _parse_at(row.at)
    if at is None:
        return None
    try:
        return event_hash(
            id=row.id,
            at=at,
            actor=row.actor,
            action=row.action,
            entity_type=row.entity_type,
            entity_id=row.entity_id,
            before=row.before,
            after=row.after,
            reason=row.reason,
            request_id=row.request_id,
            prev_hash=row.prev_hash,
        )
    except (TypeError, ValueError):
        return None


def _gap(checked: int, head_id: int, missing: int, found: int | None) -> AuditVerification:
    if found is None:
        detail = f"events {missing}..{head_id} are missing from the end of the chain"
    elif found > missing:
        detail = f"events {missing}..{found - 1} are missing"
    else:
        detail = f"event id {found} is out of sequence (expected {missing})"
    return AuditVerification(
        ok=False,
        checked=checked,
        head_id=head_id,
        broken_id=found if found is not None and found < missing else missing,
        problem="gap",
        detail=detail,
        expected=str(missing),
        found=None if found is None else str(found),
    )


def _check_event(
    row: Row[Any], checked: int, head_id: int, prev_hash: str
) -> AuditVerification | None:
    """What is wrong with the event after ``checked`` intact ones (None: nothing)."""
    expected_id = checked + 1
    if row.id != expected_id:
        return _gap(checked, head_id, expected_id, row.id)
    content_hash = _stored_hash(row)
    if content_hash != row.hash:
        return AuditVerification(
            ok=False,
            checked=checked,
            head_id=head_id,
            broken_id=row.id,
            problem="content",
            detail=f"event {row.id} was changed: its content does not match its hash",
            expected=content_hash,
            found=str(row.hash),
        )
    if row.prev_hash != prev_hash:
        return AuditVerification(
            ok=False,
            checked=checked,
            head_id=head_id,
            broken_id=row.id,
            problem="link",
            detail=(
                f"event {row.id} does not link to event {row.id - 1}: "
                "its prev_hash is not that event's hash"
                if row.id > 1
                else "event 1 does not start the chain: its prev_hash is not zeros"
            ),
            expected=prev_hash,
            found=str(row.prev_hash),
        )
    return None


def verify_chain(session: Session, *, batch_size: int = BATCH_SIZE) -> AuditVerification:
    """Check the audit trail's hash chain, streaming the events in id order.

    For every event up to the chain head (as read when the check starts) in
    turn: its id follows the previous one without a gap, its hash matches its
    content, and its ``prev_hash`` is the previous event's hash. At the end the
    last event must be the one the chain head names, and no event may lie
    beyond the head. The check stops at the first broken event. Only
    ``batch_size`` events are held in memory at a time (keyset pagination on
    ``id``), so the chain can have millions of events.

    Parameters
    ----------
    session
        Session on the operations database.
    batch_size
        Events read per query.

    Returns
    -------
    AuditVerification
        ``ok``, the number of events checked and, when broken, the first broken
        event's id and what is wrong with it.

    Raises
    ------
    DataError
        If ``batch_size`` is not positive.
    """
    if batch_size < 1:
        raise DataError(f"batch_size must be positive, got {batch_size}")
    head = session.execute(
        select(_HEAD.c.last_id, _HEAD.c.last_hash).where(_HEAD.c.id == _HEAD_ROW)
    ).one_or_none()
    if head is None:
        return AuditVerification(
            ok=False, checked=0, head_id=None, problem="head", detail="the chain head is missing"
        )
    head_id, head_hash = int(head[0]), str(head[1])

    columns = [c if c.name != "at" else _at_column(session) for c in _EVENTS.c]
    checked, prev_hash, after_id = 0, GENESIS_HASH, None
    while True:
        stmt = select(*columns).where(_EVENTS.c.id <= head_id)
        if after_id is not None:
            stmt = stmt.where(_EVENTS.c.id > after_id)
        rows = session.execute(stmt.order_by(_EVENTS.c.id).limit(batch_size)).all()
        for row in rows:
            problem = _check_event(row, checked, head_id, prev_hash)
            if problem is not None:
                return problem
            prev_hash = row.hash
            checked += 1
        if len(rows) < batch_size:
            break
        after_id = rows[-1].id

    if checked < head_id:
        return _gap(checked, head_id, checked + 1, None)
    if prev_hash != head_hash:
        return AuditVerification(
            ok=False,
            checked=checked,
            head_id=head_id,
            broken_id=head_id,
            problem="head",
            detail=f"event {head_id} is not the event the chain head names (hash differs)",
            expected=head_hash,
            found=prev_hash,
        )
    return _beyond_head(session, checked, head_id)


def _beyond_head(session: Session, checked: int, head_id: int) -> AuditVerification:
    """Check that no event lies beyond the chain head (one not appended by this service).

    The newest id is read before the head again: an appender commits its event
    and the head together, so any event seen first is covered by the head read
    next, unless it was added behind the service's back.
    """
    top = session.scalar(select(func.max(_EVENTS.c.id)))
    now = session.scalar(select(_HEAD.c.last_id).where(_HEAD.c.id == _HEAD_ROW))
    if top is None or (now is not None and top <= now):
        return AuditVerification(ok=True, checked=checked, head_id=head_id)
    limit = head_id if now is None else int(now)
    first = session.scalar(select(func.min(_EVENTS.c.id)).where(_EVENTS.c.id > limit))
    broken = int(first if first is not None else top)
    return AuditVerification(
        ok=False,
        checked=checked,
        head_id=head_id,
        broken_id=broken,
        problem="head",
        detail=f"event {broken} lies beyond the chain head (event {limit}): it was not "
        "appended through the audit service",
        expected=str(limit),
        found=str(broken),
    )
