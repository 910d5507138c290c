"""The build pipeline: decode → generate → validate → write → integrate → test → commit.

Failures of validation or of the tests go back to the model as a repair round, at most
`max_rounds` rounds in all. A branch only ever moves to a commit whose tests passed; a failed
build leaves every branch as it was and keeps its attempt in the result.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Generator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.box.run import TestRun
from agent.errors import (
    BuildCancelled,
    BuilderError,
    InfrastructureError,
    ModelError,
    ModelRefused,
    Problem,
    RequestError,
)
from agent.events import PullOpened, StageEvent
from agent.layout import FeatureLayout
from agent.models import Feedback, Model, ModelReply, create_model
from agent.pipeline.budget import RepairBudget, Stop
from agent.pipeline.bundle import FileBundle
from agent.pipeline.report import rendered
from agent.pipeline.result import (
    BuildResult,
    BuildStatus,
    FailureReason,
    ReasonKind,
    RoundRecord,
    StopReason,
    conclude,
    default_reason,
    live_final_event,
)
from agent.pipeline.round import KIND_OF_REJECTION, REJECTED, Base, Rejection, infrastructure_reason
from agent.pipeline.stages import Stages
from agent.pipeline.verify.render import verification_summary
from agent.repo.workspace import TargetRepo, Worktree
from agent.request import FeatureRequest, decode_request
from agent.settings import Settings

if TYPE_CHECKING:
    from agent.pipeline.verify.box import HeldProbe

BuildStream = Generator[StageEvent, None, BuildResult]


def target_repo(settings: Settings, workspace: Path | None = None) -> TargetRepo:
    """The target repository a builder with `settings` works on (`workspace` overrides)."""
    path = workspace if workspace is not None else settings.workspace
    return TargetRepo(
        path,
        settings.resolved_state_dir(path),
        author=(settings.author_name, settings.author_email),
    )


class Builder:
    """Runs builds against one target repository with one model."""

    def __init__(
        self, settings: Settings, *, model: Model | None = None, workspace: Path | None = None
    ) -> None:
        self.settings = settings
        self.model = model if model is not None else create_model(settings.model, settings)
        self.repo = target_repo(settings, workspace)

    def stream(
        self,
        request: FeatureRequest | bytes | str | dict[str, Any],
        *,
        build_id: str | None = None,
        should_stop: Callable[[], bool] | None = None,
        held_tests: TestRun | None = None,
    ) -> BuildStream:
        """The build's events as they happen; the generator returns the `BuildResult`.

        `held_tests`: a test process started ahead (agent.box.prestart), taken if it fits.
        """
        run = _BuildRun(self, build_id or uuid.uuid4().hex[:12], should_stop)
        run.held_tests = held_tests
        return run.execute(request)

    def run(
        self,
        request: FeatureRequest | bytes | str | dict[str, Any],
        *,
        build_id: str | None = None,
        on_event: Callable[[StageEvent], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        held_tests: TestRun | None = None,
    ) -> BuildResult:
        """Run one build to its end, passing each event to `on_event`."""
        stream = self.stream(
            request, build_id=build_id, should_stop=should_stop, held_tests=held_tests
        )
        while True:
            try:
                event = next(stream)
            except StopIteration as done:
                result: BuildResult = done.value
                return result
            if on_event is not None:
                on_event(event)


class _BuildRun(Stages):
    """The state of one build while it runs."""

    def __init__(
        self, builder: Builder, build_id: str, should_stop: Callable[[], bool] | None
    ) -> None:
        self.builder = builder
        self.settings = builder.settings
        self.model = builder.model
        self.repo = builder.repo
        self.should_stop = should_stop or (lambda: False)
        self.started = time.perf_counter()
        self.result = BuildResult(
            id=build_id, status="running", model=self.model.name, started_at=datetime.now(UTC)
        )
        self.wiring = ""
        self.test_env_note: str | None = None
        self.worktree: Worktree | None = None
        self.worktree_dirty = False
        self.held_tests: TestRun | None = None
        self.held_probe: HeldProbe | None = None
        self.stop_reason: StopReason | None = None

    # --- the pipeline ----------------------------------------------------------------------------

    def execute(self, raw: FeatureRequest | bytes | str | dict[str, Any]) -> BuildStream:
        yield self._progress("received", "request received")
        try:
            with self._timed("decode"):
                request = (
                    raw
                    if isinstance(raw, FeatureRequest)
                    else decode_request(raw, max_bytes=self.settings.max_request_bytes)
                )
        except RequestError as e:
            return (yield from self._finish("rejected", [str(p) for p in e.problems]))
        self.result.request = request
        self.result.feature = request.feature
        self.result.base_branch = request.base_branch
        self.result.branch = request.branch
        yield self._progress("decoded", f"{request.feature}: {request.title}")
        try:
            self.model.check(request)
        except ModelRefused as e:
            return (yield from self._finish("rejected", [str(e)]))
        try:
            with self._timed("prepare"):
                self._prepare(request)
            with self.repo.feature_lock(request.feature), ExitStack() as stack:
                status, reasons = yield from self._rounds(request, stack)
        except RequestError as e:
            return (yield from self._finish("rejected", [str(p) for p in e.problems]))
        except BuildCancelled:
            return (yield from self._finish("cancelled", ["cancelled before it finished"]))
        except InfrastructureError as e:
            self.result.reason = infrastructure_reason(e, retried=True)
            if self.result.rounds:
                self.result.rounds[-1].outcome = "infrastructure"
                self.result.rounds[-1].reasons = [str(e)]
            return (yield from self._finish("failed", [str(e)]))
        except BuilderError as e:
            kind: ReasonKind = "model" if isinstance(e, ModelError) else "internal"
            stage = "generating" if kind == "model" else self.last_stage
            self.result.reason = FailureReason(kind=kind, stage=stage, message=str(e)[:500])
            return (yield from self._finish("failed", [str(e)]))
        return (yield from self._finish(status, reasons))

    def _prepare(self, request: FeatureRequest) -> None:
        if self.repo.needs_skeleton() and request.base_branch != "main":
            raise RequestError(
                [
                    Problem(
                        "base_branch", f"{request.base_branch!r} does not exist in a new workspace"
                    )
                ]
            )
        self.repo.ensure()

    def _rounds(
        self, request: FeatureRequest, stack: ExitStack
    ) -> Generator[StageEvent, None, tuple[BuildStatus, list[str]]]:
        """Round after round: generate, validate, write and wire, test, verify, commit."""
        base = self._base(request)
        budget = RepairBudget(self.settings, self.model.name)
        feedback: Feedback | None = None
        previous_reply: str | None = None
        reasons: list[str] = []
        last = Rejection("validation", [], "no round ran")
        for number in range(1, self.settings.max_rounds + 1):
            self._check_stop()
            yield self._progress("generating", f"asking {self.model.name} (round {number})", number)
            record = RoundRecord(round=number, outcome="accepted")
            self.result.rounds.append(record)
            self._prepare_round(base, stack)
            earlier = self.result.attempt
            reply = self._generate(request, base, record, feedback, previous_reply)
            budget.spend(record.prompt_tokens, record.completion_tokens)
            previous_reply = reply.text
            stop = budget.repeated(reply.text)
            if stop is not None:
                # The attempt kept is the earlier round's: its files, diff and test output.
                self.result.attempt = earlier
                record.outcome, record.reasons = "repeated", [stop.message]
                yield self._checked("validated", stop.message, number, ok=False)
                return self._stopped(stop, reasons)
            rejection = yield from self._attempt(request, base, reply, number, stack)
            if rejection is None:
                return "succeeded", []
            reasons = rejection.reasons
            feedback = yield from self._reject(record, rejection)
            last = rejection
            stop = budget.after(rejection) if number < self.settings.max_rounds else None
            if stop is not None:
                return self._stopped(stop, reasons)
        self.stop_reason = "max_rounds"
        rounds = self.settings.max_rounds
        message = f"no passing reply after {rounds} round(s)"
        self.result.reason = FailureReason(
            kind=KIND_OF_REJECTION[last.kind],
            stage=REJECTED[last.kind][1],
            limit="max_rounds",
            figure=rounds,
            budget=rounds,
            message=f"{message}: {last.message}",
        )
        return "failed", [message, *reasons]

    def _stopped(self, stop: Stop, reasons: list[str]) -> tuple[BuildStatus, list[str]]:
        """The build's end when the repair budget stops it before its last round."""
        self.stop_reason = stop.reason
        rounds = len(self.result.rounds)
        why = f"stopped after {rounds} round(s) ({stop.reason}): {stop.message}"
        return "failed", [why, *reasons]

    def _attempt(
        self,
        request: FeatureRequest,
        base: Base,
        reply: ModelReply,
        number: int,
        stack: ExitStack,
    ) -> Generator[StageEvent, None, Rejection | None]:
        """One reply through the stages: None once it is committed, else why it was not."""
        if reply.finish_reason == "length":
            reasons = ["the reply was cut off at the token limit before it ended"]
            return Rejection("length", reasons, reasons[0])
        bundle = self._validate(reply, request.feature)
        if isinstance(bundle, Rejection):
            return bundle
        self._note_bundle(bundle)
        passed = f"{len(bundle.files)} files pass the blueprint's checks"
        yield self._checked("validated", passed, number)
        self._check_stop()
        try:
            return (yield from self._test_verify_commit(request, base, bundle, number, stack))
        except InfrastructureError as e:
            # The machine, not the reply, ended it: once more with the same files, no repair
            # round spent and nothing told to the model (issue 28).
            reason = infrastructure_reason(e, retried=False)
            yield self._checked(
                "tested" if e.stage == "tested" else "verified",  # the two stages that raise it
                f"{e}; trying again",
                number,
                ok=False,
                reasons=[str(e)],
                reason=reason.model_dump(),
            )
        self._check_stop()
        return (yield from self._test_verify_commit(request, base, bundle, number, stack))

    def _test_verify_commit(
        self,
        request: FeatureRequest,
        base: Base,
        bundle: FileBundle,
        number: int,
        stack: ExitStack,
    ) -> Generator[StageEvent, None, Rejection | None]:
        """A checked bundle written, tested, verified and committed: None, else why not."""
        tested = yield from self._test(request, base, bundle, number, stack)
        report = tested.report
        if not tested.passed:
            tested.verifier.close()
            return tested.rejection(FeatureLayout(request.feature).tests_dir)
        yield self._checked("tested", f"{report.passed} passed", number)
        self._check_stop()
        verification = self._verify(tested)
        if not verification.ok:
            reasons = verification.reasons
            return Rejection("verification", reasons, f"{len(reasons)} gate failure(s)")
        yield self._checked("verified", verification_summary(verification), number)
        yield from self._commit(request, base, tested)
        return None

    def _reject(
        self, record: RoundRecord, rejection: Rejection
    ) -> Generator[StageEvent, None, Feedback]:
        """Record why a round's reply was not taken, say so, and return the model's feedback."""
        outcome, stage = REJECTED[rejection.kind]
        record.outcome, record.reasons = outcome, rejection.reasons
        if rejection.kind in ("tests", "verification") and self.worktree is not None:
            self._attempt_now.diff = self.worktree.diff()
        yield self._checked(
            stage, rejection.message, record.round, ok=False, reasons=rejection.reasons
        )
        return Feedback(rejection.kind, tuple(rejection.reasons), rejection.details)

    # --- bookkeeping -----------------------------------------------------------------------------

    def _finish(self, status: BuildStatus, reasons: list[str]) -> BuildStream:
        if status != "succeeded" and self.result.reason is None:
            self.result.reason = default_reason(status, reasons, self.last_stage)
        conclude(self.result, status, reasons)
        self.result.stop_reason = self.stop_reason or _stop_reason_of(status, self.result)
        self.result.finished_at = datetime.now(UTC)
        self.result.seconds = round(time.perf_counter() - self.started, 4)
        self.result.cost_usd = self.settings.cost_usd(
            self.model.name, self.result.prompt_tokens, self.result.completion_tokens
        )
        self.result.timings = {
            stage: round(seconds, 4) for stage, seconds in self.result.timings.items()
        }
        request = self.result.request
        if status == "succeeded" and request is not None and request.open_pr:
            self._render()  # the pull request's body carries the report
            yield from self._open_pull_request()
        self._render()
        yield live_final_event(self.result)
        return self.result

    def _render(self) -> None:
        rendered(self.result, repo_name=self.repo.path.name, wiring=self.wiring)

    def _open_pull_request(self) -> Generator[StageEvent, None, None]:
        from agent.errors import PullRequestError
        from agent.repo.pulls import open_pull_request

        try:
            pull = open_pull_request(self.result, self.settings, self.repo)
        except PullRequestError as e:
            self.result.pr_error = str(e)
        else:
            self.result.pull_request = pull
            verb = "updated" if pull.updated else "opened"
            self.last_stage = "pr_opened"
            yield PullOpened(
                build_id=self.result.id,
                message=f"pull request {pull.id} {verb}",
                url=pull.url,
                kind=pull.kind,
            )


def _stop_reason_of(status: BuildStatus, result: BuildResult) -> StopReason:
    """Why a build's rounds ended, when no repair-budget stop said so."""
    if status == "succeeded":
        return "passed"
    if status == "rejected":
        return "rejected"
    if status == "cancelled":
        return "cancelled"
    if result.rounds and result.rounds[-1].outcome == "model_error":
        return "model_error"
    return "error"
