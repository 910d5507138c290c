"""A head start for a command-line build: its test process starts before the builder loads.

Most of a build is one pytest run, and most of that run is its start: the interpreter, pytest,
FastAPI and SQLAlchemy loading. `prestart` starts that process (in the box, held at its gate,
with none of the target's files yet) from the few settings it needs, read raw, and the target's
`main` branch, before the builder imports pydantic, git or the pipeline; the build then takes it
if it was started for what the build needs (`TestRun.signature`: the interpreter from the base
branch's requirements, the box, its limits, the checkout's pytest configuration), or closes it
and starts its own. It never makes anything: no workspace, no test environment; when one is
missing, or anything is unclear, there is simply no head start.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Mapping
from pathlib import Path

from agent.box.env import ready_test_env
from agent.box.run import TestRun, start_tests
from agent.box.runspec import CONFIG_NAMES, holds_pytest_config
from agent.errors import BuilderError
from agent.pipeline.requirements import upgraded_requirements
from agent.prompt_files import skeleton_files
from agent.repo.gitcmd import clean_git_environment
from agent.setting_sources import DEFAULT_TEST_TIMEOUT, DEFAULT_WORKSPACE, configured_values

#: The branch a head start guesses a build starts from; another base simply may not fit.
GUESSED_BASE = "main"
_GIT_SAFE = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")


def prestart(workspace: Path | None, values: Mapping[str, str] | None = None) -> TestRun | None:
    """The held test process for a build on `workspace` (None: the configured one), or None.

    `values`: the raw settings (`configured_values()`), when the caller has read them already.
    """
    try:
        return _start(workspace, configured_values() if values is None else values)
    except (BuilderError, OSError, ValueError, subprocess.SubprocessError):
        return None


def _start(workspace: Path | None, values: Mapping[str, str]) -> TestRun | None:
    timeout = float(values.get("test_timeout") or DEFAULT_TEST_TIMEOUT)
    if not (math.isfinite(timeout) and timeout > 0):
        return None
    found = _base_files(workspace or Path(values.get("workspace") or DEFAULT_WORKSPACE))
    if found is None:
        return None
    requirements, own_config = found
    if values.get("test_python"):
        python = Path(values["test_python"])
    else:
        env = ready_test_env(upgraded_requirements(requirements))
        if env is None:
            return None
        python = env.python
    return start_tests(
        None,
        python=python,
        timeout=timeout,
        sandboxed=values.get("sandbox", "bwrap") != "off",
        migration_check=True,
        own_config=own_config,
    )


def _base_files(workspace: Path) -> tuple[str, bool] | None:
    """(requirements.txt, whether there is a pytest configuration) on the guessed base."""
    if not workspace.exists() or (workspace.is_dir() and not any(workspace.iterdir())):
        skeleton = skeleton_files()  # a new workspace gets the skeleton
        return skeleton["requirements.txt"], holds_pytest_config(skeleton.get)
    if not (workspace / ".git").exists():
        return None
    listed = _git(workspace, "ls-tree", "--name-only", GUESSED_BASE, "--", *CONFIG_NAMES)
    if listed is None:
        return None
    present = set(listed.splitlines())
    requirements = _git(workspace, "show", f"{GUESSED_BASE}:requirements.txt")
    own_config = holds_pytest_config(
        lambda name: _git(workspace, "show", f"{GUESSED_BASE}:{name}") if name in present else None
    )
    return requirements or skeleton_files()["requirements.txt"], own_config


def _git(workspace: Path, *args: str) -> str | None:
    done = subprocess.run(
        ["git", *_GIT_SAFE, "-C", str(workspace), *args],
        capture_output=True,
        check=False,
        timeout=10,
        env=clean_git_environment(workspace),
    )
    # Decoded as the build reads the same file (agent.repo.gitcmd): no newline translation.
    return done.stdout.decode("utf-8", errors="replace") if done.returncode == 0 else None
