"""``/api/v1/me``, ``/api/v1/users`` and ``/api/v1/audit``: who am I, accounts, audit log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from povguard.api.auth import CurrentUserDep, permissions_of, require
from povguard.api.deps import AreaDep, SessionDep
from povguard.api.schemas import ErrorResponse
from povguard.store import services
from povguard.store.services import UserItem

me_router = APIRouter(tags=["users"])
users_router = APIRouter(
    prefix="/users", tags=["users"], dependencies=[Depends(require("manage_users"))]
)
audit_router = APIRouter(
    prefix="/audit", tags=["audit"], dependencies=[Depends(require("read_audit"))]
)

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "not signed in"},
    403: {"model": ErrorResponse, "description": "the role may not"},
}


class UserPublic(BaseModel):
    """A user (no secrets)."""

    username: str
    display_name: str
    role: str
    area_code: str = Field(description="12-digit region code; '' = everywhere")
    active: bool
    locked_until: dt.datetime | None
    last_login_at: dt.datetime | None

    @classmethod
    def from_item(cls, item: UserItem) -> UserPublic:
        """From the service's item."""
        return cls(
            username=item.username,
            display_name=item.display_name,
            role=item.role,
            area_code=item.area_code,
            active=item.active,
            locked_until=item.locked_until,
            last_login_at=item.last_login_at,
        )


class MePublic(UserPublic):
    """The signed-in user with the permissions of the role."""

    area_prefix: str = Field(description="region-code prefix every answer is scoped by")
    permissions: list[str]


class AuditEventPublic(BaseModel):
    """An event of the tamper-evident audit trail."""

    id: int
    at: dt.datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: Any
    after: Any
    reason: str | None
    hash: str


@me_router.get("/me", response_model=MePublic, responses=_ERRORS, operation_id="read_me")
def read_me(user: CurrentUserDep) -> MePublic:
    """The signed-in user, the area and what the role may do."""
    return MePublic(
        **UserPublic.from_item(user).model_dump(),
        area_prefix=user.area_prefix,
        permissions=sorted(permissions_of(user.role)),
    )


@users_router.get("", response_model=list[UserPublic], responses=_ERRORS, operation_id="list_users")
def list_users(session: SessionDep, area: AreaDep) -> list[UserPublic]:
    """Users of the administrator's area, by username."""
    return [UserPublic.from_item(u) for u in services.list_users(session, area_prefix=area)]


@audit_router.get(
    "", response_model=list[AuditEventPublic], responses=_ERRORS, operation_id="list_audit_events"
)
def list_audit_events(
    session: SessionDep,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    entity_type: Annotated[str | None, Query(max_length=32)] = None,
    entity_id: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[AuditEventPublic]:
    """The audit trail, newest first: who did what to which record, including every
    sign-in, export and full view of a person's record (``person.view_full``)."""
    events = services.list_events(
        session,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        limit=limit,
        offset=offset,
    )
    return [
        AuditEventPublic(
            id=e.id,
            at=e.at,
            actor=e.actor,
            action=e.action,
            entity_type=e.entity_type,
            entity_id=e.entity_id,
            before=e.before,
            after=e.after,
            reason=e.reason,
            hash=e.hash,
        )
        for e in events
    ]
