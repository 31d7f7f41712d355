"""Users: accounts with argon2id passwords and lockout, web sessions, API tokens.

Passwords are hashed with argon2id (:mod:`argon2`). Session cookies and API tokens
are 256-bit random strings; only their SHA-256 is stored, so a copy of the
database lets nobody sign in. A wrong password counts against the account; at
``max_failures`` consecutive failures the account is locked for ``lockout``.
Every sign-in, failure, lock and token issue is written to the audit trail.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Final, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from povguard.errors import ConflictError, DataError, NotFoundError
from povguard.store.models import USER_ROLES, User, UserSession, UserToken, utcnow
from povguard.store.services._common import check_area_prefix, region_prefix, transaction
from povguard.store.services.audit import record_event

#: Roles a user may have (see :data:`povguard.api.auth.ROLE_PERMISSIONS`).
ROLES: Final = USER_ROLES
#: Shortest password accepted.
MIN_PASSWORD_LENGTH: Final = 10
#: Prefix of API tokens (so a leaked token is recognisable in logs and scanners).
TOKEN_PREFIX: Final = "pvg_"
#: A token's ``last_used_at`` is refreshed at most this often (saves a write per call).
TOUCH_INTERVAL: Final = dt.timedelta(minutes=5)

_HASHER: Final = PasswordHasher()
# Verified against when the user does not exist, so both cases take the same time.
_DUMMY_HASH: Final = _HASHER.hash("povguard-no-such-user")

LoginFailure = Literal["unknown", "inactive", "locked", "bad_password", "no_password"]


class AuthenticationError(DataError):
    """A sign-in was refused; ``reason`` says why (never shown to the caller as is)."""

    def __init__(self, reason: LoginFailure, message: str, locked_until: dt.datetime | None = None):
        super().__init__(message)
        self.reason: LoginFailure = reason
        self.locked_until = locked_until


@dataclass(frozen=True, slots=True)
class UserItem:
    """A user as the rest of the application sees it (no secrets)."""

    id: int
    username: str
    display_name: str
    role: str
    area_code: str
    active: bool
    locked_until: dt.datetime | None = None
    last_login_at: dt.datetime | None = None

    @property
    def area_prefix(self) -> str:
        """Region-code prefix every query of this user is scoped by (``''``: all)."""
        return region_prefix(self.area_code) if self.area_code else ""


@dataclass(frozen=True, slots=True)
class TokenItem:
    """An API token as listed (never the token itself)."""

    id: int
    username: str
    name: str
    token_prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class SessionGrant:
    """A new web session: the cookie value and the session's CSRF token."""

    cookie: str
    csrf_token: str
    user: UserItem


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _item(user: User) -> UserItem:
    return UserItem(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        area_code=user.area_code,
        active=user.active,
        locked_until=_aware(user.locked_until),
        last_login_at=_aware(user.last_login_at),
    )


def _audit(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_id: str,
    entity_type: str = "user",
    after: object = None,
) -> None:
    record_event(
        session,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=None,
        after=after,
    )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise DataError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    return password


def _check_area(role: str, area_code: str) -> str:
    area = check_area_prefix(area_code.strip())
    if area:
        region_prefix(area)  # a full 12-digit code
    elif role not in ("admin", "auditor", "analyst", "department"):
        raise DataError(f"a {role} user needs an area (a 12-digit region code)")
    return area


def _get(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"user {username!r} not found")
    return user


