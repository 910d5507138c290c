"""A checked bundle written and wired into the worktree, and the suite run on it.

The test process was started and held at its gate when the round began (`Workbench.prepare`):
this stage takes it, writes and wires the files, releases it and waits for its report, while the
gates' work starts beside it in the probe held as long.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

from agent.box.budget import box_wall_seconds, overrun_error
from agent.box.results import TestReport
from agent.box.run import TestRun
from agent.box.sandbox import UNSANDBOXED_NOTE
from agent.bundle import FileBundle
from agent.events import StageEvent
from agent.pipeline.integrate import add_migration, changes_schema, integrate
from agent.pipeline.migration_ops import MigrationPlan
from agent.pipeline.result import counts_of
from agent.pipeline.round import Base, Tested
from agent.pipeline.state import BuildState
from agent.pipeline.workbench import Workbench, gates_box
from agent.repo.workspace import Worktree
from agent.request import FeatureRequest

if TYPE_CHECKING:
    from agent.pipeline.verify.box import HeldProbe
    from agent.pipeline.verify.gates import Verifier


class WriteAndTest:
    """Writes and wires a round's bundle, releases the held test process, and runs the suite."""

    def __init__(self, state: BuildState) -> None:
        self._state = state

    def run(
        self,
        request: FeatureRequest,
        base: Base,
        bundle: FileBundle,
        number: int,
        bench: Workbench,
    ) -> Generator[StageEvent, None, Tested]:
        """Write and wire the bundle, release the held test process, and run the suite."""
        state = self._state
        worktree, test_run, held_probe = bench.take()
        sandboxed = state.settings.sandbox != "off"
        if not sandboxed and UNSANDBOXED_NOTE not in state.result.notes:
            state.result.notes.append(UNSANDBOXED_NOTE)
        with test_run:
            paths = yield from self._write_and_wire(bench, bundle, request, number)
            state.check_stop()
            # Only files that touch the database can change the schema the check sees: else
            # it would check the base's again (agent.pipeline.integrate.changes_schema).
            checks_schema = changes_schema(bundle, paths, request.feature)
            plan = MigrationPlan.for_base(request, base, worktree.path) if checks_schema else None
            with state.timed("test"):
                test_run.release(plan)
                verifier = self._verifier(worktree, request, base, bundle, held_probe, bench)
                test_run.wall_seconds = box_wall_seconds(state.settings)
                report = test_run.wait(state.should_stop)
                migration = test_run.migration_result()
            state.check_stop()
        self._raise_on_overrun(test_run, verifier)
        self._note_missing_limits(report)
        problem, note = (
            add_migration(worktree, migration, base.revision_path, paths)
            if checks_schema
            else (None, None)
        )
        if note is not None:
            state.result.notes.append(note)
        own = report.own_tests(f"tests.features.{request.feature}.")
        state.result.tests = counts_of(report, own)
        state.attempt.test_output = report.output
        return Tested(report, own, paths, verifier, problem)

    def _write_and_wire(
        self, bench: Workbench, bundle: FileBundle, request: FeatureRequest, number: int
    ) -> Generator[StageEvent, None, list[str]]:
        """Write the files, wire them in, record the commit's tree; return its paths."""
        state = self._state
        with state.timed("write"):
            bench.write(bundle.files)
        yield state.progress("written", f"{len(bundle.files)} files written", number)
        with state.timed("integrate"):
            paths, state.wiring = integrate(bench.worktree, bundle, request.feature)
            # The commit's tree is recorded now, before any generated code runs.
            bench.worktree.record(paths)
        wired = "router wired into src/main.py" if state.wiring else "already wired"
        yield state.progress("integrated", wired, number)
        return paths

    def _verifier(
        self,
        worktree: Worktree,
        request: FeatureRequest,
        base: Base,
        bundle: FileBundle,
        held_probe: HeldProbe | None,
        bench: Workbench,
    ) -> Verifier:
        """The gates, started beside the test run in the probe held since the round began."""
        # The gates' box work runs beside the main test run (`Verify`), in the probe held
        # since the round began. Imported here, not before: the test process runs meanwhile
        # (issue 19).
        from agent.pipeline.verify.gates import Verifier

        state = self._state
        verifier = Verifier(
            worktree.path,
            request,
            bundle,
            repo=state.repo,
            base=base.start,
            settings=state.settings,
            box=gates_box(state.settings, base),
            held=held_probe,
        )
        bench.close_with_build(verifier.close)
        return verifier

    @staticmethod
    def _raise_on_overrun(test_run: TestRun, verifier: Verifier) -> None:
        overrun = test_run.overrun
        if overrun is not None and overrun.infrastructure:
            verifier.close()  # the stage is tried again from the start: never the model's fault
            raise overrun_error(overrun, "tested", "the test run")

    def _note_missing_limits(self, report: TestReport) -> None:
        notes = self._state.result.notes
        for missing in report.missing_limits:
            note = f"sandbox limit not set on this machine: {missing}"
            if note not in notes:
                notes.append(note)
