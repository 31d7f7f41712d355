"""Work and data pages: worklist filters and bulk assignment, case forms, case board,
the at-risk map and trends, the household timeline and chart, quality and what-if."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import duckdb
import pytest
from fastapi.testclient import TestClient

from povguard.api.deps import get_area_prefix, get_now
from povguard.settings import Settings
from povguard.store import make_engine, services, session_factory
from povguard.web.charts import MapCell, region_map, shade_index, voronoi_cells
from tests.store import sample_data as sd
from tests.web.auth import make_user

T0 = dt.datetime(2025, 6, 3, 9, 0)
CADRE = "cadre.dongcun"


@pytest.fixture
def work(client: TestClient, settings: Settings) -> Iterator[TestClient]:
    """The client after the 2025-06 intake (cases of H1, H4, H5) with a village cadre
    of 东村 (H1's village); the clock is T0 + 1 day."""
    engine = make_engine(settings.ops_url)
    with session_factory(engine)() as session:
        services.open_cases_from_warnings(session, "2025-06", at=T0)
    engine.dispose()
    make_user(settings.ops_url, role="village", area_code="520102001001", username=CADRE)
    app = client.app
    app.dependency_overrides[get_now] = lambda: T0 + dt.timedelta(days=1)  # type: ignore[attr-defined]
    yield client
    app.dependency_overrides.clear()  # type: ignore[attr-defined]


def rows(html: str) -> list[str]:
    """Household ids of the worklist rows, in order."""
    return re.findall(r'data-testid="worklist-row" data-household="(\d+)"', html)


def case_of(settings: Settings, case_id: str) -> services.CaseView:
    engine = make_engine(settings.ops_url)
    try:
        with session_factory(engine)() as session:
            return services.get_case(session, case_id, "")
    finally:
        engine.dispose()


def audit_actions(settings: Settings, case_id: str) -> list[str]:
    engine = make_engine(settings.ops_url)
    try:
        with session_factory(engine)() as session:
            events = services.list_events(session, entity_type="case", entity_id=case_id)
            return [e.action for e in events]
    finally:
        engine.dispose()


def test_worklist_rows_and_filters(work: TestClient) -> None:
    html = work.get("/worklist").text
    assert "工作台" in html
    assert rows(html) == [sd.H1, sd.H4, sd.H5, sd.H3]  # cases by due date, then no case
    assert f'data-testid="household-link" href="/households/{sd.H1}"' in html
    assert rows(work.get("/worklist?status=none").text) == [sd.H3]
    assert sorted(rows(work.get("/worklist?rule=medical_oop").text)) == [sd.H1, sd.H5]
    assert sorted(rows(work.get("/worklist?village=520102").text)) == [sd.H1, sd.H3, sd.H4]
    assert rows(work.get("/worklist?kind=needs_verification").text) == [sd.H4]
    assert rows(work.get("/worklist?household_type=sudden_hardship").text) == [sd.H1, sd.H5]
    assert rows(work.get("/worklist?overdue=true").text) == []
    assert rows(work.get("/worklist?period=2025-05&status=none").text) == [sd.H2]
    assert work.get("/worklist?status=bogus").status_code == 400
    english = work.get("/worklist?lang=en").text
    assert "Worklist" in english and "No case" in english


def test_overdue_cases_in_the_worklist_and_on_the_board(work: TestClient) -> None:
    work.app.dependency_overrides[get_now] = lambda: T0 + dt.timedelta(days=200)  # type: ignore[attr-defined]
    assert rows(work.get("/worklist?overdue=true").text) == [sd.H1, sd.H4, sd.H5]
    board = work.get("/cases").text
    assert board.count('class="card-case overdue"') == 3
    assert 'id="n-overdue">超期案件 3 件' in board
    assert '<section class="column" data-status="discovered">' in board


def test_bulk_assignment_assigns_only_what_it_may(work: TestClient, settings: Settings) -> None:
    html = work.get("/worklist").text
    assert f'<option value="{CADRE}">' in html
    token = re.search(r'name="request_key" value="(\w+)"', html)
    assert token is not None
    response = work.post(
        "/worklist/assign",
        data={
            "case_id": [f"{sd.H1}-01", f"{sd.H5}-01", "nope-01"],
            "assignee": CADRE,
            "request_key": token.group(1),
            "back": "period=2025-06",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/worklist?period=2025-06&flash=assigned")
    page = work.get(response.headers["location"]).text
    assert 'data-testid="flash"' in page and "已分派 1 个案件，2 个未能分派" in page
    assert case_of(settings, f"{sd.H1}-01").assignee == CADRE
    assert case_of(settings, f"{sd.H1}-01").status == "visit"
    assert case_of(settings, f"{sd.H5}-01").assignee is None  # outside the cadre's village
    assert "case.assign_visit" in audit_actions(settings, f"{sd.H1}-01")
    nothing = work.post("/worklist/assign", data={"assignee": CADRE}, follow_redirects=False)
    assert "flash=assign_none" in nothing.headers["location"]
    unknown = work.post(
        "/worklist/assign", data={"case_id": f"{sd.H4}-01", "assignee": "ghost"},
        follow_redirects=False,
    )  # fmt: skip
    assert "flash=assign_unknown_cadre" in unknown.headers["location"]


def test_case_forms_move_the_case_and_are_audited(work: TestClient, settings: Settings) -> None:
    case_id = f"{sd.H1}-01"
    html = work.get(f"/households/{sd.H1}").text
    assert re.search(r'data-testid="case-status"[^>]*>已发现<', html)
    assert 'data-testid="transition-form"' in html and 'data-testid="visit-form"' not in html
    assert '<input type="hidden" name="csrf_token"' in html
    moved = work.post(
        f"/cases/{case_id}/transition",
        data={"action": "assign_visit", "expected_version": "1", "assignee": CADRE,
              "next": "household", "idempotency_key": "k1"},
        follow_redirects=False,
    )  # fmt: skip
    assert moved.status_code == 303, moved.text
    assert moved.headers["location"] == f"/households/{sd.H1}?flash=done"
    html = work.get(moved.headers["location"]).text
    assert 'data-testid="flash"' in html and "已保存" in html
    assert re.search(r'data-testid="case-status"[^>]*>入户核实<', html)
    assert 'data-testid="visit-form"' in html
    visited = work.post(
        f"/cases/{case_id}/transition",
        data={"action": "record_visit", "expected_version": "2", "findings": "因病支出大",
              "authorisation_signed": "true", "labour_members": "1", "idempotency_key": "k2"},
        follow_redirects=False,
    )  # fmt: skip
    assert visited.status_code == 303, visited.text
    view = case_of(settings, case_id)
    assert view.status == "cross_check" and view.version == 3
    assert {"case.assign_visit", "case.record_visit"} <= set(audit_actions(settings, case_id))
    page = work.get(f"/cases/{case_id}").text
    assert re.search(r'data-testid="case-status"[^>]*>部门数据比对<', page)
    assert "因病支出大" in page and "登记入户核实结果" in page
    stale = work.post(
        f"/cases/{case_id}/transition",
        data={"action": "reject", "expected_version": "2", "reason": "x"},
    )
    assert stale.status_code == 409
    assert 'data-testid="flash"' in stale.text and "案件已被他人修改" in stale.text
    assert case_of(settings, case_id).version == 3
    missing = work.post(
        f"/cases/{case_id}/transition?lang=en",
        data={"action": "reject", "expected_version": "3"},
    )
    assert missing.status_code == 422 and "Fill in the required fields." in missing.text


def test_out_of_area_household_and_case_are_404(work: TestClient) -> None:
    work.app.dependency_overrides[get_area_prefix] = lambda: "520103"  # type: ignore[attr-defined]
    assert work.get(f"/households/{sd.H1}").status_code == 404
    assert work.get(f"/cases/{sd.H1}-01").status_code == 404
    post = work.post(
        f"/cases/{sd.H1}-01/transition", data={"action": "assign_visit", "expected_version": "1"}
    )
    assert post.status_code == 404
    assert rows(work.get("/worklist").text) == [sd.H5]
    assert work.get(f"/households/{sd.H5}").status_code == 200


def test_overview_map_drills_down_and_shades(work: TestClient) -> None:
    html = work.get("/").text
    assert 'data-testid="map"' in html and "<polygon" in html
    assert 'data-testid="trend-chart"' in html
    assert "近似" in html  # the caption says the shapes are approximate
    units = re.findall(
        r'<tr data-region="(\d+)"><td>.*?</td>.*?<td class="num">([\d.]+%)</td>', html
    )
    assert units == [("520102", "75.0%"), ("520103", "100.0%")]
    assert 'href="/?period=2025-06&amp;region=520102"' in html
    assert html.count('class="shade-5"') >= 2
    town = work.get("/?region=520102&period=2025-05").text
    units = re.findall(r'<tr data-region="(\d+)">.*?<td class="num">([\d.]+%)</td>', town)
    assert units == [("520102001", "66.7%"), ("520102002", "0.0%")]
    assert "<polygon" in town  # township centroids from their villages
    assert 'id="n-households">4<' in town
    village = work.get("/?region=520102001").text
    assert 'href="/worklist?period=2025-06&amp;village=520102001001"' in village


def test_trends_count_cases_and_warnings(work: TestClient) -> None:
    html = work.get("/").text
    trend = re.search(r"<tr><td>2025-06</td>(.*?)</tr>", html)
    assert trend is not None
    cells = re.findall(r'<td class="num">(\d+)</td>', trend.group(1))
    assert cells == ["5", "4", "3", "0", "0", "0"]


def _store(settings: Settings) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.analytics_path))
    con.execute(
        "CREATE TABLE links AS SELECT * FROM (VALUES "
        "('2025-05', 'medical_claims', 'feeds/2025-05/m.csv', 4, '520102198001011234', ?, 'id', 1),"
        "('2025-06', 'income_survey', 'feeds/2025-06/i.csv', 17, '520102198001011234', ?, 'id', 1),"
        "('2025-06', 'income_survey', 'feeds/2025-06/i.csv', 18, 'x', ?, 'id', 1.0)"
        ") t(period, source, _file, _row, person_id, household_id, method, match_probability)",
        [sd.H1, sd.H1, sd.H2],
    )
    con.execute(
        "CREATE TABLE indicators AS SELECT * FROM (VALUES "
        "('2025-04', ?, 9000.0, 100.0), ('2025-05', ?, 6000.0, 200.0), ('2025-06', ?, 5820.0, NULL)"
        ") t(period, household_id, income_pc_12m, rigid_12m)",
        [sd.H1, sd.H1, sd.H1],
    )
    con.execute(
        "CREATE TABLE quality AS SELECT * FROM (VALUES ('2025-06', 'income_survey', '统计局', "
        "'Statistics', 1, 0, 10, 9, 1, 0.1, 0.95, 0.9, 0.99, 1.0, 2.0, 0.8, "
        "'{\"required_missing\": 1}')) t(period, source, department, department_en, files, "
        "files_failed, rows_read, rows_loaded, rows_quarantined, quarantine_rate, completeness, "
        "validity, id_valid_rate, uniqueness, lag_median_days, link_rate, quarantine_reasons)"
    )
    con.close()


def test_household_timeline_and_chart(work: TestClient, settings: Settings) -> None:
    html = work.get(f"/households/{sd.H1}").text
    assert 'data-testid="timeline"' in html and "暂无部门数据记录" in html
    assert 'data-testid="indicator-chart"' in html  # from the warnings' values
    _store(settings)
    html = work.get(f"/households/{sd.H1}").text
    timeline = html[html.index('data-testid="timeline"') :]
    timeline = timeline[: timeline.index("</table>")]
    assert timeline.count("<tr><td") == 2 and "medical_claims" in timeline
    assert timeline.index("2025-06") < timeline.index("2025-05")  # newest first
    assert sd.H1_HEAD_ID not in html
    assert html.count("<polyline") >= 2  # income and rigid expenditure


def test_quality_and_what_if_pages(work: TestClient, settings: Settings) -> None:
    assert "没有分析库" in work.get("/quality").text
    page = work.get("/policy/what-if?period=2025-06&parameter=monitoring_line&value=8000")
    assert page.status_code == 200 and 'data-testid="flash"' in page.text
    assert "没有分析库" in page.text
    assert work.get("/policy/what-if").status_code == 200
    _store(settings)
    html = work.get("/quality?lang=en").text
    assert 'data-source="income_survey" data-period="2025-06"' in html
    assert "Statistics" in html and "required_missing=1" in html
    assert 'class="num low">10.0%' in html  # quarantine rate above 5%


def test_charts_tiles_voronoi_and_shades() -> None:
    assert shade_index(None) is None and shade_index(0.0) == 0 and shade_index(0.5) == 5
    cells = voronoi_cells([(0.0, 0.0), (2.0, 0.0)], (-1.0, -1.0, 3.0, 1.0))
    assert {round(x, 6) for x, _ in cells[0]} == {-1.0, 1.0}
    tiles = region_map(
        [
            MapCell("1", "甲", None, None, 0.3, "/a", "甲"),
            MapCell("2", "乙", 1.0, 2.0, None, "/b", "乙"),
        ],
        title="t", legend_title="l", no_data="n",
    )  # fmt: skip
    assert "<polygon" not in tiles and tiles.count("<a href=") == 2
    assert 'class="shade-4"' in tiles and 'class="shade-none"' in tiles
