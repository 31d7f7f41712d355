"""Department accounts of the push API and their API tokens.

A token is ``secrets.token_urlsafe(32)`` (256 random bits), shown once when the
account is created. Only a salted scrypt hash is stored
(``scrypt$<n>$<r>$<p>$<salt>$<hash>``, base64 without padding), with the token's
first :data:`~povguard.store.models.TOKEN_PREFIX_LEN` characters to find the
candidate accounts; the hash is compared in constant time.

Roles, sessions and single sign-on come later; these accounts only say which
department may push which sources.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from povguard.errors import DataError
from povguard.store.models import TOKEN_PREFIX_LEN, ApiAccount, utcnow
from povguard.store.services._common import transaction

__all__ = [
    "MAX_TOKEN_LEN",
    "account_may_push",
    "authenticate",
    "create_account",
    "deactivate",
    "hash_token",
    "list_accounts",
    "verify_token",
]

#: scrypt cost parameters of new hashes (16 MiB, about 30-60 ms per hash).
SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
_SALT_BYTES: Final = 16
_KEY_BYTES: Final = 32
_TOKEN_BYTES: Final = 32
#: Longer presented tokens are rejected without hashing.
MAX_TOKEN_LEN: Final = 256
_SOURCE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_MAX_NAME = 100
# Hashed when no account matches, so that a wrong token costs as much as a right one.
_DUMMY_HASH: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(token: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        token.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=_KEY_BYTES, maxmem=64 * 2**20
    )


def hash_token(token: str) -> str:
    """A salted scrypt hash of ``token`` (a fresh random salt every call).

    Parameters
    ----------
    token
        The plaintext token.

    Returns
    -------
    str
        ``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (salt and hash base64url, unpadded).
    """
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(token, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_token(token: str, stored: str) -> bool:
    """Whether ``token`` matches the stored hash (constant-time comparison).

    Parameters
    ----------
    token
        The presented token.
    stored
        A hash from :func:`hash_token`.

    Returns
    -------
    bool
        False as well for a malformed or unknown hash format.
    """
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = _unb64(parts[4]), _unb64(parts[5])
        key = _scrypt(token, salt, n, r, p)
    except ValueError:
        return False
    return hmac.compare_digest(key, expected)


def _dummy_verify(token: str) -> None:
    global _DUMMY_HASH  # noqa: PLW0603 - computed once, lazily
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_token(secrets.token_urlsafe(_TOKEN_BYTES))
    verify_token(token, _DUMMY_HASH)


def _clean_sources(sources: Iterable[str]) -> list[str]:
    out: list[str] = []
    for source in sources:
        if not isinstance(source, str) or not _SOURCE_RE.match(source):
            raise DataError(f"source {source!r} must be a source id (snake_case ASCII)")
        if source not in out:
            out.append(source)
    if not out:
        raise DataError("an account needs at least one source it may push")
    return out


def _clean_text(value: str, what: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise DataError(f"{what} must not be empty")
    if len(text) > _MAX_NAME:
        raise DataError(f"{what} is longer than {_MAX_NAME} characters")
    return text


def create_account(
    session: Session,
    name: str,
    department: str,
    sources: Iterable[str],
    *,
    commit: bool = True,
) -> tuple[ApiAccount, str]:
    """Create a department account and its API token.

    Parameters
    ----------
    session
        Session on the operations database.
    name
        Unique account name (``county-medical-insurance``).
    department
        Department the account belongs to (``医疗保障局``).
    sources
        Source ids the account may push (``medical_claims``); duplicates are dropped.
    commit
        Commit at the end (default).

    Returns
    -------
    tuple of (ApiAccount, str)
        The stored account and the plaintext token. The token is not stored and
        cannot be shown again.

    Raises
    ------
    DataError
        On an empty name or department, a malformed or empty source list, or a
        name that is already taken.
    """
    clean_name = _clean_text(name, "account name")
    clean_department = _clean_text(department, "department")
    clean_sources = _clean_sources(sources)
    taken = session.scalar(select(ApiAccount.id).where(ApiAccount.name == clean_name))
    if taken is not None:
        raise DataError(f"an account named {clean_name!r} already exists")
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    account = ApiAccount(
        name=clean_name,
        department=clean_department,
        sources=clean_sources,
        token_hash=hash_token(token),
        token_prefix=token[:TOKEN_PREFIX_LEN],
        active=True,
        created_at=utcnow(),
    )
    with transaction(
        session, commit=commit, conflict=f"an account named {clean_name!r} already exists"
    ):
        session.add(account)
    return account, token


def authenticate(session: Session, token: str | None, *, touch: bool = True) -> ApiAccount | None:
    """The active account whose token is ``token``, or None.

    Parameters
    ----------
    session
        Session on the operations database.
    token
        The presented token (the part after ``Bearer``).
    touch
        Record the time in ``last_used_at`` and commit (default).

    Returns
    -------
    ApiAccount or None
        None for a missing, malformed, unknown or deactivated token.
    """
    if not token or len(token) > MAX_TOKEN_LEN or len(token) < TOKEN_PREFIX_LEN:
        _dummy_verify(token or "")
        return None
    candidates = session.scalars(
        select(ApiAccount).where(
            ApiAccount.token_prefix == token[:TOKEN_PREFIX_LEN],
            ApiAccount.active.is_(True),
        )
    ).all()
    found: ApiAccount | None = None
    for account in candidates:
        if verify_token(token, account.token_hash) and found is None:
            found = account
    if not candidates:
        _dummy_verify(token)
    if found is not None and touch:
        with transaction(session):
            found.last_used_at = utcnow()
    return found


def account_may_push(account: ApiAccount, source: str) -> bool:
    """Whether ``account`` is active and may push ``source``."""
    return bool(account.active) and source in (account.sources or [])


def deactivate(session: Session, account_id: int, *, commit: bool = True) -> ApiAccount:
    """Deactivate an account: its token stops working at once (idempotent).

    Parameters
    ----------
    session
        Session on the operations database.
    account_id
        The account's id.
    commit
        Commit at the end (default).

    Returns
    -------
    ApiAccount
        The account, now inactive.

    Raises
    ------
    DataError
        If no account has that id.
    """
    account = session.get(ApiAccount, account_id)
    if account is None:
        raise DataError(f"account {account_id} does not exist")
    with transaction(session, commit=commit):
        account.active = False
    return account


def list_accounts(session: Session, *, include_inactive: bool = True) -> list[ApiAccount]:
    """Every account, oldest first (active ones only with ``include_inactive=False``)."""
    stmt = select(ApiAccount).order_by(ApiAccount.id)
    if not include_inactive:
        stmt = stmt.where(ApiAccount.active.is_(True))
    return list(session.scalars(stmt))
