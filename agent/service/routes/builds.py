"""Build routes: start a build, list them, read one, its report and diff, cancel it, follow it."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent

from agent.pipeline.result import FINAL_STATUSES, BuildResult, BuildStatus, final_event
from agent.request import decode_request
from agent.service.deps import BuildDep, ServiceDep, read_limited, record_of
from agent.service.guard import client_key
from agent.service.root import Service
from agent.service.schemas import (
    BuildAccepted,
    BuildList,
    BuildSummary,
    ErrorBody,
    errors,
    request_body_doc,
)
from agent.store.builds import BuildRecord

ACCEPTED_TYPES = frozenset({"application/json", "text/plain", "application/octet-stream", ""})

router = APIRouter(tags=["builds"])

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (400, "Undecodable body"),
        (401, "Missing or wrong token"),
        (413, "Body over the size limit"),
        (415, "Unsupported content type"),
        (422, "A field breaks a rule"),
    )
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}}
NOT_ENDED: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}, 409: {"model": ErrorBody}}


@router.post(
    "/builds",
    status_code=202,
    response_model=BuildAccepted,
    responses=ERROR_RESPONSES,
    summary="Start a build",
    openapi_extra=request_body_doc(),
)
async def create_build(
    request: Request,
    response: Response,
    service: ServiceDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> BuildAccepted:
    """Take a request in any encoding of BLUEPRINT §1; the build runs in the background."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ACCEPTED_TYPES:
        reason = f"{content_type!r} is not accepted: send JSON or text/plain"
        raise HTTPException(
            415, detail=errors("unsupported_media_type", [("content-type", reason)])
        )
    limit = service.settings.max_request_bytes
    body = await read_limited(
        request,
        limit,
        "too_large_request",
        over="over the limit of {limit} bytes",
        declared="{size} bytes is over the limit of {limit} bytes",
    )
    # Off the event loop, in one hop for all three steps (each hop costs the loop a wake-up and
    # a turn for the interpreter lock), on the service's own threads: no request can stall the
    # others. Once started, the three steps end together even if the client goes: no build is
    # ever stored and not sent.
    taking = functools.partial(_take, service, body, limit, idempotency_key)
    record, created = await asyncio.get_running_loop().run_in_executor(service.accepting, taking)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/builds/{record.id}"
    return accepted(record)


def _take(
    service: Service, body: bytes, limit: int, idempotency_key: str | None
) -> tuple[BuildRecord, bool]:
    """Decode, store and send a new build: (its record, False when the key replayed one)."""
    started = service.start_build(decode_request(body, max_bytes=limit), idempotency_key)
    if started.refused is not None:
        raise started.refused
    return started.record, started.created


@router.get("/builds", response_model=BuildList, summary="List builds, newest first")
def list_builds(
    service: ServiceDep,
    status: BuildStatus | None = None,
    feature: Annotated[str | None, Query(max_length=48)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> BuildList:
    records, total = service.store.page(status=status, feature=feature, limit=limit, offset=offset)
    items = [BuildSummary.model_validate(r.summary()) for r in records]
    return BuildList(items=items, total=total, limit=limit, offset=offset)


@router.get("/builds/{build_id}", response_model=BuildResult, responses=NOT_FOUND)
def get_build(build_id: str, record: BuildDep) -> BuildResult:
    return result_of(record)


@router.get("/builds/{build_id}/report", response_class=PlainTextResponse, responses=NOT_ENDED)
def get_report(build_id: str, record: BuildDep) -> PlainTextResponse:
    result = _ended_result(record)
    return PlainTextResponse(result.report, media_type="text/markdown; charset=utf-8")


@router.get("/builds/{build_id}/diff", response_class=PlainTextResponse, responses=NOT_ENDED)
def get_diff(build_id: str, record: BuildDep, service: ServiceDep) -> PlainTextResponse:
    result = _ended_result(record)
    if result.commit:
        text = service.runner.commit_diff(result.commit)
    elif result.attempt is not None and result.attempt.diff:
        text = result.attempt.diff
    else:
        raise HTTPException(404, detail=errors("no_diff", [(None, "this build wrote no files")]))
    return PlainTextResponse(text, media_type="text/x-diff; charset=utf-8")


@router.post(
    "/builds/{build_id}/cancel",
    status_code=202,
    response_model=BuildAccepted,
    responses=NOT_ENDED,
)
def cancel_build(build_id: str, record: BuildDep, service: ServiceDep) -> BuildAccepted:
    if record.status in FINAL_STATUSES:
        raise HTTPException(
            409,
            detail=errors("already_ended", [(None, f"the build already ended: {record.status}")]),
        )
    service.jobs.cancel(build_id)
    service.runner.cancel_queued(build_id)
    return accepted(record_of(service, build_id))


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


@router.get(
    "/builds/{build_id}/events",
    response_class=EventSourceResponse,
    responses={404: {"model": ErrorBody}, 429: {"model": ErrorBody}},
)
async def build_events(
    build_id: str,
    service: ServiceDep,
    record: BuildDep,
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
                    event = final_event(result_of(current))
                    yield ServerSentEvent(
                        id=str(after + 1), event=event.stage, data=event.to_dict()
                    )
                    return
                continue
            await service.notifier.wait(1.0)


# --- helpers -------------------------------------------------------------------------------------


def _ended_result(record: BuildRecord) -> BuildResult:
    """The result of a build that has ended; 409 while it is queued or running."""
    if record.result is None:
        reason = f"the build is {record.status}; its report and diff come when it ends"
        raise HTTPException(409, detail=errors("not_ended", [(None, reason)]))
    return record.result


def accepted(record: BuildRecord) -> BuildAccepted:
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


def result_of(record: BuildRecord) -> BuildResult:
    """The build's result, or what is known of it while it is queued or running."""
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
