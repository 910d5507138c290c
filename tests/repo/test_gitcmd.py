"""git as a subprocess on the build path: its output, its failures, and never a parent repo."""

import io
import tarfile
from pathlib import Path

import pytest

from agent.errors import GitFailed, WorkspaceError
from agent.repo.gitcmd import Git
from agent.repo.workspace import TargetRepo
from tests.conftest import git


def test_output_failure_and_the_last_newline(git_repo: Path) -> None:
    (git_repo / "a.txt").write_text("one\n\n")
    git(git_repo, "add", "a.txt")
    git(git_repo, "commit", "-qm", "a")
    run = Git(git_repo)
    assert run("show", "HEAD:a.txt") == "one\n"
    assert run("show", "HEAD:a.txt", keep_newline=True) == "one\n\n"
    with pytest.raises(GitFailed) as failed:
        run("show", "HEAD:missing.txt")
    assert failed.value.status == 128 and "missing.txt" in failed.value.detail
    assert isinstance(failed.value, WorkspaceError)


def test_a_workspace_without_its_own_repository_never_uses_the_one_around_it(
    git_repo: Path,
) -> None:
    (git_repo / "a.txt").write_text("x")
    git(git_repo, "add", "a.txt")
    git(git_repo, "commit", "-qm", "outer")
    inner = git_repo / "inner"
    inner.mkdir()
    (inner / "file.txt").write_text("not a repository")
    repo = TargetRepo(inner, git_repo.parent / "state", author=("t", "t@example.invalid"))
    with pytest.raises(WorkspaceError, match="not a git repository"):
        repo.branches()
    outer_head = git(git_repo, "rev-parse", "HEAD").strip()
    assert repo.show(outer_head, "a.txt") is None  # the outer repository's file stays unseen


def test_an_archive_comes_as_bytes_and_ignores_the_callers_git_variables(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (git_repo / "a.txt").write_text("archived\n")
    git(git_repo, "add", "a.txt")
    git(git_repo, "commit", "-qm", "a")
    head = git(git_repo, "rev-parse", "HEAD").strip()
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))  # would point a raw git away
    repo = TargetRepo(git_repo, tmp_path / "state", author=("t", "t@example.invalid"))
    with tarfile.open(fileobj=io.BytesIO(repo.archive(head))) as tar:
        member = tar.extractfile("a.txt")
        assert member is not None and member.read() == b"archived\n"
    with pytest.raises(GitFailed):
        Git(git_repo).output(["archive", "no-such-commit"])
