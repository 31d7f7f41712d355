"""Clerical review queue of record linkage: queue, decide, undo, reuse.

The monthly link stage hands over the record-candidate pairs whose match
probability falls in the uncertain band (:func:`queue_link_reviews`). A reviewer
sees both records side by side and decides ``match`` or ``non_match``
(:func:`decide_link_review`); a decision can be undone (:func:`undo_link_review`)
and every step is kept in an append-only trail (:func:`link_review_history`).
Before the next link run the stage reads the decisions (:func:`link_decisions`):
a pair's key is a stable hash of its compared values, so a decided pair is reused
and never asked twice.

Every change of a decision bumps the pair's ``version``; a caller that shows a
pair and then decides it may pass the version it saw (``expected_version``) to
be told when someone else changed the pair in between.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from povguard.errors import ConflictError, DataError, NotFoundError
from povguard.store.models import (
    ACTOR_LEN,
    HOUSEHOLD_ID_LEN,
    ID_NUMBER_LEN,
    LINK_REVIEW_STATUSES,
    PAIR_KEY_LEN,
    SOURCE_LEN,
    LinkReviewEvent,
    LinkReviewPair,
    utcnow,
)
from povguard.store.services._common import check_period, chunked, jsonable, plain, transaction

__all__ = [
    "LINK_DECISIONS",
    "LinkReviewEventItem",
    "LinkReviewItem",
    "count_link_reviews",
    "decide_link_review",
    "get_link_review",
    "link_decisions",
    "link_review_history",
    "list_link_reviews",
    "queue_link_reviews",
    "undo_link_review",
]

#: The decisions a reviewer can take.
LINK_DECISIONS: Final = ("match", "non_match")
#: Actor of the events the system writes (queueing).
SYSTEM_ACTOR: Final = "system"
#: Pairs read and written per statement batch by :func:`queue_link_reviews`.
BATCH_SIZE: Final = 1000
#: Largest page :func:`list_link_reviews` returns.
MAX_LIMIT: Final = 500
_PENDING: Final = "pending"
_REQUIRED: Final = (
    "pair_key",
    "period",
    "source",
    "file",
    "row",
    "person_id",
    "household_id",
    "match_probability",
    "explanation",
    "record",
    "candidate",
)


@dataclass(frozen=True, slots=True)
class LinkReviewItem:
    """A pair of the review queue with its JSON columns parsed.

    ``record`` holds the department record's compared fields, ``candidate`` the
    registry person's; ``explanation`` lists per field the comparison level and
    its Bayes factor (``{"field", "level", "bayes_factor"}``, or a log2 match
    ``weight`` instead of the factor). Values are raw: mask them before showing
    them to a role that may not see them.
    """

    pair_key: str
    source: str
    first_period: str
    last_period: str
    file: str
    row: int
    person_id: str
    household_id: str | None
    match_probability: float
    explanation: list[dict[str, Any]]
    record: dict[str, Any]
    candidate: dict[str, Any]
    status: str
    decided_by: str | None
    decided_at: dt.datetime | None
    reason: str | None
    version: int
    created_at: dt.datetime

    @property
    def fields(self) -> list[str]:
        """Compared fields in display order: the record's, then the candidate's others."""
        out = list(self.record)
        out += [k for k in self.candidate if k not in self.record]
        return out

    @property
    def decided(self) -> bool:
        """Whether the pair carries a decision."""
        return self.status in LINK_DECISIONS


@dataclass(frozen=True, slots=True)
class LinkReviewEventItem:
    """One step of a pair's audit trail."""

    id: int
    pair_key: str
    action: str
    actor: str
    at: dt.datetime
    before_status: str | None
    after_status: str
    reason: str | None


