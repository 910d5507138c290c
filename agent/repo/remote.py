"""A worker's own clone of the shared remote (`PETSAGE_GIT_REMOTE`).

Workers share no disk: each keeps a clone whose branches mirror the remote's. Before a build the
clone fetches every branch, and only branches (`refs/heads/*`, never tags: a tag named like a
branch must not shadow it); after a passing build it pushes the feature
branch, never forced, so a push that would lose someone else's commit is refused, not made.
An empty remote gets the PetSage skeleton as its `main` from the first worker that needs it.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import git

from agent.errors import ConfigError, WorkspaceError
from agent.repo.guards import check_object_id
from agent.repo.workspace import TargetRepo

_MIRROR = "+refs/heads/*:refs/heads/*"


class RemoteClone:
    """`repo` kept as a mirror of `remote`'s branches."""

    def __init__(self, repo: TargetRepo, remote: str | None) -> None:
        if not remote:
            raise ConfigError(
                "PETSAGE_GIT_REMOTE: distributed builds need a shared remote (a URL or path) "
                "that every worker fetches from and pushes to"
            )
        self.repo = repo
        self.remote = remote
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Make the clone if it is missing (no checkout: builds use worktrees of their own).

        Its branches are overwritten by every fetch, so an existing repository is used only if
        it is such a mirror already (marked `petsage.mirror` in its config): never a user's.
        """
        path = self.repo.path
        if not (path / ".git").exists():
            if path.exists() and any(path.iterdir()):
                raise WorkspaceError(
                    f"workspace {path} is neither empty nor a clone of {self.remote}"
                )
            path.mkdir(parents=True, exist_ok=True)
            repo = git.Repo.init(path, initial_branch="main")
            repo.create_remote("origin", self.remote)
            with repo.config_writer() as config:
                config.set_value("petsage", "mirror", "true")
            return
        try:
            marked = self._git("config", "--get", "petsage.mirror") == "true"
        except WorkspaceError:
            marked = False
        if not marked:
            raise WorkspaceError(
                f"workspace {path} is a git repository of its own, not a worker's mirror of "
                f"{self.remote}: its branches would be overwritten; give an empty folder"
            )
        self._git("remote", "set-url", "origin", self.remote)

    def sync(self) -> dict[str, str]:
        """Fetch every branch of the remote over the local ones; return branch → commit."""
        self._git("fetch", "--quiet", "--no-tags", "--prune", "--update-head-ok", "origin", _MIRROR)
        return self.repo.branches()

    def seed(self, base_branch: str = "main") -> bool:
        """Give an empty remote the skeleton as `base_branch`; False when it already has one."""
        if base_branch in self.sync():
            return False
        with tempfile.TemporaryDirectory(prefix="petsage-seed-") as scratch:
            skeleton = TargetRepo(
                Path(scratch) / "skeleton", Path(scratch) / "state", author=self.repo.author
            )
            skeleton.ensure()
            try:
                skeleton.repo.git.push(self.remote, f"main:refs/heads/{base_branch}")
            except git.GitCommandError:
                # Another worker seeded it first: theirs stands.
                self.sync()
                return False
        self.sync()
        return True

    def push(self, commit: str, branch: str) -> None:
        """Push `commit` as `branch`; the remote refuses anything but a fast-forward.

        The commit itself is pushed, not the local branch, so a fetch by another thread of
        this worker (which mirrors the remote's branches) can never make it push something else.
        """
        self._git("push", "--quiet", "origin", f"{check_object_id(commit)}:refs/heads/{branch}")

    def push_replacing(self, commit: str, branch: str, old: str) -> None:
        """Push `commit` as `branch` in place of `old` (a refreshed PR's branch, replayed
        onto its base): leased, so a branch someone moved on the remote is refused, not lost."""
        ref = f"refs/heads/{branch}"
        self._git(
            "push",
            "--quiet",
            f"--force-with-lease={ref}:{check_object_id(old)}",
            "origin",
            f"{check_object_id(commit)}:{ref}",
        )

    def commit_of_build(
        self,
        branch: str,
        build_id: str,
        *,
        base: str | None,
        tree: str | None,
        fetch: bool = True,
    ) -> str | None:
        """The commit `build_id` made on the remote's `branch`, if any (`fetch=False`: synced).

        `base` and `tree` are what the build recorded when it committed (see
        `TargetRepo.commit_of_build`); without them no commit is taken for the build's.
        """
        if fetch:
            self.sync()
        return self.repo.commit_of_build(branch, build_id, base=base, tree=tree)

    def _git(self, *args: str) -> str:
        with self._lock:
            return self._run(*args)

    def _run(self, *args: str) -> str:
        try:
            return str(self.repo.repo.git.execute(["git", *args]))
        except git.GitCommandError as e:
            detail = (e.stderr or e.stdout or "").strip()
            raise WorkspaceError(
                f"git {args[0]} with {self.remote} failed: {detail or e.status}"
            ) from e
