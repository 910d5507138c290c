"""The target repository and the per-build git worktrees the builder works in.

A build never touches the target's own checkout: it works in a detached worktree under the
builder's state folder, and a branch moves only by a compare-and-swap `update-ref` to a commit
whose tests passed. Git runs as a subprocess (`agent.repo.gitcmd`); `TargetRepo.repo` gives
the GitPython handle the pull-request and remote code use, imported only there.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from agent.bundle import BundleFile
from agent.errors import GitFailed, WorkspaceError
from agent.prompt_files import skeleton_files
from agent.repo.gitcmd import Attempt, Git
from agent.repo.guards import check_build_id, check_object_id, file_lock, refuse_escaping_symlinks

if TYPE_CHECKING:
    import git

ZERO_SHA = "0" * 40
SAFE_GIT_CONFIG = ("core.hooksPath=/dev/null", "core.fsmonitor=false")
_worktree_guard = threading.Lock()


class TargetRepo:
    """A PetSage backend repository and the builder's state folder beside it."""

    def __init__(self, path: Path, state_dir: Path, *, author: tuple[str, str]) -> None:
        self.path = path.resolve()
        self.state_dir = state_dir.resolve()
        self.author = author
        self._repo: git.Repo | None = None
        # Never a repository above the workspace (gitcmd.clean_git_environment), no hook.
        self._run = Git(self.path, config=SAFE_GIT_CONFIG)

    # --- the repository --------------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return (self.path / ".git").exists()

    def needs_skeleton(self) -> bool:
        return not self.path.exists() or (self.path.is_dir() and not any(self.path.iterdir()))

    def ensure(self) -> None:
        """Create the skeleton repository in a missing or empty folder; check it otherwise."""
        if self.state_dir.is_relative_to(self.path):
            raise WorkspaceError(
                f"state folder {self.state_dir} is inside the target's working tree"
            )
        # Two first builds at once must not both lay the skeleton, nor see it half laid.
        with file_lock(self.state_dir / "locks" / "setup.lock"):
            if self.needs_skeleton():
                self._create_skeleton()
            if not self.path.is_dir():
                raise WorkspaceError(f"workspace {self.path} is a file, not a folder")
            if not self.exists:
                raise WorkspaceError(
                    f"workspace {self.path} is neither empty nor a git repository; "
                    "give an empty folder or a PetSage backend repository"
                )

    @property
    def repo(self) -> git.Repo:
        """The GitPython handle (for pull requests and the remote; a build does not use it)."""
        if self._repo is None:
            import git

            try:
                self._repo = git.Repo(self.path)
            except (git.InvalidGitRepositoryError, git.NoSuchPathError) as e:
                raise WorkspaceError(f"{self.path} is not a git repository") from e
        return self._repo

    def branches(self) -> dict[str, str]:
        """Local branch name → commit, in one git call."""
        out = self._run("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/")
        # Full names: a tag of the same name must not make a branch show up as `heads/x`.
        pairs = (line.split(" ", 1) for line in out.splitlines() if line)
        return {name.removeprefix("refs/heads/"): commit for name, commit in pairs}

    def show(self, commit: str, path: str) -> str | None:
        """A file's text at `commit`, or None when it is not there."""
        try:
            return self._run(
                "show", "--end-of-options", f"{check_object_id(commit)}:{path}", keep_newline=True
            )
        except GitFailed:
            return None

    def list_dir(self, commit: str, folder: str) -> list[str]:
        try:
            out = self._run(
                "ls-tree", "--name-only", "--end-of-options", f"{check_object_id(commit)}:{folder}"
            )
        except GitFailed:
            return []
        return [line for line in out.splitlines() if line]

    def commit_of_build(
        self, branch: str, build_id: str, *, base: str | None, tree: str | None
    ) -> str | None:
        """The commit on `branch` that `build_id` made, if any.

        Only a descendant of `base` (the commit the build started from) whose message carries
        this builder's `Build: <id> (model …` line and whose tree is `tree` (the one the build
        tested) counts: a commit that merely names the build is not taken for it.
        """
        if base is None or tree is None:
            return None
        check_build_id(build_id)
        base, tree = check_object_id(base), check_object_id(tree)
        try:
            found = self._run(
                "log",
                "--ancestry-path",
                f"--grep=^Build: {build_id} (model ",
                "--format=%H %T",
                "--end-of-options",
                f"{base}..refs/heads/{branch}",
                "--",
            )
        except GitFailed:
            return None
        for line in found.splitlines():
            commit, _, commit_tree = line.partition(" ")
            if commit_tree == tree:
                return commit
        return None

    def run_git(self, *args: str) -> str:
        """`git <args>` in the repository, hooks off; its output without the last newline."""
        return self._run(*args)

    def attempt_git(self, *args: str) -> Attempt:
        """`git <args>` as `run_git` runs it, for a command whose exit status is an answer."""
        return self._run.attempt(*args)

    def archive(self, commit: str) -> bytes:
        """`git archive` of `commit`: its tree as a tar stream."""
        return self._run.output([*self._run.options, "archive", commit])

    def tree_of(self, commit: str) -> str:
        """The tree id of `commit`."""
        return check_object_id(
            self._run(
                "rev-parse", "--verify", "--end-of-options", f"{check_object_id(commit)}^{{tree}}"
            )
        )

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether `ancestor` is in the history of `descendant` (False when either is unknown)."""
        try:
            self._run(
                "merge-base",
                "--is-ancestor",
                "--end-of-options",
                check_object_id(ancestor),
                check_object_id(descendant),
            )
        except GitFailed:
            return False
        return True

    def update_branch(self, branch: str, new: str, old: str | None, message: str) -> None:
        """Move `branch` to `new` only if it still points at `old` (None: must not exist yet)."""
        try:
            self._run("update-ref", "-m", message, f"refs/heads/{branch}", new, old or ZERO_SHA)
        except GitFailed as e:
            raise WorkspaceError(
                f"branch {branch} moved while this build ran; nothing was changed ({e.detail})"
            ) from e

    # --- locks and worktrees ---------------------------------------------------------------------

    @contextmanager
    def feature_lock(self, feature: str) -> Iterator[None]:
        """Serialise builds of one feature across threads and processes."""
        with file_lock(self.state_dir / "locks" / f"{feature}.lock"):
            yield

    @contextmanager
    def worktree(self, commit: str, name: str) -> Iterator[Worktree]:
        """A detached worktree at `commit`, removed afterwards whatever happens."""
        folder = self.state_dir / "worktrees" / check_build_id(name)
        with self._git_lock():
            try:
                self._run(
                    "worktree", "add", "--detach", "--quiet", str(folder), check_object_id(commit)
                )
            except GitFailed as e:
                raise WorkspaceError(f"cannot create a worktree at {commit}: {e.detail}") from e
        try:
            refuse_escaping_symlinks(folder)
            yield Worktree(folder, commit, self.author)
        finally:
            with self._git_lock():
                try:
                    self._run("worktree", "remove", "--force", str(folder))
                except GitFailed:
                    shutil.rmtree(folder, ignore_errors=True)
                    self._run("worktree", "prune")

    @contextmanager
    def _git_lock(self) -> Iterator[None]:
        with _worktree_guard, file_lock(self.state_dir / "locks" / "git.lock"):
            yield

    def _create_skeleton(self) -> None:
        """Lay the skeleton in a folder beside the workspace, then rename it into place.

        A crash part-way leaves only that folder behind, never a half-made workspace.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for stale in self.path.parent.glob(f".{self.path.name}.creating-*"):
            shutil.rmtree(stale, ignore_errors=True)
        scratch = self.path.parent / f".{self.path.name}.creating-{os.getpid()}"
        try:
            scratch.mkdir()
            for relative, content in skeleton_files().items():
                target = scratch / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content)
            run = Git(scratch, config=SAFE_GIT_CONFIG)
            run("init", "--quiet", "--initial-branch=main")
            run("add", "--all")
            _commit(run, "chore: PetSage backend skeleton", self.author)
            if self.path.is_dir():
                self.path.rmdir()
            scratch.rename(self.path)
        except (OSError, GitFailed) as e:
            shutil.rmtree(scratch, ignore_errors=True)
            raise WorkspaceError(f"cannot create the skeleton in {self.path}: {e}") from e