def create_user(
    session: Session,
    *,
    username: str,
    password: str | None,
    role: str,
    area_code: str = "",
    display_name: str | None = None,
    actor: str = "system",
    commit: bool = True,
) -> UserItem:
    """Create a user.

    Parameters
    ----------
    session
        Operations database session.
    username
        Unique sign-in name (1-100 characters, no spaces).
    password
        At least :data:`MIN_PASSWORD_LENGTH` characters, hashed with argon2id; None
        makes a user who can only use API tokens or an identity provider.
    role
        One of :data:`ROLES`.
    area_code
        12-digit region code of the user's area; ``''`` (everywhere) is allowed
        only for admin, auditor, analyst and department users.
    display_name
        Name shown in the pages (default: the username).
    actor
        Who creates the user (audit trail).
    commit
        Commit the transaction.

    Returns
    -------
    UserItem
        The new user.

    Raises
    ------
    DataError
        Bad role, area or password.
    ConflictError
        The username is taken.
    """
    name = username.strip()
    if not name or len(name) > 100 or any(c.isspace() for c in name):
        raise DataError(f"bad username {username!r}: 1-100 characters without spaces")
    if role not in ROLES:
        raise DataError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    area = _check_area(role, area_code)
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise ConflictError(f"user {name!r} exists")
    now = utcnow()
    user = User(
        username=name,
        display_name=(display_name or name).strip()[:100],
        role=role,
        area_code=area,
        active=True,
        created_at=now,
        password_hash=None if password is None else _HASHER.hash(_check_password(password)),
        failed_logins=0,
        password_changed_at=None if password is None else now,
    )
    with transaction(session, commit=commit):
        session.add(user)
        session.flush()
        _audit(
            session,
            actor=actor,
            action="user.create",
            entity_type="user",
            entity_id=name,
            after={"role": role, "area_code": area},
        )
    return _item(user)


def get_user(session: Session, username: str) -> UserItem:
    """The user called ``username`` (:class:`NotFoundError` if none)."""
    return _item(_get(session, username))


def list_users(session: Session, *, area_prefix: str = "") -> list[UserItem]:
    """Users whose area lies inside ``area_prefix``, by username."""
    query = select(User).order_by(User.username)
    if area_prefix:
        query = query.where(User.area_code.startswith(check_area_prefix(area_prefix)))
    return [_item(u) for u in session.scalars(query)]


