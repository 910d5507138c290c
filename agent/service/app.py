"""The HTTP service: POST a feature request, follow its build live, read its result.

Builds are stored in SQLite beside the workspace and run by a job backend; a restart after a
crash ends the builds that were running and runs the queued ones.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.staticfiles import StaticFiles

from agent import __version__
from agent.build.result import FINAL_STATUSES, BuildResult, BuildStatus
from agent.errors import BuilderError, IdempotencyConflict, JobsUnavailable, RequestError
from agent.jobs.runner import ServiceRunner, final_event
from agent.jobs.threads import JobBackend
from agent.models.base import Model
from agent.redact import install_log_redaction, redact
from agent.request import decode_request
from agent.service.deps import Service, ServiceDep, existing_build, record_of
from agent.service.guard import Guard, client_key
from agent.service.routes.chats import chat_routes
from agent.service.routes.pulls import pull_routes
from agent.service.routes.webhooks import router as webhook_router
from agent.service.schemas import (
    BuildAccepted,
    BuildList,
    ErrorBody,
    Health,
    errors,
    openapi,
    request_body_doc,
)
from agent.settings import Settings, get_settings
from agent.store.builds import BuildRecord

log = logging.getLogger("petsage.service")
ACCEPTED_TYPES = frozenset({"application/json", "text/plain", "application/octet-stream", ""})
_STATUS_FOR_KIND = {"undecodable": 400, "invalid": 422, "too_large": 413}


_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


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
            await asyncio.to_thread(service.stop)

    app = FastAPI(
        title="PetSage Builder",
        version=__version__,
        description="Turns a feature request into a tested, committed PetSage backend feature.",
        lifespan=lifespan,
    )
    app.include_router(_routes(settings))
    app.include_router(webhook_router)
    app.add_middleware(Guard, settings=settings)
    app.add_exception_handler(HTTPException, _redacted_http_error)
    static = Path(__file__).with_name("static")
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/", include_in_schema=False)
    def chat_page() -> FileResponse:
        return FileResponse(static / "index.html")

    app.openapi = lambda: openapi(app)  # type: ignore[method-assign]
    return app


def _routes(settings: Settings) -> APIRouter:
    def authorised(credentials: Credentials) -> None:
        # Tokens only in the Authorization header: a URL keeps them in logs and history.
        given = credentials.credentials if credentials is not None else None
        if not settings.token_matches(given):
            raise HTTPException(
                401,
                detail=errors(
                    "unauthorised", [(None, "a valid `Authorization: Bearer <token>` is required")]
                ),
                headers={"WWW-Authenticate": "Bearer"},
            )

    router = APIRouter(prefix="/api/v1")
    protected = APIRouter(dependencies=[Depends(authorised)])
    error_responses: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorBody, "description": text}
        for code, text in (
            (400, "Undecodable body"),
            (401, "Missing or wrong token"),
            (413, "Body over the size limit"),
            (415, "Unsupported content type"),
            (422, "A field breaks a rule"),
        )
    }

    @router.get("/health", response_model=Health, tags=["service"])
    def health(service: ServiceDep) -> Health:
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
        )

    @protected.post(
        "/builds",
        status_code=202,
        response_model=BuildAccepted,
        responses=error_responses,
        tags=["builds"],
        summary="Start a build",
        openapi_extra=request_body_doc(),
    )
    async def create_build(
        request: Request,
        response: Response,
        service: ServiceDep,
        idempotency_key: Annotated[
            str | None, Header(alias="Idempotency-Key", max_length=200)
        ] = None,
    ) -> BuildAccepted:
        """Take a request in any encoding of BLUEPRINT §1; the build runs in the background."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in ACCEPTED_TYPES:
            raise HTTPException(
                415,
                detail=errors(
                    "unsupported_media_type",
                    [
                        (
                            "content-type",
                            f"{content_type!r} is not accepted: send JSON or text/plain",
                        )
                    ],
                ),
            )
        body = await _read_limited(request, settings.max_request_bytes)
        try:
            # Off the event loop, as everything blocking below: no request can stall the others.
            feature_request = await run_in_threadpool(
                decode_request, body, max_bytes=settings.max_request_bytes
            )
        except RequestError as e:
            raise HTTPException(
                _STATUS_FOR_KIND.get(e.kind, 422),
                detail=errors(f"{e.kind}_request", [(p.where, p.reason) for p in e.problems]),
            ) from e
        try:
            record, created = await run_in_threadpool(
                service.store.create, uuid.uuid4().hex[:12], feature_request, idempotency_key
            )
        except IdempotencyConflict as e:
            raise HTTPException(
                422,
                detail=errors(
                    "idempotency_conflict",
                    [("Idempotency-Key", "already used for a different request")],
                ),
            ) from e
        if created:
            try:
                await run_in_threadpool(service.jobs.submit, record.id, record.feature)
            except JobsUnavailable as e:
                # Stored but never sent: it ends now, saying why, rather than wait forever.
                await run_in_threadpool(service.runner.fail_unsent, record.id, str(e))
                raise HTTPException(
                    503,
                    detail=errors("jobs_unavailable", [(None, f"{e}; post it again later")]),
                    headers={"Retry-After": "5"},
                ) from e
        else:
            response.headers["Idempotent-Replayed"] = "true"
        response.headers["Location"] = f"/api/v1/builds/{record.id}"
        return _accepted(record)

    @protected.get(
        "/builds", response_model=BuildList, tags=["builds"], summary="List builds, newest first"
    )
    def list_builds(
        service: ServiceDep,
        status: BuildStatus | None = None,
        feature: Annotated[str | None, Query(max_length=48)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    ) -> BuildList:
        records, total = service.store.page(
            status=status, feature=feature, limit=limit, offset=offset
        )
        return BuildList(
            items=[r.summary() for r in records], total=total, limit=limit, offset=offset
        )

    @protected.get(
        "/builds/{build_id}",
        response_model=BuildResult,
        responses={404: {"model": ErrorBody}},
        tags=["builds"],
    )
    def get_build(build_id: str, service: ServiceDep) -> BuildResult:
        return _result(record_of(service, build_id))

    @protected.get(
        "/builds/{build_id}/report",
        response_class=PlainTextResponse,
        tags=["builds"],
        responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}},
    )
    def get_report(build_id: str, service: ServiceDep) -> PlainTextResponse:
        result = _ended_result(record_of(service, build_id))
        return PlainTextResponse(result.report, media_type="text/markdown; charset=utf-8")

    @protected.get(
        "/builds/{build_id}/diff",
        response_class=PlainTextResponse,
        tags=["builds"],
        responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}},
    )
    def get_diff(build_id: str, service: ServiceDep) -> PlainTextResponse:
        result = _ended_result(record_of(service, build_id))
        if result.commit:
            text = service.runner.commit_diff(result.commit)
        elif result.attempt is not None and result.attempt.diff:
            text = result.attempt.diff
        else:
            raise HTTPException(
                404, detail=errors("no_diff", [(None, "this build wrote no files")])
            )
        return PlainTextResponse(text, media_type="text/x-diff; charset=utf-8")

    @protected.post(
        "/builds/{build_id}/cancel",
        status_code=202,
        response_model=BuildAccepted,
        tags=["builds"],
        responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}},
    )
    def cancel_build(build_id: str, service: ServiceDep) -> BuildAccepted:
        record = record_of(service, build_id)
        if record.status in FINAL_STATUSES:
            raise HTTPException(
                409,
                detail=errors(
                    "already_ended", [(None, f"the build already ended: {record.status}")]
                ),
            )
        service.jobs.cancel(build_id)
        service.runner.cancel_queued(build_id)
        return _accepted(record_of(service, build_id))

    @protected.get(
        "/builds/{build_id}/events",
        response_class=EventSourceResponse,
        tags=["builds"],
        responses={404: {"model": ErrorBody}, 429: {"model": ErrorBody}},
    )
    async def build_events(
        build_id: str,
        service: ServiceDep,
        record: Annotated[BuildRecord, Depends(existing_build)],
        _slot: Annotated[None, Depends(stream_slot)],
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    ) -> AsyncIterator[ServerSentEvent]:
        """Every stage event from the start (or after `Last-Event-ID`), then live until the end.

        The stream always ends: after the final event, and at once (replayed) for an ended
        build. Idle streams get a keep-alive comment every 15 s.
        """
        resume = last_event_id or ""
        after = int(resume) if resume.isascii() and resume.isdigit() and len(resume) < 10 else 0
        while True:
            batch = await run_in_threadpool(service.store.events, build_id, after)
            for seq, body in batch:
                after = seq
                yield ServerSentEvent(id=str(seq), event=body["stage"], data=body)
                if body["stage"] in ("done", "failed"):
                    return
            if not batch:
                current = await run_in_threadpool(service.store.get, build_id)
                if current is None:
                    return
                if current.status in FINAL_STATUSES:
                    # Ended without a final event (stored before every path stored one).
                    if not await run_in_threadpool(service.store.events, build_id, after):
                        event = final_event(_result(current))
                        yield ServerSentEvent(
                            id=str(after + 1), event=event.stage, data=event.to_dict()
                        )
                        return
                    continue
                await service.notifier.wait(1.0)

    protected.include_router(pull_routes(settings, ServiceDep, record_of))
    protected.include_router(chat_routes(ServiceDep))
    router.include_router(protected)
    return router


