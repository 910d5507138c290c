"""The target's own test environment: a virtual environment the builder manages.

Generated tests never run in the builder's environment. The environment holds what the target's
`requirements.txt` asks for (FastAPI, httpx, pytest...), is created once and reused: it lives
in a cache keyed by the requirements' hash, so every workspace with the same requirements
shares it. With no network, it falls back to a venv that sees the base interpreter's packages,
and says so.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from agent.errors import TestRunError
from agent.workspace import file_lock

INSTALL_TIMEOUT = 600.0


@dataclass(frozen=True)
class TestEnv:
    """A ready environment: its interpreter, and a note when it is not fully isolated."""

    __test__ = False

    python: Path
    note: str | None = None


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "petsage-builder" / "testenvs"


def ensure_test_env(
    requirements: str, *, cache: Path | None = None, base_python: Path | None = None
) -> TestEnv:
    """The environment for `requirements` (the target's requirements.txt), made on first use."""
    cache = cache or default_cache()
    base = base_python or Path(sys.executable)
    digest = hashlib.sha256(f"{base.resolve()}\n{requirements}".encode()).hexdigest()[:16]
    folder = cache / digest
    ready = folder / ".petsage-ready"
    python = folder / "bin" / "python"
    if ready.exists():
        return TestEnv(python, ready.read_text().strip() or None)
    with file_lock(cache / f"{digest}.lock"):
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
        "-r",
        str(requirements_file),
    ]
    try:
        _run(install, "install the target's requirements")
        return None
    except TestRunError:
        # No network (or no index): see the base interpreter's packages instead.
        shutil.rmtree(folder, ignore_errors=True)
        _run(
            [str(base), "-m", "venv", "--without-pip", "--system-site-packages", str(folder)],
            "create the fallback test environment",
        )
        return (
            "the target's requirements could not be installed (offline?); its tests used a "
            "virtual environment over the builder interpreter's packages"
        )


def _run(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise TestRunError(f"cannot {what}: {e}") from e
    if done.returncode != 0:
        raise TestRunError(f"cannot {what}: {(done.stderr or done.stdout).strip()[-800:]}")
