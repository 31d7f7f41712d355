"""sync_registry: idempotent upsert of regions, households and persons."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pytest
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from povguard.errors import DataError
from povguard.store import Household, Person, Region, sync_registry
from tests.store import sample_data as sd


def _snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for model in (Region, Household, Person):
        table = cast(Table, model.__table__)
        rows = session.execute(select(table).order_by(*table.primary_key.columns)).all()
        out[table.name] = [tuple(r) for r in rows]
    session.rollback()
    return out


def test_sync_twice_gives_the_same_rows(session: Session) -> None:
    result = sync_registry(session, sd.regions(), sd.households(), sd.persons(), period="2025-06")
    assert (result.regions, result.households, result.persons) == (10, 5, 10)
    first = _snapshot(session)
    sync_registry(session, sd.regions(), sd.households(), sd.persons(), period="2025-06")
    assert _snapshot(session) == first
    assert [len(first[t]) for t in ("regions", "households", "persons")] == [10, 5, 10]


def test_sync_updates_changed_rows(session: Session) -> None:
    sync_registry(session, sd.regions(), sd.households(), sd.persons())
    households = sd.households()
    households[0]["members"] = 4
    households[0]["dibao"] = True
    people = sd.persons()
    people[1]["household_id"] = sd.H2  # moved to another household
    sync_registry(session, [], households, people)
    h1 = session.get(Household, sd.H1)
    assert h1 is not None
    assert (h1.members, h1.dibao) == (4, True)
    moved = session.get(Person, "52010219820202222X")
    assert moved is not None
    assert moved.household_id == sd.H2


def test_sync_accepts_the_twin_registry_columns(session: Session) -> None:
    regions = [
        {("region_code" if k == "code" else k): v for k, v in r.items()} for r in sd.regions()
    ]
    households = []
    for row in sd.households():
        twin = dict(row)
        twin["household_id"] = twin.pop("id")
        twin["head_id"] = twin.pop("head_id_number")
        twin.pop("updated_period")
        twin["members"] = np.int32(twin["members"])
        twin["former_poor"] = np.bool_(twin["former_poor"])
        twin["registered_year"] = np.int32(twin["registered_year"] or 0)
        twin["exit_year"] = np.int32(twin["exit_year"] or 0)
        twin["registration_cause"] = twin["registration_cause"] or ""
        households.append(twin)
    people = [{**p, "birth_date": p["birth_date"].isoformat()} for p in sd.persons()]
    sync_registry(session, regions, households, people, period="2025-07")
    h2 = session.get(Household, sd.H2)
    assert h2 is not None
    assert h2.registered_year is None and h2.exit_year is None  # 0 means none
    assert h2.registration_cause is None  # "" means none
    assert h2.updated_period == "2025-07"
    assert h2.head_id_number == "520102197504044411"
    province = session.get(Region, "520000000000")
    assert province is not None and province.parent_code is None


@pytest.mark.parametrize(
    ("households", "message"),
    [
        ([{"id": "X1", "village_code": "520102001001", "colour": "red"}], "unknown columns"),
        ([{"id": "X1"}], "village_code is required"),
        ([{"id": "X1", "village_code": "520102001001", "members": "many"}], "members"),
    ],
)
def test_sync_rejects_bad_rows(
    session: Session, households: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(DataError, match=message):
        sync_registry(session, sd.regions(), households, [])
    assert session.scalars(select(Region)).all() == []  # rolled back


def test_sync_rejects_a_household_in_an_unknown_village(session: Session) -> None:
    sync_registry(session, sd.regions(), [], [])
    row = {**sd.households()[0], "id": "9999", "village_code": "520199999999"}
    with pytest.raises(DataError, match="constraint"):
        sync_registry(session, [], [row], [])
    assert session.get(Household, "9999") is None
