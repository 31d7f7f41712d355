"""Jinja2 templates of the web pages and the one function that renders them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlencode

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from povguard.api.privacy import mask_id_number, mask_ids_in, mask_name
from povguard.web.i18n import LANG_COOKIE, Translator, requested_language, resolve_language

TEMPLATES_DIR: Final = Path(__file__).resolve().parent / "templates"
STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
#: One year, in seconds.
LANG_COOKIE_MAX_AGE: Final = 365 * 24 * 3600


def _number(value: int | float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _json_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _number(value)
    return json.dumps(value, ensure_ascii=False)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = _number
    env.filters["percent"] = _percent
    env.filters["json_value"] = _json_value
    env.filters["mask_id"] = mask_id_number
    env.filters["mask_ids"] = mask_ids_in
    env.filters["mask_name"] = mask_name
    return env


templates = Jinja2Templates(env=_environment())


def page_url(request: Request, path: str, **params: Any) -> str:
    """``path`` under the app's root with the non-empty ``params`` as query string."""
    root = str(request.scope.get("root_path", ""))
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{root}{path}" + (f"?{query}" if query else "")


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    """Render template ``name`` in the request's language.

    Adds ``t`` (the :class:`~povguard.web.i18n.Translator`), ``lang``,
    ``switch_url`` (this page in the other language), ``url`` (see
    :func:`page_url`), ``root``, ``csrf_token`` (the session's token, for every
    POST form) and ``current_user`` (the signed-in user or None) to the context,
    and remembers a language chosen with ``?lang=`` in a cookie.

    Parameters
    ----------
    request
        The request being answered.
    name
        Template file name, e.g. ``"overview.html"``.
    context
        Template variables.
    status_code
        HTTP status of the response.

    Returns
    -------
    Response
        The HTML response.
    """
    default = str(getattr(request.app.state.settings, "language", "zh"))
    lang = resolve_language(request, default)
    other = "en" if lang == "zh" else "zh"
    root = str(request.scope.get("root_path", ""))
    query = dict(request.query_params)
    query["lang"] = other
    switch_url = f"{root}{request.url.path}?{urlencode(query)}"
    full: dict[str, Any] = {
        "t": Translator(lang),
        "lang": lang,
        "switch_url": switch_url,
        "root": root,
        "url": lambda path, **params: page_url(request, path, **params),
        # set by povguard.api.auth; every POST form carries csrf_token
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "current_user": getattr(request.state, "user", None),
        **context,
    }
    response = templates.TemplateResponse(request, name, full, status_code=status_code)
    chosen = requested_language(request)
    if chosen is not None:
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=LANG_COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",
            path="/",
        )
    return response


def render_error(request: Request, status_code: int, code: str, message: str) -> Response:
    """The HTML error page (used for errors outside the JSON API); a page that needs
    a signed-in user (401) redirects to the sign-in form instead."""
    if status_code == 401:
        root = str(request.scope.get("root_path", ""))
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{root}/login?next={quote(target)}", status_code=303)
    return render(
        request,
        "error.html",
        {"status_code": status_code, "code": code, "message": message},
        status_code=status_code,
    )
