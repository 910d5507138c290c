"""One task attempt end to end: a fresh workspace, the normal build, then the acceptance tests.

The build is the pipeline's own (sandbox, gates at the configured level, the repair budget).
When it succeeds, the task's acceptance tests are copied onto a checkout of the built commit
under `tests/acceptance/<task>/` and the target's whole suite runs in the sandbox
(`agent.box.run.run_suite_on`). The task passes only when every acceptance test ran and passed.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.box.results import TestReport
from agent.box.run import run_suite_on
from agent.errors import BuilderError
from agent.evals.scoring import AcceptanceCounts, TaskResult
from agent.evals.tasks import EvalTask
from agent.models import Model
from agent.models.offline import OfflineModel
from agent.pipeline.loop import Builder, target_repo
from agent.pipeline.result import BuildResult
from agent.repo.workspace import TargetRepo
from agent.settings import Settings

ACCEPTANCE_DIR = "tests/acceptance"


@dataclass(frozen=True)
class TaskRun:
    """Where and with what one attempt runs: the model for it, and its own scratch folder."""

    task: EvalTask
    attempt: int
    model: Model
    settings: Settings
    scratch: Path

    @property
    def build_id(self) -> str:
        return f"eval-{self.task.name}-{self.attempt}"


def run_task(run: TaskRun, on_refused: Callable[[str], None] | None = None) -> TaskResult:
    """Build the task in a fresh workspace and judge it by its acceptance tests."""
    began = time.perf_counter()
    if run.scratch.exists():
        shutil.rmtree(run.scratch)
    settings = run.settings.model_copy(
        update={
            "workspace": run.scratch / "petsage_backend",
            "state_dir": run.scratch / "state",
            "record": None,
        }
    )
    try:
        _setup(run.task, settings)
        built = Builder(settings, model=run.model).run(run.task.request, build_id=run.build_id)
        result = _judged(run, built, settings)
    except BuilderError as e:
        result = _row(run, "error", [f"{type(e).__name__}: {e}"])
    finally:
        shutil.rmtree(run.scratch, ignore_errors=True)
    if result.refused and on_refused is not None:
        on_refused("; ".join(result.reasons))
    result.seconds = round(time.perf_counter() - began, 2)
    return result


def error_row(task: EvalTask, attempt: int, reason: str) -> TaskResult:
    """An attempt the harness could not run at all (no recording to replay, a broken setup)."""
    return TaskResult(
        task=task.name,
        category=task.category,
        reach=task.reach,
        attempt=attempt,
        status="error",
        reasons=[reason],
    )


def _setup(task: EvalTask, settings: Settings) -> None:
    """Build the task's setup requests (the features it refers to) with the offline generator."""
    for request in task.setup:
        done = Builder(settings, model=OfflineModel()).run(request)
        if not done.ok:
            raise BuilderError(f"the task's setup build failed: {'; '.join(done.reasons)}")


def _judged(run: TaskRun, built: BuildResult, settings: Settings) -> TaskResult:
    if built.status == "rejected":
        return _with_build(_row(run, "refused", built.reasons), built)
    if not built.ok or built.commit is None:
        return _with_build(_row(run, "failed", built.reasons), built)
    began = time.perf_counter()
    verdict = accept(run.task, target_repo(settings), built.commit, settings)
    row = _with_build(_row(run, "passed" if verdict.passed else "failed", verdict.reasons), built)
    row.acceptance = verdict.counts
    row.acceptance_seconds = round(time.perf_counter() - began, 2)
    return row


@dataclass(frozen=True)
class Verdict:
    """What the acceptance tests said of a built commit."""

    passed: bool
    counts: AcceptanceCounts
    reasons: list[str]


def accept(task: EvalTask, repo: TargetRepo, commit: str, settings: Settings) -> Verdict:
    """Run `task`'s acceptance tests on `commit`: passed only if every one of them ran and passed,
    and the rest of the suite with them."""
    report = _acceptance_report(task, repo, commit, settings)
    counts = _acceptance_counts(report)
    passed = report.ok and counts.total >= task.acceptance_count > 0 and counts.failed == 0
    return Verdict(passed, counts, [] if passed else _acceptance_reasons(report, counts, task))


def _acceptance_report(
    task: EvalTask, repo: TargetRepo, commit: str, settings: Settings
) -> TestReport:
    """The target's suite on the built commit, with the task's acceptance tests added."""
    with repo.worktree(commit, f"accept-{task.name}") as tree:
        folder = tree.path / ACCEPTANCE_DIR
        (folder / task.name).mkdir(parents=True)
        (folder / "__init__.py").write_text("")
        (folder / task.name / "__init__.py").write_text("")
        for name, content in task.support:
            (folder / name).write_text(content)
        for name, content in task.acceptance:
            (folder / task.name / name).write_text(content)
        # A run the machine starved twice raises: the attempt is an `error`, not a failure.
        return run_suite_on(tree.path, settings, repo, commit, stage="acceptance")


def _acceptance_counts(report: TestReport) -> AcceptanceCounts:
    prefix = ACCEPTANCE_DIR.replace("/", ".") + "."
    cases = [c for c in report.cases if c.nodeid.startswith(prefix)]
    passed = sum(1 for c in cases if c.outcome == "passed")
    return AcceptanceCounts(passed=passed, failed=len(cases) - passed, total=len(cases))


def _acceptance_reasons(report: TestReport, counts: AcceptanceCounts, task: EvalTask) -> list[str]:
    prefix = ACCEPTANCE_DIR.replace("/", ".") + "."
    reasons = [
        f"acceptance: {c.nodeid[len(prefix) :]}: {(c.message or c.outcome)[:300]}"
        for c in report.cases
        if c.nodeid.startswith(prefix) and c.outcome != "passed"
    ]
    if counts.total < task.acceptance_count:
        reasons.append(f"acceptance: {counts.total} of at least {task.acceptance_count} tests ran")
    reasons += [f"acceptance run: {breach}" for breach in report.breaches]
    reasons += [
        f"the branch's own test failed beside them: {c.nodeid}"
        for c in report.cases
        if not c.nodeid.startswith(prefix) and c.outcome in ("failed", "error")
    ][:5]
    if report.timed_out:
        reasons.append("acceptance run: timed out")
    return reasons or ["acceptance: the run did not pass"]


def _row(run: TaskRun, status: str, reasons: list[str]) -> TaskResult:
    return TaskResult.model_validate(
        {
            "task": run.task.name,
            "category": run.task.category,
            "reach": run.task.reach,
            "attempt": run.attempt,
            "status": status,
            "passed": status == "passed",
            "refused": status == "refused",
            "reasons": reasons,
        }
    )


def _with_build(row: TaskResult, built: BuildResult) -> TaskResult:
    """The row with the build's own figures: rounds, tokens, cost, stop reason, gates."""
    row.build_status = built.status
    row.stop_reason = built.stop_reason
    row.rounds = len(built.rounds)
    row.prompt_tokens, row.completion_tokens = built.prompt_tokens, built.completion_tokens
    row.cost_usd = built.cost_usd
    row.build_seconds = round(built.seconds, 2)
    row.feature_tests = built.tests.feature_tests
    if built.verification is not None:
        row.gates = {gate.gate: gate.ok for gate in built.verification.gates}
        unwired = row.gates.get("unwired")
        row.vacuous_tests = None if unwired is None else not unwired
    return row
