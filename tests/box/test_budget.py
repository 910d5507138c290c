"""The box's time limits on real processes in a real cgroup: a spinning box passes its CPU
budget, a sleeping one its own run time, and a starved one (a CPU hog at a higher priority on
the same core) only the wall ceiling, which is the machine's fault, not the feature's."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.box.budget import Budget, Overrun, overrun_error, wall_ceiling
from agent.box.cgroups import Cgroup
from agent.errors import InfrastructureError

SPIN = "while True:\n    pass\n"
SLEEP = "import time\ntime.sleep(60)\n"


def in_group(code: str) -> Iterator[tuple[Cgroup, subprocess.Popen[bytes]]]:
    group = Cgroup.create(f"budget-{uuid.uuid4().hex[:10]}", 64, 1024**3)
    if group.cpu is None:
        group.remove()
        pytest.skip("no cgroup counts CPU time here (needs root and cgroup cpuacct or v2)")
    process = subprocess.Popen([*group.enter(), sys.executable, "-c", code])
    try:
        yield group, process
    finally:
        process.kill()
        process.wait()
        group.kill_all()
        group.remove()


@pytest.fixture
def spinning() -> Iterator[tuple[Cgroup, subprocess.Popen[bytes]]]:
    yield from in_group(SPIN)


@pytest.fixture
def sleeping() -> Iterator[tuple[Cgroup, subprocess.Popen[bytes]]]:
    yield from in_group(SLEEP)


def top_priority() -> None:
    """In a hog's new process: the highest priority, for it and for its session's autogroup
    (with autogroups, the scheduler weighs sessions, and the box runs in a session of its own)."""
    os.nice(-20)
    with contextlib.suppress(OSError):
        Path("/proc/self/autogroup").write_text("-20")


def run_out(budget: Budget, limit: float = 60) -> Overrun:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = budget.over()
        if found is not None:
            return found
        time.sleep(budget.next_look(0.05))
    raise AssertionError(f"no limit passed in {limit} s")


def test_the_cgroup_counts_the_cpu_time_of_its_processes(
    spinning: tuple[Cgroup, subprocess.Popen[bytes]],
) -> None:
    group, _ = spinning
    first = group.cpu_seconds()
    assert first is not None
    time.sleep(1.0)
    later = group.cpu_seconds()
    assert later is not None and later > first + 0.05


def test_a_spinning_box_passes_its_cpu_budget_which_is_the_features_fault(
    spinning: tuple[Cgroup, subprocess.Popen[bytes]],
) -> None:
    group, _ = spinning
    deadline = time.monotonic() + 60
    while (group.cpu_seconds() or 0.0) < 0.6 and time.monotonic() < deadline:
        time.sleep(0.05)  # what it used before the budget was made counts too (a held run's)
    found = run_out(Budget.of_box(group, 0.5, 600))
    assert found.limit == "cpu_seconds"
    assert found.figure > 0.5 and found.budget == 0.5
    assert not found.infrastructure
    assert "CPU time, over its budget of" in found.describe("the test run")


def test_a_sleeping_box_passes_its_own_run_time_which_is_the_features_fault(
    sleeping: tuple[Cgroup, subprocess.Popen[bytes]],
) -> None:
    group, _ = sleeping
    found = run_out(Budget.of_box(group, 1.0, 600))
    assert found.limit == "run_seconds"
    assert found.cpu_seconds is not None and found.cpu_seconds < 1.0
    assert not found.infrastructure
    assert "sleeps or blocks" in found.describe("the test run")


def test_a_starved_box_passes_only_the_wall_ceiling_which_is_the_machines_fault() -> None:
    """A CPU hog at the highest priority, on the one core the box may use: the box waits."""
    if os.geteuid() != 0:
        pytest.skip("raising a hog's priority needs root")
    core = min(os.sched_getaffinity(0))
    hog = subprocess.Popen(
        [sys.executable, "-c", f"import os\nos.sched_setaffinity(0, {{{core}}})\n{SPIN}"],
        start_new_session=True,
        preexec_fn=top_priority,
    )
    mine = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})  # the box inherits it
    try:
        box = in_group(SPIN)
        group, _ = next(box)
        try:
            found = run_out(Budget.of_box(group, 30.0, 3.0))
        finally:
            box.close()
    finally:
        os.sched_setaffinity(0, mine)
        hog.kill()
        hog.wait()
    assert found.limit == "wall_seconds", found
    assert found.infrastructure
    assert found.cpu_seconds is not None and found.cpu_seconds < 1.5
    assert found.waited_seconds is not None and found.waited_seconds > 1.5
    error = overrun_error(found, "tested", "the test run")
    assert isinstance(error, InfrastructureError)
    assert (error.stage, error.limit, error.budget) == ("tested", "wall_seconds", 3.0)
    assert "the machine was too busy" in str(error)


def test_without_a_cpu_count_the_wall_clock_stands_for_the_budget_as_before() -> None:
    found = run_out(Budget(0.2, 600))
    assert found.limit == "cpu_seconds" and found.cpu_seconds is None
    assert not found.infrastructure
    assert "time (wall clock)" in found.describe("the test run")


def test_the_default_ceiling_is_many_times_the_budget() -> None:
    assert wall_ceiling(120) == 1200
    assert wall_ceiling(2) == 300
