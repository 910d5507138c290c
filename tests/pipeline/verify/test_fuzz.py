"""The fuzz gate's box has the build's limits (issue 28): its wall ceiling is the build's, so a
run the machine starves is the machine's fault, retried, never a verdict (a real sandbox)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent.errors import InfrastructureError
from agent.pipeline.verify import fuzz
from agent.pipeline.verify.box import Box


@pytest.mark.skipif(not fuzz.available(), reason="Schemathesis is not installed")
def test_the_fuzz_run_keeps_the_builds_wall_ceiling(tmp_path: Path) -> None:
    worktree = tmp_path / "tree"
    (worktree / "src").mkdir(parents=True)
    (worktree / "src" / "__init__.py").write_text("")
    (worktree / "src" / "main.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    box = Box(Path(sys.executable), timeout=120, wall_seconds=0.05)
    with pytest.raises(InfrastructureError) as e:
        fuzz.gate(worktree, tmp_path / "fuzz", "pet_bug", box)
    assert (e.value.stage, e.value.limit, e.value.budget) == ("verified", "wall_seconds", 0.05)
    assert str(e.value).startswith("the fuzz run passed its wall-clock ceiling of 0.05 s")
