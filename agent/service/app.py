"""The HTTP service: POST a feature request, follow its build live, read its result.

Builds are stored in SQLite beside the workspace and run by a job backend; a restart after a
crash ends the builds that were running and runs the queued ones.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from agent import __version__
from agent.errors import RequestError
from agent.models.base import Model
from agent.pulls import LocalPulls, PullRequestError, open_pull_request
from agent.request import FeatureRequest, decode_request
from agent.result import FINAL_STATUSES, BuildResult, BuildStatus, PullRequest
from agent.service.chat import chat_routes
from agent.service.jobs import JobBackend, ThreadJobs
from agent.service.runner import ServiceRunner
from agent.service.store import BuildRecord, BuildStore, IdempotencyConflict
from agent.settings import Settings, get_settings

ACCEPTED_TYPES = frozenset({"application/json", "text/plain", "application/octet-stream", ""})
_STATUS_FOR_KIND = {"undecodable": 400, "invalid": 422, "too_large": 413}
RESOURCE_EXAMPLE = {
    "feature": "pet_profile",
    "description": "Store the pets of a household",
    "requirements": "name: str len>=1 len<=40\nage: int >=0 <=40\nspecies: dog|cat|bird",
}
SEED_TEXT_FORM = (
    "**Feature Request:**\n- **Feature:** `smoke_test`\n"
    '- **Description:** "Ensure builder functional"\n- **Requirements:** "none"'
)


class Problem(BaseModel):
    field: str | None = Field(description="The request field (dotted path) or `body`.")
    reason: str


class ErrorBody(BaseModel):
    """Every 4xx answer: what kind of error, and each problem by field."""

    error: str = Field(examples=["invalid_request"])
    detail: list[Problem]


class EncodedPayload(BaseModel):
    """A request given as base64 (standard or URL-safe, padding optional) of its JSON."""

    payload: str


class BuildAccepted(BaseModel):
    id: str
    status: str
    feature: str
    links: dict[str, str]


class BuildList(BaseModel):
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


class Health(BaseModel):
    status: str
    version: str
    model: str
    workspace: str
    workers: int
    queued: int
    running: int


class Service:
    """What the routes share: settings, store, runner and job backend."""

    def __init__(
        self,
        settings: Settings,
        model: Model | None,
        jobs_factory: Callable[[ServiceRunner], JobBackend] | None,
    ) -> None:
        self.settings = settings
        state_dir = settings.resolved_state_dir()
        self.store = BuildStore(state_dir / "builds.db")
        self.runner = ServiceRunner(settings, self.store, model)
        factory = jobs_factory or (lambda runner: ThreadJobs(runner.run, settings.workers))
        self.jobs = factory(self.runner)
        self.runner.shutting_down = lambda: self.jobs.stopping

    def start(self) -> None:
        queued = self.runner.recover()
        self.jobs.start()
        for build_id in queued:
            record = self.store.get(build_id)
            if record is not None:
                self.jobs.submit(build_id, record.feature)

    def stop(self) -> None:
        self.jobs.shutdown()
        self.store.close()


def service_of(request: Request) -> Service:
    """The running app's `Service` (a FastAPI dependency)."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(service_of)]


