"""The web application: pages, JSON API, health check, static files."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from povguard import __version__
from povguard.api import (
    API_V1,
    build_api_router,
    health_router,
    install_error_handlers,
    operation_id,
)
from povguard.api.auth import LoginRateLimiter
from povguard.settings import Settings, get_settings
from povguard.store import make_engine, session_factory
from povguard.web import auth_pages, pages
from povguard.web.security import SecurityHeadersMiddleware
from povguard.web.templating import STATIC_DIR, render_error

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the web application.

    The operations database must already be migrated
    (:func:`povguard.store.migrate`). Every page and API route except ``/health``,
    ``/login`` and the static files needs a signed-in user (:mod:`povguard.api.auth`).

    Parameters
    ----------
    settings
        Settings to use; read from ``POVGUARD_*`` environment variables when None.
        ``settings.ops_url`` selects the database and ``settings.language`` the
        default language.

    Returns
    -------
    FastAPI
        The app; its engine is disposed of when the app shuts down. Run it with
        ``uvicorn --factory povguard.web:create_app``.
    """
    settings = settings or get_settings()
    engine = make_engine(settings.ops_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="povguard",
        version=__version__,
        description="Households at risk of falling (back) into poverty: warnings and evidence.",
        docs_url=None,  # the interactive docs load scripts from a CDN
        redoc_url=None,
        openapi_url=f"{API_V1}/openapi.json",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)
    app.state.login_limiter = LoginRateLimiter(settings.login_attempts_per_minute)
    app.add_middleware(SecurityHeadersMiddleware)
    install_error_handlers(app, html=render_error)
    app.include_router(health_router)
    app.include_router(build_api_router())
    app.include_router(auth_pages.router)
    app.include_router(pages.router, dependencies=[Depends(auth_pages.page_access)])
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    logger.debug("web app created for %s", engine.url.render_as_string(hide_password=True))
    return app
