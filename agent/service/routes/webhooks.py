"""`POST /api/v1/webhooks/github`: GitHub deliveries, signed, deduplicated, answered at once.

The signature is checked on the raw body before anything is parsed (401 otherwise); a
delivery id seen before starts nothing (200); an event the builder does not handle gets 204;
one it handles gets 202 and runs in the background (`agent.github.builds`): a build, or, for a
push to a base or a PR merged into it, a refresh job of the builder's PRs on that base
(`agent.github.follow`).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from agent.github.builds import GitHubBuilds
from agent.github.events import classify, verify
from agent.service.deps import ServiceDep, read_limited
from agent.service.root import Service
from agent.service.schemas import ErrorBody, errors
from agent.store.deliveries import first_delivery

#: GitHub caps a delivery at 25 MB; the events handled here are far smaller.
MAX_DELIVERY_BYTES = 5 * 1024 * 1024

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


@router.post(
    "/github",
    status_code=202,
    summary="Receive a GitHub webhook delivery",
    responses={
        200: {"description": "A redelivery: nothing new was started"},
        204: {"description": "An event the builder does not handle"},
        400: {"model": ErrorBody, "description": "Not a GitHub payload"},
        401: {"model": ErrorBody, "description": "Missing or wrong X-Hub-Signature-256"},
        413: {"model": ErrorBody},
        404: {"model": ErrorBody, "description": "No PETSAGE_FORGE_REPO: no webhook"},
    },
)
async def github_webhook(
    request: Request,
    service: ServiceDep,
    signature: Annotated[str | None, Header(alias="X-Hub-Signature-256")] = None,
    event: Annotated[str, Header(alias="X-GitHub-Event", max_length=100)] = "",
    delivery: Annotated[str, Header(alias="X-GitHub-Delivery", max_length=100)] = "",
) -> Response:
    """Issues labelled (or opened with) the trigger label, `/petsage build` on an issue and
    `/petsage <instruction>` on a pull request start builds; a push to a base branch or a pull
    request merged into it starts a refresh of the builder's pull requests on that base;
    everything else is ignored."""
    settings = service.settings
    if not settings.forge_repo:
        raise HTTPException(
            404, detail=errors("webhook_not_configured", [(None, "set PETSAGE_FORGE_REPO")])
        )
    body = await read_limited(
        request, MAX_DELIVERY_BYTES, "too_large_request", over="over {limit} bytes"
    )
    if not verify(settings.webhook_key, body, signature):  # never, without a secret
        raise HTTPException(
            401,
            detail=errors(
                "bad_signature",
                [("X-Hub-Signature-256", "missing, or not the HMAC-SHA256 of the body")],
            ),
        )
    try:
        payload = json.loads(body)
        trigger = (
            classify(event, payload, repo=settings.forge_repo, label=settings.trigger_label)
            if isinstance(payload, dict)
            else None
        )
    except (ValueError, KeyError, TypeError) as e:
        raise HTTPException(
            400, detail=errors("bad_payload", [("body", f"not a GitHub payload: {e}")])
        ) from e
    if trigger is None:
        return Response(status_code=204)
    if not delivery:
        raise HTTPException(400, detail=errors("bad_payload", [("X-GitHub-Delivery", "missing")]))
    if not await run_in_threadpool(first_delivery, service.store, delivery, event):
        return JSONResponse({"status": "duplicate", "delivery": delivery}, status_code=200)
    _builds(request, service).start(trigger)
    return JSONResponse({"status": "accepted", "delivery": delivery}, status_code=202)


def _builds(request: Request, service: Service) -> GitHubBuilds:
    state: Any = request.app.state
    builds: GitHubBuilds | None = getattr(state, "github_builds", None)
    if builds is None or builds.service is not service:
        builds = state.github_builds = GitHubBuilds(service)
    return builds
