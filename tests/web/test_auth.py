"""Sign-in, sessions with CSRF, API tokens, lockout, rate limiting, secure settings."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from povguard.api.auth import LoginRateLimiter, permissions_of
from povguard.privacy import mask_name, suppress_small_counts
from povguard.settings import DEVELOPMENT_SECRET, Settings
from povguard.store import make_engine, migrate, services, session_factory
from povguard.store.services import AuthenticationError
from povguard.web import create_app
from tests.store import sample_data as sd
from tests.web.auth import PASSWORD, make_user

API = "/api/v1"
CADRE = "cadre.li"


def _settings(tmp_path: Path, **more: object) -> Settings:
    return Settings(home=tmp_path / "data", database_url=None, language="zh", **more)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = _settings(tmp_path, login_attempts_per_minute=100)
    migrate(settings.ops_url)
    engine = make_engine(settings.ops_url)
    with session_factory(engine)() as session:
        sd.load(session)
    engine.dispose()
    make_user(settings.ops_url, "village", "520102001001", username=CADRE, password=PASSWORD)
    return settings


@pytest.fixture
def browser(settings: Settings) -> Iterator[TestClient]:
    """A client without credentials (like a browser before signing in)."""
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _sign_in(client: TestClient, password: str = PASSWORD, username: str = CADRE) -> object:
    form = client.get("/login?next=/warnings")
    assert form.status_code == 200
    return client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": _csrf(form.text),
            "next": "/warnings",
        },
    )


def test_pages_redirect_to_sign_in_and_the_api_answers_401(browser: TestClient) -> None:
    page = browser.get("/warnings?period=2025-06")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/warnings%3Fperiod%3D2025-06"
    api = browser.get(f"{API}/warnings")
    assert (api.status_code, api.json()["error"]["code"]) == (401, "unauthorized")
    assert browser.get("/healthz").status_code == 200


def test_sign_in_opens_a_session_scoped_to_the_users_area(browser: TestClient) -> None:
    wrong = _sign_in(browser, "wrong password!")
    assert wrong.status_code == 401  # type: ignore[attr-defined]
    assert "用户名或密码错误" in wrong.text  # type: ignore[attr-defined]
    assert "povguard_session" not in browser.cookies

    ok = _sign_in(browser)
    assert ok.status_code == 303  # type: ignore[attr-defined]
    assert ok.headers["location"] == "/warnings"  # type: ignore[attr-defined]
    cookie = ok.headers["set-cookie"]  # type: ignore[attr-defined]
    assert "povguard_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # development over plain HTTP

    me = browser.get(f"{API}/me").json()
    assert (me["username"], me["role"], me["area_prefix"]) == (CADRE, "village", "520102001001")
    assert "reveal_personal" in me["permissions"]
    warnings = browser.get(f"{API}/warnings?period=2025-06").json()["items"]
    assert {w["household_id"][:12] for w in warnings} == {"520102001001"}
    assert browser.get(f"{API}/households/{sd.H5}").status_code == 404
    page = browser.get("/warnings?period=2025-06")
    assert page.status_code == 200
    assert sd.H5 not in page.text


def test_a_session_write_needs_its_csrf_token(browser: TestClient) -> None:
    _sign_in(browser)
    body = {"household_id": sd.H1, "channel": "hotline", "payload": {}}
    refused = browser.post(f"{API}/cases", json=body)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
    assert "CSRF" in refused.json()["error"]["message"]
    wrong = browser.post(f"{API}/cases", json=body, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    token = _csrf(browser.get("/login").text)  # the login form's token is not the session's
    assert (
        browser.post(f"{API}/cases", json=body, headers={"X-CSRF-Token": token}).status_code == 403
    )

    page = browser.get("/warnings")
    session_token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert session_token, "every page carries the session's CSRF token"
    opened = browser.post(
        f"{API}/cases", json=body, headers={"X-CSRF-Token": session_token.group(1)}
    )
    assert opened.status_code == 201, opened.text
    assert opened.json()["case"]["household_id"] == sd.H1


def test_the_sign_in_form_needs_its_own_csrf_token(browser: TestClient) -> None:
    browser.get("/login")
    forged = browser.post(
        "/login", data={"username": CADRE, "password": PASSWORD, "csrf_token": "forged"}
    )
    assert forged.status_code == 403
    assert "povguard_session" not in browser.cookies


def test_sign_out_ends_the_session(browser: TestClient) -> None:
    _sign_in(browser)
    page = browser.get("/warnings")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert token
    assert browser.post("/logout").status_code == 403  # no CSRF token
    out = browser.post("/logout", data={"csrf_token": token.group(1)})
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    assert browser.get(f"{API}/me").status_code == 401


def test_wrong_passwords_lock_the_account(settings: Settings, browser: TestClient) -> None:
    for _ in range(settings.login_max_failures):
        assert _sign_in(browser, "not the password").status_code == 401  # type: ignore[attr-defined]
    locked = _sign_in(browser)  # the right password is refused while locked
    assert locked.status_code == 401  # type: ignore[attr-defined]
    assert "账户已锁定" in locked.text  # type: ignore[attr-defined]
    engine = make_engine(settings.ops_url)
    with session_factory(engine)() as session:
        user = services.get_user(session, CADRE)
        assert user.locked_until is not None
        later = user.locked_until + dt.timedelta(seconds=1)
        lockout = dt.timedelta(minutes=settings.lockout_minutes)
        # the lock ends by itself after the lockout
        again = services.verify_password(
            session, CADRE, PASSWORD, max_failures=5, lockout=lockout, now=later
        )
        assert again.username == CADRE
        actions = [e.action for e in services.list_events(session, entity_id=CADRE, limit=20)]
    engine.dispose()
    assert actions.count("auth.failure") == settings.login_max_failures - 1
    assert "auth.lock" in actions


def test_unknown_users_and_inactive_users_are_refused(settings: Settings) -> None:
    engine = make_engine(settings.ops_url)
    lockout = dt.timedelta(minutes=15)
    with session_factory(engine)() as session:
        with pytest.raises(AuthenticationError) as unknown:
            services.verify_password(session, "nobody", PASSWORD, max_failures=5, lockout=lockout)
        assert unknown.value.reason == "unknown"
        services.set_active(session, CADRE, False)
        with pytest.raises(AuthenticationError) as inactive:
            services.verify_password(session, CADRE, PASSWORD, max_failures=5, lockout=lockout)
        assert inactive.value.reason == "inactive"
    engine.dispose()


def test_sign_in_attempts_are_rate_limited(tmp_path: Path) -> None:
    settings = _settings(tmp_path, login_attempts_per_minute=3)
    migrate(settings.ops_url)
    make_user(settings.ops_url, "village", "520102001001", username=CADRE, password=PASSWORD)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        statuses = [_sign_in(client, "wrong password!").status_code for _ in range(4)]  # type: ignore[attr-defined]
        assert statuses == [401, 401, 401, 429]
        limited = _sign_in(client)
        assert limited.status_code == 429  # type: ignore[attr-defined]
        assert int(limited.headers["retry-after"]) >= 1  # type: ignore[attr-defined]
    limiter = LoginRateLimiter(2, window_seconds=60)
    assert [limiter.allow("a", now=t) for t in (0, 1)] == [None, None]
    assert limiter.allow("a", now=2) == pytest.approx(58)
    assert limiter.allow("b", now=2) is None  # per client address
    assert limiter.allow("a", now=60.5) is None  # the window slid past the first


def test_api_tokens_revoked_expired_or_of_inactive_users_are_refused(
    settings: Settings, browser: TestClient
) -> None:
    engine = make_engine(settings.ops_url)
    with session_factory(engine)() as session:
        live = services.issue_user_token(session, CADRE, name="dashboard")
        revoked = services.issue_user_token(session, CADRE, name="old")
        expired = services.issue_user_token(session, CADRE, name="short", expires_days=0)
        token_id = next(t.id for t in services.list_tokens(session, CADRE) if t.name == "old")
        services.revoke_token(session, token_id)
        stored = [t.token_prefix for t in services.list_tokens(session, CADRE)]
    assert live.startswith("pvg_") and live[:12] in stored and live not in stored

    def status(token: str) -> int:
        return browser.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"}).status_code

    assert status(live) == 200
    assert status(revoked) == 401
    assert status(expired) == 401
    assert status("pvg_not-a-token") == 401
    with session_factory(engine)() as session:
        services.set_active(session, CADRE, False)
    engine.dispose()
    assert status(live) == 401


def test_sessions_end_when_idle(settings: Settings) -> None:
    engine = make_engine(settings.ops_url)
    with session_factory(engine)() as session:
        user = services.get_user(session, CADRE)
        start = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
        grant = services.start_session(session, user, hours=8, now=start)
        idle = dt.timedelta(minutes=60)
        assert services.session_user(session, grant.cookie, idle=idle, now=start) is not None
        at_59 = start + dt.timedelta(minutes=59)
        assert services.session_user(session, grant.cookie, idle=idle, now=at_59) is not None
        at_61_after = at_59 + dt.timedelta(minutes=61)
        assert services.session_user(session, grant.cookie, idle=idle, now=at_61_after) is None
        # the absolute limit holds even for an active session
        for minutes in range(30, 8 * 60, 30):
            now = start + dt.timedelta(minutes=minutes)
            assert services.session_user(session, grant.cookie, idle=idle, now=now) is not None
        end = start + dt.timedelta(hours=8)
        assert services.session_user(session, grant.cookie, idle=idle, now=end) is None
    engine.dispose()


def test_an_oidc_proxy_header_is_believed_only_from_the_proxy(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, trusted_user_header="X-Forwarded-User", trusted_proxies=["testclient"]
    )
    migrate(settings.ops_url)
    make_user(settings.ops_url, "county", "520102000000", username="wang.county")
    with TestClient(create_app(settings)) as client:
        me = client.get(f"{API}/me", headers={"X-Forwarded-User": "wang.county"})
        assert (me.status_code, me.json()["role"]) == (200, "county")
        unknown = client.get(f"{API}/me", headers={"X-Forwarded-User": "stranger"})
        assert unknown.status_code == 401
    other = _settings(
        tmp_path, trusted_user_header="X-Forwarded-User", trusted_proxies=["10.0.0.1"]
    )
    with TestClient(create_app(other)) as client:
        spoofed = client.get(f"{API}/me", headers={"X-Forwarded-User": "wang.county"})
        assert spoofed.status_code == 401


def test_production_refuses_the_default_or_a_short_secret(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="POVGUARD_SECRET_KEY"):
        _settings(tmp_path, environment="production")
    with pytest.raises(ValidationError, match="at least 32"):
        _settings(tmp_path, environment="production", secret_key="short")
    with pytest.raises(ValidationError):
        _settings(tmp_path, environment="production", secret_key=DEVELOPMENT_SECRET)
    ok = _settings(tmp_path, environment="production", secret_key="x" * 40)
    assert ok.secure_cookies is True
    assert _settings(tmp_path).secure_cookies is False


def test_production_cookies_are_secure(tmp_path: Path) -> None:
    settings = _settings(tmp_path, environment="production", secret_key="s" * 48)
    migrate(settings.ops_url)
    make_user(settings.ops_url, "village", "520102001001", username=CADRE, password=PASSWORD)
    app = create_app(settings)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        ok = _sign_in(client)
        assert ok.status_code == 303  # type: ignore[attr-defined]
        assert "Secure" in ok.headers["set-cookie"]  # type: ignore[attr-defined]


def test_names_are_masked_and_analysts_see_no_small_counts(settings: Settings) -> None:
    assert [mask_name(n) for n in ("张三", "王小明", "欧阳娜娜", "A", "", None)] == [
        "张*", "王*明", "欧**娜", "*", "", None,
    ]  # fmt: skip
    assert suppress_small_counts({"count": 3, "x": [{"households": 7}, {"warnings": 0}]}, 5) == {
        "count": None,
        "x": [{"households": 7}, {"warnings": 0}],
    }
    analyst = make_user(settings.ops_url, "analyst", "520102000000", username="ana")
    county = make_user(settings.ops_url, "county", "520102000000", username="cty")
    with TestClient(create_app(settings)) as client:
        shown = client.get(f"{API}/overview?period=2025-06", headers=county).json()
        hidden = client.get(f"{API}/overview?period=2025-06", headers=analyst).json()
        household = client.get(f"{API}/households/{sd.H1}", headers=county).json()
    assert (shown["households"], shown["warnings"], shown["suppressed_below"]) == (4, 4, None)
    assert (hidden["households"], hidden["warnings"], hidden["suppressed_below"]) == (None, None, 5)
    assert hidden["former_poor_share"] is None
    assert all(c["count"] is None for c in hidden["by_rule"])
    assert household["head_name"] == "张*" and household["head_id_number"] == "5201**********1234"
    assert {p["name"] for p in household["persons"]} == {"张*", "赵*", "张*明"}
    assert permissions_of("analyst") == frozenset({"read_aggregates"})


def test_the_household_page_masks_names_until_an_officer_reveals_them(
    settings: Settings, browser: TestClient
) -> None:
    _sign_in(browser)
    page = browser.get(f"/households/{sd.H1}")
    assert page.status_code == 200
    assert "张*" in page.text and "张伟" not in page.text and sd.H1_HEAD_ID not in page.text
    assert 'data-testid="reveal-link"' in page.text
    full = browser.get(f"/households/{sd.H1}?reveal=1")
    assert full.status_code == 200
    assert "张伟" in full.text and sd.H1_HEAD_ID in full.text and "访问日志" in full.text
    auditor = make_user(settings.ops_url, "auditor", "520102000000", username="aud")
    with TestClient(create_app(settings)) as client:
        masked = client.get(f"/households/{sd.H1}", headers=auditor)
        assert masked.status_code == 200 and 'data-testid="reveal-link"' not in masked.text
        assert client.get(f"/households/{sd.H1}?reveal=1", headers=auditor).status_code == 403
        events = client.get(f"{API}/audit?action=person.view_full", headers=auditor).json()
    assert [(e["actor"], e["entity_id"], e["after"]["channel"]) for e in events] == [
        (CADRE, sd.H1, "web")
    ]
