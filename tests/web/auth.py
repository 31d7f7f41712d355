"""Signed-in test clients: a user of a role and area, and an API token for it."""

from __future__ import annotations

from povguard.store import make_engine, services, session_factory

#: The administrator the shared fixtures sign in as (every write records this name).
ADMIN = "admin.test"
#: The password every test user gets.
PASSWORD = "correct horse battery"


def make_user(
    url: str, role: str = "admin", area_code: str = "", username: str = ADMIN
) -> dict[str, str]:
    """Create a user on the database at ``url`` and return bearer-token headers.

    Parameters
    ----------
    url
        SQLAlchemy URL of a migrated operations database.
    role, area_code, username
        The user's role, 12-digit area code (``''``: everywhere) and name.

    Returns
    -------
    dict
        ``{"Authorization": "Bearer pvg_..."}``.
    """
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            services.create_user(
                session, username=username, password=PASSWORD, role=role, area_code=area_code
            )
            token = services.issue_user_token(session, username, name="tests")
    finally:
        engine.dispose()
    return {"Authorization": f"Bearer {token}"}
