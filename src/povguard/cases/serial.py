"""JSON form of a case's state and events, so that a database can store and rebuild them.

:func:`state_to_dict` turns a :class:`CaseState` (without its events) into plain JSON
values (enums as their values, dates and datetimes as ISO text, exactly as given:
naive stays naive); :func:`state_from_dict` rebuilds it, with the events the caller
loaded. :func:`event_to_dict` and :func:`event_from_dict` do the same for a
:class:`CaseEvent`; the ``changes`` of a rebuilt event keep their JSON values
(statuses and dates as text), which is what an audit view shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from enum import Enum
from types import MappingProxyType
from typing import Any, Final

from povguard.cases.codes import Channel, HouseholdType, RiskCause, parse_code
from povguard.cases.workflow import Action, CaseEvent, CaseState, CaseStatus
from povguard.errors import DataError

#: Version of the JSON form written by :func:`state_to_dict`.
STATE_FORMAT: Final = 1

_DATETIMES: Final = ("opened_at", "updated_at", "entered_at")
_DATES: Final = ("notice_started_on", "decided_on", "monitored_on", "last_follow_up_on")


def _json(value: Any) -> Any:
    """A JSON-compatible copy of a value of a case field or payload."""
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json(v) for v in value]
    return str(value)


def state_to_dict(state: CaseState) -> dict[str, Any]:
    """The case's fields as JSON values (its events are left out).

    Parameters
    ----------
    state
        The case.

    Returns
    -------
    dict
        Every field of :class:`CaseState` but ``events``, plus ``format``.
    """
    return {
        "format": STATE_FORMAT,
        "case_id": state.case_id,
        "household_id": state.household_id,
        "channel": state.channel.value,
        "status": state.status.value,
        "opened_at": state.opened_at.isoformat(),
        "updated_at": state.updated_at.isoformat(),
        "entered_at": state.entered_at.isoformat(),
        "version": state.version,
        "relapse": state.relapse,
        "previous_case_id": state.previous_case_id,
        "assignee": state.assignee,
        "notice_started_on": _json(state.notice_started_on),
        "decided_in": _json(state.decided_in),
        "decided_on": _json(state.decided_on),
        "household_type": _json(state.household_type),
        "main_cause": _json(state.main_cause),
        "other_causes": [c.value for c in state.other_causes],
        "monitored_on": _json(state.monitored_on),
        "plan_id": state.plan_id,
        "last_follow_up_on": _json(state.last_follow_up_on),
        "labour_members": state.labour_members,
        "appeals": state.appeals,
    }


def _datetime(doc: Mapping[str, Any], name: str) -> datetime:
    value = doc.get(name)
    if not isinstance(value, str):
        raise DataError(f"case state: {name} must be an ISO datetime, got {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise DataError(f"case state: {name}: {exc}") from exc


def _date(doc: Mapping[str, Any], name: str) -> date | None:
    value = doc.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataError(f"case state: {name} must be an ISO date, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise DataError(f"case state: {name}: {exc}") from exc


def _optional_code(kind: type[Any], doc: Mapping[str, Any], name: str) -> Any:
    value = doc.get(name)
    return None if value is None else parse_code(kind, value, f"case state: {name}")


def state_from_dict(doc: Mapping[str, Any], events: Iterable[CaseEvent] = ()) -> CaseState:
    """Rebuild a case from :func:`state_to_dict`'s output.

    Parameters
    ----------
    doc
        The JSON form.
    events
        The case's events the caller loaded (at least those whose idempotency key
        a retried request may carry), oldest first.

    Returns
    -------
    CaseState

    Raises
    ------
    DataError
        When a field is missing or has a wrong value.
    """
    if doc.get("format") != STATE_FORMAT:
        raise DataError(f"case state: unknown format {doc.get('format')!r}")
    for name in ("case_id", "household_id"):
        if not isinstance(doc.get(name), str):
            raise DataError(f"case state: {name} must be a string")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise DataError(f"case state: version must be an integer, got {version!r}")
    labour = doc.get("labour_members")
    if labour is not None and (not isinstance(labour, int) or isinstance(labour, bool)):
        raise DataError(f"case state: labour_members must be an integer, got {labour!r}")
    causes = doc.get("other_causes") or []
    if not isinstance(causes, list):
        raise DataError("case state: other_causes must be a list")
    return CaseState(
        case_id=doc["case_id"],
        household_id=doc["household_id"],
        channel=parse_code(Channel, doc.get("channel"), "case state: channel"),
        status=parse_code(CaseStatus, doc.get("status"), "case state: status"),
        opened_at=_datetime(doc, "opened_at"),
        updated_at=_datetime(doc, "updated_at"),
        entered_at=_datetime(doc, "entered_at"),
        version=version,
        relapse=bool(doc.get("relapse", False)),
        previous_case_id=doc.get("previous_case_id"),
        assignee=doc.get("assignee"),
        notice_started_on=_date(doc, "notice_started_on"),
        decided_in=_optional_code(CaseStatus, doc, "decided_in"),
        decided_on=_date(doc, "decided_on"),
        household_type=_optional_code(HouseholdType, doc, "household_type"),
        main_cause=_optional_code(RiskCause, doc, "main_cause"),
        other_causes=tuple(parse_code(RiskCause, c, "case state: other_causes") for c in causes),
        monitored_on=_date(doc, "monitored_on"),
        plan_id=doc.get("plan_id"),
        last_follow_up_on=_date(doc, "last_follow_up_on"),
        labour_members=labour,
        appeals=int(doc.get("appeals", 0)),
        events=tuple(events),
    )


def event_to_dict(event: CaseEvent) -> dict[str, Any]:
    """An event as JSON values (``changes`` maps a field to ``[before, after]``)."""
    return {
        "seq": event.seq,
        "action": event.action.value,
        "actor": event.actor,
        "at": event.at.isoformat(),
        "before": _json(event.before),
        "after": event.after.value,
        "reason": event.reason,
        "payload": _json(event.payload),
        "changes": {k: [_json(b), _json(a)] for k, (b, a) in event.changes.items()},
        "idempotency_key": event.idempotency_key,
        "fingerprint": event.fingerprint,
    }


def event_from_dict(doc: Mapping[str, Any]) -> CaseEvent:
    """Rebuild an event from :func:`event_to_dict`'s output.

    Raises
    ------
    DataError
        When a field is missing or has a wrong value.
    """
    payload = doc.get("payload") or {}
    changes = doc.get("changes") or {}
    if not isinstance(payload, Mapping) or not isinstance(changes, Mapping):
        raise DataError("case event: payload and changes must be objects")
    before = doc.get("before")
    return CaseEvent(
        seq=int(doc["seq"]),
        action=parse_code(Action, doc.get("action"), "case event: action"),
        actor=str(doc["actor"]),
        at=_datetime(doc, "at"),
        before=None if before is None else parse_code(CaseStatus, before, "case event: before"),
        after=parse_code(CaseStatus, doc.get("after"), "case event: after"),
        reason=doc.get("reason"),
        payload=MappingProxyType(dict(payload)),
        changes=MappingProxyType({str(k): (v[0], v[1]) for k, v in changes.items()}),
        idempotency_key=doc.get("idempotency_key"),
        fingerprint=str(doc["fingerprint"]),
    )
