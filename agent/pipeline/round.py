"""The records of one build round: where it starts, what its tests found, why it was refused."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from agent.errors import InfrastructureError
from agent.events import CheckStage
from agent.pipeline.result import FailureReason, ReasonKind

if TYPE_CHECKING:
    from agent.box.results import TestReport
    from agent.pipeline.verify.gates import Verifier


@dataclass(frozen=True)
class Base:
    """Where a build starts: its branches' tips, its test interpreter, its migration's name."""

    start: str
    previous_tip: str | None
    test_python: Path
    revision: str
    revision_path: str
    revision_message: str
    #: What choosing the test interpreter has to say (a note the result carries), if anything.
    test_env_note: str | None


@dataclass(frozen=True)
class Rejection:
    """Why a round's reply was not taken: the repair feedback's kind, reasons and details."""

    kind: Literal["length", "validation", "tests", "verification"]
    reasons: list[str]
    message: str
    details: str = ""
    #: The tests that failed (node ids), for a `tests` rejection: the repair budget compares them.
    failing: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Tested:
    """What the test stage found, for the verify and commit stages."""

    report: TestReport
    own: int
    paths: list[str]
    verifier: Verifier
    migration_problem: str | None

    @property
    def passed(self) -> bool:
        """The suite passed, the feature's own tests among it, and the migration check."""
        return self.report.ok and self.own > 0 and self.migration_problem is None

    def rejection(self, tests_dir: str) -> Rejection:
        report = self.report
        failed = not report.ok or self.own == 0
        reasons = report.reasons(self.own, tests_dir) if failed else []
        if self.migration_problem is not None:
            reasons.append(self.migration_problem)
        failing = {c.nodeid for c in report.cases if c.outcome in ("failed", "error")}
        if self.migration_problem is not None:
            failing.add("<migration check>")
        if self.own == 0:
            failing.add("<no feature tests ran>")
        return Rejection(
            "tests",
            reasons,
            f"{report.failed} failed",
            report.failure_summary(),
            frozenset(failing),
        )


#: Per rejection kind: the round's outcome and the stage whose event says so.
REJECTED: dict[str, tuple[Literal["invalid", "tests_failed", "unverified"], CheckStage]] = {
    "length": ("invalid", "validated"),
    "validation": ("invalid", "validated"),
    "tests": ("tests_failed", "tested"),
    "verification": ("unverified", "verified"),
}

#: Per rejection kind: the kind of reason a build gets when its last round was rejected so.
KIND_OF_REJECTION: dict[str, ReasonKind] = {
    "length": "validation",
    "validation": "validation",
    "tests": "tests",
    "verification": "verification",
}


def infrastructure_reason(error: InfrastructureError, *, retried: bool) -> FailureReason:
    """The reason a busy machine gives: the stage, the limit and the figure (issue 28)."""
    return FailureReason(
        kind="infrastructure",
        stage=error.stage,
        limit=error.limit,
        figure=error.figure,
        budget=error.budget,
        retried=retried,
        message=str(error),
    )
