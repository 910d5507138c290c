"""The builder's pull requests on GitHub follow their base, as local ones do
(`agent.review.refresh`).

After a push to a base branch, or a pull request merged into it (a verified `push` or
`pull_request.closed` delivery), a job lists the open pull requests into that base, fetches the
base and their branches from PETSAGE_GIT_REMOTE, and refreshes each builder PR that is behind:
the same replay as a local refresh (the builder's own lines re-applied on the base's tip, the
feature's files proved unchanged by their tree ids, the whole suite run in the sandbox), then the
branch pushed leased on the commit it replaces, the PR's pin moved (`agent.store.forge_pulls`),
and a comment with the proof. Only builder-owned lines change, so the approvals stand: the
builder dismisses none. A PR whose branch is not the commit the builder pinned (a person pushed
to it), whose files a person edited, or whose suite fails on the new base is not rewritten: it is
marked as needing a rebuild, and its comment says why (once per reason).

Jobs run on a job backend of their own (`ThreadJobs`, one worker): one base at a time, never in
the route that received the delivery.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import git

from agent.errors import BuilderError, ConfigError, NeedsRebuild, WorkspaceError
from agent.github.events import MARKER, BaseMoved
from agent.jobs.threads import ThreadJobs
from agent.pipeline.result import PullRequest
from agent.repo.forge import GitHub
from agent.repo.guards import check_object_id
from agent.repo.workspace import TargetRepo
from agent.review import rebase
from agent.review.forge_pull import push_replacing
from agent.review.refresh import replay_pull
from agent.settings import Settings
from agent.store.builds import BuildStore
from agent.store.forge_pulls import ForgePin, ForgePins

log = logging.getLogger("petsage.github")
#: Where fetched forge branches are kept: never over a local branch.
FETCHED = "refs/petsage/forge/"
_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")


@dataclass(frozen=True)
class Followed:
    """What following the base did to one pull request."""

    number: int
    refreshed: bool
    note: str


class BaseFollower:
    """Submits a job per moved base; the job refreshes that base's builder PRs on GitHub."""

    def __init__(self, settings: Settings, repo: TargetRepo, store: BuildStore) -> None:
        self.settings = settings
        self.repo = repo
        self.pins = ForgePins(store)
        self._moves: dict[str, BaseMoved] = {}
        self._lock = threading.Lock()
        self.jobs = ThreadJobs(self._run, workers=1)
        self.jobs.start()

    def submit(self, moved: BaseMoved) -> None:
        """Queue a refresh of `moved.base`'s PRs; jobs of one base never run at once."""
        job = uuid.uuid4().hex[:12]
        with self._lock:
            self._moves[job] = moved
        self.jobs.submit(job, f"base:{moved.base}")

    def close(self) -> None:
        """Take no more jobs; a running one stops after the PR it is refreshing."""
        self.jobs.shutdown()

    def _run(self, job: str, should_stop: Callable[[], bool]) -> None:
        with self._lock:
            moved = self._moves.pop(job)
        try:
            with GitHub(self.settings) as github:
                done = follow_base(
                    github, self.repo, self.pins, self.settings, moved.base, should_stop
                )
            for item in done:
                log.info("PR #%s after %s moved: %s", item.number, moved.base, item.note)
        except BuilderError as e:
            log.error("following %s to %s: %s", moved.base, moved.commit[:12], e)


