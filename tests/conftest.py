"""Shared fixtures: real git repositories in tmp_path, settings that point into them, the seed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.bundle import BundleFile, FileBundle
from agent.settings import Settings
from tests.scaleout import postgres_url, redis_url  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
SEED_TEXT = (DATA / "seed_smoke_test.txt").read_text()
#: The stages of a build that passes in its first round, in order.
ONE_ROUND_STAGES = [
    "received",
    "decoded",
    "generating",
    "validated",
    "written",
    "integrated",
    "tested",
    "verified",
    "committed",
    "done",
]
SMOKE_REQUEST = {
    "feature": "smoke_test",
    "description": "Ensure builder functional",
    "requirements": "none",
}


@pytest.fixture(autouse=True)
def _no_real_models(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test may reach a paid model: provider keys and builder settings are removed."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "PETSAGE_", "ANTHROPIC_")) or name in ("GITHUB_TOKEN",):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/never-a-real-provider")
    monkeypatch.setattr("agent.models.openai_chat.ALLOW_REMOTE", False)
    yield


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        workspace=tmp_path / "petsage_backend",
        state_dir=tmp_path / "state",
        max_rounds=3,
        test_timeout=120,
    )


@pytest.fixture
def workspace(settings: Settings) -> Path:
    return settings.workspace


def git(repo: Path, *args: str) -> str:
    """Plain git, to check what the builder did without going through its own code."""
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def refs(repo: Path) -> dict[str, str]:
    """Every ref of `repo` and where it points: a snapshot to compare before and after."""
    if not (repo / ".git").exists():
        return {}
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    return dict(line.split(" ", 1) for line in out.splitlines())


def branch_files(repo: Path, branch: str) -> dict[str, str]:
    """Every file on `branch` with its content."""
    names = git(repo, "ls-tree", "-r", "--name-only", branch).splitlines()
    return {name: git(repo, "show", f"{branch}:{name}") for name in names}


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """An empty git repository with a user name and email, for workspace tests."""
    path = tmp_path / "plain"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test User")
    git(path, "config", "user.email", "test@example.invalid")
    return path


@pytest.fixture
def fake_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A local OpenAI-compatible server the SDK is pointed at (its variables set for the test)."""
    from tests.models.fake_openai import FakeOpenAI

    with FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
        yield server


def with_file(bundle: FileBundle, path: str, content: str | None) -> FileBundle:
    """`bundle` with `path` replaced by `content`, or removed when `content` is None."""
    files = [f for f in bundle.files if f.path != path]
    if content is not None:
        files.append(BundleFile(path=path, content=content))
    return bundle.model_copy(update={"files": files})


def run_python(
    code: str, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -c code args` in a new process over this checkout, as a user starts one: no
    builder or provider variable inherited, only those in `env` added."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PETSAGE_", "OPENAI_"))}
    environment.update(PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def can_mount() -> bool:
    """Whether this machine lets the builder make a box's folder a sized tmpfs (agent.box.sized)."""
    import tempfile

    from agent.box.sandbox import Limits
    from agent.box.sized import SizedFolder

    with tempfile.TemporaryDirectory() as folder:
        sized = SizedFolder(Path(folder), Limits())
        sized.unmount()
        return sized.missing is None
