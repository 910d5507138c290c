"""`GET /api/v1/health`: whether the service and its workers answer (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter

from agent import __version__
from agent.service.deps import ServiceDep
from agent.service.schemas import Health

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health)
def health(service: ServiceDep) -> Health:
    settings = service.settings
    problems = service.problems()
    try:
        counts = service.store.count_by_status()
    except Exception:
        counts = {}
    return Health(
        status="degraded" if problems else "ok",
        problems=problems,
        version=__version__,
        model=service.runner.model_name,
        workspace=str(settings.workspace.resolve()),
        jobs=settings.jobs,
        workers=settings.workers,
        queued=counts.get("queued", 0),
        running=counts.get("running", 0),
        limit=service.slots,
    )
