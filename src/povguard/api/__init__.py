"""JSON API (``/api/v1``): one router module per resource, schemas, dependencies.

Routers call :mod:`povguard.store.services` only; they never build queries.
"""

from fastapi import APIRouter

from povguard.api import cases, feeds, households, overview, plans, policy, warnings
from povguard.api.deps import AreaDep, SessionDep, SettingsDep, get_area_prefix, get_session
from povguard.api.errors import (
    ApiError,
    NotFoundError,
    error_body,
    install_error_handlers,
    is_api_request,
)
from povguard.api.health import router as health_router
from povguard.api.privacy import mask_id_number, mask_ids_in

#: Version prefix of the JSON API.
API_V1 = "/api/v1"


def build_api_router() -> APIRouter:
    """The ``/api/v1`` router with every resource router included."""
    router = APIRouter(prefix=API_V1)
    router.include_router(overview.router)
    router.include_router(warnings.router)
    router.include_router(households.router)
    router.include_router(feeds.router)
    router.include_router(policy.router)
    router.include_router(cases.cases_router)
    router.include_router(cases.tasks_router)
    router.include_router(cases.notices_router)
    router.include_router(plans.router)
    return router


__all__ = [
    "API_V1",
    "ApiError",
    "AreaDep",
    "NotFoundError",
    "SessionDep",
    "SettingsDep",
    "build_api_router",
    "error_body",
    "get_area_prefix",
    "get_session",
    "health_router",
    "install_error_handlers",
    "is_api_request",
    "mask_id_number",
    "mask_ids_in",
]