def existing_build(build_id: str, service: ServiceDep) -> BuildRecord:
    """The build named in the path, or a 404 before any response starts."""
    return _record(service, build_id)


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

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = Service(settings, model, jobs_factory)
        app.state.service = service
        service.start()
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
    static = Path(__file__).with_name("static")
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/", include_in_schema=False)
    def chat_page() -> FileResponse:
        return FileResponse(static / "index.html")

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _routes(settings: Settings) -> APIRouter:
    def authorised(credentials: Credentials) -> None:
        tokens = settings.token_set
        if tokens and (credentials is None or credentials.credentials not in tokens):
            raise HTTPException(
                401,
                detail=_errors(
                    "unauthorised", [(None, "a valid `Authorization: Bearer <token>` is required")]
                ),
                headers={"WWW-Authenticate": "Bearer"},
            )

    router = APIRouter(prefix="/api/v1")
    protected = APIRouter(dependencies=[Depends(authorised)])
    errors: dict[int | str, dict[str, Any]] = {
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
        return Health(
            status="ok",
            version=__version__,
            model=service.runner.model_name,
            workspace=str(settings.workspace.resolve()),
            workers=settings.workers,
            queued=len(service.store.ids_with_status("queued")),
            running=len(service.store.ids_with_status("running")),
        )

    @protected.post(
        "/builds",
        status_code=202,
        response_model=BuildAccepted,
        responses=errors,
        tags=["builds"],
        summary="Start a build",
        openapi_extra=_request_body_doc(),
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
                detail=_errors(
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
            feature_request = decode_request(body, max_bytes=settings.max_request_bytes)
        except RequestError as e:
            raise HTTPException(
                _STATUS_FOR_KIND.get(e.kind, 422),
                detail=_errors(f"{e.kind}_request", [(p.where, p.reason) for p in e.problems]),
            ) from e
        try:
            record, created = service.store.create(
                uuid.uuid4().hex[:12], feature_request, idempotency_key
            )
        except IdempotencyConflict as e:
            raise HTTPException(
                422,
                detail=_errors(
                    "idempotency_conflict",
                    [("Idempotency-Key", "already used for a different request")],
                ),
            ) from e
        if created:
            service.jobs.submit(record.id, record.feature)
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
        return _result(_record(service, build_id))

    @protected.get(
        "/builds/{build_id}/report",
        response_class=PlainTextResponse,
        tags=["builds"],
        responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}},
    )
    def get_report(build_id: str, service: ServiceDep) -> PlainTextResponse:
        record = _record(service, build_id)
        if record.result is None:
            raise HTTPException(
                409,
                detail=_errors(
                    "not_ended",
                    [(None, f"the build is {record.status}; its report comes when it ends")],
                ),
            )
        return PlainTextResponse(record.result.report, media_type="text/markdown; charset=utf-8")

    @protected.get(
        "/builds/{build_id}/diff",
        response_class=PlainTextResponse,
        tags=["builds"],
        responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}},
    )
    def get_diff(build_id: str, service: ServiceDep) -> PlainTextResponse:
        record = _record(service, build_id)
        result = record.result
        if result is None:
            raise HTTPException(
                409, detail=_errors("not_ended", [(None, f"the build is {record.status}")])
            )
        if result.commit:
            text = service.runner.commit_diff(result.commit)
        elif result.attempt is not None and result.attempt.diff:
            text = result.attempt.diff
        else:
            raise HTTPException(
                404, detail=_errors("no_diff", [(None, "this build wrote no files")])
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
        record = _record(service, build_id)
        if record.status in FINAL_STATUSES:
            raise HTTPException(
                409,
                detail=_errors(
                    "already_ended", [(None, f"the build already ended: {record.status}")]
                ),
            )
        service.jobs.cancel(build_id)
        service.runner.cancel_queued(build_id)
        return _accepted(_record(service, build_id))

    @protected.get(
        "/builds/{build_id}/events",
        response_class=EventSourceResponse,
        tags=["builds"],
        responses={404: {"model": ErrorBody}},
    )
    async def build_events(
        build_id: str,
        service: ServiceDep,
        record: Annotated[BuildRecord, Depends(existing_build)],
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    ) -> AsyncIterator[ServerSentEvent]:
        """Every stage event from the start (or after `Last-Event-ID`), then live until the end."""
        resume = last_event_id or ""
        after = int(resume) if resume.isascii() and resume.isdigit() and len(resume) < 10 else 0
        while True:
            for seq, body in service.store.events(build_id, after):
                after = seq
                yield ServerSentEvent(id=str(seq), event=body["stage"], data=body)
                if body["stage"] in ("done", "failed"):
                    return
            await asyncio.sleep(0.1)

    @protected.post(
        "/builds/{build_id}/pull-request",
        response_model=PullRequest,
        tags=["pull requests"],
        responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}, 502: {"model": ErrorBody}},
        summary="Open or update the pull request of a succeeded build",
    )
    def open_build_pull_request(build_id: str, service: ServiceDep) -> PullRequest:
        record = _record(service, build_id)
        if record.result is None or record.status != "succeeded":
            raise HTTPException(
                409, detail=_errors("not_succeeded", [(None, f"the build is {record.status}")])
            )
        try:
            pull = open_pull_request(record.result, settings, service.runner.repo)
        except PullRequestError as e:
            raise HTTPException(502, detail=_errors("pull_request_failed", [(None, str(e))])) from e
        service.store.finish(
            record.result.model_copy(update={"pull_request": pull, "pr_error": None})
        )
        return pull

    @protected.get("/pulls", response_model=list[PullRequest], tags=["pull requests"])
    def list_pulls(service: ServiceDep) -> list[PullRequest]:
        return LocalPulls(service.runner.repo).all()

    @protected.get(
        "/pulls/{pull_id}",
        response_model=PullRequest,
        tags=["pull requests"],
        responses={404: {"model": ErrorBody}},
    )
    def get_pull(pull_id: str, service: ServiceDep) -> PullRequest:
        return _pull_action(lambda pulls: pulls.get(pull_id), service, 404)

    @protected.post(
        "/pulls/{pull_id}/merge",
        response_model=PullRequest,
        tags=["pull requests"],
        responses={409: {"model": ErrorBody}},
    )
    def merge_pull(pull_id: str, service: ServiceDep) -> PullRequest:
        """Merge into the base branch only after the whole suite passes on the merge result."""
        return _pull_action(lambda pulls: pulls.merge(pull_id, settings), service, 409)

    @protected.post(
        "/pulls/{pull_id}/close",
        response_model=PullRequest,
        tags=["pull requests"],
        responses={409: {"model": ErrorBody}},
    )
    def close_pull(pull_id: str, service: ServiceDep) -> PullRequest:
        return _pull_action(lambda pulls: pulls.close(pull_id), service, 409)

    protected.include_router(chat_routes(ServiceDep))
    router.include_router(protected)
    return router


