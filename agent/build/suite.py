"""The target's suite as the builder runs it: the interpreter, a whole run, counts, commit text."""

from __future__ import annotations

import ast
import os
from pathlib import Path

from agent.build.code_scan import count_tests
from agent.build.persistence import upgraded_requirements
from agent.build.result import TestCounts
from agent.prompt_files import skeleton_files
from agent.repo.workspace import TargetRepo
from agent.request import FeatureRequest
from agent.settings import Settings
from agent.testing.env import ensure_test_env
from agent.testing.run import TestReport, start_tests


def test_python_for(settings: Settings, repo: TargetRepo, start: str) -> tuple[Path, str | None]:
    """The interpreter for the target's tests at `start`: the configured one, or the managed env."""
    if settings.test_python is not None:
        return settings.test_python, None
    requirements = repo.show(start, "requirements.txt")
    if requirements is None:
        requirements = skeleton_files()["requirements.txt"]
    # A build adds the database layer's pins to a repository made before it
    # (agent.build.persistence).
    requirements = upgraded_requirements(requirements)
    env = ensure_test_env(requirements)
    return env.python, env.note


def run_suite_on(path: Path, settings: Settings, repo: TargetRepo, start: str) -> TestReport:
    """The target's whole suite on a checkout, in the sandbox (used to vet a merge).

    `start` is the base branch's tip: the test environment is built from its requirements.
    """
    python, _ = test_python_for(settings, repo, start)
    expected = expected_tests(path)
    with start_tests(
        path, python=python, timeout=settings.test_timeout, sandboxed=settings.sandbox != "off"
    ) as run:
        run.release()
        report = run.wait()
    check_collected(report, expected)
    return report


def expected_tests(root: Path) -> int:
    """How many tests pytest must collect at least under `root/tests`, counted from the AST.

    Read from the builder's checkout before the run (the box only ever sees a copy), so a run
    that collected fewer was steered: deselected, skipped away or cut short.
    """
    total = 0
    for dirpath, dirnames, filenames in os.walk(root / "tests"):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__pycache__"]
        for name in filenames:
            if name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")):
                try:
                    tree = ast.parse((Path(dirpath) / name).read_text(encoding="utf-8"))
                except (SyntaxError, UnicodeDecodeError, OSError):
                    continue
                total += count_tests(tree)
    return total


def check_collected(report: TestReport, expected: int) -> None:
    """Fail a run with no failure that collected fewer tests than the checkout defines."""
    if len(report.cases) < expected and report.failed == 0 and not report.timed_out:
        report.breaches.append(
            f"only {len(report.cases)} tests were collected, the checkout defines at "
            f"least {expected}: tests were deselected, skipped away or cut short"
        )


def counts_of(report: TestReport, own: int) -> TestCounts:
    """A run's results as the build result shows them; `own` counts the feature's tests."""
    return TestCounts(
        passed=report.passed,
        failed=report.failed,
        skipped=report.count("skipped"),
        total=len(report.cases),
        feature_tests=own,
        seconds=round(report.seconds, 3),
    )


def commit_message(
    request: FeatureRequest,
    paths: list[str],
    report: TestReport,
    build_id: str,
    model: str,
    round_number: int,
) -> str:
    """`feat(<f>): <first line>`, then the files and the test result (BLUEPRINT §5)."""
    lines = [f"feat({request.feature}): {request.title}"[:100], "", "Files:"]
    lines += [f"- {path}" for path in paths]
    lines += [
        "",
        f"Tests: {report.passed} passed, {report.failed} failed, {report.count('skipped')} skipped",
        f"Build: {build_id} (model {model}, round {round_number})",
    ]
    return "\n".join(lines)
