"""The round's workplace: a clean worktree, the test process held at its gate, the gates' probe.

`Workbench.prepare` runs once at the start of every round, before the model is asked, so the
interpreter, pytest and the target's heavy imports load while the model answers and the files
are checked; the loop calls it once more only to try a round's tests again after the machine,
not the reply, ended them (`InfrastructureError`). The test stage `take`s the held processes: the
next `prepare` starts new ones. Everything it starts closes with the build's exit stack.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import TYPE_CHECKING

from agent.box.budget import box_wall_seconds
from agent.box.run import TestRun, default_limits, has_pytest_config, run_signature, start_tests
from agent.bundle import BundleFile
from agent.pipeline.round import Base
from agent.pipeline.state import BuildState
from agent.repo.workspace import Worktree
from agent.settings import Settings

if TYPE_CHECKING:
    from agent.pipeline.verify.box import Box, HeldProbe


def gates_box(settings: Settings, base: Base) -> Box:
    """How the gates run the target's Python: as the tests do (interpreter, timeout, box)."""
    from agent.pipeline.verify.box import Box

    sandboxed = settings.sandbox != "off"
    return Box(base.test_python, settings.test_timeout, sandboxed, box_wall_seconds(settings))


class Workbench:
    """One build's worktree and the processes held for its next round's tests and gates."""

    def __init__(
        self, state: BuildState, base: Base, stack: ExitStack, held_tests: TestRun | None
    ) -> None:
        """`held_tests`: a test process started ahead (agent.box.prestart), taken if it fits."""
        self._state = state
        self._base = base
        self._stack = stack
        self._worktree: Worktree | None = None
        self._written = False
        self._tests = held_tests
        self._probe: HeldProbe | None = None

    @property
    def worktree(self) -> Worktree:
        """The build's worktree (made by the first `prepare`)."""
        assert self._worktree is not None
        return self._worktree

    def prepare(self) -> None:
        """A clean worktree, a test process held at its gate, and the gates' held probe.

        A held run that no round took (the reply was invalid) serves the next round; one a
        round took is never used again.
        """
        worktree = self._clean_worktree()
        self._hold_tests(worktree)
        self._hold_probe()

    def take(self) -> tuple[Worktree, TestRun, HeldProbe | None]:
        """The worktree and the held test process and probe, for the round that tests now.

        A probe that ended since `prepare` is replaced first; the next `prepare` starts new ones.
        """
        self._hold_probe()
        assert self._tests is not None
        tests, self._tests = self._tests, None
        probe, self._probe = self._probe, None
        return self.worktree, tests, probe

    def write(self, files: list[BundleFile]) -> None:
        """Write a round's files: the next `prepare` resets the worktree first."""
        self._written = True
        self.worktree.write(files)

    def close_with_build(self, close: Callable[[], object]) -> None:
        """Call `close` when the build ends, with what the workbench holds."""
        self._stack.callback(close)

    def _clean_worktree(self) -> Worktree:
        state = self._state
        if self._worktree is None:
            with state.timed("write"):
                self._worktree = self._stack.enter_context(
                    state.repo.worktree(self._base.start, state.result.id)
                )
        elif self._written:
            with state.timed("write"):
                self._worktree.reset()
        self._written = False
        return self._worktree

    def _hold_tests(self, worktree: Worktree) -> None:
        settings = self._state.settings
        sandboxed = settings.sandbox != "off"
        own_config = has_pytest_config(worktree.path)
        held = self._tests
        if held is not None and held.source is None:
            # Started ahead of the build (agent.box.prestart): taken only if it fits.
            self._stack.callback(held.close)
            limits = default_limits(settings.test_timeout)
            wanted = run_signature(
                self._base.test_python, settings.test_timeout, sandboxed, limits, own_config, True
            )
            if held.signature == wanted:
                held.adopt(worktree.path)
            else:
                held.close()
                self._tests = None
        if self._tests is None:
            with self._state.timed("test"):
                self._tests = start_tests(
                    worktree.path,
                    python=self._base.test_python,
                    timeout=settings.test_timeout,
                    sandboxed=sandboxed,
                    migration_check=True,
                    own_config=own_config,
                )
            self._stack.callback(self._tests.close)

    def _hold_probe(self) -> None:
        if self._probe is not None and not self._probe.alive:
            self._probe.close()  # ended while held (killed: memory): start another
            self._probe = None
        if self._probe is None and self._state.settings.verify != "off":
            # The gates' probe, too: its interpreter, pytest and FastAPI load meanwhile.
            with self._state.timed("verify"):
                self._probe = gates_box(self._state.settings, self._base).hold_probe()
            self._stack.callback(self._probe.close)
