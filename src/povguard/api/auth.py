"""Authentication and authorisation of the API and the pages.

Who is calling, in this order:

1. ``Authorization: Bearer pvg_...``: a user's API token (``povguard users token``);
2. the ``povguard_session`` cookie of a web session (``/login``); every
   state-changing request of a session must carry its CSRF token, in the
   ``X-CSRF-Token`` header or the ``csrf_token`` form field;
3. when ``POVGUARD_TRUSTED_USER_HEADER`` is set, that header (e.g. ``X-Forwarded-User``)
   from a client in ``POVGUARD_TRUSTED_PROXIES``: an OpenID Connect proxy such as
   oauth2-proxy has signed the user in; the name must be a local, active user, whose
   role and area apply.

What they may do is data: :data:`ROLE_PERMISSIONS` maps each role to permissions;
the routers require them (:func:`require`, :func:`require_by_method`). Where they may
look is the user's area: :func:`get_area_prefix` answers its region-code prefix and
every service applies it inside its queries, so a household outside the area is 404.
"""

from __future__ import annotations

import datetime as dt
import hmac
import time
from collections import deque
from collections.abc import Callable, Mapping
from threading import Lock
from typing import Annotated, Any, Final, Literal

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from povguard.api.errors import ApiError
from povguard.errors import NotFoundError
from povguard.settings import Settings
from povguard.store import services
from povguard.store.services import UserItem

Permission = Literal[
    "read_aggregates",
    "read_records",
    "reveal_personal",
    "write_cases",
    "read_audit",
    "manage_users",
]
#: Every permission, for documentation and tests.
PERMISSIONS: Final[tuple[Permission, ...]] = (
    "read_aggregates",
    "read_records",
    "reveal_personal",
    "write_cases",
    "read_audit",
    "manage_users",
)
_OFFICER: Final[frozenset[Permission]] = frozenset(
    {"read_aggregates", "read_records", "reveal_personal", "write_cases"}
)
#: What each role may do.
#:
#: - officers from province to village see households of their area; those who
#:   visit and decide (county, township, village) may reveal full names and ID numbers
#:   (each reveal is audited), and move cases;
#: - province and city officers oversee: records masked, no case work;
#: - a department data officer pushes feeds with an account token (``povguard
#:   accounts``) and sees nothing else;
#: - an analyst sees aggregates only, with small counts suppressed;
#: - an auditor reads everything of the area, masked, and the audit log;
#: - an administrator manages users and may do what officers do.
ROLE_PERMISSIONS: Final[Mapping[str, frozenset[Permission]]] = {
    "province": frozenset({"read_aggregates", "read_records"}),
    "city": frozenset({"read_aggregates", "read_records"}),
    "county": _OFFICER,
    "township": _OFFICER,
    "village": _OFFICER,
    "department": frozenset(),
    "analyst": frozenset({"read_aggregates"}),
    "auditor": frozenset({"read_aggregates", "read_records", "read_audit"}),
    "admin": frozenset(PERMISSIONS),
}
#: Roles whose aggregates hide counts below ``min_cell_count``.
SUPPRESSED_ROLES: Final = frozenset({"analyst"})

SESSION_COOKIE: Final = "povguard_session"
#: Cookie holding the random nonce of the sign-in form's CSRF token.
LOGIN_NONCE_COOKIE: Final = "povguard_login_nonce"
CSRF_HEADER: Final = "X-CSRF-Token"
CSRF_FIELD: Final = "csrf_token"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})

AuthMethod = Literal["token", "session", "proxy"]


class NotAuthenticatedError(ApiError):
    """No valid credentials (401); pages redirect to the sign-in form."""

    def __init__(self, message: str = "sign in first") -> None:
        super().__init__(401, "unauthorized", message)


class ForbiddenError(ApiError):
    """Signed in, but the role may not do this (403)."""

    def __init__(self, message: str) -> None:
        super().__init__(403, "forbidden", message)


def permissions_of(role: str) -> frozenset[Permission]:
    """The permissions of ``role`` (none for an unknown role)."""
    return ROLE_PERMISSIONS.get(role, frozenset())


