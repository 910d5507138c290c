"""The gates' box processes have the test run's limits (agent.box.budget): a budget of what the
box used, and a wall ceiling whose passing is the machine's fault (real sandboxed processes)."""

from __future__ import annotations

import sys
from pathlib import Path

from agent.box.budget import overrun_error
from agent.pipeline.verify.box import Box


def folders(tmp_path: Path) -> tuple[Path, Path]:
    tree, scratch = tmp_path / "tree", tmp_path / "scratch"
    tree.mkdir()
    scratch.mkdir()
    return tree, scratch


def test_a_box_that_spins_passes_its_cpu_budget_the_features_fault(tmp_path: Path) -> None:
    box = Box(Path(sys.executable), timeout=0.5, wall_seconds=600)
    run = box.run(*folders(tmp_path), ["-c", "while True:\n    pass\n"])
    assert run.timed_out and run.returncode is None
    assert run.overrun is not None
    assert run.overrun.limit in ("cpu_seconds", "run_seconds")
    assert not run.overrun.infrastructure


def test_a_box_past_its_wall_ceiling_is_the_machines_fault(tmp_path: Path) -> None:
    box = Box(Path(sys.executable), timeout=120, wall_seconds=0.3)
    run = box.run(*folders(tmp_path), ["-c", "import time\ntime.sleep(30)\n"])
    assert run.timed_out
    assert run.overrun is not None and run.overrun.infrastructure, run.overrun
    error = overrun_error(run.overrun, "verified", "the gates' probe")
    assert (error.stage, error.limit, error.budget) == ("verified", "wall_seconds", 0.3)
    assert str(error).startswith("the gates' probe passed its wall-clock ceiling of 0.3 s")


def test_a_box_that_ends_in_time_has_no_overrun(tmp_path: Path) -> None:
    run = Box(Path(sys.executable), timeout=120).run(*folders(tmp_path), ["-c", "print('hi')"])
    assert (run.returncode, run.timed_out, run.overrun) == (0, False, None)
    assert "hi" in run.output
