"""A live povguard server and headless Chromium (Debian's package, driven by Playwright).

The server is the real app under uvicorn on 127.0.0.1 (a free port), in a background
thread, on a migrated SQLite database in a temporary data directory holding the
store's sample data, the cases opened from both periods' warnings and a village
officer of 东村 (village 520102001001) whose case of household H1 waits for its home
visit. Playwright never downloads a browser: the tests use the ``chromium`` on the
PATH (``POVGUARD_CHROMIUM`` overrides) and skip, saying how to get one, when there
is none; ``.ci/run`` installs Debian's package so CI always runs them.

Every step of a test saves a screenshot to ``test-artifacts/browser/<test>-<step>.png``
at the repository root. Every page must work offline: a request to anything but
the live server, or a JavaScript error, fails the test.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from povguard.settings import Settings
from povguard.store import make_engine, migrate, services, session_factory
from povguard.web import create_app
from tests.store import sample_data as sd

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Response

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
SKIP_REASON = "browser tests need Debian's chromium (apt-get install chromium); .ci/run installs it"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: The village officer the tests sign in as.
OFFICER = "cun-dongcun"
OFFICER_PASSWORD = "dongcun-officer-pw-2025"
OFFICER_NAME = "东村村干部"
VILLAGE = "520102001001"
#: Seconds the server may take to start, and any browser action or navigation.
START_TIMEOUT = 20.0
ACTION_TIMEOUT_MS = 10_000
T0 = dt.datetime(2025, 6, 3, 9, 0)
#: Resources a browser asks for on its own; the app need not have them.
IGNORED_MISSING = frozenset({"/favicon.ico"})


def chromium_executable() -> str | None:
    """The Chromium binary to drive: ``POVGUARD_CHROMIUM``, else ``chromium`` on the PATH."""
    configured = os.environ.get("POVGUARD_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    for candidate in (shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@dataclass(frozen=True)
class LiveServer:
    """The running app: its base URL and the case ids of the sample data."""

    url: str
    cases: dict[str, str]

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``."""
        return urlsplit(self.url).netloc


def _populate(settings: Settings) -> dict[str, str]:
    """Sample data, cases from warnings, H1's case assigned for a visit, the officer.

    Returns the open case id by household id.
    """
    migrate(settings.ops_url)
    engine = make_engine(settings.ops_url)
    try:
        with session_factory(engine)() as session:
            sd.load(session)
            services.open_cases_from_warnings(session, "2025-05", at=T0 - dt.timedelta(days=30))
            services.open_cases_from_warnings(session, "2025-06", at=T0)
            cases = {c.household_id: c.id for c in services.list_cases(session, "").items}
            services.create_user(
                session,
                username=OFFICER,
                password=OFFICER_PASSWORD,
                role="village",
                area_code=VILLAGE,
                display_name=OFFICER_NAME,
            )
            view = services.get_case(session, cases[sd.H1], "")
            services.transition(
                session,
                cases[sd.H1],
                "assign_visit",
                expected_version=view.version,
                actor="setup",
                at=T0 + dt.timedelta(hours=1),
                area_prefix="",
                payload={"assignee": OFFICER},
            )
            session.commit()
    finally:
        engine.dispose()
    return cases


@pytest.fixture(scope="package")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app under uvicorn on 127.0.0.1, started once for the session."""
    if chromium_executable() is None:
        pytest.skip(SKIP_REASON)
    import uvicorn

    settings = Settings(
        home=tmp_path_factory.mktemp("browser") / "data",
        database_url=None,
        language="zh",
        environment="development",  # session cookies over plain HTTP
        login_attempts_per_minute=100,  # every test signs in from 127.0.0.1
    )
    cases = _populate(settings)
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="povguard-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            pytest.fail(f"the live server did not start within {START_TIMEOUT} s")
        time.sleep(0.02)  # polling the started flag, not waiting for a guess
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", cases=cases)
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Headless Chromium from Debian's package (never a downloaded one)."""
    executable = chromium_executable()
    if executable is None:
        pytest.skip(SKIP_REASON)
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Tab:
    """A page of a fresh browser context, with what it requested and the errors it hit."""

    page: Page
    context: BrowserContext
    server: LiveServer
    name: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    shots: list[Path] = field(default_factory=list)

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on the live server."""
        return self.server.url + path

    def shot(self, step: str) -> Path:
        """Save a full-page screenshot as ``<test>-<step>.png``."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000, f"empty screenshot {path}"
        self.shots.append(path)
        return path

    def on_console(self, message: ConsoleMessage) -> None:
        """Keep script errors (failed loads are judged by :meth:`on_response`)."""
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(f"console error: {message.text}")

    def on_response(self, response: Response) -> None:
        """Keep failed loads of a page's resources (a page itself may answer 4xx)."""
        request = response.request
        if (
            response.status >= 400
            and request.resource_type != "document"
            and urlsplit(response.url).path not in IGNORED_MISSING
        ):
            self.errors.append(f"{response.status} {request.resource_type} {response.url}")

    def external_requests(self) -> list[str]:
        """Requests to anything but the live server (the app must work offline)."""
        return [
            u
            for u in self.requests
            if not u.startswith(("data:", "about:", "blob:"))
            and urlsplit(u).netloc != self.server.host
        ]

    def login(self, username: str = OFFICER, password: str = OFFICER_PASSWORD) -> None:
        """Sign in through the form and land on ``/``."""
        self.page.goto(self.url("/login"))
        form = self.page.get_by_test_id("login-form")
        form.locator("input[name=username]").fill(username)
        form.locator("input[name=password]").fill(password)
        with self.page.expect_navigation():
            form.locator("button[type=submit]").click()
        assert urlsplit(self.page.url).path != "/login", self.page.content()[:2000]


def _test_name(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).removeprefix("test_")


def _open_tab(
    request: pytest.FixtureRequest,
    browser: Browser,
    server: LiveServer,
    **context_options: Any,
) -> Iterator[Tab]:
    context = browser.new_context(locale="zh-CN", **context_options)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    tab = Tab(page=page, context=context, server=server, name=_test_name(request))
    page.on("request", lambda r: tab.requests.append(r.url))
    page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    page.on("console", tab.on_console)
    page.on("response", tab.on_response)
    try:
        yield tab
        assert tab.requests, "the page requested nothing"
        assert tab.external_requests() == [], "the app must work offline"
        assert tab.errors == [], "JavaScript errors or failed loads in the page"
    finally:
        context.close()


@pytest.fixture
def tab(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer) -> Iterator[Tab]:
    """A desktop-sized page (1280x800) in a fresh context (no cookies)."""
    yield from _open_tab(request, browser, live_server, viewport={"width": 1280, "height": 800})


@pytest.fixture
def phone_tab(
    request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer
) -> Iterator[Tab]:
    """A phone-sized page (390x844, touch) in a fresh context."""
    yield from _open_tab(
        request,
        browser,
        live_server,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
