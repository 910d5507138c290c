"""`GET /api/v1/health`: whether the service and its workers answer (no token needed).

`running`, `queued` and `limit` are the admission's (issue 28): with Celery workers, `running`
counts the builds under a live lease on any worker, as the workers' admission does
(`agent.store.admission`), and `limit` is `PETSAGE_MAX_CONCURRENT_BUILDS` as the API reads it:
set it the same for the API and every worker.
"""

from __future__ import annotations

from fastapi import APIRouter

from agent import __version__
from agent.service.deps import ServiceDep
from agent.service.schemas import Health
from agent.store.admission import running_now

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health)
def health(service: ServiceDep) -> Health:
    settings = service.settings
    problems = service.problems()
    try:
        counts = service.store.count_by_status()
        if service.distributed:
            # What the workers' admission counts: builds under a live lease on any worker.
            counts["running"] = running_now(service.store, settings.lease_seconds)
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
