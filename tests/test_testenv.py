import subprocess
import time
from pathlib import Path

import pytest

from agent.prompt_files import skeleton_files
from agent.testenv import ensure_test_env


def run(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=False, cwd="/"
    )


def test_the_target_env_has_its_requirements_and_not_the_builders_packages() -> None:
    env = ensure_test_env(skeleton_files()["requirements.txt"])
    assert env.note is None
    assert run(env.python, "import fastapi, httpx, pytest").returncode == 0
    for builders_own in ("agent", "hypothesis", "libcst", "git"):
        assert run(env.python, f"import {builders_own}").returncode != 0, builders_own


def test_it_is_made_once_and_reused(tmp_path: Path) -> None:
    requirements = "# nothing to install\n"
    began = time.monotonic()
    first = ensure_test_env(requirements, cache=tmp_path)
    made = time.monotonic() - began
    began = time.monotonic()
    second = ensure_test_env(requirements, cache=tmp_path)
    assert second == first and time.monotonic() - began < max(0.05, made / 5)
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 1


def test_requirements_that_cannot_install_fall_back_and_say_so(tmp_path: Path) -> None:
    env = ensure_test_env("petsage-no-such-package-anywhere==0.0.0\n", cache=tmp_path)
    assert env.note is not None and "could not be installed" in env.note
    assert run(env.python, "import fastapi").returncode == 0


def test_installing_sees_no_secret_and_runs_no_setup_py(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.testenv import install_environment

    monkeypatch.setenv("OPENAI_API_KEY", "sk-install-secret")
    monkeypatch.setenv("PETSAGE_FORGE_TOKEN", "ghp-install-secret")
    monkeypatch.setenv("PIP_INDEX_URL", "https://user:pw@index.invalid/simple")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    env = install_environment(tmp_path)
    assert "-install-secret" not in " ".join(env.values()) and "PIP_INDEX_URL" not in env
    assert env["HTTPS_PROXY"] == "http://proxy.invalid:3128" and env["HOME"] == str(tmp_path)
    marker = tmp_path / "setup-py-ran"
    package = tmp_path / "evil"
    package.mkdir()
    (package / "setup.py").write_text(
        "import os\n"
        f"open({str(marker)!r}, 'w').write(os.environ.get('OPENAI_API_KEY', 'none'))\n"
        "from setuptools import setup\nsetup(name='evil', version='1')\n"
    )
    ensure_test_env(f"evil @ file://{package}\n", cache=tmp_path / "cache")
    assert not marker.exists()
