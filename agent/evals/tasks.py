"""An evaluation suite on disk: its tasks, each a request and acceptance tests kept from the model.

A task is a folder named for it (`[a-z][a-z0-9_]*`) holding `request.json` or `request.md` (any
encoding `petsage-builder build` accepts), `acceptance/test_*.py`, and optionally `task.json`:
`{"reach": "offline" | "model", "category": "...", "setup": ["setup/owner.json"]}`. `setup`
requests are built first with the offline generator (a feature the task's `ref` needs). A suite's
`_support/*.py` files are copied beside every task's acceptance tests (`tests/acceptance/`).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from agent.errors import ConfigError

Reach = Literal["offline", "model"]
TASK_NAME = re.compile(r"[a-z][a-z0-9_]{0,47}")
REQUEST_FILES = ("request.json", "request.md")
SUPPORT_DIR = "_support"


@dataclass(frozen=True)
class EvalTask:
    """One task: what the builder is asked, and the tests its branch must pass afterwards."""

    name: str
    folder: Path
    request: bytes
    reach: Reach
    category: str
    setup: tuple[bytes, ...]
    acceptance: tuple[tuple[str, str], ...]
    support: tuple[tuple[str, str], ...]

    @cached_property
    def digest(self) -> str:
        """A hash of everything the task is: a changed request or test makes it a new task."""
        h = hashlib.sha256()
        for part in (self.request, self.reach.encode(), self.category.encode(), *self.setup):
            h.update(hashlib.sha256(part).digest())
        for name, content in (*self.acceptance, *self.support):
            h.update(hashlib.sha256(f"{name}\0{content}".encode()).digest())
        return h.hexdigest()

    @property
    def acceptance_count(self) -> int:
        """How many `test_` functions its acceptance files define (each runs at least once)."""
        return sum(
            len(re.findall(r"^def test_\w+\(", content, re.MULTILINE))
            for _, content in self.acceptance
        )


def builtin_suite() -> Path:
    """The suite that ships with the builder: `agent/_evals` in a wheel, else the checkout's
    top-level `evals/` folder."""
    here = Path(__file__).resolve().parents[1]
    for path in (here / "_evals", here.parent / "evals"):
        if path.is_dir():
            return path
    raise ConfigError(f"--suite builtin: the builtin suite is not installed here ({here})")


def load_suite(spec: str | Path) -> list[EvalTask]:
    """Every task of the suite `spec` (`builtin` or a folder), in name order."""
    folder = builtin_suite() if str(spec) == "builtin" else Path(spec)
    if not folder.is_dir():
        raise ConfigError(f"--suite {spec}: no such folder")
    support = _python_files(folder / SUPPORT_DIR, "*.py")
    if not support and folder != builtin_suite():
        support = _python_files(builtin_suite() / SUPPORT_DIR, "*.py")
    tasks = [
        load_task(child, support)
        for child in sorted(folder.iterdir())
        if child.is_dir() and not child.name.startswith((".", "_"))
    ]
    if not tasks:
        raise ConfigError(f"--suite {spec}: holds no task folder")
    return tasks


def load_task(folder: Path, support: tuple[tuple[str, str], ...] = ()) -> EvalTask:
    """One task folder; a `ConfigError` names the file and what is wrong with it."""
    if not TASK_NAME.fullmatch(folder.name):
        raise ConfigError(f"{folder}: a task folder's name must match {TASK_NAME.pattern}")
    request = next((folder / n for n in REQUEST_FILES if (folder / n).is_file()), None)
    if request is None:
        raise ConfigError(f"{folder}: needs request.json or request.md")
    acceptance = _python_files(folder / "acceptance", "test_*.py")
    if not acceptance:
        raise ConfigError(f"{folder}/acceptance: needs at least one test_*.py")
    meta = _meta(folder)
    reach: object = meta.get("reach", "model")
    if reach != "offline" and reach != "model":
        raise ConfigError(f"{folder}/task.json: reach: must be 'offline' or 'model', not {reach!r}")
    names = meta.get("setup", [])
    if not isinstance(names, list):
        raise ConfigError(f"{folder}/task.json: setup: must be a list of request files")
    setup = []
    for name in names:
        path = folder / str(name)
        if not path.is_file() or folder.resolve() not in path.resolve().parents:
            raise ConfigError(f"{folder}/task.json: setup: {name!r} is not a file of the task")
        setup.append(path.read_bytes())
    return EvalTask(
        name=folder.name,
        folder=folder,
        request=request.read_bytes(),
        reach="offline" if reach == "offline" else "model",
        category=str(meta.get("category", "custom")),
        setup=tuple(setup),
        acceptance=acceptance,
        support=support,
    )


def select(tasks: list[EvalTask], pattern: str | None) -> list[EvalTask]:
    """The tasks whose name matches the glob `pattern`, or one of its comma-separated globs
    (all of them when None)."""
    if pattern is None:
        return tasks
    globs = [glob.strip() for glob in pattern.split(",") if glob.strip()]
    chosen = [t for t in tasks if any(fnmatch.fnmatchcase(t.name, g) for g in globs)]
    if not chosen:
        raise ConfigError(f"--tasks {pattern}: matches no task of the suite")
    return chosen


def _meta(folder: Path) -> dict[str, object]:
    path = folder / "task.json"
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: not readable JSON: {e}") from e
    if not isinstance(meta, dict):
        raise ConfigError(f"{path}: must be a JSON object")
    return meta


def _python_files(folder: Path, pattern: str) -> tuple[tuple[str, str], ...]:
    if not folder.is_dir():
        return ()
    return tuple(
        (path.name, path.read_text(encoding="utf-8"))
        for path in sorted(folder.glob(pattern))
        if path.is_file()
    )
