"""Sign-in and sign-out pages, and the access rule of every other page.

``GET /login`` shows the form; its CSRF token is the HMAC (secret key) of a random
nonce kept in a short-lived cookie, so a third-party page cannot sign a browser in
to another account. ``POST /login`` is rate-limited per client address and counts
wrong passwords against the account (lockout); success opens a session (an
HTTP-only, SameSite=Lax cookie, ``Secure`` outside development) and redirects to
``next``. ``POST /logout`` ends it.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Mapping
from typing import Annotated, Final

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from povguard.api.auth import (
    LOGIN_NONCE_COOKIE,
    SAFE_METHODS,
    SESSION_COOKIE,
    CheckedUserDep,
    ForbiddenError,
    LoginRateLimiter,
    Permission,
    login_csrf_token,
    may,
)
from povguard.settings import Settings
from povguard.store import services
from povguard.store.services import AuthenticationError, UserItem
from povguard.web.i18n import resolve_language
from povguard.web.templating import render

router = APIRouter(include_in_schema=False)

#: Pages that show aggregates only (analysts may open them); every other page shows
#: household records. Paths match exactly or as a prefix followed by ``/``.
AGGREGATE_PAGES: Final = ("/", "/overview", "/statistics", "/quality", "/policy")

#: Texts of the sign-in page (zh, en).
TEXT: Final[Mapping[str, tuple[str, str]]] = {
    "title": ("登录", "Sign in"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "submit": ("登录", "Sign in"),
    "logout": ("退出", "Sign out"),
    "bad": ("用户名或密码错误。", "Wrong user name or password."),
    "locked": (
        "连续输错密码次数过多，账户已锁定，请于 {until} 后再试或联系管理员。",
        "Too many wrong passwords: the account is locked until {until}; try later or ask an "
        "administrator.",
    ),
    "rate": (
        "尝试过于频繁，请 {seconds} 秒后再试。",
        "Too many attempts; try again in {seconds} s.",
    ),
    "csrf": ("页面已过期，请重新提交。", "The page expired; please submit again."),
    "signed_out": ("已退出。", "Signed out."),
}


def _text(request: Request, key: str, **params: object) -> str:
    default = str(getattr(request.app.state.settings, "language", "zh"))
    zh, en = TEXT[key]
    return (zh if resolve_language(request, default) == "zh" else en).format(**params)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _safe_next(value: str | None) -> str:
    """A local path to go to after signing in (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _form(
    request: Request,
    *,
    next_url: str,
    error: str | None = None,
    username: str = "",
    status_code: int = 200,
) -> Response:
    settings = _settings(request)
    nonce = request.cookies.get(LOGIN_NONCE_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        {
            "csrf_token": login_csrf_token(settings, nonce),
            "lt": {k: _text(request, k) for k in ("title", "username", "password", "submit")},
            "next_url": next_url,
            "error": error,
            "username": username,
        },
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_NONCE_COOKIE,
        nonce,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        path="/login",
    )
    return response


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    return _form(request, next_url=_safe_next(next))


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the password; open a session and redirect, or show the form again."""
    settings = _settings(request)
    next_url = _safe_next(next)
    limiter: LoginRateLimiter = request.app.state.login_limiter
    client = request.client.host if request.client else ""
    wait = limiter.allow(client)
    if wait is not None:
        seconds = max(1, round(wait))
        response = _form(
            request,
            next_url=next_url,
            error=_text(request, "rate", seconds=seconds),
            username=username,
            status_code=429,
        )
        response.headers["Retry-After"] = str(seconds)
        return response
    nonce = request.cookies.get(LOGIN_NONCE_COOKIE, "")
    expected = login_csrf_token(settings, nonce) if nonce else ""
    if not expected or not hmac.compare_digest(csrf_token, expected):
        return _form(
            request,
            next_url=next_url,
            error=_text(request, "csrf"),
            username=username,
            status_code=403,
        )
    factory = request.app.state.session_factory
    with factory() as session:
        try:
            user = services.verify_password(
                session,
                username,
                password,
                max_failures=settings.login_max_failures,
                lockout=dt.timedelta(minutes=settings.lockout_minutes),
            )
        except AuthenticationError as exc:
            if exc.reason == "locked" and exc.locked_until is not None:
                until = exc.locked_until.astimezone().strftime("%H:%M")
                error = _text(request, "locked", until=until)
            else:
                error = _text(request, "bad")
            return _form(
                request, next_url=next_url, error=error, username=username, status_code=401
            )
        grant = services.start_session(
            session,
            user,
            hours=settings.session_hours,
            ip=client,
            user_agent=request.headers.get("user-agent"),
        )
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        grant.cookie,
        max_age=round(settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )
    response.delete_cookie(LOGIN_NONCE_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, user: CheckedUserDep) -> Response:
    """End the session (the CSRF token is checked first) and go to the sign-in form."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    factory = request.app.state.session_factory
    with factory() as session:
        services.end_session(session, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def page_permission(path: str, method: str) -> tuple[Permission, ...]:
    """The permissions a page request needs: aggregates or records to read, and case
    work to post anything."""
    aggregate = any(path == p or path.startswith(p.rstrip("/") + "/") for p in AGGREGATE_PAGES[1:])
    read: Permission = "read_aggregates" if path == "/" or aggregate else "read_records"
    if method in SAFE_METHODS or aggregate:
        return (read,)
    return (read, "write_cases")


def page_access(request: Request, user: CheckedUserDep) -> UserItem:
    """Dependency of every page: signed in (else redirect to sign-in), CSRF-checked,
    and allowed by :func:`page_permission`."""
    for permission in page_permission(request.url.path, request.method):
        if not may(user, permission):
            raise ForbiddenError(f"role {user.role!r} may not open this page")
    return user
