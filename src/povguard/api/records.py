"""``/api/v1/households/{id}/records``: the department records linked to a household
(its timeline, from the analytics store), paginated, newest period first.

Without an analytics store (a PostgreSQL-only deployment, or before the first
cycle) the list is empty. 404 ``not_found`` when the household is unknown or
outside the caller's area.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from povguard.api.deps import AreaDep, SessionDep, SettingsDep
from povguard.api.errors import NotFoundError
from povguard.api.privacy import mask_id_number
from povguard.api.schemas import ErrorResponse
from povguard.errors import NotFoundError as DataNotFoundError
from povguard.store.services import MAX_PAGE, views

router = APIRouter(prefix="/households", tags=["households"])


class RecordPublic(BaseModel):
    """A department record linked to the household (ID numbers masked)."""

    period: str
    source: str
    file: str
    row: int
    person_id: str | None
    method: str | None
    match_probability: float | None


class RecordPagePublic(BaseModel):
    """One page of a household's records."""

    items: list[RecordPublic]
    total: int
    page: int
    page_size: int


@router.get(
    "/{household_id}/records",
    response_model=RecordPagePublic,
    responses={404: {"model": ErrorResponse, "description": "unknown or outside the area"}},
    operation_id="list_household_records",
)
def list_household_records(
    household_id: str,
    session: SessionDep,
    area: AreaDep,
    settings: SettingsDep,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=views.MAX_RECORDS_PAGE)] = 50,
) -> RecordPagePublic:
    """The household's department records, newest period first."""
    try:
        with views.open_analytics(settings.engine, settings.home) as engine:
            result = views.household_records(
                engine, session, household_id, area_prefix=area, page=page, page_size=page_size
            )
    except DataNotFoundError as exc:
        raise NotFoundError(str(exc)) from exc
    return RecordPagePublic(
        items=[
            RecordPublic(
                period=r.period,
                source=r.source,
                file=r.file,
                row=r.row,
                person_id=None if r.person_id is None else mask_id_number(r.person_id),
                method=r.method,
                match_probability=r.match_probability,
            )
            for r in result.items
        ],
        total=result.total,
        page=result.page,
        page_size=result.page_size,
    )
