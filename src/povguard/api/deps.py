"""Dependencies shared by the API routers and the web pages (``Annotated`` aliases)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Final

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from povguard.settings import Settings


def get_settings_dep(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """A database session for one request, closed afterwards."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session:
        yield session


def get_area_prefix() -> str:
    """The region-code prefix the caller may see.

    Every caller sees everything until authentication arrives; then this returns
    the prefix of the signed-in user's area, and every service call is scoped by it.
    """
    return ""


#: The actor of a request nobody signed in to.
ANONYMOUS: Final = "anonymous"


def get_actor(request: Request) -> str:
    """Who acts: the user the request's state carries (``request.state.user``), else
    ``anonymous``.

    ``request.state.user`` may be a user name or an object with a ``username``.
    Every write and every export records this name. Authentication (issue 8)
    replaces this dependency with one that answers the signed-in user's name.
    """
    user = getattr(request.state, "user", None)
    name = user if isinstance(user, str) else getattr(user, "username", None)
    if isinstance(name, str) and name.strip():
        return name.strip()
    return ANONYMOUS


def get_now() -> dt.datetime:
    """The server's clock: the current local wall-clock time (naive).

    Case deadlines, notices and exports count local calendar days; tests override
    this dependency to fix or move the clock.
    """
    return dt.datetime.now()


SessionDep = Annotated[Session, Depends(get_session)]
AreaDep = Annotated[str, Depends(get_area_prefix)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ActorDep = Annotated[str, Depends(get_actor)]
NowDep = Annotated[dt.datetime, Depends(get_now)]