def follow_base(
    github: GitHub,
    repo: TargetRepo,
    pins: ForgePins,
    settings: Settings,
    base: str,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[Followed]:
    """Refresh every open builder PR into `base` on GitHub that is behind it."""
    if not settings.git_remote:
        raise ConfigError("PETSAGE_GIT_REMOTE: GitHub pull requests follow their base through it")
    ours = [pull for pull in github.open_pulls(_checked(base)) if _is_builders(pull, github.repo)]
    if not ours:
        return []
    tips = fetch(repo, settings.git_remote, [base, *(str(p["head"]["ref"]) for p in ours)])
    if base not in tips:
        raise WorkspaceError(f"{base} is not on the remote")
    done = []
    for pull in ours:
        if should_stop():
            break
        refresher = _Refresh(github, repo, pins, settings, pull, base)
        try:
            done.append(refresher.run(tips[base], tips.get(refresher.branch)))
        except BuilderError as e:  # the others still follow; this one says why it did not
            log.warning("PR #%s was not refreshed: %s", refresher.number, e)
            done.append(Followed(refresher.number, False, str(e)))
    return done


def fetch(repo: TargetRepo, remote: str, branches: list[str]) -> dict[str, str]:
    """Fetch `branches` from `remote` beside the local ones; branch → commit (missing: absent)."""
    names = sorted({_checked(branch) for branch in branches})
    specs = [f"+refs/heads/{name}:{FETCHED}{name}" for name in names]
    try:  # network git goes through GitPython, as the other pull-request and remote code's
        repo.repo.git.fetch("--quiet", "--no-tags", "--no-write-fetch-head", remote, *specs)
    except git.GitCommandError as e:
        raise WorkspaceError(f"cannot fetch {', '.join(names)}: {(e.stderr or '').strip()}") from e
    out = repo.run_git("for-each-ref", "--format=%(refname) %(objectname)", FETCHED)
    found = dict(line.split(" ", 1) for line in out.splitlines() if line)
    return {name: found[FETCHED + name] for name in names if FETCHED + name in found}


class _Refresh:
    """One builder PR on GitHub brought onto its base's tip, or marked as needing a rebuild."""

    def __init__(
        self,
        github: GitHub,
        repo: TargetRepo,
        pins: ForgePins,
        settings: Settings,
        pull: dict[str, Any],
        base: str,
    ) -> None:
        self.github, self.repo, self.pins, self.settings = github, repo, pins, settings
        self.number = int(pull["number"])
        self.branch = str(pull["head"]["ref"])
        self.feature = rebase.feature_of(self.branch)
        self.base = base
        self.title = str(pull.get("title") or "")

    def run(self, base_tip: str, tip: str | None) -> Followed:
        pin = self.pins.get(self.number, self.feature)
        if pin is None:
            return Followed(self.number, False, "no build of this builder pins it; left alone")
        if pin.needs_rebuild is not None and tip == pin.head_commit:
            return Followed(self.number, False, f"needs a rebuild: {pin.needs_rebuild}")
        pull = PullRequest(
            kind="forge",
            id=str(self.number),
            branch=self.branch,
            base=self.base,
            title=self.title,
            head_commit=pin.head_commit,
        )
        with self.repo.feature_lock(self.feature):
            try:
                replayed = replay_pull(self.repo, pull, base_tip, tip, self.settings)
            except NeedsRebuild as e:
                return self._refused(pin, base_tip, str(e))
            if isinstance(replayed, str):
                return Followed(self.number, False, replayed)
            return self._publish(pin, pull, replayed)

    def _publish(self, pin: ForgePin, pull: PullRequest, replayed: rebase.Replayed) -> Followed:
        head = check_object_id(pin.head_commit)
        approvals = self.github.approvals(self.number)
        assert self.settings.git_remote is not None
        push_replacing(self.repo, self.settings.git_remote, self.branch, replayed.commit, head)
        self.pins.record(ForgePin(self.number, pin.build_id, replayed.commit, replayed.base))
        with contextlib.suppress(WorkspaceError):  # the local branch follows, if it was there
            self.repo.update_branch(
                self.branch, replayed.commit, head, f"petsage-builder: refresh PR #{self.number}"
            )
        before = rebase.feature_trees(self.repo, self.feature, head)
        after = rebase.feature_trees(self.repo, self.feature, replayed.commit)
        self.github.comment(
            self.number, refreshed_comment(pull, replayed, before, after, approvals)
        )
        return Followed(self.number, True, f"rebased onto {pull.base} at {replayed.base[:12]}")

    def _refused(self, pin: ForgePin, base_tip: str, reason: str) -> Followed:
        if pin.needs_rebuild != reason:
            self.pins.record(replace(pin, needs_rebuild=reason))
            self.github.comment(
                self.number,
                f"**Not rebased** onto {self.base} at {base_tip}: this pull request needs a "
                f"rebuild, and the builder left its branch as it was.\n\n{_quoted(reason)}\n\n"
                f"Comment `/petsage rebuild` to build the feature again on the new {self.base}."
                f"\n\n{MARKER}",
            )
        return Followed(self.number, False, f"needs a rebuild: {reason}")


def refreshed_comment(
    pull: PullRequest,
    replayed: rebase.Replayed,
    before: dict[str, str],
    after: dict[str, str],
    approvals: dict[str, str],
) -> str:
    """The PR comment after a refresh: where it went, the proof, what the builder rewrote."""
    rows = [f"| `{folder}` | `{before[folder]}` | `{after[folder]}` |" for folder in before]
    rewritten = ", ".join(f"`{path}`" for path in replayed.rewritten) or "nothing"
    who = ", ".join(f"@{user} (at `{commit[:12]}`)" for user, commit in sorted(approvals.items()))
    review = f"the approvals of {who} stand" if who else "it has no approval yet"
    return "\n".join(
        [
            f"Rebased onto {pull.base} at {replayed.base}; the feature's own files are "
            f"unchanged (now `{replayed.commit}`).",
            "",
            "| feature folder | tree before | tree after |",
            "| --- | --- | --- |",
            *rows,
            "",
            f"The builder re-applied its own lines in {rewritten}; the whole target suite "
            "passed on the result, in the sandbox. Only builder-owned lines changed, so the "
            f"review is kept: {review}.",
            "",
            MARKER,
        ]
    )


def _is_builders(pull: dict[str, Any], repo: str) -> bool:
    """A PR from a `feature/<f>` branch of this repository (never a fork's)."""
    head = pull.get("head") or {}
    branch, source = str(head.get("ref") or ""), (head.get("repo") or {}).get("full_name")
    if not branch.startswith(rebase.BRANCH_PREFIX) or str(source).lower() != repo.lower():
        return False
    try:
        rebase.feature_of(branch)
    except BuilderError:
        return False
    return True


def _checked(branch: str) -> str:
    """A branch name from a delivery or the forge, refused unless git would take it as one."""
    if not _BRANCH.fullmatch(branch) or ".." in branch or branch.endswith((".lock", "/", ".")):
        raise WorkspaceError(f"{branch[:100]!r} is not a branch name the builder follows")
    return branch


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" for line in text.splitlines())


__all__ = ["FETCHED", "BaseFollower", "Followed", "fetch", "follow_base", "refreshed_comment"]
