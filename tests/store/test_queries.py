"""Read side: overview numbers equal hand counts; area scope; pagination."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from povguard.errors import DataError
from povguard.store import (
    AreaScopeError,
    household_count,
    household_detail,
    list_warnings,
    overview,
    periods,
    record_cycle_run,
    region_prefix,
)
from povguard.store.services._common import _next_prefix
from tests.store import sample_data as sd


@pytest.fixture
def loaded(session: Session) -> Session:
    sd.load(session)
    return session


def test_overview_equals_hand_counts(loaded: Session) -> None:
    ov = overview(loaded)
    assert ov["period"] == "2025-06"  # latest by default
    assert (ov["households"], ov["persons"], ov["former_poor"]) == (5, 10, 3)
    assert ov["former_poor_share"] == pytest.approx(0.6)
    assert (ov["warnings"], ov["warned_households"]) == (5, 4)
    assert ov["by_kind"] == [
        {"key": "risk", "count": 3},
        {"key": "ineligibility", "count": 1},
        {"key": "needs_verification", "count": 1},
    ]
    assert ov["by_type"] == [
        {"key": "unstable_former_poor", "count": 1},
        {"key": "sudden_hardship", "count": 2},
        {"key": None, "count": 2},
    ]
    assert ov["by_rule"] == [
        {"key": "medical_oop", "count": 2},
        {"key": "income_below_line", "count": 1},
        {"key": "income_unknown", "count": 1},
        {"key": "vehicle_owner", "count": 1},
    ]
    assert ov["by_township"] == [
        {"code": "520102001000", "name": "甲镇", "households": 3, "warned_households": 2,
         "warnings": 3},
        {"code": "520102002000", "name": "乙镇", "households": 1, "warned_households": 1,
         "warnings": 1},
        {"code": "520103001000", "name": "丙镇", "households": 1, "warned_households": 1,
         "warnings": 1},
    ]  # fmt: skip


def test_overview_of_an_area_and_an_older_period(loaded: Session) -> None:
    ov = overview(loaded, area_prefix=sd.COUNTY)
    assert (ov["households"], ov["persons"], ov["former_poor"]) == (4, 8, 2)
    assert (ov["warnings"], ov["warned_households"]) == (4, 3)
    assert {t["code"] for t in ov["by_township"]} == {"520102001000", "520102002000"}
    may = overview(loaded, area_prefix=sd.COUNTY, period="2025-05")
    assert (may["warnings"], may["warned_households"]) == (2, 2)
    assert may["by_type"] == [
        {"key": "unstable_former_poor", "count": 1},
        {"key": "edge", "count": 1},
    ]
    village = overview(loaded, area_prefix="520102001002")
    assert (village["households"], village["warnings"]) == (1, 1)
    nowhere = overview(loaded, area_prefix="53")
    assert nowhere["households"] == nowhere["warnings"] == 0
    assert nowhere["former_poor_share"] is None


def test_household_count(loaded: Session) -> None:
    assert household_count(loaded) == 5
    assert household_count(loaded, sd.COUNTY) == 4
    assert household_count(loaded, "53") == 0


def test_empty_database_overview(session: Session) -> None:
    assert household_count(session) == 0
    ov = overview(session)
    assert ov["period"] is None
    assert (ov["households"], ov["warnings"], ov["by_township"]) == (0, 0, [])
    assert periods(session) == []


def test_periods_newest_first(loaded: Session) -> None:
    assert periods(loaded) == ["2025-06", "2025-05"]
    record_cycle_run(loaded, "2025-07", status="succeeded")
    assert periods(loaded) == ["2025-07", "2025-06", "2025-05"]


def test_household_outside_the_area_is_invisible(loaded: Session) -> None:
    assert household_detail(loaded, sd.H5) is not None
    assert household_detail(loaded, sd.H5, area_prefix=sd.COUNTY) is None
    assert household_detail(loaded, "no-such-household") is None
    page = list_warnings(loaded, area_prefix=sd.COUNTY)
    assert sd.H5 not in {w.household_id for w in page.items}
    assert page.total == 6


def test_household_detail(loaded: Session) -> None:
    detail = household_detail(loaded, sd.H1, area_prefix="5201020010")
    assert detail is not None
    assert [r.name for r in detail.regions] == ["贵州省", "南明区", "甲镇", "东村"]
    assert detail.village_name == "东村"
    assert [p.relation for p in detail.persons] == ["户主", "配偶", "子"]
    assert detail.persons[0].id_number == sd.H1_HEAD_ID
    assert [(w.period, w.rule_id) for w in detail.warnings] == [
        ("2025-06", "income_below_line"),
        ("2025-06", "medical_oop"),
        ("2025-05", "income_below_line"),
    ]
    assert [p for p, _ in detail.warnings_by_period] == ["2025-06", "2025-05"]
    assert detail.warnings[0].evidence[0]["file"] == "feeds/2025-06/income_survey.csv"


def test_pagination_and_filters(loaded: Session) -> None:
    everything = list_warnings(loaded, page_size=500)
    assert everything.total == 8
    keys = [(w.period, w.household_id, w.rule_id) for w in everything.items]
    expected = sorted(keys, key=lambda k: (k[1], k[2]))
    expected.sort(key=lambda k: k[0], reverse=True)  # newest period first, then id, rule
    assert keys == expected
    pages = [list_warnings(loaded, page=n, page_size=3) for n in (1, 2, 3, 4)]
    assert [len(p.items) for p in pages] == [3, 3, 2, 0]
    assert all(p.total == 8 and p.pages == 3 for p in pages)
    assert [w.id for p in pages for w in p.items] == [w.id for w in everything.items]
    assert pages[0].has_next and not pages[0].has_previous and not pages[2].has_next
    june = list_warnings(loaded, period="2025-06")
    assert june.total == 5
    assert list_warnings(loaded, period="2025-06", kind="risk").total == 3
    assert list_warnings(loaded, rule_id="income_below_line").total == 4
    assert list_warnings(loaded, household_type="sudden_hardship").total == 2
    first = june.items[0]
    assert (first.household_id, first.village_name) == (sd.H1, "东村")
    with pytest.raises(DataError):
        list_warnings(loaded, page=0)
    with pytest.raises(DataError):
        list_warnings(loaded, page_size=501)


@pytest.mark.parametrize("prefix", ["52%", "5_", "abc", "5201020010010001"])
def test_bad_area_prefixes_are_refused(loaded: Session, prefix: str) -> None:
    with pytest.raises(AreaScopeError):
        list_warnings(loaded, area_prefix=prefix)


def test_region_prefix_and_ranges() -> None:
    assert region_prefix("520000000000") == "52"
    assert region_prefix("520100000000") == "5201"
    assert region_prefix("520102000000") == "520102"
    assert region_prefix("520102003000") == "520102003"
    assert region_prefix("520102003004") == "520102003004"
    assert _next_prefix("5201") == "5202"
    assert _next_prefix("5209") == "521"
    assert _next_prefix("99") is None
