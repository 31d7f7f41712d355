"""A small registry and warnings built in code; the tests count it by hand.

Two counties of province 52: county 520102 has townships 001 (villages 001, 002)
and 002 (village 001); county 520103 has township 001 (village 001).

| household        | village      | former poor | members |
|------------------|--------------|-------------|---------|
| 5201020010010001 | 520102001001 | yes         | 3       |
| 5201020010010002 | 520102001001 | no          | 2       |
| 5201020010020001 | 520102001002 | yes         | 1       |
| 5201020020010001 | 520102002001 | no          | 2       |
| 5201030010010001 | 520103001001 | yes         | 2       |

Warnings 2025-05: 3 (households ...0010001, ...0010002, 520103...0001), all
``income_below_line``. Warnings 2025-06: 5, listed in :func:`warnings_2025_06`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from povguard.store import replace_warnings, sync_registry

H1 = "5201020010010001"
H2 = "5201020010010002"
H3 = "5201020010020001"
H4 = "5201020020010001"
H5 = "5201030010010001"
COUNTY = "520102"

#: The head of H1: the ID number the pages must never show in full.
H1_HEAD_ID = "520102198001011234"


def regions() -> list[dict[str, Any]]:
    """Province, two counties, three townships, four villages."""
    return [
        {"code": "520000000000", "name": "贵州省", "level": "province", "parent_code": ""},
        {"code": "520102000000", "name": "南明区", "level": "county",
         "parent_code": "520000000000", "lon": 106.71, "lat": 26.57},
        {"code": "520103000000", "name": "云岩区", "level": "county",
         "parent_code": "520000000000", "lon": 106.72, "lat": 26.6},
        {"code": "520102001000", "name": "甲镇", "level": "township",
         "parent_code": "520102000000"},
        {"code": "520102002000", "name": "乙镇", "level": "township",
         "parent_code": "520102000000"},
        {"code": "520103001000", "name": "丙镇", "level": "township",
         "parent_code": "520103000000"},
        {"code": "520102001001", "name": "东村", "level": "village",
         "parent_code": "520102001000", "lon": 106.7, "lat": 26.5},
        {"code": "520102001002", "name": "西村", "level": "village",
         "parent_code": "520102001000", "lon": 106.8, "lat": 26.5},
        {"code": "520102002001", "name": "南村", "level": "village",
         "parent_code": "520102002000", "lon": 106.7, "lat": 26.4},
        {"code": "520103001001", "name": "北村", "level": "village",
         "parent_code": "520103001000", "lon": 106.7, "lat": 26.7},
    ]  # fmt: skip


def _household(hid: str, head: str, members: int, former_poor: bool) -> dict[str, Any]:
    return {
        "id": hid,
        "village_code": hid[:12],
        "address": f"{hid[:12]} 组 {hid[-2:]} 号",
        "head_name": head,
        "head_id_number": None,
        "members": members,
        "former_poor": former_poor,
        "registered_year": 2015 if former_poor else None,
        "exit_year": 2019 if former_poor else None,
        "registration_cause": "因病" if former_poor else None,
        "monitoring_status": None,
        "monitoring_type": None,
        "dibao": hid == H3,
        "tekun": False,
        "updated_period": "2025-06",
    }


def households() -> list[dict[str, Any]]:
    """Five households (three former-poor, ten members)."""
    rows = [
        _household(H1, "张伟", 3, True),
        _household(H2, "李娜", 2, False),
        _household(H3, "王芳", 1, True),
        _household(H4, "刘洋", 2, False),
        _household(H5, "陈静", 2, True),
    ]
    heads = {p["household_id"]: p["id_number"] for p in persons() if p["relation"] == "户主"}
    for row in rows:
        row["head_id_number"] = heads[row["id"]]
    return rows


def _person(
    household_id: str, id_number: str, name: str, relation: str, born: str, **more: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id_number": id_number,
        "household_id": household_id,
        "name": name,
        "sex": "女" if int(id_number[16]) % 2 == 0 else "男",
        "birth_date": dt.date.fromisoformat(born),
        "relation": relation,
        "ethnicity": "汉族",
        "education": "初中",
        "school_status": "非在校",
        "chronic_illness": False,
        "serious_illness": False,
        "disability_grade": 0,
        "work_capacity": "普通劳动力",
        "migrant_worker": False,
        "medical_insured": True,
    }
    row.update(more)
    return row


def persons() -> list[dict[str, Any]]:
    """Ten persons in the five households (heads first in each)."""
    return [
        _person(H1, H1_HEAD_ID, "张伟", "户主", "1980-01-01", chronic_illness=True),
        _person(H1, "52010219820202222X", "赵敏", "配偶", "1982-02-02"),
        _person(H1, "520102201003033316", "张小明", "子", "2010-03-03", school_status="在校"),
        _person(H2, "520102197504044411", "李娜", "户主", "1975-04-04"),
        _person(H2, "520102200005055528", "李晓", "女", "2000-05-05", migrant_worker=True),
        _person(H3, "520102194006066619", "王芳", "户主", "1940-06-06", disability_grade=2),
        _person(H4, "520102196807077715", "刘洋", "户主", "1968-07-07", serious_illness=True),
        _person(H4, "520102197008088824", "孙丽", "配偶", "1970-08-08"),
        _person(H5, "520103198509099913", "陈静", "户主", "1985-09-09"),
        _person(H5, "520103201010101024", "陈小", "女", "2010-10-10"),
    ]


def _warning(
    household_id: str,
    rule_id: str,
    kind: str,
    household_type: str | None,
    severity: str = "high",
    **more: Any,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "household_id": household_id,
        "rule_id": rule_id,
        "rule_version": "national-monitoring@2021.1",
        "severity": severity,
        "kind": kind,
        "household_type": household_type,
        "reason_zh": f"{rule_id}：人均纯收入 5,820 元，低于 2025 年监测线 7,100 元",
        "reason_en": f"{rule_id}: per-capita net income 5,820 yuan, below the 2025 line 7,100",
        "values": {"income_pc_12m": 5820.0, "monitoring_line": 7100},
        "evidence": [{"source": "income_survey", "file": "feeds/2025-06/income_survey.csv",
                      "row": 17}],
    }  # fmt: skip
    row.update(more)
    return row


def warnings_2025_05() -> list[dict[str, Any]]:
    """Three income warnings."""
    return [
        _warning(H1, "income_below_line", "risk", "unstable_former_poor"),
        _warning(H2, "income_below_line", "risk", "edge"),
        _warning(H5, "income_below_line", "risk", "unstable_former_poor"),
    ]


def warnings_2025_06() -> list[dict[str, Any]]:
    """Five warnings in four households.

    By kind: risk 3, ineligibility 1, needs_verification 1. By type:
    sudden_hardship 2, unstable_former_poor 1, unclassified 2. By rule:
    medical_oop 2, income_below_line 1, income_unknown 1, vehicle_owner 1.
    """
    return [
        _warning(
            H1,
            "income_below_line",
            "risk",
            "unstable_former_poor",
            evidence=[
                {
                    "source": "income_survey",
                    "file": "feeds/2025-06/income_survey.csv",
                    "row": 17,
                    "id_number": H1_HEAD_ID,
                    "name": "张伟",
                },
                {
                    "source": "medical_claims",
                    "file": "feeds/2025-06/medical_claims.csv",
                    "row": 3,
                    "out_of_pocket": 23000.5,
                },
            ],
        ),
        _warning(H1, "medical_oop", "risk", "sudden_hardship"),
        _warning(H3, "vehicle_owner", "ineligibility", None, severity="medium"),
        _warning(H4, "income_unknown", "needs_verification", None, severity="medium"),
        _warning(H5, "medical_oop", "risk", "sudden_hardship"),
    ]


def load(session: Session) -> None:
    """Write the registry and both periods' warnings."""
    sync_registry(session, regions(), households(), persons(), period="2025-06")
    replace_warnings(session, "2025-05", warnings_2025_05())
    replace_warnings(session, "2025-06", warnings_2025_06())
