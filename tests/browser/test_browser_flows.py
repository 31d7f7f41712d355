"""A village officer's day in headless Chromium: sign in, worklist, household, home
visit, case moved forward, English, a phone.

The officer of 东村 (village 520102001001) sees households H1 and H2 of the sample
data only; H1's case waits for its home visit. Selectors are the forms' field names
and these ``data-testid`` attributes of the templates: ``login-form``,
``login-error``, ``worklist-row`` (with ``data-household``), ``household-link``,
``case-status``, ``visit-form``, ``transition-form``, ``case-history``, ``flash``
and ``lang-switch``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from povguard.cases import ACTION_LABELS, STATUS_LABELS, Action, CaseStatus
from tests.browser.conftest import OFFICER, OFFICER_NAME, OFFICER_PASSWORD, VILLAGE, Tab
from tests.store import sample_data as sd

pytestmark = pytest.mark.browser

#: Households of the officer's village, and of elsewhere in the sample data.
MINE = {sd.H1, sd.H2}
OTHERS = {sd.H3, sd.H4, sd.H5}


def _zh(status: CaseStatus) -> str:
    return STATUS_LABELS[status][0]


def _worklist_households(tab: Tab) -> list[str]:
    rows = tab.page.get_by_test_id("worklist-row")
    return [str(rows.nth(i).get_attribute("data-household")) for i in range(rows.count())]


def _open_worklist(tab: Tab) -> None:
    """Follow the navigation link to the worklist."""
    with tab.page.expect_navigation():
        tab.page.get_by_role("link", name="工作台", exact=True).click()
    assert urlsplit(tab.page.url).path == "/worklist"


def test_sign_in_with_a_wrong_then_the_right_password(tab: Tab) -> None:
    page = tab.page
    page.goto(tab.url("/worklist"))
    login_url = urlsplit(page.url)
    assert login_url.path == "/login", "a page without a session must ask to sign in"
    assert parse_qs(login_url.query).get("next") == ["/worklist"]
    form = page.get_by_test_id("login-form")
    assert form.locator("input[name=csrf_token]").input_value()
    tab.shot("1-form")

    form.locator("input[name=username]").fill(OFFICER)
    form.locator("input[name=password]").fill("not-the-password")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert urlsplit(page.url).path == "/login"
    error = page.get_by_test_id("login-error")
    assert error.inner_text().strip() == "用户名或密码错误。"
    assert page.get_by_test_id("login-form").locator("input[name=username]").input_value() == (
        OFFICER
    )
    assert page.context.cookies() and not any(
        c["name"] == "povguard_session" for c in page.context.cookies()
    )
    tab.shot("2-wrong-password")

    form = page.get_by_test_id("login-form")
    form.locator("input[name=password]").fill(OFFICER_PASSWORD)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert urlsplit(page.url).path == "/worklist", "back to the page asked for"
    assert page.locator(".userbox .user").inner_text().strip() == OFFICER_NAME
    session = [c for c in page.context.cookies() if c["name"] == "povguard_session"]
    assert len(session) == 1 and session[0]["httpOnly"]
    assert page.get_by_test_id("login-error").count() == 0
    tab.shot("3-signed-in")


def test_the_worklist_shows_the_officers_village_only(tab: Tab) -> None:
    tab.login()
    _open_worklist(tab)
    page = tab.page
    assert page.locator("h1").inner_text().strip() == "工作台：预警与任务"
    households = _worklist_households(tab)
    assert sd.H1 in households
    assert set(households) <= MINE, f"rows outside village {VILLAGE}: {households}"
    assert not OTHERS & set(page.content().split('"'))
    h1_row = page.locator(f"[data-testid=worklist-row][data-household='{sd.H1}']")
    assert h1_row.get_attribute("data-case") == tab.server.cases[sd.H1]
    assert _zh(CaseStatus.VISIT) in h1_row.inner_text()
    assert OFFICER in h1_row.inner_text(), "H1's case is assigned to the officer"
    tab.shot("1-worklist")

    # A household of another county is not there at all for this officer.
    response = page.goto(tab.url(f"/households/{sd.H5}"))
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text().strip().startswith("404")
    assert page.locator("p.error").get_attribute("data-code") == "not_found"
    assert "陈静" not in page.content(), "nothing of the household is shown"
    tab.shot("2-other-area-404")


def test_a_home_visit_is_recorded_and_the_case_moves_forward(tab: Tab) -> None:
    tab.login()
    _open_worklist(tab)
    page = tab.page
    row = page.locator(f"[data-testid=worklist-row][data-household='{sd.H1}']")
    with page.expect_navigation():
        row.get_by_test_id("household-link").click()
    assert urlsplit(page.url).path == f"/households/{sd.H1}"
    assert sd.H1 in page.locator("h1").inner_text()
    main = page.locator("main").inner_text()
    assert re.search(r"户主\s+张(伟|\*)", main), "the head's name (masked or not)"
    assert sd.H1_HEAD_ID not in page.content(), "ID numbers are masked"
    assert sd.H1_HEAD_ID[-4:] in main
    status = page.get_by_test_id("case-status")
    assert status.inner_text().strip() == _zh(CaseStatus.VISIT)
    tab.shot("1-household")

    visit = page.get_by_test_id("visit-form")
    assert visit.count() == 1
    assert visit.locator("input[name=action]").input_value() == Action.RECORD_VISIT.value
    visit.locator("[name=findings]").fill("主要劳动力住院，收入下降")
    visit.locator("input[name=authorisation_signed]").check()
    visit.locator("input[name=labour_members]").fill("1")
    tab.shot("2-visit-form-filled")
    with page.expect_navigation():
        visit.locator("button[type=submit]").click()
    assert urlsplit(page.url).path == f"/households/{sd.H1}", "back on the household"
    assert page.get_by_test_id("flash").is_visible()
    assert page.get_by_test_id("case-status").inner_text().strip() == _zh(CaseStatus.CROSS_CHECK)
    history = page.get_by_test_id("case-history").inner_text()
    assert ACTION_LABELS[Action.RECORD_VISIT][0] in history
    assert OFFICER in history, "the visit is recorded as the signed-in officer's"
    assert "主要劳动力住院" in page.locator("main").inner_text()
    assert page.get_by_test_id("visit-form").count() == 0
    tab.shot("3-visit-recorded")

    move = page.get_by_test_id("transition-form")
    move.locator("select[name=action]").select_option(Action.RECORD_CROSS_CHECK.value)
    move.locator("[name=results]").fill("车辆 0，工商登记 0，财政供养 0")
    tab.shot("4-transition-form-filled")
    with page.expect_navigation():
        move.locator("button[type=submit]").click()
    assert page.get_by_test_id("case-status").inner_text().strip() == _zh(CaseStatus.VILLAGE_REVIEW)
    history = page.get_by_test_id("case-history").inner_text()
    assert ACTION_LABELS[Action.RECORD_CROSS_CHECK][0] in history
    assert history.count(OFFICER) == 2
    tab.shot("5-case-moved-forward")

    # The case's own page and the board agree.
    page.goto(tab.url(f"/cases/{tab.server.cases[sd.H1]}"))
    assert page.get_by_test_id("case-status").inner_text().strip() == _zh(CaseStatus.VILLAGE_REVIEW)
    page.goto(tab.url("/cases"))
    assert tab.server.cases[sd.H1] in page.locator("main").inner_text() or (
        sd.H1 in page.locator("main").inner_text()
    )
    tab.shot("6-case-board")


def test_switching_to_english(tab: Tab) -> None:
    tab.login()
    _open_worklist(tab)
    page = tab.page
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    with page.expect_navigation():
        page.get_by_test_id("lang-switch").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text().strip() == "Worklist: warnings and tasks"
    assert page.get_by_role("link", name="Worklist", exact=True).is_visible()
    assert page.get_by_test_id("lang-switch").inner_text().strip() == "中文"
    tab.shot("1-worklist-en")

    # The choice is remembered on the next page.
    with page.expect_navigation():
        page.locator(f"[data-testid=worklist-row][data-household='{sd.H1}']").get_by_test_id(
            "household-link"
        ).click()
    assert page.locator("html").get_attribute("lang") == "en"
    status = page.get_by_test_id("case-status").inner_text().strip()
    assert status in {label[1] for label in STATUS_LABELS.values()}
    assert "工作台" not in page.locator("header.top").inner_text()
    tab.shot("2-household-en")


def test_the_worklist_on_a_phone(phone_tab: Tab) -> None:
    phone_tab.login()
    page = phone_tab.page
    page.goto(phone_tab.url("/worklist"))
    assert page.viewport_size == {"width": 390, "height": 844}
    assert page.locator("h1").is_visible()
    assert sd.H1 in _worklist_households(phone_tab)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px wide)"
    phone_tab.shot("1-worklist-phone")


def test_every_page_works_offline(tab: Tab) -> None:
    """A tour of the pages: every request goes to the live server, none fails."""
    tab.login()
    page = tab.page
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    bad_status: list[str] = []
    page.on(
        "response", lambda r: bad_status.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    for path in ("/", "/worklist", "/cases", "/warnings", f"/households/{sd.H2}", "/quality"):
        response = page.goto(tab.url(path))
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        page.wait_for_load_state("load")
    stylesheets = page.evaluate("document.styleSheets.length")
    assert stylesheets >= 1, "the stylesheet is served by the app"
    assert any(u.endswith("/static/style.css") for u in tab.requests)
    assert tab.external_requests() == []
    assert failed == [] and bad_status == []
    tab.shot("1-last-page")
