"""Run the target's whole test suite once, in a separate process, and read per-test results.

One `python -m pytest` in the build's worktree, with a timeout that kills the whole process
group, a scrubbed environment (no API keys, no builder settings) and JUnit XML for the results.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent import sandbox
from agent.errors import TestRunError

OUTPUT_TAIL = 12_000
_CONFIG_FILES = (
    ("pytest.ini", None),
    (".pytest.ini", None),
    ("pyproject.toml", "[tool.pytest"),
    ("tox.ini", "[pytest]"),
    ("setup.cfg", "[tool:pytest]"),
)
_KEPT_VARIABLES = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT")


@dataclass(frozen=True)
class TestCase:
    """One test's outcome: passed, failed, error or skipped."""

    __test__ = False

    nodeid: str
    outcome: str
    message: str = ""
    seconds: float = 0.0


@dataclass
class TestReport:
    """What one run of the suite found."""

    __test__ = False

    cases: list[TestCase] = field(default_factory=list)
    returncode: int | None = None
    output: str = ""
    seconds: float = 0.0
    timed_out: bool = False

    def count(self, outcome: str) -> int:
        return sum(1 for case in self.cases if case.outcome == outcome)

    @property
    def passed(self) -> int:
        return self.count("passed")

    @property
    def failed(self) -> int:
        return self.count("failed") + self.count("error")

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.returncode == 0 and self.passed > 0 and self.failed == 0

    def ran_under(self, prefix: str) -> int:
        """How many tests of a module prefix (e.g. `tests.features.pets.`) ran."""
        return sum(1 for case in self.cases if case.nodeid.startswith(prefix))

    def reasons(self, own: int, tests_dir: str) -> list[str]:
        """Why this run does not count as a pass, one line a cause, for the model and the user."""
        if self.timed_out:
            return [f"the test run passed its timeout of {self.seconds:.0f} s and was killed"]
        failing = [
            f"{case.nodeid}: {case.message or case.outcome}"
            for case in self.cases
            if case.outcome in ("failed", "error")
        ]
        if failing:
            return failing[:20]
        if own == 0:
            return [f"no test under {tests_dir}/ ran: the feature's tests were not collected"]
        tail = self.output.strip().splitlines()[-3:]
        return [f"pytest exited with code {self.returncode}: {' / '.join(tail)}"]

    def failure_summary(self, limit: int = 6000) -> str:
        """The failing tests and the part of pytest's output that explains them."""
        lines = [
            f"{case.nodeid}: {case.outcome}: {case.message}"
            for case in self.cases
            if case.outcome in ("failed", "error")
        ]
        if self.timed_out:
            lines.append(f"the test run was killed after its timeout of {self.seconds:.0f} s")
        output = self.output
        for marker in ("= FAILURES =", "= ERRORS ="):
            at = output.find(marker)
            if at != -1:
                output = output[output.rfind("\n", 0, at) + 1 :]
                break
        text = "\n".join(lines) + "\n\n" + output
        return (
            text if len(text) <= limit else text[: limit // 2] + "\n[...]\n" + text[-limit // 2 :]
        )


def scrubbed_environment(home: Path) -> dict[str, str]:
    """An environment with nothing secret in it: no keys, tokens or builder settings."""
    env = {name: os.environ[name] for name in _KEPT_VARIABLES if name in os.environ}
    env.update(
        HOME=str(home),
        TMPDIR=str(home),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONHASHSEED="0",
        PYTHONNOUSERSITE="1",
        NO_COLOR="1",
    )
    return env


def run_tests(
    worktree: Path, *, python: Path, timeout: float, sandboxed: bool = True
) -> TestReport:
    """Run `python -m pytest tests` in `worktree` once and return what each test did."""
    with start_tests(worktree, python=python, timeout=timeout, sandboxed=sandboxed) as run:
        run.release()
        return run.wait()


class TestRun:
    """One pytest process, started early and held at a gate until the files are ready.

    `release()` lets it collect and run; `wait()` returns the report. Leaving the `with` block
    without a release abandons the run and kills its whole process group.
    """

    __test__ = False

    def __init__(
        self,
        worktree: Path,
        *,
        python: Path,
        timeout: float,
        sandboxed: bool = True,
        migration: dict[str, str] | None = None,
    ) -> None:
        self.timeout = timeout
        self._scratch = tempfile.TemporaryDirectory(prefix="petsage-test-")
        scratch = Path(self._scratch.name)
        self._junit = scratch / "junit.xml"
        self._log_path = scratch / "pytest.log"
        gate_source = Path(__file__).with_name("pytest_gate.py")
        (scratch / "plugins").mkdir()
        shutil.copyfile(gate_source, scratch / "plugins" / "petsage_gate.py")
        gate_read, self._gate = os.pipe()
        env = scrubbed_environment(scratch)
        env.update(PYTHONPATH=str(scratch / "plugins"), PETSAGE_TEST_GATE_FD=str(gate_read))
        command = [
            str(python),
            "-m",
            "pytest",
            "tests",
            "-q",
            "-p",
            "petsage_gate",
            "-p",
            "no:cacheprovider",
            f"--rootdir={worktree}",
            f"--junitxml={self._junit}",
            "-o",
            "junit_family=xunit2",
        ]
        self._migration_out: Path | None = None
        if migration is not None:
            # The feature's Alembic revision, made and checked in the same box before the tests.
            self._migration_out = scratch / "migration.json"
            plugin = Path(__file__).with_name("pytest_migrations.py")
            shutil.copyfile(plugin, scratch / "plugins" / "petsage_migrations.py")
            command[5:5] = ["-p", "petsage_migrations"]
            env["PETSAGE_MIGRATION"] = json.dumps({**migration, "out": str(self._migration_out)})
        if not has_pytest_config(worktree):
            # Else pytest would look above the worktree and could take any stranger's config.
            (scratch / "pytest.ini").write_text("[pytest]\n")
            command += ["-c", str(scratch / "pytest.ini")]
        (scratch / "home").mkdir()
        env.update(HOME=str(scratch / "home"), TMPDIR="/tmp" if sandboxed else str(scratch))
        popen_env = env
        if sandboxed:
            command = sandbox.wrap(
                command,
                worktree=worktree,
                scratch=scratch,
                python=python,
                env=env,
                limits=sandbox.Limits(cpu_seconds=int(timeout) + 30),
            )
            popen_env = {"PATH": "/usr/bin:/bin"}
        self._log = open(self._log_path, "wb")  # noqa: SIM115 - closed by wait() or cleanup
        try:
            self._process = subprocess.Popen(
                command,
                cwd=worktree,
                env=popen_env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(gate_read,),
            )
        except OSError as e:
            self._cleanup()
            raise TestRunError(f"cannot start {python}: {e}") from e
        finally:
            os.close(gate_read)
        self._started = 0.0

    def release(self) -> None:
        """The files are in place: let the run collect and execute the tests."""
        self._started = time.perf_counter()
        with contextlib.suppress(BrokenPipeError):
            os.write(self._gate, b"go")
        os.close(self._gate)
        self._gate = -1

    def wait(self, should_stop: Callable[[], bool] | None = None) -> TestReport:
        """The run's report once it ends, passes its timeout, or `should_stop` says so."""
        timed_out = False
        returncode: int | None = None
        deadline = time.monotonic() + self.timeout
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                try:
                    returncode = self._process.wait(timeout=min(remaining, 0.5))
                    break
                except subprocess.TimeoutExpired:
                    if should_stop is not None and should_stop():
                        break
        finally:
            _kill_group(self._process.pid)
            self._process.wait()
        self._log.close()
        report = TestReport(
            returncode=returncode,
            output=_tail(self._log_path),
            seconds=time.perf_counter() - self._started,
            timed_out=timed_out,
        )
        if self._junit.exists():
            report.cases = _read_junit(self._junit)
        return report

    def migration_result(self) -> dict[str, Any] | None:
        """What the migration plugin found (read before leaving the `with` block), if it ran."""
        if self._migration_out is None or not self._migration_out.is_file():
            return None
        try:
            found = json.loads(self._migration_out.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) else None

    def __enter__(self) -> TestRun:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._cleanup()

    def _cleanup(self) -> None:
        if self._gate >= 0:
            os.close(self._gate)
            self._gate = -1
        if hasattr(self, "_process") and self._process.poll() is None:
            _kill_group(self._process.pid)
            self._process.wait()
        self._log.close()
        self._scratch.cleanup()


def has_pytest_config(root: Path) -> bool:
    """True when `root` holds a pytest configuration of its own (pytest's own rules)."""
    for name, marker in _CONFIG_FILES:
        path = root / name
        if path.is_file() and (marker is None or marker in path.read_text(errors="replace")):
            return True
    return False


def start_tests(
    worktree: Path,
    *,
    python: Path,
    timeout: float,
    sandboxed: bool = True,
    migration: dict[str, str] | None = None,
) -> TestRun:
    """Start the target's suite in `worktree` (in the sandbox), held until `release()`.

    With `migration` ({"revision", "message"}), the same run first makes and checks the
    feature's Alembic revision (`agent.pytest_migrations`).
    """
    return TestRun(
        worktree, python=python, timeout=timeout, sandboxed=sandboxed, migration=migration
    )


def _kill_group(pid: int) -> None:
    """Kill whatever the run left behind in its process group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _tail(path: Path) -> str:
    size = path.stat().st_size
    with open(path, "rb") as handle:
        if size > OUTPUT_TAIL:
            handle.seek(size - OUTPUT_TAIL)
        return handle.read().decode("utf-8", errors="replace")


def _read_junit(path: Path) -> list[TestCase]:
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError:
        return []
    cases = []
    for case in root.iter("testcase"):
        classname = case.get("classname", "")
        name = case.get("name", "")
        nodeid = f"{classname}.{name}" if classname else name
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                message = (child.get("message") or child.text or "").strip()[:500]
                break
        cases.append(TestCase(nodeid, outcome, message, float(case.get("time", 0) or 0)))
    return cases
