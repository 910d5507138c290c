"""The HTTP service: POST a feature request, follow its build live, read its result.

Builds are stored in SQLite beside the workspace and run by a job backend; a restart after a
crash ends the builds that were running and runs the queued ones.

The routes live in `agent.service.routes`, one module-level router per resource; the errors the
builder raises on purpose are mapped to status codes once, here (`ERROR_STATUS`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from agent import __version__
from agent.errors import (
    BuilderError,
    IdempotencyConflict,
    InfrastructureError,
    JobsUnavailable,
    MergeRefused,
    PullRequestConflict,
    PullRequestError,
    PullRequestNotFound,
    RequestError,
)
from agent.jobs.runner import ServiceRunner
from agent.jobs.threads import JobBackend
from agent.models.base import Model
from agent.redact import install_log_redaction, redact
from agent.service.deps import authorised
from agent.service.guard import Guard
from agent.service.root import Service
from agent.service.routes import builds, chats, health, pulls, webhooks
from agent.service.schemas import errors, openapi
from agent.settings import Settings, get_settings

log = logging.getLogger("petsage.service")

#: A refused feature request: not readable at all, read but invalid, over the size limit.
_STATUS_FOR_KIND = {"undecodable": 400, "invalid": 422, "too_large": 413}
#: A pull-request error, most specific class first; any other one is a conflict.
_PULL_STATUS: tuple[tuple[type[PullRequestError], int], ...] = (
    (PullRequestNotFound, 404),
    (MergeRefused, 422),
    (PullRequestConflict, 409),
)
#: Seconds a client is asked to wait before asking again when the machine was too busy.
INFRASTRUCTURE_RETRY_AFTER = 30


def create_app(
    settings: Settings | None = None,
    *,
    model: Model | None = None,
    jobs_factory: Callable[[ServiceRunner], JobBackend] | None = None,
) -> FastAPI:
    """The service's FastAPI app; builds start running when the app starts."""
    settings = settings or get_settings()
    install_log_redaction()

    if settings.jobs == "celery" and jobs_factory is None:
        settings.shared_database_url()  # refused now, before the server starts, when unset

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = Service(settings, model, jobs_factory)
        service.notifier.bind(asyncio.get_running_loop())
        app.state.service = service
        try:
            service.start()
        except BuilderError as e:
            log.error("cannot start: %s", e)
            await asyncio.to_thread(service.stop)
            raise
        try:
            yield
        finally:
            github_builds = getattr(app.state, "github_builds", None)
            if github_builds is not None:  # its refresh jobs end before the store closes
                await asyncio.to_thread(github_builds.close)
            await asyncio.to_thread(service.stop)

    app = FastAPI(
        title="PetSage Builder",
        version=__version__,
        description="Turns a feature request into a tested, committed PetSage backend feature.",
        lifespan=lifespan,
    )
    app.include_router(api_router())
    app.include_router(webhooks.router)
    app.add_middleware(Guard, settings=settings)
    _handle_errors(app)
    static = Path(__file__).with_name("static")
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/", include_in_schema=False)
    def chat_page() -> FileResponse:
        return FileResponse(static / "index.html")

    app.openapi = lambda: openapi(app)  # type: ignore[method-assign]
    return app


def api_router() -> APIRouter:
    """`/api/v1`: the health check open to all, everything else behind the bearer token."""
    protected = APIRouter(dependencies=[Depends(authorised)])
    protected.include_router(builds.router)
    protected.include_router(pulls.router)
    protected.include_router(chats.router)
    api = APIRouter(prefix="/api/v1")
    api.include_router(health.router)
    api.include_router(protected)
    return api


# --- errors --------------------------------------------------------------------------------------


def _handle_errors(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _redacted_http_error)
    app.add_exception_handler(RequestError, _request_error)
    app.add_exception_handler(PullRequestError, _pull_request_error)
    app.add_exception_handler(JobsUnavailable, _jobs_unavailable)
    app.add_exception_handler(IdempotencyConflict, _idempotency_conflict)
    app.add_exception_handler(InfrastructureError, _infrastructure)


async def _redacted_http_error(request: Request, exc: Exception) -> Response:
    """Every error body and header, with credentials in URLs removed."""
    assert isinstance(exc, HTTPException)
    detail = json.loads(redact(json.dumps(exc.detail)))
    headers = {k: redact(v) for k, v in (exc.headers or {}).items()}
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)


async def _request_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    detail = errors(f"{exc.kind}_request", [(p.where, p.reason) for p in exc.problems])
    status = _STATUS_FOR_KIND.get(exc.kind, 422)
    return await _redacted_http_error(request, HTTPException(status, detail=detail))


async def _pull_request_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PullRequestError)
    status = next((code for kind, code in _PULL_STATUS if isinstance(exc, kind)), 409)
    detail = errors("pull_request", [(None, str(exc))])
    return await _redacted_http_error(request, HTTPException(status, detail=detail))


async def _jobs_unavailable(request: Request, exc: Exception) -> Response:
    # The build was stored, then failed saying why (`Service.submit`): it is not left queued.
    detail = errors("jobs_unavailable", [(None, f"{exc}; post it again later")])
    error = HTTPException(503, detail=detail, headers={"Retry-After": "5"})
    return await _redacted_http_error(request, error)


async def _infrastructure(request: Request, exc: Exception) -> Response:
    # The machine was too busy for a suite run (a merge's, a refresh's), twice: nothing changed,
    # nothing is wrong with the feature, and the same call can pass later (issue 28).
    assert isinstance(exc, InfrastructureError)
    where = f"{exc.stage}: {exc.limit} {exc.figure:g} s of {exc.budget:g} s"
    detail = errors("infrastructure", [(where, f"{exc}; nothing changed: try again later")])
    headers = {"Retry-After": str(INFRASTRUCTURE_RETRY_AFTER)}
    return await _redacted_http_error(request, HTTPException(503, detail=detail, headers=headers))


async def _idempotency_conflict(request: Request, exc: Exception) -> Response:
    reason = "already used for a different request"
    detail = errors("idempotency_conflict", [("Idempotency-Key", reason)])
    return await _redacted_http_error(request, HTTPException(422, detail=detail))
