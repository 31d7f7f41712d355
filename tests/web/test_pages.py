"""Pages render in Chinese and English, mask ID numbers and load nothing external."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from povguard.web import LANG_COOKIE
from tests.store import sample_data as sd

MASKED_HEAD = "5201**********1234"


def test_overview_in_chinese_by_default(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<html lang="zh-CN">' in html
    assert "概览" in html and "脱贫户" in html
    assert re.search(r'id="n-households">5<', html)
    assert re.search(r'id="n-persons">10<', html)
    assert re.search(r'id="n-warnings">5<', html)
    assert "60.0%" in html  # former-poor share
    assert "突发严重困难户" in html and "甲镇" in html
    assert '<option value="2025-06" selected>' in html


def test_overview_in_english_and_the_cookie_remembers(client: TestClient) -> None:
    response = client.get("/?lang=en&period=2025-05")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="en">' in html
    assert "Overview" in html and "Former-poor households" in html
    assert "Edge household prone to poverty" in html
    assert re.search(r'id="n-warnings">3<', html)
    assert response.cookies.get(LANG_COOKIE) == "en"
    again = client.get("/warnings")  # the client keeps the cookie
    assert "Household number" in again.text
    back = client.get("/?lang=zh")
    assert '<html lang="zh-CN">' in back.text


def test_language_switch_link_keeps_the_query(client: TestClient) -> None:
    html = client.get("/warnings?period=2025-05&kind=risk").text
    assert 'href="/warnings?period=2025-05&amp;kind=risk&amp;lang=en"' in html


def test_warning_list(client: TestClient) -> None:
    html = client.get("/warnings").text  # latest period by default
    assert "预警名单" in html
    assert html.count('<td class="nowrap">2025-06</td>') == 5
    assert f'href="/households/{sd.H1}"' in html
    assert "东村" in html and "脱贫不稳定户" in html
    assert "income_below_line：人均纯收入 5,820 元" in html
    english = client.get("/warnings?lang=en&rule=medical_oop").text
    assert "per-capita net income 5,820 yuan" in english
    assert english.count("<code>medical_oop</code>") == 2
    assert "Page 1 of 1, 2 in all" in english


def test_warning_list_all_periods_and_filters(client: TestClient) -> None:
    html = client.get("/warnings?period=all").text
    assert "共 8 条" in html
    html = client.get("/warnings?period=all&kind=needs_verification").text
    assert "共 1 条" in html and "待核实" in html
    html = client.get("/warnings?period=&rule=&kind=&household_type=").text
    assert "共 5 条" in html  # empty form fields mean "no filter"


def test_warning_list_pages(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from povguard.web import pages

    monkeypatch.setattr(pages, "PAGE_SIZE", 3)
    first = client.get("/warnings?period=all").text
    assert "第 1 / 3 页，共 8 条" in first
    assert 'rel="next" href="/warnings?page=2&amp;period=all"' in first
    assert 'rel="prev"' not in first
    last = client.get("/warnings?period=all&page=3").text
    assert 'rel="prev"' in last and 'rel="next"' not in last


@pytest.mark.parametrize("query", ["kind=danger", "period=2025-13", "household_type=rich"])
def test_bad_filters_give_a_400_page(client: TestClient, query: str) -> None:
    response = client.get(f"/warnings?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "出错了" in response.text


def test_household_page_masks_id_numbers_and_names(client: TestClient) -> None:
    response = client.get(f"/households/{sd.H1}")
    assert response.status_code == 200
    html = response.text
    for person in sd.persons():
        assert person["id_number"] not in html
    assert MASKED_HEAD in html
    assert "5201**********222X" in html
    assert "张*" in html and "张伟" not in html and "户主" in html
    assert 'id="period-2025-06"' in html and 'id="period-2025-05"' in html
    assert html.index('id="period-2025-06"') < html.index('id="period-2025-05"')
    assert "income_survey" in html and "feeds/2025-06/income_survey.csv" in html
    assert "medical_claims" in html and "out_of_pocket=23,000.50" in html
    assert "贵州省 / 南明区 / 甲镇 / 东村" in html
    english = client.get(f"/households/{sd.H1}?lang=en").text
    assert "Household members" in english and "Evidence" in english
    assert sd.H1_HEAD_ID not in english


def test_unknown_household_page_is_404_html(client: TestClient) -> None:
    response = client.get("/households/0000")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "0000" in response.text


def test_empty_database_pages(empty_client: TestClient) -> None:
    assert empty_client.get("/").status_code == 200
    html = empty_client.get("/warnings").text
    assert "没有符合条件的预警" in html


def test_pages_reference_no_external_resources(client: TestClient) -> None:
    for path in ("/", "/warnings", f"/households/{sd.H1}"):
        html = client.get(path).text
        assert "<script" not in html
        assert not re.search(r'(src|href)="(https?:)?//', html)
        assert 'style="' not in html  # the CSP forbids inline styles
    css = client.get("/static/style.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "http" not in css.text


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/", "/warnings", "/healthz", "/api/v1/overview", "/nope"])
def test_security_headers(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    assert headers["content-security-policy"].startswith("default-src 'self'")
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cache-control"] == "no-store"


def test_no_interactive_docs_from_a_cdn(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404
    assert client.get("/api/v1/openapi.json").status_code == 200