# ---------------------------------------------------------------------- helpers


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` as an aware UTC time (SQLite hands back naive UTC times)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def _item(pair: LinkReviewPair) -> LinkReviewItem:
    explanation = _loads(pair.explanation)
    record = _loads(pair.record)
    candidate = _loads(pair.candidate)
    return LinkReviewItem(
        pair_key=pair.pair_key,
        source=pair.source,
        first_period=pair.first_period,
        last_period=pair.last_period,
        file=pair.file,
        row=pair.row,
        person_id=pair.person_id,
        household_id=pair.household_id,
        match_probability=pair.match_probability,
        explanation=explanation if isinstance(explanation, list) else [],
        record=record if isinstance(record, dict) else {},
        candidate=candidate if isinstance(candidate, dict) else {},
        status=pair.status,
        decided_by=pair.decided_by,
        decided_at=_aware(pair.decided_at),
        reason=pair.reason,
        version=pair.version,
        created_at=_aware(pair.created_at) or pair.created_at,
    )


def _event_item(event: LinkReviewEvent) -> LinkReviewEventItem:
    return LinkReviewEventItem(
        id=event.id,
        pair_key=event.pair_key,
        action=event.action,
        actor=event.actor,
        at=_aware(event.at) or event.at,
        before_status=event.before_status,
        after_status=event.after_status,
        reason=event.reason,
    )


def _text(value: Any, what: str, max_len: int | None = None) -> str:
    value = plain(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise DataError(f"{what} must be a non-empty string, got {value!r}")
    if max_len is not None and len(text) > max_len:
        raise DataError(f"{what} is longer than {max_len} characters")
    return text


def _optional_text(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataError(f"{what} must be a string, got {value!r}")
    return value.strip() or None


def _optional_id(value: Any, what: str) -> str | None:
    value = plain(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _text(value, what, HOUSEHOLD_ID_LEN)


def _json_text(value: Any, what: str, *, array: bool) -> str:
    """``value`` (JSON text or the parsed value) as compact JSON text of an array or object."""
    parsed = value
    if isinstance(value, str | bytes):
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise DataError(f"{what} is not valid JSON: {exc}") from exc
    if array and not isinstance(parsed, list | tuple):
        raise DataError(f"{what} must be a JSON array")
    if not array and not isinstance(parsed, Mapping):
        raise DataError(f"{what} must be a JSON object")
    return json.dumps(jsonable(parsed, what), ensure_ascii=False, separators=(",", ":"))


def _explanation_text(value: Any, where: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return "[]"
    text = _json_text(value, f"{where}.explanation", array=True)
    for entry in json.loads(text):
        if not isinstance(entry, dict) or "field" not in entry:
            raise DataError(f"{where}.explanation: every entry must be an object with a 'field'")
    return text


def _probability(value: Any, where: str) -> float:
    try:
        prob = float(plain(value))
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}.match_probability must be a number, got {value!r}") from exc
    if math.isnan(prob) or not 0.0 <= prob <= 1.0:
        raise DataError(f"{where}.match_probability must lie in [0, 1], got {value!r}")
    return prob


def _coerce(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A checked, complete row of ``link_review_pairs`` values (plus ``period``)."""
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise DataError(f"review pair {raw.get('pair_key')!r}: missing {missing}")
    key = _text(raw["pair_key"], "pair_key", PAIR_KEY_LEN)
    where = f"review pair {key}"
    row = plain(raw["row"])
    if isinstance(row, bool) or not isinstance(row, int):
        try:
            row = int(row)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{where}.row must be an integer, got {raw['row']!r}") from exc
    try:
        period = check_period(raw["period"])
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from exc
    return {
        "pair_key": key,
        "period": period,
        "source": _text(raw["source"], f"{where}.source", SOURCE_LEN),
        "file": _text(raw["file"], f"{where}.file"),
        "row": row,
        "person_id": _text(raw["person_id"], f"{where}.person_id", ID_NUMBER_LEN),
        "household_id": _optional_id(raw["household_id"], f"{where}.household_id"),
        "match_probability": _probability(raw["match_probability"], where),
        "explanation": _explanation_text(raw["explanation"], where),
        "record": _json_text(raw["record"], f"{where}.record", array=False),
        "candidate": _json_text(raw["candidate"], f"{where}.candidate", array=False),
    }


def _check_status(status: str) -> str:
    if status not in LINK_REVIEW_STATUSES:
        raise DataError(f"status must be one of {LINK_REVIEW_STATUSES}, got {status!r}")
    return status


def _load(session: Session, pair_key: str) -> LinkReviewPair:
    """The pair, freshly read from the database."""
    pair = session.get(LinkReviewPair, pair_key, populate_existing=True)
    if pair is None:
        raise NotFoundError(f"review pair {pair_key!r} does not exist")
    return pair


def _stale(pair_key: str) -> ConflictError:
    return ConflictError(
        f"review pair {pair_key!r} was changed by someone else meanwhile: reload it and retry"
    )


# ---------------------------------------------------------------------- write side


def queue_link_reviews(
    session: Session, rows: Iterable[Mapping[str, Any]], *, commit: bool = True
) -> int:
    """Queue uncertain pairs for review; a pair already known keeps its decision.

    A new pair is stored as ``pending`` with a ``queued`` event (actor
    ``system``). For a known pair only the latest sighting is updated
    (``last_period``, ``file``, ``row``, ``match_probability``, ``explanation``,
    and only when the period is not older than the stored one; ``first_period``
    moves back for an older period); its status, decision and version are never
    touched. Re-queuing the same rows changes nothing. Rows are read lazily and
    written in batches, so a generator over thousands of rows is fine.

    Parameters
    ----------
    session
        Session on the operations database.
    rows
        Mappings with ``pair_key`` (stable hash, at most 64 characters),
        ``period`` (``YYYY-MM``), ``source``, ``file``, ``row``, ``person_id``,
        ``household_id`` (may be empty), ``match_probability`` (0-1),
        ``explanation`` (JSON array of objects with a ``field``, usually with
        ``level`` and ``bayes_factor`` or a log2 match ``weight``; empty or None
        for none), ``record`` and ``candidate`` (JSON objects of the compared
        fields). JSON values may be given as text or already parsed.
    commit
        Commit at the end (default). With ``False`` the caller commits.

    Returns
    -------
    int
        The number of pairs that were new to the queue.

    Raises
    ------
    DataError
        If a row misses a key or holds an invalid value (nothing of the call is
        kept), or a concurrent writer queued the same new pair.
    """
    table = cast(Table, LinkReviewPair.__table__)
    refresh = (
        update(table)
        .where(table.c.pair_key == bindparam("b_key"))
        .values(
            first_period=bindparam("b_first"),
            last_period=bindparam("b_last"),
            file=bindparam("b_file"),
            row=bindparam("b_row"),
            match_probability=bindparam("b_prob"),
            explanation=bindparam("b_expl"),
        )
    )
    backdate = (
        update(table)
        .where(table.c.pair_key == bindparam("b_key"))
        .values(first_period=bindparam("b_first"))
    )
    new_count = 0
    with transaction(session, commit=commit, conflict="review pairs were queued concurrently"):
        for batch in chunked(rows, BATCH_SIZE):
            latest: dict[str, dict[str, Any]] = {}
            earliest: dict[str, str] = {}
            for raw in batch:
                row = _coerce(raw)
                key, period = row["pair_key"], row["period"]
                earliest[key] = min(period, earliest.get(key, period))
                if key not in latest or period >= latest[key]["period"]:
                    latest[key] = row
            stored: dict[str, tuple[str, str]] = {
                key: (first, last)
                for key, first, last in session.execute(
                    select(
                        LinkReviewPair.pair_key,
                        LinkReviewPair.first_period,
                        LinkReviewPair.last_period,
                    ).where(LinkReviewPair.pair_key.in_(list(latest)))
                )
            }
            now = utcnow()
            fresh: list[dict[str, Any]] = []
            newer: list[dict[str, Any]] = []
            older: list[dict[str, Any]] = []
            for key, row in latest.items():
                period = row.pop("period")
                if key not in stored:
                    fresh.append(_new_pair(row, earliest[key], period, now))
                    continue
                first, last = stored[key]
                if period >= last:
                    newer.append(
                        {
                            "b_key": key,
                            "b_first": min(first, earliest[key]),
                            "b_last": period,
                            "b_file": row["file"],
                            "b_row": row["row"],
                            "b_prob": row["match_probability"],
                            "b_expl": row["explanation"],
                        }
                    )
                elif earliest[key] < first:
                    older.append({"b_key": key, "b_first": earliest[key]})
            if fresh:
                session.execute(insert(table), fresh)
                session.execute(
                    insert(cast(Table, LinkReviewEvent.__table__)),
                    [
                        {
                            "pair_key": row["pair_key"],
                            "action": "queued",
                            "actor": SYSTEM_ACTOR,
                            "at": now,
                            "before_status": None,
                            "after_status": _PENDING,
                            "reason": None,
                        }
                        for row in fresh
                    ],
                )
            if newer:
                session.execute(refresh, newer)
            if older:
                session.execute(backdate, older)
            new_count += len(fresh)
    return new_count


def _new_pair(row: dict[str, Any], first: str, last: str, now: dt.datetime) -> dict[str, Any]:
    """Values of a new, pending pair."""
    return {
        **row,
        "first_period": first,
        "last_period": last,
        "status": _PENDING,
        "decided_by": None,
        "decided_at": None,
        "reason": None,
        "version": 1,
        "created_at": now,
    }


def decide_link_review(
    session: Session,
    pair_key: str,
    decision: str,
    *,
    actor: str,
    reason: str | None = None,
    expected_version: int | None = None,
    commit: bool = True,
) -> LinkReviewItem:
    """Record a reviewer's decision on a pending pair.

    Deciding a pair again with the decision it already carries is a no-op (no
    event, same version); any other decision on a decided pair needs
    :func:`undo_link_review` first.

    Parameters
    ----------
    session
        Session on the operations database.
    pair_key
        The pair's key.
    decision
        ``match`` or ``non_match``.
    actor
        Who decides (user name; at most 100 characters).
    reason
        Optional note kept with the decision and its event.
    expected_version
        The version the reviewer saw; the decision is refused when the pair has
        changed since.
    commit
        Commit at the end (default).

    Returns
    -------
    LinkReviewItem
        The pair after the decision.

    Raises
    ------
    DataError
        On an unknown decision or an empty actor.
    NotFoundError
        If no pair has that key.
    ConflictError
        If the pair is already decided otherwise, or its version is not
        ``expected_version`` (or changes while deciding).
    """
    if decision not in LINK_DECISIONS:
        raise DataError(f"decision must be one of {LINK_DECISIONS}, got {decision!r}")
    who = _text(actor, "actor", ACTOR_LEN)
    note = _optional_text(reason, "reason")
    pair = _load(session, pair_key)
    if pair.status == decision:
        return _item(pair)
    _check_version(pair, expected_version)
    if pair.status != _PENDING:
        raise ConflictError(
            f"review pair {pair_key!r} is already decided as {pair.status} by "
            f"{pair.decided_by}; undo that decision first"
        )
    return _change(session, pair, "decided", decision, who, note, commit=commit)


def _check_version(pair: LinkReviewPair, expected_version: int | None) -> None:
    if expected_version is not None and pair.version != expected_version:
        raise ConflictError(
            f"review pair {pair.pair_key!r} is at version {pair.version}, not "
            f"{expected_version}: it was changed meanwhile; reload it"
        )


def _change(
    session: Session,
    pair: LinkReviewPair,
    action: str,
    status: str,
    who: str,
    note: str | None,
    *,
    commit: bool,
) -> LinkReviewItem:
    """Move ``pair`` to ``status`` (a decision, or pending again) with its audit event."""
    before, now = pair.status, utcnow()
    decided = status != _PENDING
    try:
        with transaction(session, commit=commit):
            pair.status = status
            pair.decided_by = who if decided else None
            pair.decided_at = now if decided else None
            pair.reason = note if decided else None
            session.add(
                LinkReviewEvent(
                    pair_key=pair.pair_key,
                    action=action,
                    actor=who,
                    at=now,
                    before_status=before,
                    after_status=status,
                    reason=note,
                )
            )
    except StaleDataError as exc:
        raise _stale(pair.pair_key) from exc
    return _item(pair)


def undo_link_review(
    session: Session,
    pair_key: str,
    *,
    actor: str,
    reason: str,
    expected_version: int | None = None,
    commit: bool = True,
) -> LinkReviewItem:
    """Undo a pair's decision: it is pending (and asked) again.

    Parameters
    ----------
    session
        Session on the operations database.
    pair_key
        The pair's key.
    actor
        Who undoes the decision.
    reason
        Why (required; kept in the ``undone`` event).
    expected_version
        The version the caller saw; refused when the pair has changed since.
    commit
        Commit at the end (default).

    Returns
    -------
    LinkReviewItem
        The pair, pending again.

    Raises
    ------
    DataError
        On an empty actor or reason.
    NotFoundError
        If no pair has that key.
    ConflictError
        If the pair is pending (nothing to undo) or its version is not
        ``expected_version`` (or changes meanwhile).
    """
    who = _text(actor, "actor", ACTOR_LEN)
    note = _text(reason, "reason")
    pair = _load(session, pair_key)
    _check_version(pair, expected_version)
    if pair.status == _PENDING:
        raise ConflictError(f"review pair {pair_key!r} is pending: there is no decision to undo")
    return _change(session, pair, "undone", _PENDING, who, note, commit=commit)


# ---------------------------------------------------------------------- read side


def link_decisions(session: Session, *, source: str | None = None) -> dict[str, str]:
    """The stored decisions, for the next link run.

    Parameters
    ----------
    session
        Session on the operations database.
    source
        Only pairs of this department source (default: all).

    Returns
    -------
    dict
        ``pair_key`` -> ``"match"`` (link the record to the candidate) or
        ``"non_match"`` (do not); pending pairs are absent.
    """
    stmt = select(LinkReviewPair.pair_key, LinkReviewPair.status).where(
        LinkReviewPair.status.in_(LINK_DECISIONS)
    )
    if source is not None:
        stmt = stmt.where(LinkReviewPair.source == source)
    return {key: status for key, status in session.execute(stmt)}


def list_link_reviews(
    session: Session,
    *,
    status: str | None = _PENDING,
    source: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[LinkReviewItem]:
    """A page of the review queue, most probable matches first.

    Parameters
    ----------
    session
        Session on the operations database.
    status
        ``pending`` (default), ``match`` or ``non_match``; None for every pair.
    source
        Only pairs of this department source.
    limit
        Page size (1-500).
    offset
        Pairs to skip.

    Returns
    -------
    list of LinkReviewItem
        Ordered by match probability (descending), then pair key.

    Raises
    ------
    DataError
        On an unknown status or an invalid limit or offset.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise DataError(f"limit must lie in 1-{MAX_LIMIT}, got {limit}")
    if offset < 0:
        raise DataError(f"offset must not be negative, got {offset}")
    stmt = select(LinkReviewPair)
    if status is not None:
        stmt = stmt.where(LinkReviewPair.status == _check_status(status))
    if source is not None:
        stmt = stmt.where(LinkReviewPair.source == source)
    stmt = (
        stmt.order_by(LinkReviewPair.match_probability.desc(), LinkReviewPair.pair_key)
        .limit(limit)
        .offset(offset)
        .execution_options(populate_existing=True)
    )
    return [_item(pair) for pair in session.scalars(stmt)]


def count_link_reviews(
    session: Session, *, status: str | None = None, source: str | None = None
) -> dict[str, int]:
    """Number of pairs per status.

    Parameters
    ----------
    session
        Session on the operations database.
    status
        Count only this status (default: every status).
    source
        Count only pairs of this department source.

    Returns
    -------
    dict
        Status -> count, every asked status present (0 when none).
    """
    wanted = LINK_REVIEW_STATUSES if status is None else (_check_status(status),)
    stmt = (
        select(LinkReviewPair.status, func.count())
        .where(LinkReviewPair.status.in_(wanted))
        .group_by(LinkReviewPair.status)
    )
    if source is not None:
        stmt = stmt.where(LinkReviewPair.source == source)
    counts = {key: int(n) for key, n in session.execute(stmt)}
    return {key: counts.get(key, 0) for key in wanted}


def get_link_review(session: Session, pair_key: str) -> LinkReviewItem | None:
    """One pair of the queue, or None if no pair has that key."""
    pair = session.get(LinkReviewPair, pair_key, populate_existing=True)
    return None if pair is None else _item(pair)


def link_review_history(session: Session, pair_key: str) -> list[LinkReviewEventItem]:
    """A pair's audit trail, oldest first (``queued``, ``decided``, ``undone``...).

    Raises
    ------
    NotFoundError
        If no pair has that key.
    """
    events = session.scalars(
        select(LinkReviewEvent)
        .where(LinkReviewEvent.pair_key == pair_key)
        .order_by(LinkReviewEvent.id)
    ).all()
    if not events and session.get(LinkReviewPair, pair_key) is None:
        raise NotFoundError(f"review pair {pair_key!r} does not exist")
    return [_event_item(event) for event in events]
