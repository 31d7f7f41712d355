"""Dependencies shared by the API routers and the web pages (``Annotated`` aliases)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

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


SessionDep = Annotated[Session, Depends(get_session)]
AreaDep = Annotated[str, Depends(get_area_prefix)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
