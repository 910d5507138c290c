"""Open pull requests follow their base: where each stands, and the refresh that replays it.

A PR is `up_to_date` when its base's tip is in the history of its pinned commit, `behind` when
not, and `needs_rebuild` when the builder will not rewrite it (its branch moved past the pinned
commit, or a refresh was refused and no build has updated it since). A refresh replays the
feature onto the base (`agent.review.rebase`), runs the whole target suite on the result in the
sandbox, moves the branch compare-and-swap, pins the PR to the new commit, and records an event
with the proof: the feature folders' tree ids, equal before and after.

After every merge into a base, the base's other open PRs that are behind are refreshed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent.errors import (
    BuilderError,
    NeedsRebuild,
    PullRequestConflict,
    PullRequestError,
    WorkspaceError,
)
from agent.pipeline.result import PullRequest, PullSync
from agent.repo.guards import check_object_id
from agent.repo.workspace import TargetRepo
from agent.review import rebase
from agent.settings import Settings


class LocalPulls(Protocol):
    """What a refresh needs of the local pull requests (`agent.review.pulls.LocalPulls`): named
    here, so that the pulls, which refresh on every merge, and the refresh import one way."""

    repo: TargetRepo

    def all(self) -> list[PullRequest]: ...

    def get(self, pull_id: str) -> PullRequest: ...

    def base_lock(self, base: str) -> AbstractContextManager[None]: ...

    def note(self, pull_id: str, event: str, **changes: Any) -> PullRequest: ...

    def diff_of(self, base: str, head: str) -> str: ...


log = logging.getLogger("petsage.pulls")

#: `publish(commit, branch, old)`: puts a refreshed branch on the shared remote, leased on `old`.
PublishBranch = Callable[[str, str, str], None]


@dataclass(frozen=True)
class Refreshed:
    """What one refresh did to one PR."""

    pull: PullRequest
    moved: bool
    note: str


def sync_of(repo: TargetRepo, pull: PullRequest) -> PullSync | None:
    """Where an open PR stands against its base (None for a closed or merged one)."""
    if pull.state != "open":
        return None
    branches = repo.branches()
    base_tip, tip = branches.get(pull.base), branches.get(pull.branch)
    if pull.needs_rebuild or pull.head_commit is None or tip != pull.head_commit:
        return "needs_rebuild"
    if base_tip is None:
        return "behind"
    if repo.is_ancestor(base_tip, pull.head_commit) or repo.is_ancestor(pull.head_commit, base_tip):
        return "up_to_date"  # the base is in the PR's history, or the PR is in the base already
    return "behind"


def with_sync(repo: TargetRepo, pull: PullRequest) -> PullRequest:
    """`pull` with its `sync` filled in, as lists and the API show it."""
    sync = sync_of(repo, pull)
    reason = pull.needs_rebuild
    if sync == "needs_rebuild" and reason is None:
        reason = moved_reason(repo, pull, repo.branches().get(pull.branch))
    return pull.model_copy(update={"sync": sync, "needs_rebuild": reason})


def refresh_pull(
    pulls: LocalPulls, pull_id: str, settings: Settings, publish: PublishBranch | None = None
) -> Refreshed:
    """Replay one open PR onto its base's tip (no-op when up to date); see `refresh_held`."""
    pull = pulls.get(pull_id)
    with pulls.base_lock(pull.base):
        return refresh_held(pulls, pulls.get(pull_id), settings, publish)


def refresh_held(
    pulls: LocalPulls, pull: PullRequest, settings: Settings, publish: PublishBranch | None = None
) -> Refreshed:
    """The refresh, for a caller that holds the base's lock (a merge does).

    Raises `NeedsRebuild` (recorded on the PR) when the builder will not rewrite it.
    """
    if pull.state != "open":
        raise PullRequestConflict(f"pull request {pull.id} is {pull.state}, not open")
    repo = pulls.repo
    feature = rebase.feature_of(pull.branch)
    with repo.feature_lock(feature):
        branches = repo.branches()
        base_tip, tip = branches.get(pull.base), branches.get(pull.branch)
        if base_tip is None:
            raise PullRequestConflict(f"branch {pull.base} no longer exists")
        try:
            replayed = replay_pull(repo, pull, base_tip, tip, settings)
        except NeedsRebuild as e:
            raise _refused(pulls, pull, str(e)) from None
        if isinstance(replayed, str):
            return Refreshed(pull, False, replayed)
        head = check_object_id(pull.head_commit or "")
        if publish is not None:
            try:
                publish(replayed.commit, pull.branch, head)
            except BuilderError as e:
                raise PullRequestError(f"the remote refused the refreshed branch: {e}") from e
        try:
            repo.update_branch(
                pull.branch, replayed.commit, head, f"petsage-builder: refresh PR {pull.id}"
            )
        except WorkspaceError as e:
            raise PullRequestConflict(f"{pull.branch} moved during the refresh: {e}") from e
        event = refresh_event(pull, replayed)
        updated = pulls.note(
            pull.id,
            event,
            head_commit=replayed.commit,
            tested_on=base_tip,
            needs_rebuild=None,
            diff=pulls.diff_of(pull.base, replayed.commit),
        )
    log.info("PR %s: %s", pull.id, event)
    return Refreshed(updated, True, event)


