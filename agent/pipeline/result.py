"""The result of a build (BLUEPRINT §5): what the faces show and the store keeps."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from agent.events import Done, Failed
from agent.pipeline.verify.outcome import Verification
from agent.request import FeatureRequest

if TYPE_CHECKING:
    from agent.box.results import TestReport

BuildStatus = Literal[
    "queued", "running", "succeeded", "failed", "rejected", "cancelled", "interrupted"
]
FINAL_STATUSES = frozenset({"succeeded", "failed", "rejected", "cancelled", "interrupted"})

#: Why a build's rounds ended: the one that passed, or what stopped the repairs
#: (agent.pipeline.budget decides the stops).
StopReason = Literal[
    "passed",
    "max_rounds",
    "no_progress",
    "repeated_reply",
    "token_cap",
    "cost_cap",
    "model_error",
    "rejected",
    "cancelled",
    "error",
]


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


#: What ended a build that did not succeed: the machine (`infrastructure`, never the model's
#: fault), the model's replies (`tests`, `verification`, `validation`: rounds exhausted), the
#: model itself (`model`: it could not answer), the request, a stop, or the builder (`internal`).
ReasonKind = Literal[
    "infrastructure",
    "tests",
    "verification",
    "validation",
    "model",
    "request",
    "cancelled",
    "interrupted",
    "internal",
]


class FailureReason(BaseModel):
    """Why a build did not succeed, for a person who must not read logs to tell a busy machine
    from a failing feature: the stage, the limit (if one ended it) and the figure."""

    kind: ReasonKind
    stage: str = Field(
        description="The stage that ended the build (`tested`, `verified`...); for a build "
        "that ended outside its run (cancelled while queued, a crash, a recovery), its status."
    )
    limit: str | None = Field(
        default=None,
        description="The limit it hit: `cpu_seconds` or `wall_seconds` of a box, `max_rounds`...",
    )
    figure: float | None = Field(default=None, description="What was used of that limit.")
    budget: float | None = Field(default=None, description="The limit's value.")
    retried: bool = Field(
        default=False, description="True when the stage was tried again before the build ended."
    )
    message: str = ""


class RoundRecord(BaseModel):
    """One model round: what came back and why it was or was not accepted."""

    round: int
    outcome: Literal[
        "accepted",
        "invalid",
        "tests_failed",
        "unverified",
        "model_error",
        "infrastructure",
        "repeated",
    ]
    reasons: list[str] = Field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


PullSync = Literal["up_to_date", "behind", "needs_rebuild"]


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
    tested_on: str | None = Field(
        default=None,
        description="The base commit on which the whole suite last passed for `head_commit` "
        "(a refresh sets it): a merge onto exactly that base need not run the suite again.",
    )
    needs_rebuild: str | None = Field(
        default=None,
        description="Why the builder will not refresh this PR onto its base (a person's edit, "
        "the feature's own files changed on the base, a failing suite); a new build clears it.",
    )
    sync: PullSync | None = Field(
        default=None,
        description="The open PR against its base when listed: `up_to_date` (the base is in its "
        "history), `behind` (a refresh can replay it), `needs_rebuild` (see `needs_rebuild`).",
    )


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
    reason: FailureReason | None = Field(
        default=None,
        description="Why a build that did not succeed ended: the stage, the limit, the figure.",
    )
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
        if result.reason is None:
            result.reason = default_reason(status, reasons)
    else:
        result.reason = None
    return result


#: The kind of reason a status has when nothing more precise was recorded.
_KIND_OF_STATUS: dict[str, ReasonKind] = {
    "rejected": "request",
    "cancelled": "cancelled",
    "interrupted": "interrupted",
}


def default_reason(status: BuildStatus, reasons: list[str], stage: str = "") -> FailureReason:
    """A reason for a build that ended without a more precise one (a crash, a cancel, a
    recovery, a request refused)."""
    kind = _KIND_OF_STATUS.get(status, "internal")
    # Outside its run (a cancel while queued, a crash, a recovery) no stage is known: the status.
    where = stage or ("decoded" if status == "rejected" else status)
    return FailureReason(kind=kind, stage=where, message="; ".join(reasons)[:500])


def final_event(result: BuildResult) -> Done | Failed:
    """The stored end of a build's events: `done` or `failed`, with its status."""
    if result.status == "succeeded":
        return Done(build_id=result.id, message="succeeded", status=result.status)
    reason = result.reason.model_dump() if result.reason is not None else None
    return Failed(
        build_id=result.id,
        message=f"{result.status}: {'; '.join(result.reasons)[:300]}",
        status=result.status,
        reason=reason,
    )


def live_final_event(result: BuildResult) -> Done | Failed:
    """The end of a build's events as its run emits them: the branch and commit when done."""
    if result.status == "succeeded":
        return Done(
            build_id=result.id,
            message=f"{result.status}: {result.branch} at {(result.commit or '')[:12]}",
        )
    return final_event(result)
