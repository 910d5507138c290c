"""What a test run is: its command, its environment, its limits, and what it was started for.

Kept apart from `agent.box.run` (which starts and reads the run) so that the builder's other
boxes share the environment and the configuration check.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from agent.box import sandbox

_CONFIG_FILES = (
    ("pytest.ini", None),
    (".pytest.ini", None),
    ("pyproject.toml", "[tool.pytest"),
    ("tox.ini", "[pytest]"),
    ("setup.cfg", "[tool:pytest]"),
)
#: The files pytest may take its configuration from.
CONFIG_NAMES = tuple(name for name, _ in _CONFIG_FILES)
_KEPT_VARIABLES = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT")


def scrubbed_environment(home: Path) -> dict[str, str]:
    """An environment with nothing secret in it: no keys, tokens or builder settings."""
    env = {name: os.environ[name] for name in _KEPT_VARIABLES if name in os.environ}
    env.update(
        HOME=str(home),
        TMPDIR=str(home),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONHASHSEED="0",
        PYTHONNOUSERSITE="1",
        NO_COLOR="1",
    )
    return env


def run_signature(
    python: Path,
    timeout: float,
    sandboxed: bool,
    limits: sandbox.Limits,
    own_config: bool,
    migration_check: bool,
) -> tuple[object, ...]:
    """What a test run is started for: a build takes a run started ahead only if this matches."""
    return (str(python), timeout, sandboxed, limits, own_config, migration_check)


def default_limits(timeout: float) -> sandbox.Limits:
    """The box's limits for a run with `timeout`: its CPU time a little above the wall time."""
    return sandbox.Limits(cpu_seconds=int(timeout) + 30)


def has_pytest_config(root: Path) -> bool:
    """True when `root` holds a pytest configuration of its own (pytest's own rules)."""

    def read(name: str) -> str | None:
        path = root / name
        return path.read_text(errors="replace") if path.is_file() else None

    return holds_pytest_config(read)


def holds_pytest_config(read: Callable[[str], str | None]) -> bool:
    """The same, over `read(name)`: a file's text, or None when the checkout has no such file."""
    for name, marker in _CONFIG_FILES:
        text = read(name)
        if text is not None and (marker is None or marker in text):
            return True
    return False


def pytest_command(
    python: Path, inside: dict[str, str], *, migration_check: bool, own_config: bool
) -> list[str]:
    """The held run's argv inside the box: the report plugin and the gate first, no cache.

    Without a configuration of the checkout's own, pytest gets an empty one: else it would look
    above the checkout and could take any stranger's.
    """
    # The report plugin before the gate (which imports it): pytest imports it first, so it
    # is not "already imported" when pytest would rewrite its asserts.
    command = [str(python), "-m", "pytest", "tests", "-q", "-p", "petsage_report"]
    command += ["-p", "petsage_gate"]
    if migration_check:
        command += ["-p", "petsage_migrations"]
    command += [
        "-p",
        "no:cacheprovider",
        f"--rootdir={inside['work']}",
    ]
    if not own_config:
        command += ["-c", f"{inside['plugins']}/pytest.ini"]
    return command
