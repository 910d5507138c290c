"""Pull requests for succeeded builds: pushed to a forge (GitHub's REST API), or kept locally.

With `PETSAGE_FORGE_REPO` and a token, the branch is pushed to `PETSAGE_GIT_REMOTE` with
GitPython and a PR is opened (or, when one is open for the branch, updated and commented on).
Without a forge, a local PR is recorded beside the workspace; `merge` merges it into its base
only after the whole target suite passes on the merge result. The token never appears in a
result, a report, a log or an error.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import git

from agent import BLUEPRINT_VERSION
from agent.errors import (
    BuilderError,
    GitFailed,
    MergeRefused,
    PullRequestConflict,
    PullRequestError,
    PullRequestNotFound,
)
from agent.pipeline import persistence
from agent.pipeline.report import facts, request_lines
from agent.pipeline.result import BuildResult, PullRequest
from agent.pipeline.verify.render import verification_section
from agent.quoting import code_span, quoted
from agent.repo.guards import check_object_id, file_lock
from agent.repo.workspace import TargetRepo, git_as
from agent.review.forge_pull import forge_pull, scrubbed
from agent.review.refresh import PublishBranch, follow_base, refresh_held
from agent.settings import Settings


def open_pull_request(
    result: BuildResult, settings: Settings, repo: TargetRepo, *, footer: str = ""
) -> PullRequest:
    """Open or update the PR for a succeeded build's branch; `footer` ends its body."""
    if result.status != "succeeded" or not result.branch or result.request is None:
        raise PullRequestError(f"build {result.id} did not succeed; only succeeded builds get a PR")
    title, body = pr_title(result), pr_body(result) + footer
    if settings.forge_repo:
        return scrubbed(settings, lambda: forge_pull(result, settings, repo, title, body))
    return LocalPulls(repo).open_or_update(result, title, body)


def pr_title(result: BuildResult) -> str:
    assert result.request is not None
    return f"feat({result.request.feature}): {result.request.title}"[:120]


def pr_body(result: BuildResult) -> str:
    """The PR body: the builder's facts first, then the model's summary and the request quoted.

    Nothing a model or a requester wrote is interpreted: it is escaped, bounded and quoted.
    """
    assert result.request is not None
    lines = [
        f"Built by PetSage Builder (build {code_span(result.id)}, blueprint {BLUEPRINT_VERSION}).",
        "",
        *facts(result),
        f"- **Model:** {code_span(result.model)}, {len(result.rounds)} round(s), "
        f"{result.prompt_tokens} prompt + {result.completion_tokens} completion tokens",
        "",
        "**Files**",
        *(f"- {code_span(path)}" for path in result.files[:50]),
        "",
        "**Summary** (written by the model)",
        "",
        *quoted(result.summary or "(none)", 1500),
        "",
        *request_lines(result.request),
    ]
    if result.verification is not None:
        lines += ["", *verification_section(result.verification)]
    lines += ["", "<details><summary>Build report</summary>", "", result.report, "</details>"]
    return "\n".join(lines)


# --- local pull requests -------------------------------------------------------------------------


