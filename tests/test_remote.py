"""A worker's clone of the shared remote: seeding, mirroring, fast-forward-only pushes."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ConfigError, WorkspaceError
from agent.remote import RemoteClone
from agent.workspace import TargetRepo
from tests.conftest import git

AUTHOR = ("Test", "test@example.invalid")


def clone_of(tmp_path: Path, remote: Path, name: str) -> RemoteClone:
    repo = TargetRepo(tmp_path / name, tmp_path / f"{name}-state", author=AUTHOR)
    clone = RemoteClone(repo, str(remote))
    clone.prepare()
    return clone


def commit_on(clone: RemoteClone, parent: str, message: str) -> str:
    """A commit on top of `parent`, made with plain git in a scratch worktree."""
    path = clone.repo.path
    tree = git(path, "rev-parse", f"{parent}^{{tree}}").strip()
    return git(
        path,
        "-c",
        "user.name=T",
        "-c",
        "user.email=t@e",
        "commit-tree",
        tree,
        "-p",
        parent,
        "-m",
        message,
    ).strip()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    path = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(path))
    return path


def test_the_first_clone_seeds_an_empty_remote_and_the_second_mirrors_it(
    tmp_path: Path, remote: Path
) -> None:
    first, second = clone_of(tmp_path, remote, "a"), clone_of(tmp_path, remote, "b")
    assert first.seed() is True
    assert second.seed() is False
    main = git(remote, "rev-parse", "main").strip()
    assert first.sync()["main"] == second.sync()["main"] == main
    assert "src/main.py" in git(remote, "ls-tree", "-r", "--name-only", "main")


def test_a_push_that_is_not_a_fast_forward_is_refused(tmp_path: Path, remote: Path) -> None:
    first, second = clone_of(tmp_path, remote, "a"), clone_of(tmp_path, remote, "b")
    first.seed()
    main = second.sync()["main"]
    ours = commit_on(first, main, "feat(x): one\n\nBuild: b1 (model offline, round 1)")
    first.push(ours, "feature/x")
    theirs = commit_on(second, main, "feat(x): stale\n\nBuild: b2 (model offline, round 1)")
    with pytest.raises(WorkspaceError, match="git push"):
        second.push(theirs, "feature/x")
    assert git(remote, "rev-parse", "feature/x").strip() == ours
    # The sync brings the other's commit; a push on top of it goes through.
    assert second.sync()["feature/x"] == ours
    second.push(commit_on(second, ours, "feat(x): two"), "feature/x")
    assert second.commit_of_build("feature/x", "b1") == ours
    assert second.commit_of_build("feature/x", "b2") is None
    assert second.commit_of_build("feature/none", "b1") is None


def test_a_clone_needs_a_remote_and_an_empty_or_cloned_folder(tmp_path: Path, remote: Path) -> None:
    repo = TargetRepo(tmp_path / "w", tmp_path / "state", author=AUTHOR)
    with pytest.raises(ConfigError, match="PETSAGE_GIT_REMOTE"):
        RemoteClone(repo, None)
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "notes.txt").write_text("mine")
    with pytest.raises(WorkspaceError, match="neither empty nor a clone"):
        RemoteClone(repo, str(remote)).prepare()
    # A repository of the user's own is never taken over: a fetch would overwrite its branches.
    own = tmp_path / "own"
    own.mkdir()
    git(own, "init", "-q", "-b", "main")
    mine = TargetRepo(own, tmp_path / "own-state", author=AUTHOR)
    with pytest.raises(WorkspaceError, match="git repository of its own"):
        RemoteClone(mine, str(remote)).prepare()
    # A mirror made before is used again, pointed at the remote it is given.
    made = clone_of(tmp_path, remote, "again")
    clone_of(tmp_path, tmp_path / "moved.git", "again")
    assert git(made.repo.path, "remote", "get-url", "origin").strip() == str(tmp_path / "moved.git")
