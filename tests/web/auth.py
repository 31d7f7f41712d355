"""Signed-in test clients: a user of a role and area, and an API token for it."""

from __future__ import annotations

from povguard.store import make_engine, services, session_factory

#: The administrator the shared fixtures sign in as (every write records this name).
ADMIN = "admin.test"
#: The password every test user gets.
PASSWORD = "correct horse battery"


def make_user(
    url: str,
    role: str = "admin",
    area_code: str = "",
    username: str = ADMIN,
    password: str | None = None,
) -> dict[str, str]:
    """Create a user on the database at ``url`` and return bearer-token headers.

    Parameters
    ----------
    url
        SQLAlchemy URL of a migrated operations database.
    role, area_code, username
        The user's role, 12-digit area code (``''``: everywhere) and name.
    password
        The password (:data:`PASSWORD` for a user who signs in); None: token only,
        which spares an argon2 hash (a fifth of a second) per test.

    Returns
    -------
    dict
        ``{"Authorization": "Bearer pvg_..."}``.
    """
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            services.create_user(
                session, username=username, password=password, role=role, area_code=area_code
            )
            token = services.issue_user_token(session, username, name="tests")
    finally:
        engine.dispose()
    return {"Authorization": f"Bearer {token}"}
