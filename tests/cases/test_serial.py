"""JSON form of case states and events: a round trip rebuilds the same values."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from povguard.cases import (
    STATE_FORMAT,
    Action,
    CaseStatus,
    apply,
    event_from_dict,
    event_to_dict,
    open_case,
    state_from_dict,
    state_to_dict,
)
from povguard.errors import DataError
from tests.cases.test_workflow import HAPPY, payload_for

T0 = datetime(2024, 6, 3, 9, 0)


def test_every_state_of_the_canonical_path_round_trips(params: dict[str, Any]) -> None:
    case = open_case(
        "c-1", "hh-1", channel="self_report", at=T0, actor="cadre", idempotency_key="k0"
    )
    for i, action in enumerate(HAPPY):
        at = case.updated_at + timedelta(days=10)
        case = apply(
            case,
            action,
            at=at,
            actor="cadre",
            params=params,
            payload=payload_for(case.status, action),
            idempotency_key=f"k{i + 1}",
        ).state
        doc = json.loads(json.dumps(state_to_dict(case)))  # pure JSON
        events = tuple(
            event_from_dict(json.loads(json.dumps(event_to_dict(e)))) for e in case.events
        )
        back = state_from_dict(doc, events)
        assert state_to_dict(back) == state_to_dict(case)
        assert [event_to_dict(e) for e in back.events] == [event_to_dict(e) for e in case.events]
        assert back.status is case.status and back.decided_on == case.decided_on
    assert case.status is CaseStatus.ELIMINATED
    assert state_to_dict(case)["format"] == STATE_FORMAT
    assert state_to_dict(case)["other_causes"] == ["schooling"]


def test_a_rebuilt_case_recognises_a_retry(params: dict[str, Any]) -> None:
    case = open_case("c-1", "hh-1", channel="hotline", at=T0, actor="system")
    done = apply(
        case,
        Action.ASSIGN_VISIT,
        at=T0 + timedelta(hours=1),
        actor="cadre",
        params=params,
        payload={"assignee": "王芳"},
        idempotency_key="assign-1",
    ).state
    event = event_from_dict(event_to_dict(done.events[-1]))
    back = state_from_dict(state_to_dict(done), (event,))
    again = apply(
        back,
        Action.ASSIGN_VISIT,
        at=T0 + timedelta(hours=2),
        actor="cadre",
        params=params,
        payload={"assignee": "王芳"},
        idempotency_key="assign-1",
    )
    assert again.replay is True
    assert again.event.seq == 2 and again.state.version == 2
    assert again.event.changes["assignee"] == (None, "王芳")


def test_aware_times_stay_aware() -> None:
    at = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
    case = open_case("c-2", "hh-2", channel="hotline", at=at, actor="system")
    back = state_from_dict(state_to_dict(case))
    assert back.opened_at == at and back.opened_at.tzinfo is not None
    assert back.events == ()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("format", 99, "unknown format"),
        ("status", "lost", "status: unknown value"),
        ("opened_at", "yesterday", "opened_at"),
        ("version", "2", "version must be an integer"),
        ("other_causes", ["boredom"], "other_causes: unknown value"),
        ("decided_on", 20240603, "decided_on must be an ISO date"),
    ],
)
def test_a_damaged_state_is_refused(field: str, value: Any, message: str) -> None:
    doc = state_to_dict(open_case("c-3", "hh-3", channel="hotline", at=T0, actor="system"))
    doc[field] = value
    with pytest.raises(DataError, match=message):
        state_from_dict(doc)
