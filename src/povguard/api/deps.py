"""Dependencies shared by the API routers and the web pages (``Annotated`` aliases).

``AreaDep`` and ``ActorDep`` come from the signed-in user (:mod:`povguard.api.auth`):
a route that uses either requires a signed-in caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from povguard.api.auth import get_actor, get_area_prefix
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
