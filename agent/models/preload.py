"""Load a model's SDK in a thread while the build's first steps wait on git and the box.

The `openai` SDK takes longer to import than anything else a build loads (it builds every
type of its API at import). A command-line build that will need it starts the import at once,
in a thread: its Python work shares the interpreter with the builder's own, but the builder
spends much of its first steps waiting on git and on starting the test process, and the import
fills those waits. The model's first use of the SDK then finds it loaded, or waits for it.
"""

from __future__ import annotations

import contextlib
import importlib
import threading

#: What a model spec's kind needs imported before its first request.
SDKS = {"openai": "openai"}


_started: dict[str, threading.Thread] = {}


def preload_sdk(spec: str) -> threading.Thread | None:
    """Start importing the SDK `spec` (a PETSAGE_MODEL value) needs; None when it needs none."""
    module = SDKS.get(spec.strip().partition(":")[0])
    if module is None:
        return None
    thread = threading.Thread(target=_import, args=(module,), name="sdk-preload", daemon=True)
    _started[module] = thread
    thread.start()
    return thread


def wait_for(module: str) -> None:
    """Before a model imports `module` itself: let a preload of it finish first, so that no
    thread ever sees it half loaded."""
    thread = _started.get(module)
    if thread is not None and thread is not threading.current_thread():
        thread.join()


def _import(module: str) -> None:
    # A failure here is the model's to report, with its own message, when it imports it.
    with contextlib.suppress(Exception):
        importlib.import_module(module)
