"""The gates' box process on its own: both OpenAPI documents, the unwired tests, and its end,
all read back through its result channel; a test that forges either fails the run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from agent.pipeline.verify.box import PROBE, Box, BoxRun

APP = (
    "from fastapi import FastAPI\n"
    "app = FastAPI()\n"
    "@app.get('/api/v1/{name}')\n"
    "def {name}() -> dict[str, str]:\n"
    "    return {{'status': 'ok'}}\n"
)
TEST = "from src.main import app\ndef test_routes():\n    assert len(app.routes) > 1\n"


def _tree(root: Path, name: str, test: str = TEST) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "__init__.py").write_text("")
    (root / "src" / "main.py").write_text(APP.format(name=name))
    (root / "tests").mkdir()
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "test_it.py").write_text(test)
    (root / "tests" / "conftest.py").write_text(
        "import atexit, gc\n"
        "atexit.register(lambda: print(f'FROZEN-AT-EXIT {gc.get_freeze_count() > 0}'))\n"
    )
    return root


def _run(tmp_path: Path, test: str = TEST) -> BoxRun:
    """The probe held in its box (unsandboxed here: the box's walls have tests of their own),
    then released over a base, a built and an unwired tree."""
    held = Box(Path(sys.executable), 60, sandboxed=False).hold_probe()
    try:
        source = tmp_path / "source"
        trees = [
            _tree(source / "base", "old"),
            _tree(source / "built", "new", test),
            _tree(source / "unwired", "new", test),
        ]
        copies = [shutil.copytree(tree, held.scratch / tree.name) for tree in trees]
        pytest_args = ["tests", "-q", "-p", "no:cacheprovider", f"--rootdir={copies[2]}"]
        held.process.release([*(str(c) for c in copies), "--", *pytest_args])
        return held.process.finish()
    finally:
        held.close()


def test_the_probe_reports_both_documents_and_the_tests_through_its_channel(
    tmp_path: Path,
) -> None:
    run = _run(tmp_path)
    assert run.breaches == [], (run.breaches, run.output)
    assert "/api/v1/old" in run.session.documents["base"]["doc"]["paths"]
    assert "/api/v1/new" in run.session.documents["built"]["doc"]["paths"]
    assert [(c.nodeid, c.outcome) for c in run.session.cases] == [
        ("tests.test_it.test_routes", "passed")
    ]
    assert "FROZEN-AT-EXIT True" in run.output


FORGER = (
    "import json, os\n"
    "from src.main import app\n"
    "def test_routes():\n"
    "    doc = json.dumps({'t': 'document', 'name': 'built', 'doc': {'paths': {}}}).encode()\n"
    "    for name in os.listdir('/proc/self/fd'):\n"
    "        try:\n"
    "            if os.readlink('/proc/self/fd/' + name).startswith('pipe:'):\n"
    "                getattr(os, 'wri' + 'te')(int(name), len(doc).to_bytes(4, 'big') + doc)\n"
    "        except OSError:\n"
    "            pass\n"
    "    assert len(app.routes) > 1\n"
)


def test_a_test_that_writes_a_document_into_the_stream_spoils_the_whole_run(
    tmp_path: Path,
) -> None:
    """The contract gate reads the documents from the stream: bytes without the run's key in
    it (here a forged `built` document) make every record after them worthless, and say so."""
    run = _run(tmp_path, FORGER)
    assert any("did not write" in breach for breach in run.breaches), run.breaches


def test_a_held_probe_without_its_arguments_ends_without_running_anything(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(PROBE), "--held"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert list(tmp_path.iterdir()) == []
