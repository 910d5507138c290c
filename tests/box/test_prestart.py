"""The head start: a CLI build's test process starts before the builder loads, and is taken only
when it fits what the build needs."""

import os
from pathlib import Path

import pytest

from agent.box.env import ensure_test_env
from agent.box.prestart import prestart
from agent.box.run import TestRun
from agent.pipeline.loop import Builder
from agent.pipeline.requirements import upgraded_requirements
from agent.prompt_files import skeleton_files
from agent.settings import Settings
from tests.conftest import SEED_TEXT, SMOKE_REQUEST, git, run_python
from tests.models.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]


def _alive(run: TestRun) -> bool:
    return run._process.poll() is None


def test_a_build_takes_the_run_started_ahead_and_its_tests_pass(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Builder(settings).run(SMOKE_REQUEST)  # the workspace and its test environment exist now
    monkeypatch.setenv("PETSAGE_TEST_TIMEOUT", str(settings.test_timeout))
    held = prestart(settings.workspace)
    assert held is not None and held.source is None and _alive(held)
    try:
        result = Builder(settings).run({**SMOKE_REQUEST, "description": "again"}, held_tests=held)
        assert result.status == "succeeded", result.reasons
        assert held.source is not None  # taken: it ran this build's checkout
        assert result.tests is not None and result.tests.passed == 3
    finally:
        held.close()
    assert not _alive(held)


def test_a_run_started_for_something_else_is_closed_and_the_build_starts_its_own(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Builder(settings).run(SMOKE_REQUEST)
    # Started for a 5-second timeout: the build's runs have 120 s, so it does not fit.
    monkeypatch.setenv("PETSAGE_TEST_TIMEOUT", "5")
    held = prestart(settings.workspace)
    assert held is not None
    monkeypatch.delenv("PETSAGE_TEST_TIMEOUT")
    result = Builder(settings).run({**SMOKE_REQUEST, "description": "again"}, held_tests=held)
    assert result.status == "succeeded", result.reasons
    assert held.source is None and not _alive(held)


def test_nothing_is_made_for_a_head_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    # No test environment yet: no head start, and no environment or workspace made for one.
    assert prestart(tmp_path / "new") is None
    assert not (tmp_path / "new").exists() and not (tmp_path / "empty-cache").exists()
    # A folder that is neither empty nor a repository: none either.
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "file.txt").write_text("x")
    assert prestart(tmp_path / "other") is None


def test_a_base_without_a_pytest_configuration_is_seen_as_such(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Builder(settings).run(SMOKE_REQUEST)
    workspace = settings.workspace
    git(workspace, "rm", "-q", "pytest.ini")
    git(workspace, "commit", "-qm", "no config")
    held = prestart(workspace)
    assert held is not None
    try:
        assert held.signature[4] is False  # pytest gets an empty configuration of ours
        # A new feature starts from main (a rebuild would start from its own branch's tip).
        result = Builder(settings).run(
            {**SMOKE_REQUEST, "feature": "health_check"}, held_tests=held
        )
        assert result.status == "succeeded", result.reasons
        assert held.source is not None
    finally:
        held.close()


@pytest.mark.parametrize("model", ["offline", "openai:gpt-4.1-mini"])
def test_the_test_process_starts_before_the_builder_loads(
    model: str, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """The head start's test process starts before pydantic, GitPython or the templates load,
    and before any SDK does; an offline build imports neither the openai SDK, FastAPI, uvicorn,
    libcst, GitPython nor pydantic-settings at all."""
    # The environment a new workspace's build tests with exists (a head start never makes one).
    ensure_test_env(upgraded_requirements(skeleton_files()["requirements.txt"]))
    fake_openai.reply(SEED_TEXT)
    env = {
        "PETSAGE_MODEL": model,
        "OPENAI_BASE_URL": fake_openai.base_url,
        "OPENAI_API_KEY": os.environ["OPENAI_API_KEY"],
    }
    probe = (
        "import sys, agent.box.prestart as p\n"
        "real = p.start_tests\n"
        "def spy(*args, **kwargs):\n"
        "    early = ('pydantic', 'git', 'jinja2', 'openai', 'httpx')\n"
        "    print(sorted(m for m in early if m in sys.modules), flush=True)\n"
        "    return real(*args, **kwargs)\n"
        "p.start_tests = spy\n"
        "from agent.cli import main\n"
        "code = main(['build', '--payload', sys.argv[1], '--workspace', sys.argv[2], '-q'])\n"
        "heavy = ('openai', 'fastapi', 'uvicorn', 'libcst', 'pydantic_settings', 'httpx', 'git')\n"
        "print(code, sorted(m for m in heavy if m in sys.modules))\n"
    )
    payload = str(ROOT / "examples" / "smoke_test.md")
    done = run_python(probe, payload, str(tmp_path / "ws"), cwd=tmp_path, env=env)
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "[]", done.stdout + done.stderr[-2000:]  # the head start, before them all
    if model == "offline":
        assert lines[-1] == "0 []", done.stderr[-2000:]
    else:
        assert lines[-1].startswith("0 [") and "'openai'" in lines[-1], done.stderr[-2000:]
        assert len(fake_openai.requests) == 1
