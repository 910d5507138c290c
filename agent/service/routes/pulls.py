"""Pull-request routes: open one for a succeeded build; list, show, merge, refresh, close local PRs.

Listed PRs carry `sync`, their state against their base (`up_to_date`, `behind`,
`needs_rebuild`); a refresh replays one (or every one behind) onto its base.

A pull-request error is mapped to its status code once, by the app's exception handlers
(`PullRequestNotFound` 404, `PullRequestConflict` 409, `MergeRefused` 422); a merge's or
refresh's suite run the machine starved twice is a 503 with Retry-After (`InfrastructureError`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from agent.errors import BuilderError, InfrastructureError
from agent.pipeline.result import PullRequest
from agent.review.pulls import LocalPulls, open_pull_request
from agent.review.refresh import PublishBranch, refresh_pull, sync_of, with_sync
from agent.service.deps import BuildDep, ServiceDep, bad_gateway
from agent.service.root import Service
from agent.service.schemas import ErrorBody, errors

router = APIRouter(tags=["pull requests"])


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}


@router.post(
    "/builds/{build_id}/pull-request",
    response_model=PullRequest,
    responses=_errors(404, 409, 502),
    summary="Open or update the pull request of a succeeded build",
)
def open_build_pull_request(build_id: str, record: BuildDep, service: ServiceDep) -> PullRequest:
    if record.result is None or record.status != "succeeded":
        raise HTTPException(
            409, detail=errors("not_succeeded", [(None, f"the build is {record.status}")])
        )
    with bad_gateway("pull_request_failed"):
        service.runner.sync_mirror(record.result.commit)
        pull = open_pull_request(record.result, service.settings, service.runner.repo)
    service.store.finish(record.result.model_copy(update={"pull_request": pull, "pr_error": None}))
    return pull


class RefreshOutcome(BaseModel):
    """What `POST /pulls/refresh` did to one pull request."""

    id: str
    refreshed: bool
    note: str = ""
    error: str | None = None
    #: True when the machine was too busy for its suite run (twice): nothing changed, and the
    #: same refresh can pass later (an `infrastructure` reason, never a refusal).
    retry: bool = False


@router.get("/pulls", response_model=list[PullRequest])
def list_pulls(service: ServiceDep) -> list[PullRequest]:
    repo = service.runner.repo
    return [with_sync(repo, pull) for pull in LocalPulls(repo).all()]


@router.get("/pulls/{pull_id}", response_model=PullRequest, responses=_errors(404))
def get_pull(pull_id: str, service: ServiceDep) -> PullRequest:
    repo = service.runner.repo
    return with_sync(repo, LocalPulls(repo).get(pull_id))


@router.post(
    "/pulls/refresh",
    response_model=list[RefreshOutcome],
    summary="Refresh every open pull request that is behind its base",
)
def refresh_pulls(service: ServiceDep) -> list[RefreshOutcome]:
    """Each PR behind its base is replayed onto it (see `POST /pulls/{id}/refresh`); one the
    builder refuses is reported with its reason and marked as needing a rebuild."""
    pulls, publish = LocalPulls(service.runner.repo), _publish_branch(service)
    outcomes: list[RefreshOutcome] = []
    for pull in pulls.all():
        if sync_of(pulls.repo, pull) != "behind":
            continue
        try:
            done = refresh_pull(pulls, pull.id, service.settings, publish)
            outcomes.append(RefreshOutcome(id=pull.id, refreshed=done.moved, note=done.note))
        except BuilderError as e:
            retry = isinstance(e, InfrastructureError)
            outcomes.append(RefreshOutcome(id=pull.id, refreshed=False, error=str(e), retry=retry))
    return outcomes


@router.post(
    "/pulls/{pull_id}/refresh",
    response_model=PullRequest,
    responses=_errors(404, 409, 422, 503),
    summary="Replay a pull request onto its base's tip",
)
def refresh_one(pull_id: str, service: ServiceDep) -> PullRequest:
    """The feature re-created on its base: the builder's own lines (router wiring, table
    registry, the Alembic revision's parent) re-applied, the feature's files proved unchanged,
    the whole suite run on the result; the PR is pinned to that commit and gets an event.
    A PR whose files someone edited is not rewritten (409, naming them)."""
    pulls = LocalPulls(service.runner.repo)
    refresh_pull(pulls, pull_id, service.settings, _publish_branch(service))
    return with_sync(pulls.repo, pulls.get(pull_id))


@router.post(
    "/pulls/{pull_id}/merge", response_model=PullRequest, responses=_errors(404, 409, 422, 503)
)
def merge_pull(pull_id: str, service: ServiceDep) -> PullRequest:
    """Merge exactly the PR's recorded commit, only after the whole suite passes on the result.

    A branch that moved since the PR was opened or updated is refused (409, naming both
    commits) until the PR is updated; a merge git cannot make at all is a 422.

    With distributed workers the merge is made on the API's mirror of the shared remote,
    fetched first, and pushed there as a fast-forward before it counts as merged.
    """
    pulls = LocalPulls(service.runner.repo)
    mirror = service.runner.mirror
    if mirror is None:
        return with_sync(pulls.repo, pulls.merge(pull_id, service.settings))
    with bad_gateway("pull_request"):
        service.runner.sync_mirror()
    merged = pulls.merge(
        pull_id, service.settings, publish=mirror.push, publish_branch=mirror.push_replacing
    )
    return with_sync(pulls.repo, merged)


@router.post("/pulls/{pull_id}/close", response_model=PullRequest, responses=_errors(409))
def close_pull(pull_id: str, service: ServiceDep) -> PullRequest:
    return LocalPulls(service.runner.repo).close(pull_id)


def _publish_branch(service: Service) -> PublishBranch | None:
    """With distributed workers, a refreshed branch goes to the shared remote (leased)."""
    mirror = service.runner.mirror
    if mirror is None:
        return None
    with bad_gateway("pull_request"):
        service.runner.sync_mirror()
    return mirror.push_replacing