def _pull_action(
    action: Callable[[LocalPulls], PullRequest], service: Service, status: int
) -> PullRequest:
    try:
        return action(LocalPulls(service.runner.repo))
    except PullRequestError as e:
        code = 404 if "no local pull request" in str(e) else status
        raise HTTPException(code, detail=_errors("pull_request", [(None, str(e))])) from e


# --- helpers -------------------------------------------------------------------------------------


def _errors(kind: str, problems: list[tuple[str | None, str]]) -> dict[str, Any]:
    return ErrorBody(
        error=kind, detail=[Problem(field=f, reason=r) for f, r in problems]
    ).model_dump()


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(
            413,
            detail=_errors(
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
                detail=_errors("too_large_request", [("body", f"over the limit of {limit} bytes")]),
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _record(service: Service, build_id: str) -> BuildRecord:
    record = service.store.get(build_id)
    if record is None:
        raise HTTPException(
            404, detail=_errors("not_found", [("build_id", f"no build {build_id!r}")])
        )
    return record


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


def _request_body_doc() -> dict[str, Any]:
    example = {
        "feature": "smoke_test",
        "description": "Ensure builder functional",
        "requirements": "none",
    }
    return {
        "requestBody": {
            "required": True,
            "description": 'A feature request as JSON, as `{"payload": base64}`, as raw base64, '
            "or in the seed's text form.",
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/FeatureRequest"},
                            {"$ref": "#/components/schemas/EncodedPayload"},
                        ]
                    },
                    "examples": {
                        "seed": {"summary": "The seed's smoke_test", "value": example},
                        "resource": {"summary": "A resource feature", "value": RESOURCE_EXAMPLE},
                        "base64": {
                            "summary": "Base64 of the JSON",
                            "value": {
                                "payload": base64.b64encode(json.dumps(example).encode()).decode()
                            },
                        },
                    },
                },
                "text/plain": {
                    "schema": {"type": "string"},
                    "examples": {
                        "seed": {"summary": "The seed's text form", "value": SEED_TEXT_FORM}
                    },
                },
            },
        }
    }


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (FeatureRequest, EncodedPayload):
        definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(definition.pop("$defs", {}))
        components[model.__name__] = definition
    app.openapi_schema = schema
    return schema
