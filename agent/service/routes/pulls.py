"""Pull-request routes: open one for a succeeded build; list, show, merge and close local PRs."""

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException

from agent.build.result import PullRequest
from agent.errors import BuilderError
from agent.repo.pulls import (
    LocalPulls,
    MergeRefused,
    PullRequestError,
    PullRequestNotFound,
    open_pull_request,
)
from agent.service.schemas import ErrorBody, errors
from agent.settings import Settings


def pull_routes(
    settings: Settings, service_dependency: Any, record_of: Callable[[Any, str], Any]
) -> APIRouter:
    """The routes; `service_dependency` resolves the running service, `record_of` a build."""
    router = APIRouter()

    @router.post(
        "/builds/{build_id}/pull-request",
        response_model=PullRequest,
        tags=["pull requests"],
        responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}, 502: {"model": ErrorBody}},
        summary="Open or update the pull request of a succeeded build",
    )
    def open_build_pull_request(build_id: str, service: service_dependency) -> PullRequest:
        record = record_of(service, build_id)
        if record.result is None or record.status != "succeeded":
            raise HTTPException(
                409, detail=errors("not_succeeded", [(None, f"the build is {record.status}")])
            )
        try:
            service.runner.sync_mirror(record.result.commit)
            pull = open_pull_request(record.result, settings, service.runner.repo)
        except BuilderError as e:
            raise HTTPException(502, detail=errors("pull_request_failed", [(None, str(e))])) from e
        service.store.finish(
            record.result.model_copy(update={"pull_request": pull, "pr_error": None})
        )
        return pull

    @router.get("/pulls", response_model=list[PullRequest], tags=["pull requests"])
    def list_pulls(service: service_dependency) -> list[PullRequest]:
        return LocalPulls(service.runner.repo).all()

    @router.get(
        "/pulls/{pull_id}",
        response_model=PullRequest,
        tags=["pull requests"],
        responses={404: {"model": ErrorBody}},
    )
    def get_pull(pull_id: str, service: service_dependency) -> PullRequest:
        return _pull_action(lambda pulls: pulls.get(pull_id), service, 404)

    @router.post(
        "/pulls/{pull_id}/merge",
        response_model=PullRequest,
        tags=["pull requests"],
        responses={
            404: {"model": ErrorBody},
            409: {"model": ErrorBody},
            422: {"model": ErrorBody},
        },
    )
    def merge_pull(pull_id: str, service: service_dependency) -> PullRequest:
        """Merge exactly the PR's recorded commit, only after the whole suite passes on the result.

        A branch that moved since the PR was opened or updated is refused (409, naming both
        commits) until the PR is updated; a merge git cannot make at all is a 422.

        With distributed workers the merge is made on the API's mirror of the shared remote,
        fetched first, and pushed there as a fast-forward before it counts as merged.
        """
        mirror = service.runner.mirror
        if mirror is None:
            return _pull_action(lambda pulls: pulls.merge(pull_id, settings), service, 409)
        try:
            service.runner.sync_mirror()
        except BuilderError as e:
            raise HTTPException(502, detail=errors("pull_request", [(None, str(e))])) from e
        return _pull_action(
            lambda pulls: pulls.merge(pull_id, settings, publish=mirror.push), service, 409
        )

    @router.post(
        "/pulls/{pull_id}/close",
        response_model=PullRequest,
        tags=["pull requests"],
        responses={409: {"model": ErrorBody}},
    )
    def close_pull(pull_id: str, service: service_dependency) -> PullRequest:
        return _pull_action(lambda pulls: pulls.close(pull_id), service, 409)

    return router


def _pull_action(
    action: Callable[[LocalPulls], PullRequest], service: Any, status: int
) -> PullRequest:
    try:
        return action(LocalPulls(service.runner.repo))
    except PullRequestError as e:
        code = (
            404
            if isinstance(e, PullRequestNotFound)
            else 422
            if isinstance(e, MergeRefused)
            else status
        )
        raise HTTPException(code, detail=errors("pull_request", [(None, str(e))])) from e
