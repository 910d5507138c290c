"""Ending a build outside its own run: a crash, a cancel while queued, a recovery after a restart.

The job backends (runner.py, worker.py) call these when whoever ran a build stopped before
storing its result; the build's own run ends it in agent/pipeline/loop.py. Each result is
concluded (agent.pipeline.result.conclude) and its report rendered once, from what it holds.
"""

from __future__ import annotations

from datetime import UTC, datetime

from agent.pipeline.report import rendered
from agent.pipeline.result import BuildResult, BuildStatus, conclude
from agent.store.builds import BuildRecord


def _concluded(build_id: str, status: BuildStatus, reasons: list[str]) -> BuildResult:
    now = datetime.now(UTC)
    result = BuildResult(
        id=build_id, status=status, reasons=reasons, started_at=now, finished_at=now
    )
    return conclude(result, status, reasons)


def _of_record(record: BuildRecord, status: BuildStatus, reasons: list[str]) -> BuildResult:
    result = _concluded(record.id, status, reasons)
    result.feature, result.request = record.feature, record.request
    result.branch, result.base_branch = record.request.branch, record.request.base_branch
    return result


def ended(build_id: str, status: BuildStatus, reasons: list[str]) -> BuildResult:
    """A result for a build that ended outside its own run, with nothing known but its id."""
    return rendered(_concluded(build_id, status, reasons))


def ended_for(record: BuildRecord, status: BuildStatus, reasons: list[str]) -> BuildResult:
    """`ended`, with the stored build's request, feature and branches."""
    return rendered(_of_record(record, status, reasons))


def recovered(record: BuildRecord, commit: str, note: str) -> BuildResult:
    """A build whose commit landed, though whoever ran it stopped before storing its result."""
    result = _of_record(record, "succeeded", [])
    result.commit = commit
    result.notes = [note]
    return rendered(result)