def set_password(session: Session, username: str, password: str, *, actor: str = "system") -> None:
    """Replace a user's password, unlock the account and end its web sessions."""
    user = _get(session, username)
    now = utcnow()
    with transaction(session):
        user.password_hash = _HASHER.hash(_check_password(password))
        user.password_changed_at = now
        user.failed_logins = 0
        user.locked_until = None
        session.execute(
            update(UserSession)
            .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        _audit(
            session,
            actor=actor,
            action="user.password",
            entity_type="user",
            entity_id=user.username,
        )


def set_active(session: Session, username: str, active: bool, *, actor: str = "system") -> None:
    """Activate or deactivate a user; deactivation ends sessions and revokes tokens."""
    user = _get(session, username)
    now = utcnow()
    with transaction(session):
        user.active = active
        if active:
            user.failed_logins = 0
            user.locked_until = None
        else:
            for table in (UserSession, UserToken):
                session.execute(
                    update(table)
                    .where(table.user_id == user.id, table.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
        _audit(
            session,
            actor=actor,
            action="user.activate" if active else "user.deactivate",
            entity_type="user",
            entity_id=user.username,
        )


def unlock_user(session: Session, username: str, *, actor: str = "system") -> None:
    """Clear a user's failure count and lock."""
    user = _get(session, username)
    with transaction(session):
        user.failed_logins = 0
        user.locked_until = None
        _audit(
            session, actor=actor, action="user.unlock", entity_type="user", entity_id=user.username
        )


def verify_password(
    session: Session,
    username: str,
    password: str,
    *,
    max_failures: int,
    lockout: dt.timedelta,
    now: dt.datetime | None = None,
) -> UserItem:
    """Check a user's password, counting failures and locking the account.

    Parameters
    ----------
    session
        Operations database session (committed by this call).
    username, password
        What the user typed.
    max_failures
        Consecutive failures that lock the account.
    lockout
        How long a lock lasts.
    now
        The clock (UTC; default now).

    Returns
    -------
    UserItem
        The user, whose failure count is reset and ``last_login_at`` set.

    Raises
    ------
    AuthenticationError
        Unknown user, inactive, locked (also with the right password), no password
        set, or a wrong password.
    """
    now = now or utcnow()
    user = session.scalar(select(User).where(User.username == username.strip()).with_for_update())
    if user is None or user.password_hash is None:
        _dummy()
        session.rollback()
        reason: LoginFailure = "unknown" if user is None else "no_password"
        raise AuthenticationError(reason, f"sign-in refused for {username!r}: {reason}")
    locked = _aware(user.locked_until)
    if not user.active:
        session.rollback()
        raise AuthenticationError("inactive", f"user {user.username!r} is deactivated")
    if locked is not None and locked > now:
        session.rollback()
        raise AuthenticationError("locked", f"user {user.username!r} is locked", locked)
    ok: bool
    try:
        ok = _HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        ok = False
    with transaction(session):
        if not ok:
            user.failed_logins = (user.failed_logins or 0) + 1
            lock = user.failed_logins >= max_failures
            if lock:
                user.locked_until = now + lockout
                user.failed_logins = 0
            _audit(
                session,
                actor=user.username,
                action="auth.lock" if lock else "auth.failure",
                entity_type="user",
                entity_id=user.username,
                after={"failed_logins": user.failed_logins} if not lock else None,
            )
        else:
            user.failed_logins = 0
            user.locked_until = None
            user.last_login_at = now
            if _HASHER.check_needs_rehash(user.password_hash):
                user.password_hash = _HASHER.hash(password)
    if not ok:
        locked = _aware(user.locked_until)
        if locked is not None and locked > now:
            raise AuthenticationError("locked", f"user {user.username!r} is now locked", locked)
        raise AuthenticationError("bad_password", f"wrong password for {user.username!r}")
    return _item(user)


def _dummy() -> None:
    with contextlib.suppress(VerificationError):
        _HASHER.verify(_DUMMY_HASH, "not the password")


def start_session(
    session: Session,
    user: UserItem,
    *,
    hours: float,
    ip: str | None = None,
    user_agent: str | None = None,
    now: dt.datetime | None = None,
) -> SessionGrant:
    """Open a web session for a signed-in user (audited as ``auth.login``)."""
    now = now or utcnow()
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with transaction(session):
        session.add(
            UserSession(
                id=_digest(cookie),
                user_id=user.id,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + dt.timedelta(hours=hours),
                last_seen_at=now,
                ip=(ip or None) and ip[:64],
                user_agent=(user_agent or None) and user_agent[:200],
            )
        )
        _audit(
            session,
            actor=user.username,
            action="auth.login",
            entity_type="user",
            entity_id=user.username,
            after={"ip": ip},
        )
    return SessionGrant(cookie=cookie, csrf_token=csrf, user=user)


def session_user(
    session: Session,
    cookie: str,
    *,
    idle: dt.timedelta,
    now: dt.datetime | None = None,
) -> tuple[UserItem, str] | None:
    """The user and CSRF token of a live web session, or None.

    A session is live when it is not revoked, not past ``expires_at``, seen within
    ``idle``, and its user is active. ``last_seen_at`` is refreshed at most once a
    minute.
    """
    if not cookie or len(cookie) > 200:
        return None
    now = now or utcnow()
    row = session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.id == _digest(cookie))
    ).first()
    if row is None:
        return None
    web, user = row
    expires = _aware(web.expires_at)
    seen = _aware(web.last_seen_at)
    if (
        web.revoked_at is not None
        or not user.active
        or expires is None
        or expires <= now
        or seen is None
        or now - seen > idle
    ):
        return None
    if now - seen > dt.timedelta(minutes=1):
        web.last_seen_at = now
        session.commit()
    return _item(user), web.csrf_token


def end_session(session: Session, cookie: str, *, now: dt.datetime | None = None) -> None:
    """Revoke the web session of ``cookie`` (signing out; audited)."""
    web = session.get(UserSession, _digest(cookie)) if cookie else None
    if web is None or web.revoked_at is not None:
        return
    user = session.get(User, web.user_id)
    with transaction(session):
        web.revoked_at = now or utcnow()
        _audit(
            session,
            actor=user.username if user else "unknown",
            action="auth.logout",
            entity_type="user",
            entity_id=user.username if user else str(web.user_id),
        )


def issue_user_token(
    session: Session,
    username: str,
    *,
    name: str,
    expires_days: float | None = None,
    actor: str | None = None,
) -> str:
    """Issue an API token for a user; returns the token (shown once, never stored).

    Parameters
    ----------
    session
        Operations database session.
    username
        The token's user; the token acts with the user's role and area.
    name
        What the token is for (e.g. ``"county-dashboard"``).
    expires_days
        Lifetime in days; None: until revoked.
    actor
        Who issues it (default: the user).

    Returns
    -------
    str
        ``pvg_<random>``: send it as ``Authorization: Bearer <token>``.
    """
    user = _get(session, username)
    label = name.strip()
    if not label or len(label) > 100:
        raise DataError("a token needs a name of 1-100 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    with transaction(session):
        session.add(
            UserToken(
                user_id=user.id,
                name=label,
                token_prefix=token[:12],
                token_hash=_digest(token),
                created_at=now,
                expires_at=None if expires_days is None else now + dt.timedelta(days=expires_days),
            )
        )
        _audit(
            session,
            actor=actor or user.username,
            action="token.issue",
            entity_type="user",
            entity_id=user.username,
            after={"name": label, "prefix": token[:12]},
        )
    return token


def token_user(session: Session, token: str, *, now: dt.datetime | None = None) -> UserItem | None:
    """The active user of a live API token, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    now = now or utcnow()
    row = session.execute(
        select(UserToken, User)
        .join(User, User.id == UserToken.user_id)
        .where(UserToken.token_hash == _digest(token))
    ).first()
    if row is None:
        return None
    stored, user = row
    expires = _aware(stored.expires_at)
    if stored.revoked_at is not None or not user.active or (expires is not None and expires <= now):
        return None
    used = _aware(stored.last_used_at)
    if used is None or now - used > TOUCH_INTERVAL:
        stored.last_used_at = now
        session.commit()
    return _item(user)


def list_tokens(session: Session, username: str | None = None) -> list[TokenItem]:
    """API tokens (of one user, or all), newest first."""
    query = (
        select(UserToken, User.username)
        .join(User, User.id == UserToken.user_id)
        .order_by(UserToken.id.desc())
    )
    if username is not None:
        query = query.where(User.username == username)
    return [
        TokenItem(
            id=t.id,
            username=name,
            name=t.name,
            token_prefix=t.token_prefix,
            created_at=_aware(t.created_at) or t.created_at,
            expires_at=_aware(t.expires_at),
            last_used_at=_aware(t.last_used_at),
            revoked_at=_aware(t.revoked_at),
        )
        for t, name in session.execute(query)
    ]


def revoke_token(session: Session, token_id: int, *, actor: str = "system") -> None:
    """Revoke an API token by id."""
    stored = session.get(UserToken, token_id)
    if stored is None:
        raise NotFoundError(f"token {token_id} not found")
    if stored.revoked_at is not None:
        raise ConflictError(f"token {token_id} is already revoked")
    with transaction(session):
        stored.revoked_at = utcnow()
        _audit(
            session,
            actor=actor,
            action="token.revoke",
            entity_type="token",
            entity_id=str(token_id),
        )


def record_personal_view(
    session: Session, actor: str, household_id: str, persons: int, *, channel: str = "api"
) -> None:
    """Write a full view of a household's names and ID numbers to the access audit.

    Parameters
    ----------
    session
        Operations database session (committed).
    actor
        Who looked.
    household_id
        Whose record.
    persons
        How many members' data were shown.
    channel
        ``api`` or ``web``.
    """
    with transaction(session):
        _audit(
            session,
            actor=actor,
            action="person.view_full",
            entity_type="household",
            entity_id=household_id,
            after={"persons": persons, "channel": channel},
        )
