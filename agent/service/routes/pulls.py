"""Pull-request routes: open one for a succeeded build; list, show, merge and close local PRs.

A pull-request error is mapped to its status code once, by the app's exception handlers
(`PullRequestNotFound` 404, `PullRequestConflict` 409, `MergeRefused` 422).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from agent.pipeline.result import PullRequest
from agent.repo.pulls import LocalPulls, open_pull_request
from agent.service.deps import BuildDep, ServiceDep, bad_gateway
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


@router.get("/pulls", response_model=list[PullRequest])
def list_pulls(service: ServiceDep) -> list[PullRequest]:
    return LocalPulls(service.runner.repo).all()


@router.get("/pulls/{pull_id}", response_model=PullRequest, responses=_errors(404))
def get_pull(pull_id: str, service: ServiceDep) -> PullRequest:
    return LocalPulls(service.runner.repo).get(pull_id)


@router.post("/pulls/{pull_id}/merge", response_model=PullRequest, responses=_errors(404, 409, 422))
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
        return pulls.merge(pull_id, service.settings)
    with bad_gateway("pull_request"):
        service.runner.sync_mirror()
    return pulls.merge(pull_id, service.settings, publish=mirror.push)


@router.post("/pulls/{pull_id}/close", response_model=PullRequest, responses=_errors(409))
def close_pull(pull_id: str, service: ServiceDep) -> PullRequest:
    return LocalPulls(service.runner.repo).close(pull_id)
