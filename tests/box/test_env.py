import json
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from agent.box import env as test_env
from agent.box.env import ensure_test_env
from agent.errors import InfrastructureError
from agent.prompt_files import skeleton_files
from tests.conftest import SMOKE_REQUEST

ROOT = Path(__file__).resolve().parents[2]


def run(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=False, cwd="/", env=env
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


def test_an_install_past_its_timeout_runs_once_more_then_is_the_machines_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pip or venv run killed at its wall-clock limit (issue 28): tried twice, then a typed
    `infrastructure` error, and never the fallback environment kept for good."""
    monkeypatch.setattr(test_env, "INSTALL_TIMEOUT", 0.3)
    runs = tmp_path / "runs"
    code = f"open({str(runs)!r}, 'a').write('x')\nimport time\ntime.sleep(30)\n"
    with pytest.raises(InfrastructureError) as e:
        test_env._output([sys.executable, "-c", code], "sleep")
    assert runs.read_text() == "xx"
    assert (e.value.stage, e.value.limit, e.value.budget) == (
        "prepare",
        "install_wall_seconds",
        0.3,
    )
    assert "the machine was too busy" in str(e.value)
    # Not even the venv can be made in time: nothing is marked ready, the next build tries again.
    monkeypatch.setattr(test_env, "INSTALL_TIMEOUT", 0.001)
    cache = tmp_path / "cache"
    with pytest.raises(InfrastructureError):
        ensure_test_env("# nothing to install\n", cache=cache)
    assert not list(cache.rglob(".petsage-ready"))


def test_installing_sees_no_secret_and_runs_no_setup_py(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.box.env import install_environment

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


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def install_offline(site_packages: Path, scripts: Path) -> None:
    """This checkout's dependencies into `site_packages` with no index: each installed distribution
    of their closure is copied (hard-linked) file by file from its RECORD, as pip lays out a wheel;
    the checkout itself goes in as `pip install -e .` puts it, by a `.pth` line."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = [Requirement(r) for r in pyproject["project"]["dependencies"]]
    done: set[str] = set()
    while wanted:
        requirement = wanted.pop()
        name = canonicalize_name(requirement.name)
        if name in done or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        done.add(name)
        dist = metadata.distribution(name)
        for file in dist.files or []:
            source = Path(str(dist.locate_file(file)))
            if file.parts[0] == "..":
                if source.parent.name != "bin" or not source.is_file():
                    continue
                target = scripts / source.name  # a script or binary (ruff's), as pip puts it
            else:
                target = site_packages / file
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target)
            except OSError:
                shutil.copy2(source, target)
        wanted += [Requirement(r) for r in dist.requires or []]
    (site_packages / "_petsage_builder.pth").write_text(f"{ROOT}\n")


def test_an_offline_build_from_a_builder_in_a_fresh_virtualenv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # pip: ensurepip's
    python = venv / "bin" / "python"
    purelib = run(python, "import sysconfig; print(sysconfig.get_path('purelib'))")
    install_offline(Path(purelib.stdout.strip()), venv / "bin")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "PETSAGE_"))}
    env |= {
        "PIP_CONFIG_FILE": os.devnull,  # no find-links, extra index or wheel folder of this host
        "PIP_INDEX_URL": f"http://127.0.0.1:{closed_port()}/simple",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    began = time.monotonic()
    done = subprocess.run(
        [str(python), "-m", "agent.cli", "build", "--payload", "-", "--json", "-q"],
        input=json.dumps(SMOKE_REQUEST),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(f"offline build from a fresh virtualenv: {time.monotonic() - began:.1f}s")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded" and result["tests"]["passed"] == 3
    # It fell back because the index could not be reached, and says so.
    (note,) = [note for note in result["notes"] if "could not be installed" in note]
    assert "No matching distribution found for fastapi" in note, note
    # The target's tests saw the virtualenv's FastAPI, not whatever its base interpreter holds.
    (test_env,) = (tmp_path / "cache" / "petsage-builder" / "testenvs").glob("*/bin/python")
    fastapi = run(test_env, "import fastapi; print(fastapi.__file__)")
    assert fastapi.stdout.startswith(str(venv)), fastapi
