"""A pytest plugin the builder loads into every test run in the box: hold it before collection,
arm the result channel, and end it without a last garbage collection.

The builder starts the test process as soon as it can, so that Python, pytest and its plugins
load while the builder is still writing and wiring files; this plugin then waits on a pipe (or
stdin) for one line from the builder: `{"go": true, "key": ..., "migration": ...}`. Anything
else, or the pipe closing, ends the run. The key arms `petsage_report` (the only way a result
leaves the box) before any module of the checkout is imported. With a migration check, the
pipe stays open: the builder's rendered revision comes down it later. Copied into the run's
scratch folder with the report plugin: the target's interpreter needs nothing of the builder.
"""

import contextlib
import gc
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import sys
from typing import Any

import petsage_report  # type: ignore[import-not-found]  # beside it in the box

GATE_VARIABLE = "PETSAGE_TEST_GATE_FD"
MIGRATION_VARIABLE = "PETSAGE_MIGRATION"
#: A mutant's source rides on the line (a generated file is at most 200 KB, escaped in JSON).
MAX_MESSAGE = 1024 * 1024
PRELOADED = ("fastapi.testclient", "sqlalchemy.orm", "sqlalchemy.pool")


def read_line(descriptor: int, cap: int = MAX_MESSAGE) -> bytes:
    """One line from `descriptor`, byte by byte: what follows it is not this reader's."""
    line = b""
    while len(line) < cap:
        byte = os.read(descriptor, 1)
        if not byte or byte == b"\n":
            break
        line += byte
    return line


def pytest_load_initial_conftests(early_config: Any, parser: Any, args: Any) -> None:
    """Runs after plugins load and before the target's own conftest.py is imported."""
    descriptor = int(os.environ.pop(GATE_VARIABLE, "-1"))
    if descriptor < 0:
        return
    # Meanwhile, the third-party modules the target's conftest.py imports anyway (the skeleton's:
    # FastAPI's test client, SQLAlchemy's ORM): none of the target's own code is here yet.
    for name in PRELOADED:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    try:
        message = json.loads(read_line(descriptor).decode("utf-8"))
    except ValueError:
        message = None
    if not isinstance(message, dict) or message.get("go") is not True:
        os._exit(3)
    petsage_report.arm(str(message.get("key") or ""))
    mutant = message.get("mutant")
    if isinstance(mutant, dict):
        sys.meta_path.insert(0, MutantFinder(str(mutant["path"]), str(mutant["source"])))
    if message.get("migration"):
        # The migration check (petsage_migrations) reads the builder's revision from here.
        os.environ[MIGRATION_VARIABLE] = str(descriptor)
    else:
        os.close(descriptor)


class MutantFinder(importlib.abc.MetaPathFinder):
    """The mutation gate's mutant, applied at import: the module at `path` (relative to the
    run's directory) is compiled from `source`, while its file keeps its bytes. A test that
    reads or pins the file's text sees the reviewed source; only behaviour can kill a mutant."""

    def __init__(self, path: str, source: str) -> None:
        self.origin = os.path.realpath(path)
        self.source = source

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.origin is None or os.path.realpath(spec.origin) != self.origin:
            return None
        spec.loader = MutantLoader(name, spec.origin, self.source)
        return spec


class MutantLoader(importlib.machinery.SourceFileLoader):
    """A source loader whose source is the mutant's: no bytecode read or written."""

    def __init__(self, name: str, path: str, source: str) -> None:
        super().__init__(name, path)
        self.mutant = source.encode("utf-8")

    def get_data(self, path: str) -> bytes:
        if path == self.path:
            return self.mutant
        raise OSError("no bytecode for a mutant")

    def set_data(self, path: str, data: Any, *, _mode: int = 0o666) -> None:
        return None


def pytest_unconfigure(config: Any) -> None:
    """The run is over and its end reported: what is alive now stays alive until the process
    ends, so the interpreter's last collection, a walk over every object pytest, FastAPI,
    SQLAlchemy and the tests made, is skipped. Nothing of the run changes."""
    gc.freeze()
