"""A worker's clone of the shared remote: seeding, mirroring, fast-forward-only pushes."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ConfigError, WorkspaceError
from agent.repo.remote import RemoteClone
from agent.repo.workspace import TargetRepo
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
    tree = git(remote, "rev-parse", f"{ours}^{{tree}}").strip()
    assert second.commit_of_build("feature/x", "b1", base=main, tree=tree) == ours
    assert second.commit_of_build("feature/x", "b1", base=None, tree=None) is None
    assert second.commit_of_build("feature/x", "b2", base=main, tree=tree) is None
    assert second.commit_of_build("feature/none", "b1", base=main, tree=tree) is None


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


def test_a_tag_named_like_a_branch_and_a_forged_build_line_are_not_trusted(
    tmp_path: Path, remote: Path
) -> None:
    from agent.pipeline.loop import Builder
    from agent.settings import Settings

    first, second = clone_of(tmp_path, remote, "a"), clone_of(tmp_path, remote, "b")
    first.seed()
    main = first.sync()["main"]
    # Someone tags `feature/xy` and `main` on the shared remote.
    git(remote, "tag", "feature/xy", main)
    git(remote, "tag", "main", main)
    branches = second.sync()
    assert branches == {"main": main}
    assert git(second.repo.path, "tag", "--list") == ""
    # A build of `xy` in the mirror works despite the tags.
    settings = Settings(
        workspace=second.repo.path, state_dir=second.repo.state_dir, test_timeout=120
    )
    result = Builder(settings).run(
        {"feature": "xy", "description": "Ensure builder functional", "requirements": "none"}
    )
    assert result.status == "succeeded" and result.commit, result.reasons
    tree = second.repo.tree_of(result.commit)
    # Before its worker pushes, someone pushes a commit naming the build, on the base it used.
    forged = commit_on(
        first, main, f"feat(xy): forged\n\nBuild: {result.id} (model offline, round 1)"
    )
    first.push(forged, "feature/xy")
    assert second.commit_of_build("feature/xy", result.id, base=main, tree=tree) is None
    # The build's own commit, once pushed, is recognised; with no recorded tree, nothing is.
    git(remote, "update-ref", "refs/heads/feature/xy", main)
    second.sync()
    second.push(result.commit, "feature/xy")
    assert git(remote, "rev-parse", "refs/heads/feature/xy").strip() == result.commit
    assert second.commit_of_build("feature/xy", result.id, base=main, tree=tree) == result.commit
    assert second.commit_of_build("feature/xy", result.id, base=main, tree=None) is None
    with pytest.raises(WorkspaceError, match="not a commit id"):
        second.commit_of_build("feature/xy", result.id, base="--output=/tmp/x", tree=tree)
    with pytest.raises(WorkspaceError, match="not a build id"):
        second.commit_of_build("feature/xy", "../x", base=main, tree=tree)
