"""The target's own test environment: a virtual environment the builder manages.

Generated tests never run in the builder's environment. The environment holds what the target's
`requirements.txt` asks for (FastAPI, httpx, pytest...), is created once and reused: it lives
in a cache keyed by the requirements' hash, so every workspace with the same requirements
shares it. The builder installs it from the *base* branch's requirements (a generated change to
them is refused by the path checks), with an environment that holds no key or token. With no
network, it falls back to a venv over the packages the builder itself runs with (its
virtualenv's, its user install's or its interpreter's: a `.pth` file names their folders), and
says so.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent.errors import InfrastructureError, TestRunError
from agent.repo.guards import file_lock

if TYPE_CHECKING:
    from agent.repo.workspace import TargetRepo
    from agent.settings import Settings

#: Wall seconds one pip or venv run may take: generous at any admitted load (it installs once
#: per requirements; a run past it is tried once more, then `InfrastructureError`).
INSTALL_TIMEOUT = 600.0
_INSTALL_VARIABLES = (
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_TRUSTED_HOST",
    "PIP_CERT",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)


@dataclass(frozen=True)
class TestEnv:
    """A ready environment: its interpreter, and a note when it is not fully isolated."""

    __test__ = False

    python: Path
    note: str | None = None


def test_python_for(settings: Settings, repo: TargetRepo, start: str) -> tuple[Path, str | None]:
    """The interpreter for the target's tests at `start`: the configured one, or the managed env."""
    from agent.pipeline.requirements import upgraded_requirements
    from agent.prompt_files import skeleton_files

    if settings.test_python is not None:
        return settings.test_python, None
    requirements = repo.show(start, "requirements.txt")
    if requirements is None:
        requirements = skeleton_files()["requirements.txt"]
    # A build adds the database layer's pins to a repository made before it
    # (agent.pipeline.persistence).
    requirements = upgraded_requirements(requirements)
    env = ensure_test_env(requirements)
    return env.python, env.note


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "petsage-builder" / "testenvs"


def ready_test_env(
    requirements: str, *, cache: Path | None = None, base_python: Path | None = None
) -> TestEnv | None:
    """The environment for `requirements` if it is made already, else None (nothing is made)."""
    folder, _ = _env_folder(requirements, cache, base_python)
    ready = folder / ".petsage-ready"
    if ready.exists():
        return TestEnv(folder / "bin" / "python", ready.read_text().strip() or None)
    return None


def _env_folder(
    requirements: str, cache: Path | None, base_python: Path | None
) -> tuple[Path, str]:
    cache = cache or default_cache()
    base = base_python or Path(sys.executable)
    # Unresolved too: two virtualenvs over one interpreter hold different packages.
    key = f"{base.resolve()}\n{base.absolute()}\n{requirements}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache / digest, digest


def ensure_test_env(
    requirements: str, *, cache: Path | None = None, base_python: Path | None = None
) -> TestEnv:
    """The environment for `requirements` (the target's requirements.txt), made on first use."""
    found = ready_test_env(requirements, cache=cache, base_python=base_python)
    if found is not None:
        return found
    folder, digest = _env_folder(requirements, cache, base_python)
    base = base_python or Path(sys.executable)
    ready = folder / ".petsage-ready"
    python = folder / "bin" / "python"
    with file_lock(folder.parent / f"{digest}.lock"):
        if ready.exists():
            return TestEnv(python, ready.read_text().strip() or None)
        note = _create(folder, base, requirements)
        ready.write_text(note or "")
        return TestEnv(python, note)