class Worktree:
    """One build's private checkout.

    Generated code never runs here: the box gets a copy of the files without `.git`. Even so,
    every git command names its repository explicitly (`GIT_DIR`, `GIT_WORK_TREE`, read once
    when the worktree is made) and runs with hooks and fsmonitor off, and a build's commit is
    the tree recorded before its tests ran (`record`), committed with `commit-tree` afterwards.
    """

    def __init__(self, path: Path, start: str, author: tuple[str, str]) -> None:
        self.path = path
        self.start = start
        self.author = author
        self.tree: str | None = None
        self._git = Git(
            path,
            env={
                "GIT_DIR": str(_git_dir_of(path)),
                "GIT_WORK_TREE": str(path),
                "GIT_OPTIONAL_LOCKS": "0",
            },
            config=SAFE_GIT_CONFIG,
        )

    def write(self, files: list[BundleFile]) -> None:
        """Write files without following any symlink, creating real folders only."""
        for file in files:
            target = self.path / file.path
            _make_dirs(self.path, target.parent)
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
            descriptor = os.open(target, flags, 0o644)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(file.content)

    def write_text(self, path: str, content: str) -> None:
        self.write([BundleFile(path=path, content=content)])

    def read(self, path: str) -> str:
        return (self.path / path).read_text(encoding="utf-8")

    def reset(self) -> None:
        """Back to the start commit, dropping every change of a previous round."""
        self._git("reset", "--hard", "--quiet", self.start)
        self._git("clean", "-fdxq")

    def stage(self, paths: list[str]) -> None:
        """Record exactly these files' current content as the commit to be."""
        self._git("add", "--", *paths)

    def record(self, paths: list[str]) -> str:
        """Stage `paths` and record the tree to commit, before any generated code runs."""
        self.stage(paths)
        self.tree = self._git("write-tree")
        return self.tree

    def commit_recorded(self, message: str) -> str:
        """Commit the tree `record` took, on the start commit; no hook, no work-tree config."""
        if self.tree is None:
            raise WorkspaceError("no tree was recorded before the tests ran")
        command = [*git_as(self.author)[1:], *_safe_options(), "commit-tree", self.tree]
        command += ["-p", self.start, "-m", message]
        return self._git.run(command).strip()

    def diff(self) -> str:
        """The staged change as a patch against the start commit."""
        return self._git("diff", "--cached", "--no-color", self.start, keep_newline=True)

    def merge(self, head: str, message: str) -> list[str]:
        """Merge `head` into this checkout; on conflict, abort and return the conflicting paths."""
        command = [
            *git_as(self.author)[1:],
            *_safe_options(),
            "merge",
            "--no-ff",
            "--no-edit",
            "--no-verify",
            "-m",
            message,
            head,
        ]
        try:
            self._git.run(command)
        except GitFailed:
            conflicts = self._git("diff", "--name-only", "--diff-filter=U").split()
            self._git("merge", "--abort")
            return conflicts or ["(unknown)"]
        return []

    def commit(self, message: str) -> str:
        _commit(self._git, message, self.author)
        return self._git("rev-parse", "HEAD")


