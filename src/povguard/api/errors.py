"""Errors of the API and their one JSON body: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from povguard.errors import DataError, PovguardError

logger = logging.getLogger(__name__)

#: Prefix of the JSON API's paths.
API_PREFIX = "/api/"

#: Renders a non-API error: (request, status, code, message) -> response.
HtmlErrorRenderer = Callable[[Request, int, str, str], Response]

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    422: "validation_error",
    500: "internal_error",
}


class ApiError(PovguardError):
    """An error answered with a status code and the error body."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message


class NotFoundError(ApiError):
    """A resource does not exist, or lies outside the caller's area."""

    def __init__(self, message: str) -> None:
        super().__init__(404, "not_found", message)


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    """The JSON error body.

    Parameters
    ----------
    code
        Stable machine-readable code (``not_found``, ``validation_error``...).
    message
        Human-readable message.
    details
        Optional list of details (validation errors).

    Returns
    -------
    dict
        ``{"error": {"code": code, "message": message[, "details": details]}}``.
    """
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def is_api_request(request: Request) -> bool:
    """Whether the request is for the JSON API (its errors are JSON)."""
    return request.url.path.startswith(API_PREFIX)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def install_error_handlers(app: FastAPI, html: HtmlErrorRenderer | None = None) -> None:
    """Answer errors with the JSON error body (or with ``html`` outside the API).

    Parameters
    ----------
    app
        The application.
    html
        Renderer of errors of non-API paths (HTML pages); JSON everywhere when None.
    """

    def respond(
        request: Request,
        status: int,
        code: str,
        message: str,
        details: list[Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        if html is not None and not is_api_request(request):
            return html(request, status, code, message)
        return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return respond(request, exc.status_code, exc.code, exc.message)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else _phrase(exc.status_code)
        return respond(request, exc.status_code, code, message, headers=exc.headers)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        details = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"][1:]) or "request"
        return respond(request, 422, "validation_error", f"{where}: {first['msg']}", details)

    async def on_data_error(request: Request, exc: Exception) -> Response:
        return respond(request, 400, "bad_request", str(exc))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error on %s", request.url.path, exc_info=exc)
        return respond(request, 500, "internal_error", "internal server error")

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(DataError, on_data_error)
    app.add_exception_handler(Exception, on_unexpected)