def replay_pull(
    repo: TargetRepo, pull: PullRequest, base_tip: str, tip: str | None, settings: Settings
) -> rebase.Replayed | str:
    """The open PR's feature replayed onto `base_tip`, the whole suite passed on it; or a note
    saying why nothing needs replaying. `tip` is where the PR's branch is now (local or on the
    forge). Raises `NeedsRebuild` (nothing recorded) when the builder will not rewrite it: the
    branch is not at the pinned commit, a person edited its files, the suite fails.
    """
    if pull.head_commit is None or tip != pull.head_commit:
        raise NeedsRebuild(moved_reason(repo, pull, tip))
    head, base_tip = check_object_id(pull.head_commit), check_object_id(base_tip)
    if repo.is_ancestor(base_tip, head):
        return f"{pull.branch} is up to date with {pull.base}"
    if repo.is_ancestor(head, base_tip):
        return f"{pull.base} already holds {head[:12]}; nothing to do"
    check = _suite(settings, repo, pull, base_tip)
    return rebase.replay(repo, rebase.feature_of(pull.branch), base_tip, head, check=check)


def follow_base(
    pulls: LocalPulls,
    base: str,
    settings: Settings,
    publish: PublishBranch | None = None,
    *,
    skip: str | None = None,
) -> list[Refreshed]:
    """Refresh every open PR on `base` that is behind it; a refusal is recorded, not raised."""
    done: list[Refreshed] = []
    for pull in pulls.all():
        if pull.id == skip or pull.base != base or sync_of(pulls.repo, pull) != "behind":
            continue
        try:
            done.append(refresh_pull(pulls, pull.id, settings, publish))
        except BuilderError as e:  # the merge stands; this PR says why it did not follow
            log.warning("PR %s was not refreshed: %s", pull.id, e)
            done.append(Refreshed(pulls.get(pull.id), False, str(e)))
    return done


# --- helpers ------------------------------------------------------------------------------------


def _suite(
    settings: Settings, repo: TargetRepo, pull: PullRequest, base_tip: str
) -> Callable[[Path], None]:
    """The whole target suite, in the sandbox, on the replayed checkout; a failure refuses."""

    def check(path: Path) -> None:
        from agent.box.run import run_suite_on

        # A run the machine starved raises `InfrastructureError` (after one more try): never a
        # refusal recorded on the PR, the refresh can be asked again.
        report = run_suite_on(path, settings, repo, base_tip, stage="refresh")
        if not report.ok:
            reasons = report.reasons(report.passed, "tests")
            raise NeedsRebuild(
                f"the suite fails with {pull.branch} replayed onto {pull.base} at "
                f"{base_tip[:12]}: {'; '.join(reasons[:5])}; rebuild the feature on the new base"
            )

    return check


def refresh_event(pull: PullRequest, replayed: rebase.Replayed) -> str:
    """The PR event of a refresh: where it went, the proof, what the builder rewrote."""
    rewritten = ", ".join(replayed.rewritten) or "nothing"
    return (
        f"Rebased onto {pull.base} at {replayed.base[:12]} (now {replayed.commit[:12]}); "
        f"the feature's own files are unchanged: trees {replayed.proof()} before and after. "
        f"The builder re-applied its own lines in {rewritten}; the whole suite passed on the "
        "result. Only builder-owned lines changed, so the review is kept."
    )


def moved_reason(repo: TargetRepo, pull: PullRequest, tip: str | None) -> str:
    """Why a PR whose branch is not at its pinned commit will not be rewritten."""
    head = pull.head_commit
    if tip is None:
        return f"{pull.branch} no longer exists"
    if head is None:
        return f"pull request {pull.id} records no commit; build the feature again"
    if not repo.is_ancestor(head, tip):
        return (
            f"{pull.branch} was rewritten to {tip[:12]}, which does not contain the pinned "
            f"commit {head[:12]}; rebuild the feature"
        )
    out = repo.run_git("diff", "--name-only", "--end-of-options", head, tip, "--")
    edited = [path for path in out.splitlines() if path]
    feature = pull.branch.removeprefix(rebase.BRANCH_PREFIX)
    own = [path for path in edited if rebase.is_feature_file(path, feature)]
    what = f"the feature's own files {', '.join(own)}" if own else ", ".join(edited) or "nothing"
    return (
        f"{pull.branch} moved to {tip[:12]} past the pinned commit {head[:12]} by a commit the "
        f"pull request does not pin, which edits {what}; the builder does not rewrite a "
        "person's edit: rebuild the feature (a build with --open-pr updates the pull request)"
    )


def _refused(pulls: LocalPulls, pull: PullRequest, reason: str) -> NeedsRebuild:
    """Record `reason` on the PR (once) and return the error to raise."""
    if pull.needs_rebuild != reason:
        pulls.note(pull.id, f"Not refreshed: {reason}", needs_rebuild=reason)
    return NeedsRebuild(reason)