# --- helpers -------------------------------------------------------------------------------------


def stream_slot(request: Request, service: ServiceDep) -> Iterator[None]:
    """One of the bounded event-stream slots, held while the stream is open; 429 when none."""
    client = client_key(request.scope, {k.lower(): v for k, v in request.headers.items()})
    refusal = service.streams.take(client)
    if refusal is not None:
        raise HTTPException(
            429, detail=errors("too_many_streams", [(None, refusal)]), headers={"Retry-After": "5"}
        )
    with service.streams.held(client):
        yield


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(
            413,
            detail=errors(
                "too_large_request",
                [("body", f"{declared} bytes is over the limit of {limit} bytes")],
            ),
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(
                413,
                detail=errors("too_large_request", [("body", f"over the limit of {limit} bytes")]),
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def _redacted_http_error(request: Request, exc: Exception) -> Response:
    """Every error body and header, with credentials in URLs removed."""
    assert isinstance(exc, HTTPException)
    detail = json.loads(redact(json.dumps(exc.detail)))
    headers = {k: redact(v) for k, v in (exc.headers or {}).items()}
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)


def _ended_result(record: BuildRecord) -> BuildResult:
    """The result of a build that has ended; 409 while it is queued or running."""
    if record.result is None:
        reason = f"the build is {record.status}; its report and diff come when it ends"
        raise HTTPException(409, detail=errors("not_ended", [(None, reason)]))
    return record.result


def _accepted(record: BuildRecord) -> BuildAccepted:
    base = f"/api/v1/builds/{record.id}"
    return BuildAccepted(
        id=record.id,
        status=record.status,
        feature=record.feature,
        links={
            "self": base,
            "events": f"{base}/events",
            "report": f"{base}/report",
            "diff": f"{base}/diff",
            "cancel": f"{base}/cancel",
        },
    )


def _result(record: BuildRecord) -> BuildResult:
    if record.result is not None:
        return record.result
    return BuildResult(
        id=record.id,
        status=record.status,
        feature=record.feature,
        request=record.request,
        branch=record.request.branch,
        base_branch=record.request.base_branch,
    )
