"""The result of a build (BLUEPRINT §5): what the faces show and the store keeps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from agent.events import StageEvent
from agent.pipeline.budget import StopReason
from agent.pipeline.verify.outcome import Verification
from agent.request import FeatureRequest

if TYPE_CHECKING:
    from agent.box.results import TestReport
    from agent.store.builds import BuildRecord

BuildStatus = Literal[
    "queued", "running", "succeeded", "failed", "rejected", "cancelled", "interrupted"
]
FINAL_STATUSES = frozenset({"succeeded", "failed", "rejected", "cancelled", "interrupted"})


class TestCounts(BaseModel):
    """How the target's whole suite went on the last test run."""

    __test__ = False

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    total: int = 0
    feature_tests: int = Field(
        default=0, description="How many of them are the feature's own tests."
    )
    seconds: float = 0.0


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


class AttemptFile(BaseModel):
    path: str
    content: str


class Attempt(BaseModel):
    """What the last round produced, kept for a failed build too."""

    round: int
    reply: str = Field(default="", description="The model's reply as it came.")
    files: list[AttemptFile] = Field(default_factory=list)
    diff: str = ""
    test_output: str = ""


class RoundRecord(BaseModel):
    """One model round: what came back and why it was or was not accepted."""

    round: int
    outcome: Literal["accepted", "invalid", "tests_failed", "unverified", "model_error", "repeated"]
    reasons: list[str] = Field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


class PullRequest(BaseModel):
    """A pull request for a build's branch: on a forge (GitHub's REST API) or kept locally."""

    kind: Literal["forge", "local"]
    id: str = Field(description="The forge's PR number, or the local PR's id.")
    url: str | None = None
    branch: str
    base: str
    title: str
    body: str = ""
    state: Literal["open", "merged", "closed"] = "open"
    updated: bool = Field(
        default=False, description="True when an open PR was updated, not opened."
    )
    build_ids: list[str] = Field(default_factory=list)
    diff: str = ""
    comments: list[str] = Field(default_factory=list)
    head_commit: str | None = Field(
        default=None,
        description="The commit the PR was opened or last updated for: what its diff shows and "
        "what a merge takes.",
    )
    merge_commit: str | None = None


class BuildResult(BaseModel):
    """Everything one build did, as JSON."""

    id: str
    status: BuildStatus
    feature: str | None = None
    request: FeatureRequest | None = None
    model: str = "offline"
    branch: str | None = None
    base_branch: str | None = None
    commit: str | None = None
    files: list[str] = Field(default_factory=list)
    tests: TestCounts = Field(default_factory=TestCounts)
    reasons: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    summary: str = ""
    timings: dict[str, float] = Field(
        default_factory=dict, description="Seconds spent in each stage, summed over rounds."
    )
    rounds: list[RoundRecord] = Field(default_factory=list)
    model_round_trips: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = Field(
        default=None,
        description="Estimated from the price table in settings, when it knows the model.",
    )
    verification: Verification | None = Field(
        default=None,
        description="The `verified` stage's gates on the last round that passed its tests.",
    )
    attempt: Attempt | None = None
    stop_reason: StopReason | None = Field(
        default=None,
        description="Why the rounds ended: `passed`, `max_rounds`, `no_progress`, "
        "`repeated_reply`, `token_cap`, `cost_cap`, `model_error`, `rejected`, `cancelled`, "
        "`error` (agent.pipeline.budget).",
    )
    pull_request: PullRequest | None = None
    pr_error: str | None = Field(
        default=None, description="Why no pull request was opened; the build still succeeded."
    )
    started_at: datetime | None = None
    finished_at: datetime | None = None
    seconds: float = 0.0
    report: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"


# --- finishing a result: the one place a build's end is written -------------------------------


def conclude(result: BuildResult, status: BuildStatus, reasons: list[str]) -> BuildResult:
    """Set a result's end status; only a succeeded build keeps its commit and files."""
    result.status = status
    result.reasons = reasons
    if status != "succeeded":
        result.commit = None
        result.files = []
    return result


def rendered(
    result: BuildResult, *, repo_name: str = "petsage_backend", wiring: str = ""
) -> BuildResult:
    """The result with its report rendered from what it holds now."""
    from agent.pipeline.report import render_report

    result.report = render_report(result, repo_name=repo_name, wiring=wiring)
    return result


def ended(build_id: str, status: BuildStatus, reasons: list[str]) -> BuildResult:
    """A result for a build that ended outside its own run (a crash, a cancel, a recovery)."""
    now = datetime.now(UTC)
    result = BuildResult(
        id=build_id, status=status, reasons=reasons, started_at=now, finished_at=now
    )
    return rendered(result)


def ended_for(record: BuildRecord, status: BuildStatus, reasons: list[str]) -> BuildResult:
    """`ended`, with the stored build's request, feature and branches."""
    result = ended(record.id, status, reasons)
    result.feature, result.request = record.feature, record.request
    result.branch, result.base_branch = record.request.branch, record.request.base_branch
    return rendered(result)


def recovered(record: BuildRecord, commit: str, note: str) -> BuildResult:
    """A build whose commit landed, though whoever ran it stopped before storing its result."""
    result = ended_for(record, "succeeded", [])
    result.commit = commit
    result.notes = [note]
    return rendered(result)


def final_event(result: BuildResult) -> StageEvent:
    """The stored end of a build's events: `done` or `failed`, with its status."""
    ok = result.status == "succeeded"
    return StageEvent(
        build_id=result.id,
        stage="done" if ok else "failed",
        message=f"{result.status}: {'; '.join(result.reasons)[:300]}" if not ok else "succeeded",
        ok=ok,
        data={"status": result.status},
    )


def live_final_event(result: BuildResult) -> StageEvent:
    """The end of a build's events as its run emits them: the branch and commit when done."""
    if result.status == "succeeded":
        return StageEvent(
            build_id=result.id,
            stage="done",
            message=f"{result.status}: {result.branch} at {(result.commit or '')[:12]}",
        )
    return final_event(result)
