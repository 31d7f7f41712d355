"""``/healthz``: liveness check."""

from __future__ import annotations

from fastapi import APIRouter

from povguard.api.schemas import HealthPublic

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthPublic)
def healthz() -> HealthPublic:
    """``{"status": "ok"}`` while the process serves requests."""
    return HealthPublic()
