"""Commit a build whose tests passed and move its branch there (BLUEPRINT §5)."""

from __future__ import annotations

from agent.box.results import TestReport
from agent.repo.workspace import TargetRepo, Worktree
from agent.request import FeatureRequest


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


def commit_build(
    repo: TargetRepo,
    worktree: Worktree,
    request: FeatureRequest,
    message: str,
    *,
    build_id: str,
    previous_tip: str | None,
) -> str:
    """Commit the worktree's recorded tree; move the branch from `previous_tip` to it."""
    commit = worktree.commit_recorded(message)
    repo.update_branch(request.branch, commit, previous_tip, f"petsage-builder: build {build_id}")
    return commit
