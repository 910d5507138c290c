"""The gates' box process on its own: both OpenAPI documents, the unwired tests, and its end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from subprocess import CompletedProcess

from agent.pipeline.verify.box import PROBE

APP = (
    "from fastapi import FastAPI\n"
    "app = FastAPI()\n"
    "@app.get('/api/v1/{name}')\n"
    "def {name}() -> dict[str, str]:\n"
    "    return {{'status': 'ok'}}\n"
)


def _tree(root: Path, name: str) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "__init__.py").write_text("")
    (root / "src" / "main.py").write_text(APP.format(name=name))
    (root / "tests").mkdir()
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "test_it.py").write_text(
        "from src.main import app\ndef test_routes():\n    assert len(app.routes) > 1\n"
    )
    (root / "tests" / "conftest.py").write_text(
        "import atexit, gc\n"
        "atexit.register(lambda: print(f'FROZEN-AT-EXIT {gc.get_freeze_count() > 0}'))\n"
    )
    return root


def _trees(root: Path) -> list[str]:
    """The probe's first arguments over three new trees: out, base, built, unwired."""
    out = root / "out"
    out.mkdir()
    trees = [
        _tree(root / "base", "old"),
        _tree(root / "built", "new"),
        _tree(root / "unwired", "new"),
    ]
    return [str(out), *(str(tree) for tree in trees)]


def _probe(
    args: list[str], stdin: str | None = None, cwd: Path | None = None
) -> CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PROBE), *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def test_the_probe_writes_both_documents_runs_the_tests_and_ends_without_a_last_collection(
    tmp_path: Path,
) -> None:
    trees = _trees(tmp_path)
    junit = tmp_path / "out" / "junit.xml"
    done = _probe([*trees, "--", "tests", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "/api/v1/old" in json.loads((tmp_path / "out" / "base.json").read_text())["paths"]
    assert "/api/v1/new" in json.loads((tmp_path / "out" / "built.json").read_text())["paths"]
    assert 'tests="1"' in junit.read_text()
    assert "FROZEN-AT-EXIT True" in done.stdout


def test_a_held_probe_without_its_arguments_ends_without_running_anything(tmp_path: Path) -> None:
    done = _probe(["--held"], cwd=tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_held_probe_takes_its_arguments_on_stdin(tmp_path: Path) -> None:
    args = [*_trees(tmp_path), "--", "tests", "-q", "-p", "no:cacheprovider"]
    done = _probe(["--held"], stdin=json.dumps(args) + "\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "/api/v1/new" in json.loads((tmp_path / "out" / "built.json").read_text())["paths"]
    assert "1 passed" in done.stdout
