"""Runs INSIDE the box, in one process: the feature's tests on the unwired tree, then the OpenAPI
documents of the base and the built trees (one interpreter start, FastAPI imported once).

Usage: python petsage_probe.py --held   (started ahead; once the trees are in place, one JSON
       line on stdin: {"key": ..., "args": [<base_tree|->, <built_tree>, <unwired_tree>, "--",
       <pytest args>...]})
The key arms the result channel (petsage_report, beside it) before any tree is imported; the
documents (or why one cannot be made) and every test of the unwired run go back through it.
Nothing is written to disk for the builder to read.
"""

import contextlib
import gc
import importlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any


def _forget_tree() -> None:
    for name in list(sys.modules):
        if name in ("src", "tests") or name.startswith(("src.", "tests.")):
            del sys.modules[name]


def _openapi(tree: str, name: str) -> None:
    import petsage_report  # type: ignore[import-not-found]  # beside it in the box

    _forget_tree()
    sys.path.insert(0, tree)
    try:
        from src.main import app  # type: ignore[import-not-found]

        document = json.loads(json.dumps(app.openapi(), sort_keys=True))
        petsage_report.send({"t": "document", "name": name, "doc": document, **_served(app)})
    except BaseException:
        error = traceback.format_exc()[-2000:]
        petsage_report.send({"t": "document", "name": name, "error": error})
    finally:
        sys.path.remove(tree)


def _served(app: object) -> dict[str, object]:
    """What the app serves, from its own route table (a route can be hidden from the OpenAPI
    document with `include_in_schema=False`), and its middleware."""
    listed: list[Any] = list(getattr(app, "routes", []))
    try:  # FastAPI ≥ 0.160 includes a router lazily: its routes are contexts of the include
        from fastapi.routing import iter_route_contexts

        listed = list(iter_route_contexts(listed))
    except ImportError:
        pass
    routes = [
        {
            "path": str(getattr(route, "path", "")),
            "methods": sorted(getattr(route, "methods", None) or []),
            "schema": bool(getattr(route, "include_in_schema", True)),
            "kind": type(getattr(route, "original_route", route)).__name__,
        }
        for route in listed
    ]
    middleware = [repr(getattr(m, "cls", m)) for m in getattr(app, "user_middleware", [])]
    return {"routes": routes, "middleware": middleware}


#: What the probe and the apps load anyway, loaded while a held probe waits for its arguments.
PRELOADED = ("pytest", "fastapi", "fastapi.testclient", "sqlalchemy.orm")


def main(argv: list[str]) -> int:
    if argv[:1] != ["--held"]:
        return 2
    # Started ahead of the build's files: load what is certain to be needed, then wait for
    # the key and the arguments (one JSON line); none (the builder closed the pipe) ends it.
    for name in PRELOADED:
        with contextlib.suppress(Exception):  # only a head start: the run imports anyway
            importlib.import_module(name)
    line = sys.stdin.readline()
    if not line.strip():
        return 3
    message = json.loads(line)
    import petsage_report

    petsage_report.arm(str(message.get("key") or ""))
    argv = [str(arg) for arg in message.get("args") or []]
    base, built, unwired = (Path(a) for a in argv[0:3])
    pytest_args = argv[argv.index("--") + 1 :]
    # The unwired tests first, in an interpreter no tree has run in yet: the report plugin's
    # fingerprint of pytest is taken before any generated module is imported. The documents
    # after, each tree imported afresh.
    os.chdir(unwired)
    sys.path.insert(0, str(unwired))
    import pytest

    code = int(pytest.main(pytest_args, plugins=[petsage_report]))
    sys.path.remove(str(unwired))
    if str(base) != "-":
        _openapi(str(base), "base")
    _openapi(str(built), "built")
    # The documents and the tests are reported: end without the interpreter's last garbage
    # collection over every object FastAPI, pytest and the two apps made (as the test run does).
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
