"""A pytest plugin the builder loads into the target's test run: hold it before collection,
and end it without a last garbage collection.

The builder starts the test process as soon as the worktree exists, so that Python, pytest and
its plugins load while the builder is still writing and wiring files; this plugin then waits on
a pipe until the builder says `go` (or closes the pipe: the run is abandoned), followed by the
migration check's spec when there is one. It is copied into
the run's scratch folder, so the target's interpreter needs nothing of the builder installed.
"""

import contextlib
import gc
import importlib
import os

GATE_VARIABLE = "PETSAGE_TEST_GATE_FD"
MIGRATION_VARIABLE = "PETSAGE_MIGRATION"
MAX_MESSAGE = 64 * 1024
PRELOADED = ("fastapi.testclient", "sqlalchemy.orm", "sqlalchemy.pool")


def pytest_load_initial_conftests(early_config: object, parser: object, args: object) -> None:
    """Runs after plugins load and before the target's own conftest.py is imported."""
    descriptor = int(os.environ.get(GATE_VARIABLE, "-1"))
    if descriptor < 0:
        return
    # Meanwhile, the third-party modules the target's conftest.py imports anyway (the skeleton's:
    # FastAPI's test client, SQLAlchemy's ORM): none of the target's own code is here yet.
    for name in PRELOADED:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    message = b""
    while len(message) < MAX_MESSAGE:
        chunk = os.read(descriptor, MAX_MESSAGE)
        if not chunk:
            break
        message += chunk
    os.close(descriptor)
    if not message.startswith(b"go"):
        os._exit(3)
    if len(message) > 2:
        # The migration check's spec (agent.box.migrations_plugin reads it at sessionstart).
        os.environ[MIGRATION_VARIABLE] = message[2:].decode("utf-8")


def pytest_unconfigure(config: object) -> None:
    """The run is over and its JUnit XML written (at session finish): what is alive now stays
    alive until the process ends, so the interpreter's last collection, a walk over every object
    pytest, FastAPI, SQLAlchemy and the tests made, is skipped. Nothing of the run changes."""
    gc.freeze()
