"""A build's pull request on the forge (GitHub's REST API): push the branch, open or update it."""

from __future__ import annotations

from typing import Any

import git
import httpx

from agent.errors import (
    ForgeError,
    PullRequestError,
)
from agent.pipeline.result import BuildResult, PullRequest
from agent.repo.forge import error_message, forge_client, send, standing_approvals
from agent.repo.guards import check_object_id
from agent.repo.workspace import TargetRepo
from agent.settings import Settings


def push_branch(repo: TargetRepo, remote: str, branch: str, commit: str) -> None:
    """Push `commit` (the build's, never the local tip) as `branch`, compare-and-swap.

    The remote's branch must be missing or an ancestor of `commit`; the push carries that
    value as its lease, so a branch that moves in between makes the remote refuse it.
    """
    commit = check_object_id(commit)
    ref = f"refs/heads/{branch}"
    try:
        listed = str(repo.repo.git.ls_remote(remote, ref)).split()
        old = listed[0] if listed else ""
        if old and old != commit and not repo.is_ancestor(old, commit):
            raise PullRequestError(
                f"{branch} on the remote is at {old[:12]}, which is not in the history of this "
                f"build's commit {commit[:12]}; refusing to overwrite it"
            )
        repo.repo.git.push(remote, f"--force-with-lease={ref}:{old}", f"{commit}:{ref}")
    except git.GitCommandError as e:
        raise PullRequestError(
            f"the remote refused the push of {branch}: {(e.stderr or '').strip()}"
        ) from e


def push_replacing(repo: TargetRepo, remote: str, branch: str, commit: str, old: str) -> None:
    """Push `commit` as `branch` in place of `old` (a PR refreshed onto its base), leased on
    `old`: a branch someone moved on the remote meanwhile is refused, never overwritten."""
    ref = f"refs/heads/{branch}"
    lease = f"--force-with-lease={ref}:{check_object_id(old)}"
    try:
        repo.repo.git.push(remote, lease, f"{check_object_id(commit)}:{ref}")
    except git.GitCommandError as e:
        raise PullRequestError(
            f"the remote refused the refreshed {branch}: {(e.stderr or '').strip()}"
        ) from e


def forge_pull(
    result: BuildResult, settings: Settings, repo: TargetRepo, title: str, body: str
) -> PullRequest:
    assert result.branch is not None and result.base_branch is not None
    assert result.commit is not None
    if not settings.forge_secret:
        raise PullRequestError("no forge token: set PETSAGE_FORGE_TOKEN (or GITHUB_TOKEN)")
    if not settings.git_remote:
        raise PullRequestError("no remote to push to: set PETSAGE_GIT_REMOTE")
    push_branch(repo, settings.git_remote, result.branch, result.commit)
    owner = settings.forge_repo.split("/")[0] if settings.forge_repo else ""
    with forge_client(settings) as client:
        base = f"/repos/{settings.forge_repo}"
        found = _call(
            client,
            "GET",
            f"{base}/pulls",
            params={"head": f"{owner}:{result.branch}", "state": "open"},
        )
        if found:
            number = found[0]["number"]
            pull = _call(
                client, "PATCH", f"{base}/pulls/{number}", json={"title": title, "body": body}
            )
            comment = f"Updated by build `{result.id}` at `{(result.commit or '')[:12]}`."
            comment += _reset_review(client, base, number, result)
            _call(client, "POST", f"{base}/issues/{number}/comments", json={"body": comment})
            updated = True
        else:
            pull = _call(
                client,
                "POST",
                f"{base}/pulls",
                json={
                    "title": title,
                    "head": result.branch,
                    "base": result.base_branch,
                    "body": body,
                    "draft": settings.pr_draft,
                },
            )
            number, updated = pull["number"], False
        if settings.pr_labels:
            _call(
                client,
                "POST",
                f"{base}/issues/{number}/labels",
                json={"labels": settings.pr_labels},
            )
    return PullRequest(
        kind="forge",
        id=str(number),
        url=pull.get("html_url"),
        branch=result.branch,
        base=result.base_branch,
        title=title,
        body=body,
        updated=updated,
        build_ids=[result.id],
        head_commit=result.commit,
    )


def _reset_review(client: httpx.Client, base: str, number: int, result: BuildResult) -> str:
    """A new build is not a refresh of builder-owned lines: the approvals given to what the PR
    showed before are dismissed (the reviewed commit is no longer the one a merge takes).
    What the update comment adds about it; a dismissal the forge refuses is said, not raised."""
    try:
        reviews = _call(client, "GET", f"{base}/pulls/{number}/reviews", params={"per_page": 100})
    except PullRequestError as e:
        return f" The approvals could not be read, so none was dismissed: {e}"
    approvals = standing_approvals(reviews or [])
    if not approvals:
        return ""
    message = (
        f"Build {result.id} changed the feature (now {(result.commit or '')[:12]}): "
        "the review is reset; review the new commit."
    )
    dismissed, kept = [], []
    for review in approvals:
        who = f"@{review['user']['login']}"
        try:
            path = f"{base}/pulls/{number}/reviews/{review['id']}/dismissals"
            _call(client, "PUT", path, json={"message": message, "event": "DISMISS"})
            dismissed.append(who)
        except PullRequestError:
            kept.append(who)
    said = ""
    if dismissed:
        said = " The feature changed, so the review is reset: dismissed the approval of "
        said += ", ".join(dismissed) + "."
    if kept:
        said += f" The forge refused to dismiss the approval of {', '.join(kept)}: review again."
    return said


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    try:
        response = send(client, method, path, **kwargs)
    except ForgeError as e:
        raise PullRequestError(str(e)) from e
    if response.status_code in (401, 403):
        raise PullRequestError(
            f"the forge refused the token ({response.status_code}): set PETSAGE_FORGE_TOKEN "
            "(or GITHUB_TOKEN) to a token that may open pull requests"
        )
    if response.status_code == 404:
        raise PullRequestError(
            f"the forge has no repository {path.split('/')[2:4]} (404): check PETSAGE_FORGE_REPO"
        )
    if response.status_code == 422:
        raise PullRequestError(
            f"the forge refused the pull request (422): {error_message(response)}"
        )
    if response.status_code >= 400:
        raise PullRequestError(
            f"the forge answered {response.status_code}: {error_message(response)}"
        )
    return response.json() if response.content else None


def scrubbed(settings: Settings, action: Any) -> PullRequest:
    """Run `action`; whatever error comes out has the token taken out of it."""
    try:
        pull: PullRequest = action()
        return pull
    except PullRequestError as e:
        message = str(e)
        for secret in (settings.forge_secret,):
            if secret:
                message = message.replace(secret, "***")
        raise PullRequestError(message) from None
