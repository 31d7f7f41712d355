"""The printable forms the API and the command line share (SQLite and PostgreSQL).

:func:`povguard.store.services.case_form` for each kind, its "not ready yet" errors
before the data are recorded, :func:`povguard.store.services.notice_list_form`, and
the audit event every export writes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.orm import Session

from povguard.cases import Action, CaseStatus
from povguard.errors import ConflictError, DataError, NotFoundError
from povguard.store.services import (
    CaseView,
    FormDataNotFoundError,
    FormNotReadyError,
    accept_plan,
    case_form,
    list_events,
    notice_list_form,
    open_case,
    recommend_plan,
    transition,
)
from povguard.store.services.case_forms import (
    FORM_KINDS,
    InvalidPayloadError,
    check_payload_extras,
)
from tests.cases.test_forms import sheet, texts
from tests.cases.test_workflow import HAPPY, payload_for
from tests.store import sample_data as sd

A = Action
T0 = dt.datetime(2025, 6, 3, 9, 0)
STEP = dt.timedelta(days=10)
EXPORTED_AT = dt.datetime(2025, 9, 30, 15, 0)
H2_PERSON = "520102197504044411"
VILLAGE = "520102001001"  # H2's
INCOME: dict[str, Any] = {
    "period_from": "2024-06",
    "period_to": "2025-05",
    "per_capita_net": 8200.0,
}
TITLES = {"screening": "防止返贫监测对象识别登记表", "elimination": "风险消除评估表",
          "measures": "帮扶措施台账"}  # fmt: skip


def _case(session: Session, steps: int) -> CaseView:
    """H2's case after the first ``steps`` actions of the canonical path."""
    sd.load(session)
    case = open_case(session, sd.H2, "self_report", at=T0, actor="窗口", area_prefix="").case
    at = T0
    for action in HAPPY[:steps]:
        at += STEP
        if action is A.ACCEPT_PLAN:
            plan = recommend_plan(
                session, case.id, labour_members=2, has_stable_income=True, actor="cadre",
                area_prefix="",
            )  # fmt: skip
            case = accept_plan(
                session, plan.id, expected_version=case.version, actor="cadre", at=at,
                area_prefix="",
            )  # fmt: skip
            continue
        payload = payload_for(CaseStatus(case.status), action)
        if action is A.PROPOSE_ELIMINATION:
            payload |= {"income": INCOME, "stable_months": 6}
        case = transition(
            session, case.id, action, expected_version=case.version, actor="cadre", at=at,
            area_prefix="", payload=payload,
        )  # fmt: skip
    return case


def _exports(session: Session, action: str, entity_id: str) -> list[tuple[str, Any]]:
    return [(e.actor, e.after) for e in list_events(session, action=action, entity_id=entity_id)]


def test_every_case_form_is_made_masked_and_audited(session: Session) -> None:
    case = _case(session, 11)
    assert case.status == "elimination_notice"
    for kind in FORM_KINDS:
        data, filename = case_form(
            session, case.id, kind, "520102", generated_by="cadre.li", generated_at=EXPORTED_AT
        )
        assert filename == f"{kind}-{case.id}.xlsx"
        ws = sheet(data)
        assert ws["A1"].value == TITLES[kind]
        assert not any(H2_PERSON in t for t in texts(ws))
        assert ws.oddFooter.right.text.endswith("导出人：cadre.li")
    english = case_form(
        session, case.id, "screening", "", lang="en", generated_by="cadre.li",
        generated_at=EXPORTED_AT, file_name="mine.xlsx",
    )  # fmt: skip
    assert sheet(english.data)["A1"].value == "Identification form: household to be monitored"
    assert list(reversed(_exports(session, "case.form_export", case.id))) == [
        ("cadre.li", {"form": kind, "lang": "zh", "file": f"{kind}-{case.id}.xlsx"})
        for kind in FORM_KINDS
    ] + [("cadre.li", {"form": "screening", "lang": "en", "file": "mine.xlsx"})]


def test_forms_before_their_data_are_not_ready_and_not_audited(session: Session) -> None:
    case = _case(session, 1)  # the home visit is assigned
    with pytest.raises(FormNotReadyError) as early:
        case_form(session, case.id, "elimination", "", generated_by="u", generated_at=EXPORTED_AT)
    assert isinstance(early.value, ConflictError)
    assert early.value.message("en") == (
        f"risk elimination has not been proposed for case {case.id} (status: home visit)"
    )
    assert early.value.message("zh") == f"案件 {case.id} 尚未启动风险消除（状态：入户核实）"
    assert str(early.value) == f"{early.value.message('en')} / {early.value.message('zh')}"
    with pytest.raises(FormNotReadyError, match=r"has no assistance plan yet / .*还没有帮扶计划"):
        case_form(session, case.id, "measures", "", generated_by="u", generated_at=EXPORTED_AT)
    with pytest.raises(NotFoundError):
        case_form(session, case.id, "screening", "520103", generated_by="u", generated_at=T0)
    with pytest.raises(DataError, match="unknown form"):
        case_form(session, case.id, "poster", "", generated_by="u", generated_at=T0)  # type: ignore[arg-type]
    assert _exports(session, "case.form_export", case.id) == []


def test_notice_list_form_lists_the_running_notices_and_is_audited(session: Session) -> None:
    case = _case(session, 4)  # the identification notice runs
    started = case.state.notice_started_on
    assert case.status == "village_review" and started is not None
    exported = notice_list_form(
        session, "", village_code=VILLAGE, kind="identification", generated_by="cadre.li",
        generated_at=EXPORTED_AT, contact="0851-1234567",
    )  # fmt: skip
    assert exported.filename == f"notices-{VILLAGE}-identification.xlsx"
    assert (exported.households, exported.start) == (1, started)
    assert exported.end == started + dt.timedelta(days=4)  # 5 days on display
    values = texts(sheet(exported.data))
    assert "李娜" in values and "主要劳动力住院，收入下降" in values
    assert "联系电话：0851-1234567" in values
    assert _exports(session, "notice.export", VILLAGE) == [
        (
            "cadre.li",
            {"kind": "identification", "lang": "zh", "file": exported.filename, "cases": [case.id]},
        )
    ]

    with pytest.raises(FormDataNotFoundError) as none:
        notice_list_form(
            session, "", village_code=VILLAGE, kind="elimination", generated_by="u",
            generated_at=EXPORTED_AT,
        )  # fmt: skip
    assert isinstance(none.value, NotFoundError)
    assert none.value.message("zh") == f"村 {VILLAGE} 没有正在公示的风险消除案件"
    with pytest.raises(FormDataNotFoundError):  # outside the area
        notice_list_form(
            session, "520103", village_code=VILLAGE, kind="identification", generated_by="u",
            generated_at=EXPORTED_AT,
        )  # fmt: skip
    assert len(_exports(session, "notice.export", VILLAGE)) == 1


def test_check_payload_extras() -> None:
    check_payload_extras({"income": INCOME, "stable_months": 6, "other": object()})
    with pytest.raises(InvalidPayloadError, match=r"^payload\.income\.per_capita_net: "):
        check_payload_extras({"income": {**INCOME, "per_capita_net": "lots"}})
    with pytest.raises(InvalidPayloadError, match=r"^payload\.guarantees\.0\.item: "):
        check_payload_extras({"guarantees": [{"item": "cars", "secure": True}]})
