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
import json
import os
from typing import Any

import petsage_report  # type: ignore[import-not-found]  # beside it in the box

GATE_VARIABLE = "PETSAGE_TEST_GATE_FD"
MIGRATION_VARIABLE = "PETSAGE_MIGRATION"
MAX_MESSAGE = 64 * 1024
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
    if message.get("migration"):
        # The migration check (petsage_migrations) reads the builder's revision from here.
        os.environ[MIGRATION_VARIABLE] = str(descriptor)
    else:
        os.close(descriptor)


def pytest_unconfigure(config: Any) -> None:
    """The run is over and its end reported: what is alive now stays alive until the process
    ends, so the interpreter's last collection, a walk over every object pytest, FastAPI,
    SQLAlchemy and the tests made, is skipped. Nothing of the run changes."""
    gc.freeze()