def may(user: UserItem, permission: Permission) -> bool:
    """Whether ``user``'s role grants ``permission``."""
    return permission in permissions_of(user.role)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _authenticate(
    request: Request, session: Session, settings: Settings
) -> tuple[UserItem, AuthMethod, str]:
    """(user, how, csrf token) of the request; raises :class:`NotAuthenticatedError`."""
    token = _bearer(request)
    if token is not None:
        user = services.token_user(session, token)
        if user is None:
            raise NotAuthenticatedError("invalid, expired or revoked API token")
        return user, "token", ""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        idle = dt.timedelta(minutes=settings.session_idle_minutes)
        found = services.session_user(session, cookie, idle=idle)
        if found is not None:
            return found[0], "session", found[1]
    header = settings.trusted_user_header
    if header and _client_ip(request) in settings.trusted_proxies:
        name = request.headers.get(header, "").strip()
        if name:
            try:
                user = services.get_user(session, name)
            except NotFoundError:
                raise NotAuthenticatedError(f"no local user {name!r}") from None
            if user.active:
                return user, "proxy", ""
    raise NotAuthenticatedError()


def get_current_user(request: Request) -> UserItem:
    """The signed-in user (cached on ``request.state``); 401 when nobody is.

    Sets ``request.state.user``, ``request.state.auth_method`` and
    ``request.state.csrf_token`` (the session's token; ``''`` for tokens).
    """
    cached = getattr(request.state, "user", None)
    if isinstance(cached, UserItem):
        return cached
    settings: Settings = request.app.state.settings
    factory = request.app.state.session_factory
    with factory() as session:
        user, method, csrf = _authenticate(request, session, settings)
    request.state.user = user
    request.state.auth_method = method
    request.state.csrf_token = csrf
    return user


CurrentUserDep = Annotated[UserItem, Depends(get_current_user)]


async def check_csrf(request: Request, user: CurrentUserDep) -> UserItem:
    """Refuse (403) a state-changing request of a web session without its CSRF token.

    Token and proxy requests carry no ambient credentials a third-party page could
    use, so they need none.
    """
    if request.method in SAFE_METHODS or request.state.auth_method != "session":
        return user
    expected = str(request.state.csrf_token)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, expected):
        raise ForbiddenError("missing or wrong CSRF token; reload the page and try again")
    return user


CheckedUserDep = Annotated[UserItem, Depends(check_csrf)]


def require(permission: Permission) -> Callable[..., Any]:
    """A dependency that lets through only users whose role grants ``permission``."""

    def dependency(user: CheckedUserDep) -> UserItem:
        if not may(user, permission):
            raise ForbiddenError(f"role {user.role!r} may not {permission.replace('_', ' ')}")
        return user

    dependency.__name__ = f"require_{permission}"
    return dependency


def require_by_method(read: Permission, write: Permission) -> Callable[..., Any]:
    """``read`` for GET/HEAD/OPTIONS, ``read`` and ``write`` for every other method."""

    def dependency(request: Request, user: CheckedUserDep) -> UserItem:
        needed = (read,) if request.method in SAFE_METHODS else (read, write)
        for permission in needed:
            if not may(user, permission):
                raise ForbiddenError(f"role {user.role!r} may not {permission.replace('_', ' ')}")
        return user

    dependency.__name__ = f"require_{read}_or_{write}"
    return dependency


def get_area_prefix(user: CurrentUserDep) -> str:
    """The region-code prefix the signed-in user may see (``''``: everywhere)."""
    return user.area_prefix


def get_actor(user: CurrentUserDep) -> str:
    """The signed-in user's name: every write and export records it."""
    return user.username


def min_count_for(user: UserItem, settings: Settings) -> int:
    """The smallest count of an aggregate shown to ``user`` (0: no suppression)."""
    return settings.min_cell_count if user.role in SUPPRESSED_ROLES else 0


def login_csrf_token(settings: Settings, nonce: str) -> str:
    """The sign-in form's CSRF token: HMAC of the nonce cookie with the secret key."""
    key = settings.secret_key.get_secret_value().encode("utf-8")
    return hmac.new(key, nonce.encode("utf-8"), "sha256").hexdigest()


class LoginRateLimiter:
    """At most ``limit`` sign-in attempts per client address in a sliding minute.

    In memory, so per process: behind several workers the effective limit is
    ``limit`` times the number of workers (the per-account lockout still holds).
    """

    def __init__(self, limit: int, window_seconds: float = 60.0) -> None:
        self.limit = limit
        self.window = window_seconds
        self._attempts: dict[str, deque[float]] = {}
        self._lock = Lock()

    def allow(self, client: str, now: float | None = None) -> float | None:
        """Record an attempt; None when allowed, else seconds until one is."""
        now = time.monotonic() if now is None else now
        with self._lock:
            attempts = self._attempts.setdefault(client, deque())
            while attempts and now - attempts[0] >= self.window:
                attempts.popleft()
            if len(attempts) >= self.limit:
                return self.window - (now - attempts[0])
            attempts.append(now)
            if len(self._attempts) > 10_000:  # forget idle clients
                for key in [k for k, v in self._attempts.items() if not v]:
                    del self._attempts[key]
            return None
