"""A pytest plugin the builder loads into the target's test run: hold it before collection.

The builder starts the test process as soon as the worktree exists, so that Python, pytest and
its plugins load while the builder is still writing and wiring files; this plugin then waits on
a pipe until the builder says `go` (or closes the pipe: the run is abandoned). It is copied into
the run's scratch folder, so the target's interpreter needs nothing of the builder installed.
"""

import contextlib
import os

GATE_VARIABLE = "PETSAGE_TEST_GATE_FD"


def pytest_load_initial_conftests(early_config: object, parser: object, args: object) -> None:
    """Runs after plugins load and before the target's own conftest.py is imported."""
    descriptor = int(os.environ.get(GATE_VARIABLE, "-1"))
    if descriptor < 0:
        return
    with contextlib.suppress(ImportError):
        import fastapi.testclient  # noqa: F401 - warm the target's heaviest import meanwhile
    signal = os.read(descriptor, 2)
    os.close(descriptor)
    if signal != b"go":
        os._exit(3)
