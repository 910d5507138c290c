"""Runs INSIDE the box, in one process: the OpenAPI documents of the base and the built trees,
then the feature's tests on the unwired tree (one interpreter start, FastAPI imported once).

Usage: python petsage_probe.py <out_dir> <base_tree|-> <built_tree> <unwired_tree> -- <pytest args>
Writes <out_dir>/base.json, <out_dir>/built.json (or <name>.error) and leaves JUnit XML where
the pytest arguments say.
"""

import gc
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


def main() -> int:
    out_dir, base, built, unwired = (Path(a) for a in sys.argv[1:5])
    pytest_args = sys.argv[sys.argv.index("--") + 1 :]
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
    sys.exit(main())