def _git_dir_of(path: Path) -> Path:
    """The worktree's own git folder, from its `.git` file (read before anything runs there)."""
    marker = path / ".git"
    if marker.is_dir():
        return marker
    text = marker.read_text(encoding="utf-8").strip()
    if not text.startswith("gitdir: "):
        raise WorkspaceError(f"{marker} does not name a git folder")
    found = Path(text.removeprefix("gitdir: "))
    return found if found.is_absolute() else (path / found).resolve()


def _safe_options() -> list[str]:
    return [item for option in SAFE_GIT_CONFIG for item in ("-c", option)]


def _commit(runner: Git, message: str, author: tuple[str, str]) -> None:
    """Commit the index; a rebuild with identical files still records its own commit."""
    command = [*git_as(author)[1:], *_safe_options(), "commit", "--quiet", "--no-verify"]
    command += ["--allow-empty", "-m", message]
    runner.run(command)


def git_as(author: tuple[str, str]) -> list[str]:
    """`git` as the builder: its own name and email, never signing (no prompt can block it)."""
    name, email = author
    return [
        "git",
        "-c",
        f"user.name={name}",
        "-c",
        f"user.email={email}",
        "-c",
        "commit.gpgsign=false",
    ]


def _make_dirs(root: Path, folder: Path) -> None:
    current = root
    for part in folder.relative_to(root).parts:
        current = current / part
        if current.is_symlink():
            raise WorkspaceError(
                f"{current.relative_to(root)} is a symlink; refusing to write through it"
            )
        current.mkdir(exist_ok=True)
