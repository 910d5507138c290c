"""The thorough gates read their runs through the result channel too: a mutant is killed only by
a verified failing test, and the fuzz run's findings cannot be wiped after the fact. Each
attack is written as a hostile feature would write it (no plain `os._exit`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent.pipeline.verify import fuzz
from agent.pipeline.verify.box import REPORTING, Box
from agent.pipeline.verify.mutation import killed_by

BOX = Box(Path(sys.executable), 60, sandboxed=False)
QUIT_WITH = "import atexit, os\natexit.register(lambda: getattr(os, '_ex' + 'it')({code}))\n"


def tree(root: Path, test: str) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "test_it.py").write_text(test)
    return root


def run(root: Path) -> bool:
    scratch = root / "scratch"
    scratch.mkdir()
    args = ["-m", "pytest", "tests", "-x", "-q", "-p", "no:cacheprovider", *REPORTING]
    result = BOX.run(root, scratch, [*args, f"--rootdir={root}"], stop_on_failure=True)
    return killed_by(result)


def test_a_mutant_is_killed_by_a_failing_test(tmp_path: Path) -> None:
    assert run(tree(tmp_path, "def test_it():\n    assert 1 == 2\n"))


@pytest.mark.parametrize("code", [1, 3])
def test_an_exit_status_alone_kills_no_mutant(tmp_path: Path, code: int) -> None:
    """Tests that pass, then end the process with a failing status once the session is over:
    by its exit status every mutant would be 'killed' and the score perfect."""
    assert not run(tree(tmp_path, QUIT_WITH.format(code=code) + "def test_it():\n    pass\n"))


@pytest.mark.skipif(not fuzz.available(), reason="Schemathesis is not installed")
def test_the_fuzz_runs_findings_stand_whatever_the_app_does_at_exit(tmp_path: Path) -> None:
    """An app that answers 500 and, at exit, deletes every report file it can find and ends
    with status 0: the fuzz gate still fails, on the finding or on the stream."""
    worktree = tmp_path / "tree"
    (worktree / "src").mkdir(parents=True)
    (worktree / "src" / "__init__.py").write_text("")
    (worktree / "src" / "main.py").write_text(
        "import atexit, os\n"
        "from fastapi import FastAPI\n"
        "def _wipe():\n"
        "    for folder, _, names in os.walk('/tmp'):\n"
        "        for name in names:\n"
        "            if name.endswith('.xml'):\n"
        "                getattr(os, 'un' + 'link')(os.path.join(folder, name))\n"
        "    getattr(os, '_ex' + 'it')(0)\n"
        "atexit.register(_wipe)\n"
        "app = FastAPI()\n"
        "@app.get('/api/v1/pet-bug')\n"
        "def pet_bug() -> dict[str, int]:\n"
        "    return {'x': 1 // 0}\n"
    )
    outcome = fuzz.gate(worktree, tmp_path / "fuzz", "pet_bug", BOX)
    assert not outcome.ok, outcome
    assert outcome.reasons
