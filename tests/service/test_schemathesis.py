"""Schemathesis against the running service's own OpenAPI: no input gives a 5xx."""

import shutil
import subprocess
import sys
from pathlib import Path

from tests.service.conftest import Server


def test_no_generated_request_gets_a_server_error(server: Server) -> None:
    # Beside this interpreter first: a virtualenv's scripts need not be on PATH.
    scripts = str(Path(sys.executable).parent)
    st = shutil.which("st", path=scripts) or shutil.which("st") or shutil.which("schemathesis")
    assert st is not None, "schemathesis is part of the test extra"
    done = subprocess.run(
        [
            st,
            "run",
            f"{server.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "10",
            "--phases",
            "examples,coverage,fuzzing",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Server error" not in done.stdout and "FAILURES" not in done.stdout
