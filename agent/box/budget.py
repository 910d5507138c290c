"""How long a box may run: measured in what the box itself used, under a generous wall ceiling.

A run's verdict must depend on the feature, never on the machine's load (issue 28). So the
test timeout is a budget the box spends only on its own work:

- `cpu_seconds`: the CPU time all of its processes used, read from its cgroup; a suite that
  spins past it is the feature's fault, however busy the machine;
- `run_seconds`: the wall time, less the time the box's processes waited for a CPU (the
  scheduler's run delay); a suite that sleeps or blocks past it is the feature's fault too;
- `wall_seconds`: a ceiling many times the budget. A box that passes it with both of the others
  under budget got too little of the machine to finish: the machine's fault, an
  `infrastructure` failure that is retried, never told to the model as a test failure.

Where the box's CPU time cannot be read (no cgroup: unsandboxed, or one that cannot be made),
the wall clock stands in for it against the budget, as before, and an overrun counts as the
feature's. Where the waits cannot be read, only the CPU budget and the ceiling apply.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from agent.box.cgroups import Cgroup
from agent.errors import InfrastructureError

if TYPE_CHECKING:
    from agent.settings import Settings

#: The wall ceiling, as a multiple of the budget, when none is given.
WALL_FACTOR = 10.0
#: ... and never under this many seconds.
WALL_FLOOR = 300.0

Limit = Literal["cpu_seconds", "run_seconds", "wall_seconds"]
Reading = Callable[[], float | None]


def wall_ceiling(budget: float) -> float:
    """The default wall-clock ceiling of a box whose budget is `budget` seconds."""
    return max(budget * WALL_FACTOR, WALL_FLOOR)


def box_wall_seconds(settings: Settings) -> float:
    """The wall-clock ceiling of every box of the target's Python the settings start (a build's
    test run and gates, a merge's or refresh's suite run): `test_wall_seconds`, else the
    default for the CPU budget `test_timeout`."""
    given = settings.test_wall_seconds
    return wall_ceiling(settings.test_timeout) if given is None else given


@dataclass(frozen=True)
class Overrun:
    """A limit a run passed: which one, its figure (what the run used) and the budget."""

    limit: Limit
    figure: float
    budget: float
    cpu_seconds: float | None
    wall_seconds: float
    waited_seconds: float | None = None

    @property
    def infrastructure(self) -> bool:
        """True when the machine, not the feature, ended the run: the wall ceiling passed while
        the box had used less than its budget."""
        return self.limit == "wall_seconds"

    def describe(self, what: str) -> str:
        """One line for a person: `what` ("the test run") passed which limit, with the figures."""
        cpu = "unknown" if self.cpu_seconds is None else f"{self.cpu_seconds:.1f} s"
        waited = "" if self.waited_seconds is None else f", {self.waited_seconds:.1f} s waiting"
        if self.limit == "cpu_seconds":
            measured = "CPU time" if self.cpu_seconds is not None else "time (wall clock)"
            return (
                f"{what} used {self.figure:.1f} s of {measured}, over its budget of "
                f"{self.budget:g} s, and was killed"
            )
        if self.limit == "run_seconds":
            return (
                f"{what} ran {self.figure:.1f} s, not counting {self.waited_seconds or 0:.1f} s "
                f"it waited for a CPU, over its budget of {self.budget:g} s ({cpu} of CPU "
                "time: a test that sleeps or blocks), and was killed"
            )
        return (
            f"{what} passed its wall-clock ceiling of {self.budget:g} s ({self.figure:.1f} s"
            f"{waited} for a CPU) having used {cpu} of CPU time: the machine was too busy"
        )


class Budget:
    """The limits of one run, measured from its creation.

    `read_cpu`: the box's CPU seconds so far (its cgroup's count, from the group's creation: a
    held run's imports count too), or None where it cannot be read. `read_waiting`: how long
    its processes have waited for a CPU so far, or None.
    """

    def __init__(
        self,
        budget: float,
        wall_seconds: float | None = None,
        read_cpu: Reading | None = None,
        read_waiting: Reading | None = None,
    ) -> None:
        self.budget = budget
        self.wall_budget = wall_ceiling(budget) if wall_seconds is None else wall_seconds
        self._read_cpu = read_cpu or _unknown
        self._read_waiting = read_waiting or _unknown
        self._waited_before = self._read_waiting()
        self._began = time.monotonic()
        #: When a run that does not end passes a limit at the latest, in wall seconds.
        self._ceiling = self.wall_budget

    @classmethod
    def of_box(cls, group: Cgroup | None, budget: float, wall_seconds: float | None) -> Budget:
        """The budget of a box whose cgroup is `group` (None: no cgroup, the wall clock only)."""
        if group is None:
            return cls(budget, wall_seconds)
        return cls(budget, wall_seconds, group.cpu_seconds, group.waiting_seconds)

    @property
    def wall(self) -> float:
        return time.monotonic() - self._began

    def over(self) -> Overrun | None:
        """The limit the run has passed, if any: the feature's limits first, then the ceiling."""
        wall = self.wall
        cpu = self._read_cpu()
        if cpu is None:
            self._ceiling = self.budget
            if wall > self.budget:
                return Overrun("cpu_seconds", wall, self.budget, None, wall)
            return None
        if cpu > self.budget:
            return Overrun("cpu_seconds", cpu, self.budget, cpu, wall)
        waited = self._waited()
        if waited is not None and wall - waited > self.budget:
            return Overrun("run_seconds", wall - waited, self.budget, cpu, wall, waited)
        if wall > self.wall_budget:
            return Overrun("wall_seconds", wall, self.wall_budget, cpu, wall, waited)
        return None

    def next_look(self, most: float = 0.5) -> float:
        """How long to wait before looking again: `most`, or less near the wall-clock limit,
        and never below a few milliseconds."""
        return max(0.005, min(most, self._ceiling - self.wall))

    def _waited(self) -> float | None:
        now = self._read_waiting()
        if now is None:
            return None
        return max(0.0, now - (self._waited_before or 0.0))


def _unknown() -> float | None:
    return None


def overrun_error(overrun: Overrun, stage: str, what: str) -> InfrastructureError:
    """The error a stage raises when the machine, not the feature, ended its box (`what`)."""
    return InfrastructureError(
        overrun.describe(what),
        stage=stage,
        limit=overrun.limit,
        figure=round(overrun.figure, 3),
        budget=overrun.budget,
    )
