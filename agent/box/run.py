"""Run the target's whole test suite once, in a separate process, and read per-test results.

One `python -m pytest` on a copy of the build's worktree, in the box, with a timeout that kills
the whole process group and a scrubbed environment (no API keys, no builder settings). Results
come back only through the result channel (`agent.box.channel`): authenticated records the
builder's plugin writes as each test ends; the verdict is the builder's (`agent.box.verdict`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.box import boxfiles, sandbox
from agent.box.budget import Budget, Overrun, box_wall_seconds, overrun_error, wall_ceiling
from agent.box.channel import ResultChannel
from agent.box.migration_exchange import MigrationExchange, MigrationRenderer
from agent.box.report_plugin import FD_VARIABLE
from agent.box.results import TestCase as TestCase
from agent.box.results import TestReport as TestReport
from agent.box.results import expected_functions
from agent.box.runspec import default_limits as default_limits
from agent.box.runspec import has_pytest_config as has_pytest_config
from agent.box.runspec import pytest_command
from agent.box.runspec import run_signature as run_signature
from agent.box.runspec import scrubbed_environment as scrubbed_environment
from agent.box.sized import SizedFolder
from agent.box.verdict import breaches, read_session
from agent.box.watch import watch
from agent.errors import TestRunError

if TYPE_CHECKING:
    from agent.repo.workspace import TargetRepo
    from agent.settings import Settings

OUTPUT_TAIL = 12_000

log = logging.getLogger("petsage.box")


def run_tests(
    worktree: Path,
    *,
    python: Path,
    timeout: float,
    sandboxed: bool = True,
    limits: sandbox.Limits | None = None,
) -> TestReport:
    """Run `python -m pytest tests` in `worktree` once and return what each test did."""
    with start_tests(
        worktree, python=python, timeout=timeout, sandboxed=sandboxed, limits=limits
    ) as run:
        run.release()
        return run.wait()


def run_suite_on(
    path: Path, settings: Settings, repo: TargetRepo, start: str, *, stage: str = "merge"
) -> TestReport:
    """The target's whole suite on a checkout, in the sandbox (used to vet a merge).

    `start` is the base branch's tip: the test environment is built from its requirements.
    A run that did not collect every test function the checkout defines fails (its verdict).
    The run's budget is the box's CPU time under the builds' wall ceiling
    (`agent.box.budget`): a run that passes the ceiling having used less than its budget got
    too little of the machine, and runs once more; a second such run raises
    `InfrastructureError` (at `stage`), never a failing report (issue 28).
    """
    from agent.box.env import test_python_for

    python, _ = test_python_for(settings, repo, start)
    overrun: Overrun | None = None
    for tries_left in (1, 0):
        with start_tests(
            path, python=python, timeout=settings.test_timeout, sandboxed=settings.sandbox != "off"
        ) as run:
            run.wall_seconds = box_wall_seconds(settings)
            run.release()
            report = run.wait()
        overrun = run.overrun
        if overrun is None or not overrun.infrastructure:
            return report
        if tries_left:
            log.warning("%s: %s; trying again", stage, overrun.describe("the suite run"))
    assert overrun is not None
    raise overrun_error(overrun, stage, "the suite run")


class TestRun:
    """One pytest process, started early and held at a gate until the files are ready.

    The box never sees the checkout: `release()` copies its files (never `.git`) into a folder
    of the box's own, sends the gate the result channel's key and lets the run collect and
    execute; `wait()` reads the channel as the tests end and returns the builder's verdict.
    Nothing the box wrote to disk, to its output or as its exit status decides it alone.
    Leaving the `with` block without a release abandons the run and kills everything it started.

    A run can start before its checkout exists (`worktree=None`, `own_config` then says whether
    the checkout will hold a pytest configuration): `adopt()` names the checkout later. With
    `migration_check`, the run loads the migration check, and `release(migration=...)` gives
    it the renderer of the feature's revision. `signature` says what the run was started for,
    so that a build takes a run started ahead only if it fits.
    """

    __test__ = False

    def __init__(
        self,
        worktree: Path | None,
        *,
        python: Path,
        timeout: float,
        sandboxed: bool = True,
        limits: sandbox.Limits | None = None,
        migration_check: bool = False,
        own_config: bool | None = None,
    ) -> None:
        self.timeout = timeout
        #: The wall-clock ceiling (`agent.box.budget`); `timeout` is the box's CPU-time budget.
        self.wall_seconds = wall_ceiling(timeout)
        #: The limit `wait()` ended the run at, if any.
        self.overrun: Overrun | None = None
        self._closed = False
        self._stopped = False
        self.source = worktree
        self.sandboxed = sandboxed
        self.limits = limits or default_limits(timeout)
        own_config = _own_config(worktree, own_config)
        self._migration = migration_check
        self._exchange: MigrationExchange | None = None
        self._expected: set[str] | None = None
        self.signature = run_signature(
            python, timeout, sandboxed, self.limits, own_config, self._migration
        )
        self._box: sandbox.Box | None = None
        self._gate = -1
        self._channel = ResultChannel()
        self._scratch = Path(tempfile.mkdtemp(prefix="petsage-test-"))
        self._sized: list[SizedFolder] = []
        try:
            self._start(python, sandboxed, own_config)
        except BaseException:
            self._cleanup()
            raise

    def _start(self, python: Path, sandboxed: bool, own_config: bool) -> None:
        """Start the held process in the run's folder (`__init__` cleans up if this raises)."""
        private = self._scratch / "private"
        outside = self._scratch / "box"
        private.mkdir(mode=0o700)
        outside.mkdir(mode=0o700)
        if sandboxed:
            # Bounded as the box writes, where this machine lets the builder mount
            # (agent.box.sized): its folders, and apart from them the file its output goes to.
            output = replace(self.limits, disk_bytes=self.limits.file_bytes, disk_entries=16)
            self._sized = [SizedFolder(outside, self.limits), SizedFolder(private, output)]
        self._log_path = private / "pytest.log"
        self._folders = {name: outside / name for name in ("work", "home", "out", "plugins")}
        for folder in self._folders.values():
            folder.mkdir(mode=0o755)
        self._uid = sandbox.BOX_UID if sandboxed and os.geteuid() == 0 else -1
        for name in ("work", "home", "out"):
            boxfiles.give(self._folders[name], self._uid)
        inside = (
            {name: f"{sandbox.BOX_ROOT}/{name}" for name in self._folders}
            if sandboxed
            else {name: str(folder) for name, folder in self._folders.items()}
        )
        self._work_inside = inside["work"]
        plugins = self._folders["plugins"]
        install_plugins(plugins, migration=self._migration)
        gate_read, self._gate = os.pipe()
        env = scrubbed_environment(Path(inside["home"]))
        env.update(
            PYTHONPATH=inside["plugins"],
            PETSAGE_TEST_GATE_FD=str(gate_read),
            TMPDIR="/tmp" if sandboxed else inside["home"],
        )
        env[FD_VARIABLE] = str(self._channel.write_fd)
        if not own_config:
            (plugins / "pytest.ini").write_text("[pytest]\n")
        command = pytest_command(
            python, inside, migration_check=self._migration, own_config=own_config
        )
        popen_env = env
        pass_fds: tuple[int, ...] = (gate_read, self._channel.write_fd)
        self._log = open(self._log_path, "wb")  # noqa: SIM115 - closed by wait() or cleanup
        try:
            if sandboxed:
                self._box = sandbox.build_box(
                    command,
                    writable={inside[n]: self._folders[n] for n in ("work", "home", "out")},
                    readonly={inside["plugins"]: plugins},
                    chdir=inside["work"],
                    python=python,
                    env=env,
                    limits=self.limits,
                    name=self._scratch.name,
                )
                command = self._box.argv
                popen_env = {"PATH": "/usr/bin:/bin"}
                pass_fds += self._box.pass_fds
            self._process = subprocess.Popen(
                command,
                cwd=self._folders["work"],
                env=popen_env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=pass_fds,
            )
        except OSError as e:
            raise TestRunError(f"cannot start {python}: {e}") from e
        finally:
            os.close(gate_read)
        self._channel.started()
        if self._box is not None:
            self._box.close()
        self._started = 0.0

    @property
    def missing_limits(self) -> list[str]:
        """The limits this machine could not set on the box (empty when all bind)."""
        if self._box is None:
            return []
        unbounded = [sized.missing for sized in self._sized[:1] if sized.missing]
        return [*self._box.missing, *unbounded]

    def adopt(self, worktree: Path) -> None:
        """The checkout whose files `release()` copies into the box."""
        self.source = worktree

    def release(self, migration: MigrationRenderer | None = None) -> None:
        """The files are in place: copy them into the box and let the run collect and execute.

        `migration`: renders the feature's revision from what the migration check finds (a run
        started with `migration_check`); None when the build's files cannot change the schema.
        """
        if self.source is None:
            raise TestRunError("a test run was released before it was given its checkout")
        # What the builder's own checkout defines, read before any of it runs.
        self._expected = expected_functions(self.source)
        boxfiles.copy_checkout(self.source, self._folders["work"], self._uid)
        checking = self._migration and migration is not None
        message = {"go": True, "key": self._channel.key_hex, "migration": checking}
        self._started = time.perf_counter()
        with contextlib.suppress(BrokenPipeError):
            os.write(self._gate, json.dumps(message).encode() + b"\n")
        if checking:
            assert migration is not None
            self._exchange = MigrationExchange(migration, self._gate)  # it owns the pipe now
        else:
            os.close(self._gate)
        self._gate = -1

    def wait(self, should_stop: Callable[[], bool] | None = None) -> TestReport:
        """The run's report once it ends, passes its timeout, or `should_stop` says so."""
        on_record = self._exchange.on_record if self._exchange is not None else None
        group = self._box.cgroup if self._box is not None else None
        budget = Budget.of_box(group, self.timeout, self.wall_seconds)
        try:
            returncode, self.overrun = watch(
                self._process,
                self._channel,
                budget,
                should_stop=should_stop,
                on_record=on_record,
            )
            timed_out = self.overrun is not None
        finally:
            self._stop()
        self._log.close()
        report = TestReport(
            returncode=returncode,
            output=_tail(self._log_path),
            seconds=time.perf_counter() - self._started,
            timed_out=timed_out,
            missing_limits=self.missing_limits,
        )
        session = read_session(self._channel.records)
        report.cases = session.cases
        if not timed_out:
            report.breaches += breaches(self._channel, session, returncode, expected=self._expected)
        if self._sized and not self._sized[0].mounted:
            report.breaches += boxfiles.written_too_much(
                [self._folders[n] for n in ("work", "home", "out")], self.limits
            )
        if self._box is not None:
            peak = self._box.cgroup.peak_memory()
            if peak is not None:
                report.peak_memory = peak
        return report

    def migration_result(self) -> dict[str, Any] | None:
        """The migration check's verdict (after `wait()`), if the release asked for one: with
        `content`, the revision the builder rendered and the box ran."""
        if self._exchange is None:
            return None
        return self._exchange.result()

    def _stop(self) -> None:
        """Kill the run and everything it started; every wait here is bounded. Once only: the
        process is reaped after it, and its number may belong to another group later."""
        if self._stopped:
            return
        self._stopped = True
        _kill_group(self._process.pid)
        if self._box is not None:
            self._box.cgroup.kill_all()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=10)
        if self._box is not None:
            self._box.cgroup.kill_all()
            self._box.cgroup.remove()
        if self._exchange is not None:
            self._exchange.close()

    def __enter__(self) -> TestRun:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Kill the run if it still runs and remove its files; a second call does nothing."""
        if not self._closed:
            self._closed = True
            self._cleanup()

    def _cleanup(self) -> None:
        if self._gate >= 0:
            os.close(self._gate)
            self._gate = -1
        if hasattr(self, "_process"):
            self._stop()
        if self._box is not None:
            self._box.close()
            self._box.cgroup.remove()
        if hasattr(self, "_log"):
            self._log.close()
        try:
            self._channel.close()
        finally:
            for sized in self._sized:
                sized.unmount()
            boxfiles.remove_tree(self._scratch)


def install_plugins(folder: Path, *, migration: bool = False) -> None:
    """The builder's plugins, as the box imports them: the gate, the report, the migration."""
    here = Path(__file__).parent
    shutil.copyfile(here / "gate.py", folder / "petsage_gate.py")
    shutil.copyfile(here / "report_plugin.py", folder / "petsage_report.py")
    if migration:
        shutil.copyfile(here / "migrations_plugin.py", folder / "petsage_migrations.py")


#: Start the target's suite in a checkout (in the sandbox), held until `release()`: with
#: `migration_check`, the same run checks the feature's Alembic revision, which the builder
#: renders from what the box describes (`agent.box.migrations_plugin`). See `TestRun`.
start_tests = TestRun


def _own_config(worktree: Path | None, given: bool | None) -> bool:
    if given is not None:
        return given
    if worktree is None:
        raise TestRunError("a test run started without its checkout needs own_config")
    return has_pytest_config(worktree)


def _kill_group(pid: int) -> None:
    """Kill whatever the run left behind in its process group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _tail(path: Path) -> str:
    data = boxfiles.read_untrusted(path.parent, path.name, OUTPUT_TAIL, tail=True)
    return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else ""
