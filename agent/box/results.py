"""What one run of the target's suite found: per-test outcomes read from JUnit XML, and the
check that a run collected every test its checkout defines.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from agent.syntax import parse


@dataclass(frozen=True)
class TestCase:
    """One test's outcome: passed, failed, error or skipped."""

    __test__ = False

    nodeid: str
    outcome: str
    message: str = ""
    seconds: float = 0.0
    detail: str = ""


@dataclass
class TestReport:
    """What one run of the suite found."""

    __test__ = False

    cases: list[TestCase] = field(default_factory=list)
    returncode: int | None = None
    output: str = ""
    seconds: float = 0.0
    timed_out: bool = False
    missing_limits: list[str] = field(default_factory=list)
    breaches: list[str] = field(default_factory=list)
    peak_memory: int | None = None

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
        return (
            not self.timed_out
            and not self.breaches
            and self.returncode == 0
            and self.passed > 0
            and self.failed == 0
        )

    def own_tests(self, prefix: str) -> int:
        """`ran_under(prefix)`, the feature's own tests; each of them that was skipped or
        xfailed when it ran (however the skip was reached) is a breach: a test that did not
        run proves nothing."""
        skipped = [
            c.nodeid for c in self.cases if c.nodeid.startswith(prefix) and c.outcome == "skipped"
        ]
        if skipped:
            self.breaches.append(
                f"{len(skipped)} of the feature's tests were skipped or xfailed when they ran "
                f"(e.g. {skipped[0]}): generated tests may not skip"
            )
        return self.ran_under(prefix)

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
        if failing or self.breaches:
            return failing[:20] + self.breaches
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
        lines += self.breaches
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


def expected_functions(root: Path) -> set[str]:
    """The test functions under `root/tests`, as pytest names them (`tests/a/test_b.py::c`,
    `...::Class::c`), read from the AST of the builder's checkout before any of it runs."""
    from agent.pipeline.code_scan import collected_names

    found: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root / "tests"):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__pycache__"]
        for name in filenames:
            if name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")):
                path = Path(dirpath) / name
                try:
                    tree = parse(path.read_text(encoding="utf-8"))
                except (SyntaxError, UnicodeDecodeError, OSError):
                    continue
                relative = path.relative_to(root).as_posix()
                found |= {
                    f"{relative}::{test.replace('.', '::')}" for test in collected_names(tree)
                }
    return found
