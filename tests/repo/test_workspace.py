from pathlib import Path

import pytest

from agent.bundle import BundleFile
from agent.errors import WorkspaceError
from agent.prompt_files import skeleton_files
from agent.repo.workspace import TargetRepo
from tests.conftest import branch_files, git, refs

AUTHOR = ("PetSage Builder", "builder@petsage.invalid")


def repo_at(path: Path, tmp_path: Path) -> TargetRepo:
    return TargetRepo(path, tmp_path / "state", author=AUTHOR)


def test_a_missing_folder_becomes_the_skeleton_with_one_commit_on_main(tmp_path: Path) -> None:
    target = repo_at(tmp_path / "new" / "petsage_backend", tmp_path)
    target.ensure()
    assert git(target.path, "rev-list", "--count", "main").strip() == "1"
    assert set(branch_files(target.path, "main")) == set(skeleton_files())
    assert git(target.path, "status", "--porcelain") == ""
    assert (
        git(target.path, "log", "-1", "--format=%an <%ae>").strip()
        == "PetSage Builder <builder@petsage.invalid>"
    )


def test_an_empty_folder_becomes_the_skeleton(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    target = repo_at(tmp_path / "empty", tmp_path)
    assert target.needs_skeleton()
    target.ensure()
    assert "main" in target.branches()


def test_a_folder_with_files_that_is_no_repository_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "stuff"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(WorkspaceError, match="neither empty nor a git repository"):
        repo_at(folder, tmp_path).ensure()
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_state_inside_the_working_tree_is_refused(tmp_path: Path) -> None:
    target = TargetRepo(tmp_path / "ws", tmp_path / "ws" / ".state", author=AUTHOR)
    with pytest.raises(WorkspaceError, match="inside the target's working tree"):
        target.ensure()


def test_worktree_is_detached_private_and_removed(tmp_path: Path) -> None:
    target = repo_at(tmp_path / "ws", tmp_path)
    target.ensure()
    start = target.branches()["main"]
    before = refs(target.path)
    with target.worktree(start, "b1") as worktree:
        assert worktree.path.is_relative_to(tmp_path / "state")
        worktree.write([BundleFile(path="src/features/pets/a.py", content="a = 1\n")])
        worktree.stage(["src/features/pets/a.py"])
        assert "+a = 1" in worktree.diff()
        sha = worktree.commit("feat(pets): a")
    assert not (tmp_path / "state" / "worktrees" / "b1").exists()
    assert refs(target.path) == before
    assert "worktrees/b1" not in git(target.path, "worktree", "list")
    target.update_branch("feature/pets", sha, None, "test")
    assert target.branches()["feature/pets"] == sha
    assert git(target.path, "status", "--porcelain") == ""


def test_update_branch_is_compare_and_swap(tmp_path: Path) -> None:
    target = repo_at(tmp_path / "ws", tmp_path)
    target.ensure()
    main = target.branches()["main"]
    target.update_branch("feature/x", main, None, "first")
    with pytest.raises(WorkspaceError, match="moved while this build ran"):
        target.update_branch("feature/x", main, None, "second creation")
    with pytest.raises(WorkspaceError, match="moved while this build ran"):
        target.update_branch("feature/x", main, "1" * 40, "stale old value")


def test_worktree_reset_drops_a_previous_round(tmp_path: Path) -> None:
    target = repo_at(tmp_path / "ws", tmp_path)
    target.ensure()
    with target.worktree(target.branches()["main"], "b2") as worktree:
        worktree.write([BundleFile(path="src/features/pets/a.py", content="a = 1\n")])
        worktree.write_text("src/main.py", "changed = True\n")
        worktree.reset()
        assert not (worktree.path / "src/features/pets").exists()
        assert worktree.read("src/main.py") == skeleton_files()["src/main.py"]


def test_writing_through_a_symlink_is_refused(tmp_path: Path) -> None:
    target = repo_at(tmp_path / "ws", tmp_path)
    target.ensure()
    outside = tmp_path / "outside"
    outside.mkdir()
    with target.worktree(target.branches()["main"], "b3") as worktree:
        (worktree.path / "src/features/pets").symlink_to(outside)
        with pytest.raises(WorkspaceError, match="symlink"):
            worktree.write([BundleFile(path="src/features/pets/a.py", content="a = 1\n")])
        (worktree.path / "src/evil.py").symlink_to(outside / "target.py")
        with pytest.raises(OSError):
            worktree.write([BundleFile(path="src/evil.py", content="a = 1\n")])
    assert list(outside.iterdir()) == []


def test_show_and_list_dir_read_a_commit(tmp_path: Path) -> None:
    target = repo_at(tmp_path / "ws", tmp_path)
    target.ensure()
    main = target.branches()["main"]
    assert target.show(main, "src/main.py") == skeleton_files()["src/main.py"]
    assert target.show(main, "nope.py") is None
    assert target.list_dir(main, "src/features") == ["__init__.py"]
    assert target.list_dir(main, "missing") == []


def test_a_crash_while_laying_the_skeleton_leaves_no_half_workspace(tmp_path: Path) -> None:
    stale = tmp_path / ".petsage_backend.creating-999"
    (stale / "src").mkdir(parents=True)
    target = repo_at(tmp_path / "petsage_backend", tmp_path)
    target.ensure()
    assert not stale.exists()
    assert "main" in target.branches()
    assert not list(tmp_path.glob(".petsage_backend.creating-*"))


def test_a_checkout_with_a_symlink_leading_outside_is_refused(tmp_path: Path) -> None:
    target = repo_at(tmp_path / "ws", tmp_path)
    target.ensure()
    (target.path / "src" / "inside.py").symlink_to("main.py")
    (target.path / "src" / "escape").symlink_to("/etc")
    git(target.path, "add", "-A")
    git(target.path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "links")
    with (
        pytest.raises(WorkspaceError, match="symlink that leads outside it: src/escape -> /etc"),
        target.worktree(target.branches()["main"], "b4"),
    ):
        pass
    assert not (tmp_path / "state" / "worktrees" / "b4").exists()


def test_the_recorded_tree_is_committed_and_no_planted_hook_runs(tmp_path: Path) -> None:
    target = repo_at(tmp_path / "ws", tmp_path)
    target.ensure()
    main = target.branches()["main"]
    marker = tmp_path / "hook-ran"
    with target.worktree(main, "b9") as worktree:
        worktree.write([BundleFile(path="src/features/pets/a.py", content="a = 1\n")])
        tree = worktree.record(["src/features/pets/a.py"])
        # What generated code did before this fix: its own .git, hooks and fsmonitor in it.
        (worktree.path / ".git").unlink()
        hooks = worktree.path / ".git" / "hooks"
        hooks.mkdir(parents=True)
        (worktree.path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
        (worktree.path / ".git" / "config").write_text(
            f"[core]\n\thooksPath = {hooks}\n\tfsmonitor = {hooks}/fsmonitor\n"
        )
        for name in ("pre-commit", "post-commit", "reference-transaction", "fsmonitor"):
            (hooks / name).write_text(f"#!/bin/sh\ntouch {marker}\n")
            (hooks / name).chmod(0o755)
        (worktree.path / "src/features/pets/a.py").write_text("a = 'changed after'\n")
        commit = worktree.commit_recorded("feat(pets): recorded")
        assert git(target.path, "rev-parse", f"{commit}^{{tree}}").strip() == tree
        assert git(target.path, "rev-parse", f"{commit}^").strip() == main
        assert git(target.path, "show", f"{commit}:src/features/pets/a.py").strip() == "a = 1"
        assert worktree.diff().count("a = 1") == 1
    assert not marker.exists()
