"""JSON API (``/api/v1``): one router module per resource, schemas, dependencies.

Routers call :mod:`povguard.store.services` only; they never build queries.
"""

from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute

from povguard.api import (
    cases,
    feeds,
    households,
    measures,
    overview,
    plans,
    policy,
    quality,
    records,
    statistics,
    users,
    warnings,
)
from povguard.api.auth import get_area_prefix, require, require_by_method
from povguard.api.deps import AreaDep, SessionDep, SettingsDep, get_session
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


def operation_id(route: APIRoute) -> str:
    """A route's OpenAPI operation id: its function's name (stable across releases)."""
    return route.name


def build_api_router() -> APIRouter:
    """The ``/api/v1`` router with every resource router included.

    Each router requires the permission of its data (:mod:`povguard.api.auth`):
    aggregates, household records (read; case work to write), the audit log,
    user administration. Feeds authenticate with a department account's token.
    """
    aggregates = [Depends(require("read_aggregates"))]
    household_data = [Depends(require("read_records"))]
    casework = [Depends(require_by_method("read_records", "write_cases"))]
    router = APIRouter(prefix=API_V1, generate_unique_id_function=operation_id)
    router.include_router(overview.router, dependencies=aggregates)
    router.include_router(policy.router, dependencies=aggregates)
    router.include_router(statistics.router, dependencies=aggregates)
    router.include_router(quality.router, dependencies=aggregates)
    router.include_router(measures.router, dependencies=aggregates)
    router.include_router(warnings.router, dependencies=household_data)
    router.include_router(households.router, dependencies=household_data)
    router.include_router(records.router, dependencies=household_data)
    router.include_router(cases.cases_router, dependencies=casework)
    router.include_router(cases.tasks_router, dependencies=casework)
    router.include_router(cases.notices_router, dependencies=casework)
    router.include_router(plans.router, dependencies=casework)
    router.include_router(feeds.router)
    router.include_router(users.me_router)
    router.include_router(users.users_router)
    router.include_router(users.audit_router)
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
    "operation_id",
]