def _create(folder: Path, base: Path, requirements: str) -> str | None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    _run([str(base), "-m", "venv", "--without-pip", str(folder)], "create the test environment")
    requirements_file = folder / "requirements.txt"
    requirements_file.write_text(requirements)
    install = [
        str(base),
        "-m",
        "pip",
        "--python",
        str(folder / "bin" / "python"),
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        # Wheels only: installing never runs code from the requirements (no setup.py).
        "--only-binary=:all:",
        "-r",
        str(requirements_file),
    ]
    try:
        _run(install, "install the target's requirements")
        return None
    except TestRunError as e:
        # No network (or no index): the builder's own packages instead, wherever they live. Not
        # `--system-site-packages`: from a virtualenv that would see its base's, not the venv's.
        shutil.rmtree(folder, ignore_errors=True)
        _run(
            [str(base), "-m", "venv", "--without-pip", str(folder)],
            "create the fallback test environment",
        )
        folders = _output([str(base), "-c", _PACKAGE_FOLDERS], "list the builder's packages")
        site_packages = _output(
            [str(folder / "bin" / "python"), "-I", "-c", _SITE_PACKAGES], "find its site-packages"
        )
        pth = Path(site_packages.strip()) / "_petsage_builder_packages.pth"
        pth.write_text(folders)
        reason = str(e).strip().splitlines()[-1].strip()[:200]
        return (
            f"the target's requirements could not be installed (offline? {reason}); its tests "
            f"used a virtual environment over the builder's own packages ({base})"
        )


# The folders the builder's interpreter imports installed packages from, in its order: site and
# user site (PYTHONUSERBASE counts), and those a `.pth` adds; not the stdlib.
_PACKAGE_FOLDERS = """
import os, site, sys
found = site.getsitepackages()
if site.ENABLE_USER_SITE:
    found.append(site.getusersitepackages())
found += [p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages")]
seen = []
for p in map(os.path.realpath, found):
    if os.path.isdir(p) and p not in seen:
        seen.append(p)
print("\\n".join(seen))
"""
_SITE_PACKAGES = "import sysconfig; print(sysconfig.get_path('purelib'))"


def install_environment(home: Path) -> dict[str, str]:
    """What pip and venv see: the path, the locale, the proxy and index settings, nothing secret.

    No API key, forge token or builder setting reaches the target's requirements; an index URL
    with a password in it is dropped too.
    """
    env = {name: os.environ[name] for name in _INSTALL_VARIABLES if name in os.environ}
    env = {name: value for name, value in env.items() if not _has_credentials(value)}
    env.update(HOME=str(home), PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def _has_credentials(value: str) -> bool:
    return any("@" in part.split("/", 3)[2] for part in value.split() if "://" in part)


def _run(command: list[str], what: str) -> None:
    """Run pip or venv with the clean install environment (no key, no token, a fresh HOME)."""
    home = Path(tempfile.mkdtemp(prefix="petsage-pip-"))
    try:
        _output(command, what, install_environment(home))
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _output(command: list[str], what: str, env: dict[str, str] | None = None) -> str:
    """Run `command`; a run past `INSTALL_TIMEOUT` (a machine too busy, a proxy that hangs) is
    tried once more, and a second raises `InfrastructureError`: never the fallback environment,
    which would be kept for good because of a moment's load (issue 28)."""
    done = _within_timeout(command, what, env) or _within_timeout(command, what, env)
    if done is None:
        raise InfrastructureError(
            f"cannot {what}: it did not finish within {INSTALL_TIMEOUT:g} s, twice: the machine "
            "was too busy",
            stage="prepare",
            limit="install_wall_seconds",
            figure=INSTALL_TIMEOUT,
            budget=INSTALL_TIMEOUT,
        )
    if done.returncode != 0:
        raise TestRunError(f"cannot {what}: {(done.stderr or done.stdout).strip()[-800:]}")
    return done.stdout


def _within_timeout(
    command: list[str], what: str, env: dict[str, str] | None
) -> subprocess.CompletedProcess[str] | None:
    """The finished run, or None when it passed `INSTALL_TIMEOUT` (killed)."""
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False, env=env
        )
    except subprocess.TimeoutExpired:
        return None
    except OSError as e:
        raise TestRunError(f"cannot {what}: {e}") from e
