"""Runs INSIDE the box, in one process: the OpenAPI documents of the base and the built trees,
then the feature's tests on the unwired tree (one interpreter start, FastAPI imported once).

Usage: python petsage_probe.py <out_dir> <base_tree|-> <built_tree> <unwired_tree> -- <pytest args>
   or: python petsage_probe.py --held     (started ahead: the same arguments, as a JSON list, on
                                           stdin once the trees are in place)
Writes <out_dir>/base.json, <out_dir>/built.json (or <name>.error) and leaves JUnit XML where
the pytest arguments say.
"""

import contextlib
import gc
import importlib
import json
import os
import sys
import traceback
from pathlib import Path


def _forget_tree() -> None:
    for name in list(sys.modules):
        if name in ("src", "tests") or name.startswith(("src.", "tests.")):
            del sys.modules[name]


def _openapi(tree: str, out: Path) -> None:
    _forget_tree()
    sys.path.insert(0, tree)
    try:
        from src.main import app  # type: ignore[import-not-found]

        out.write_text(json.dumps(app.openapi(), sort_keys=True), encoding="utf-8")
    except BaseException:
        out.with_suffix(".error").write_text(traceback.format_exc()[-2000:], encoding="utf-8")
    finally:
        sys.path.remove(tree)


#: What the probe and the apps load anyway, loaded while a held probe waits for its arguments.
PRELOADED = ("pytest", "fastapi", "fastapi.testclient", "sqlalchemy.orm")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--held"]:
        # Started ahead of the build's files: load what is certain to be needed, then wait for
        # the arguments (one JSON line); none (the builder closed the pipe) ends it.
        for name in PRELOADED:
            with contextlib.suppress(Exception):  # only a head start: the run imports anyway
                importlib.import_module(name)
        line = sys.stdin.readline()
        if not line.strip():
            return 3
        argv = [str(arg) for arg in json.loads(line)]
    out_dir, base, built, unwired = (Path(a) for a in argv[0:4])
    pytest_args = argv[argv.index("--") + 1 :]
    if str(base) != "-":
        _openapi(str(base), out_dir / "base.json")
    _openapi(str(built), out_dir / "built.json")
    _forget_tree()
    os.chdir(unwired)
    sys.path.insert(0, str(unwired))
    import pytest

    code = int(pytest.main(pytest_args))
    # The documents and the JUnit XML are written: end without the interpreter's last garbage
    # collection over every object FastAPI, pytest and the two apps made (as the test run does).
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