class LocalPulls:
    """Pull requests kept beside the workspace, for teams without a forge."""

    def __init__(self, repo: TargetRepo) -> None:
        self.repo = repo
        self.path = repo.state_dir / "pulls.json"

    def all(self) -> list[PullRequest]:
        if not self.path.exists():
            return []
        return [PullRequest.model_validate(item) for item in json.loads(self.path.read_text())]

    def get(self, pull_id: str) -> PullRequest:
        for pull in self.all():
            if pull.id == pull_id:
                return pull
        raise PullRequestNotFound(f"no local pull request {pull_id!r}")

    def open_or_update(self, result: BuildResult, title: str, body: str) -> PullRequest:
        """Open the branch's PR, or update its open one, pinned to the build's commit."""
        assert result.branch is not None and result.base_branch is not None
        head = check_object_id(result.commit or "")
        with file_lock(self.repo.state_dir / "locks" / "pulls.lock"):
            pulls = self.all()
            diff = self._diff(result.base_branch, head)
            for index, pull in enumerate(pulls):
                if pull.branch == result.branch and pull.state == "open":
                    pull = pull.model_copy(
                        update={
                            "title": title,
                            "body": body,
                            "diff": diff,
                            "head_commit": head,
                            "tested_on": None,
                            "needs_rebuild": None,
                            "updated": True,
                            "build_ids": [*pull.build_ids, result.id],
                            "comments": [
                                *pull.comments,
                                f"Updated by build {result.id} at {(result.commit or '')[:12]}",
                            ],
                        }
                    )
                    pulls[index] = pull
                    self._save(pulls)
                    return pull
            pull = PullRequest(
                kind="local",
                id=uuid.uuid4().hex[:8],
                branch=result.branch,
                base=result.base_branch,
                title=title,
                body=body,
                diff=diff,
                build_ids=[result.id],
                head_commit=head,
            )
            self._save([*pulls, pull])
            return pull

    def close(self, pull_id: str) -> PullRequest:
        return self._set(pull_id, state="closed")

    @contextmanager
    def base_lock(self, base: str) -> Iterator[None]:
        """Serialise merges into, and refreshes onto, one base branch."""
        with self.repo.feature_lock(f"base-{base.replace('/', '_')}"):
            yield

    def merge(
        self,
        pull_id: str,
        settings: Settings,
        publish: Callable[[str, str], None] | None = None,
        publish_branch: PublishBranch | None = None,
    ) -> PullRequest:
        """Merge exactly the PR's recorded commit, only if the whole suite passes on the result.

        The merge commit is made with plumbing (`merge-tree`, `commit-tree`) before any test
        runs, so nothing the tests write can change what is merged. A branch that moved since
        the PR was opened or updated is refused until the PR is updated. A PR behind its base
        is first refreshed (`agent.review.refresh`: the builder's own lines re-applied on the
        base, the suite run on the result, the PR pinned to that commit); afterwards every
        other open PR on the base that is now behind is refreshed too.
        `publish(commit, base)` runs before the base moves here: with distributed workers it
        pushes the merge to the shared remote, and a refusal leaves everything as it was;
        `publish_branch` does the same for a refreshed feature branch.
        """
        merged = self._merge_held(pull_id, settings, publish, publish_branch)
        follow_base(self, merged.base, settings, publish_branch, skip=pull_id)
        return self.get(pull_id)

    def _merge_held(
        self,
        pull_id: str,
        settings: Settings,
        publish: Callable[[str, str], None] | None,
        publish_branch: PublishBranch | None,
    ) -> PullRequest:
        pull = self.get(pull_id)
        if pull.state != "open":
            raise PullRequestConflict(f"pull request {pull_id} is {pull.state}, not open")
        if pull.head_commit is None:
            raise PullRequestConflict(
                f"pull request {pull_id} records no commit; update it by building again"
            )
        head = check_object_id(pull.head_commit)
        with self.base_lock(pull.base):
            branches = self.repo.branches()
            base_tip, tip = branches.get(pull.base), branches.get(pull.branch)
            if base_tip is None or tip is None:
                raise PullRequestConflict(
                    f"branch {pull.base if base_tip is None else pull.branch} no longer exists"
                )
            if tip != head:
                raise PullRequestConflict(
                    f"{pull.branch} moved to {tip} since pull request {pull_id} was opened or "
                    f"updated for {head}; update the pull request before merging"
                )
            if not self.repo.is_ancestor(base_tip, head) and base_tip != head:
                self._check_history(pull, base_tip, head)
                pull = refresh_held(self, pull, settings, publish_branch).pull
                head = check_object_id(pull.head_commit or "")
            merged = self._merge_commit(pull, base_tip, head)
            if pull.tested_on != base_tip or not self.repo.is_ancestor(base_tip, head):
                # Else the refresh ran the whole suite on this very tree, on this base.
                merged = self._vetted(pull, merged, base_tip, settings)
            if publish is not None:
                try:
                    publish(merged, pull.base)
                except BuilderError as e:
                    raise PullRequestError(f"the remote refused the merge: {e}") from e
            self.repo.update_branch(
                pull.base, merged, base_tip, f"petsage-builder: merge PR {pull_id}"
            )
        return self._set(pull_id, state="merged", merge_commit=merged)

    def _vetted(self, pull: PullRequest, merged: str, base_tip: str, settings: Settings) -> str:
        """The merge commit once the whole suite passed on it (with a merge revision if needed)."""
        from agent.box.run import run_suite_on

        with self.repo.worktree(merged, f"merge-{pull.id}-{uuid.uuid4().hex[:6]}") as tree:
            # Before any test runs: a base with several Alembic heads (made before refreshes
            # re-parented revisions) gets a merge revision (read, never run, here).
            heads = persistence.alembic_heads(tree.path)
            if len(heads) > 1:
                path, content = persistence.merge_revision(heads, pull.title)
                tree.write_text(path, content)
                tree.stage([path])
                merged = tree.commit(f"chore(migrations): merge Alembic heads for {pull.branch}")
            # A run the machine starved raises `InfrastructureError` (after one more try): not
            # a conflict, the merge can be asked again (503 in the API, its own CLI exit code).
            report = run_suite_on(tree.path, settings, self.repo, base_tip, stage="merge")
            if not report.ok:
                reasons = report.reasons(report.passed, "tests")
                raise PullRequestConflict(
                    f"the suite fails on the merge result: {'; '.join(reasons[:5])}"
                )
        return merged

    def _check_history(self, pull: PullRequest, base_tip: str, head: str) -> None:
        """A typed refusal for a branch that shares no history with its base."""
        try:
            self.repo.run_git("merge-base", "--end-of-options", base_tip, head)
        except GitFailed as e:
            raise MergeRefused(
                f"{pull.branch} cannot be merged into {pull.base}: refusing to merge unrelated "
                "histories"
            ) from e

    def note(self, pull_id: str, event: str, **changes: Any) -> PullRequest:
        """Record `changes` on the PR and add `event` to its events (its comments)."""
        with file_lock(self.repo.state_dir / "locks" / "pulls.lock"):
            pulls = self.all()
            for index, pull in enumerate(pulls):
                if pull.id == pull_id:
                    update = {**changes, "comments": [*pull.comments, event]}
                    pulls[index] = pull.model_copy(update=update)
                    self._save(pulls)
                    return pulls[index]
        raise PullRequestNotFound(f"no local pull request {pull_id!r}")

    def diff_of(self, base: str, head: str) -> str:
        """The PR's diff: `head` against its merge base with `base`."""
        return self._diff(base, head)

    def _merge_commit(self, pull: PullRequest, base: str, head: str) -> str:
        """The merge of `head` into `base` as a new commit, made without a work tree."""
        found = self.repo.attempt_git(
            *("merge-tree", "--write-tree", "--name-only", "--no-messages"),
            *("--end-of-options", base, head),
        )
        out = found.out
        if found.status == 1:
            conflicts = [line for line in out.splitlines()[1:] if line.strip()]
            raise PullRequestConflict(
                f"{pull.branch} does not merge cleanly into {pull.base}: conflicts in "
                f"{', '.join(conflicts) or '(unknown)'}; rebuild the feature on the new {pull.base}"
            )
        if found.status != 0:
            raise MergeRefused(
                f"{pull.branch} cannot be merged into {pull.base}: "
                f"{found.err.strip() or found.status}"
            )
        tree = check_object_id(out.splitlines()[0].strip())
        message = f"Merge {pull.branch} into {pull.base} ({pull.title})"
        try:
            commit = self.repo.run_git(
                *git_as(self.repo.author)[1:],
                *("commit-tree", tree, "-p", base, "-p", head, "-m", message),
            )
        except GitFailed as e:
            raise MergeRefused(f"cannot record the merge: {e.detail}") from e
        return check_object_id(commit.strip())

    def _set(self, pull_id: str, **changes: Any) -> PullRequest:
        with file_lock(self.repo.state_dir / "locks" / "pulls.lock"):
            pulls = self.all()
            for index, pull in enumerate(pulls):
                if pull.id == pull_id:
                    if "state" in changes and pull.state != "open":
                        raise PullRequestConflict(
                            f"pull request {pull_id} is {pull.state}, not open"
                        )
                    pulls[index] = pull.model_copy(update=changes)
                    self._save(pulls)
                    return pulls[index]
        raise PullRequestNotFound(f"no local pull request {pull_id!r}")

    def _diff(self, base: str, head: str) -> str:
        try:
            return str(
                self.repo.repo.git.diff(
                    "--no-color",
                    f"refs/heads/{base}...{head}",
                    "--",
                    strip_newline_in_stdout=False,
                )
            )
        except git.GitCommandError:
            return ""

    def _save(self, pulls: list[PullRequest]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps([p.model_dump(mode="json") for p in pulls], indent=1))
        temporary.replace(self.path)


__all__ = ["LocalPulls", "open_pull_request", "pr_body", "pr_title"]
