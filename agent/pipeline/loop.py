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
from typing import Any

from agent.box.run import TestRun
from agent.bundle import FileBundle
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
from agent.pipeline.stages.commit_build import Commit
from agent.pipeline.stages.find_base import FindBase
from agent.pipeline.stages.generate import Generate
from agent.pipeline.stages.validate import Validate
from agent.pipeline.stages.verify_gates import Verify
from agent.pipeline.stages.write_and_test import WriteAndTest
from agent.pipeline.state import BuildState
from agent.pipeline.verify.render import verification_summary
from agent.pipeline.workbench import Workbench
from agent.repo.workspace import TargetRepo
from agent.request import FeatureRequest, decode_request
from agent.settings import Settings

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
        run = _BuildRun(self, build_id or uuid.uuid4().hex[:12], should_stop, held_tests)
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


class _BuildRun:
    """One build from its request to its result: the round loop, calling the stages in order."""

    def __init__(
        self,
        builder: Builder,
        build_id: str,
        should_stop: Callable[[], bool] | None,
        held_tests: TestRun | None,
    ) -> None:
        self.started = time.perf_counter()
        self.state = BuildState(
            settings=builder.settings,
            model=builder.model,
            repo=builder.repo,
            result=BuildResult(
                id=build_id,
                status="running",
                model=builder.model.name,
                started_at=datetime.now(UTC),
            ),
            should_stop=should_stop or (lambda: False),
        )
        self.held_tests = held_tests
        self.stop_reason: StopReason | None = None
        self.generate = Generate(self.state)
        self.validate = Validate(self.state)
        self.write_and_test = WriteAndTest(self.state)
        self.verify = Verify(self.state)
        self.commit = Commit(self.state)

    # --- the pipeline ----------------------------------------------------------------------------

    def execute(self, raw: FeatureRequest | bytes | str | dict[str, Any]) -> BuildStream:
        state, result = self.state, self.state.result
        yield state.progress("received", "request received")
        try:
            with state.timed("decode"):
                request = (
                    raw
                    if isinstance(raw, FeatureRequest)
                    else decode_request(raw, max_bytes=state.settings.max_request_bytes)
                )
        except RequestError as e:
            return (yield from self._finish("rejected", [str(p) for p in e.problems]))
        result.request = request
        result.feature = request.feature
        result.base_branch = request.base_branch
        result.branch = request.branch
        yield state.progress("decoded", f"{request.feature}: {request.title}")
        try:
            state.model.check(request)
        except ModelRefused as e:
            return (yield from self._finish("rejected", [str(e)]))
        try:
            with state.timed("prepare"):
                self._prepare(request)
            with state.repo.feature_lock(request.feature), ExitStack() as stack:
                status, reasons = yield from self._rounds(request, stack)
        except RequestError as e:
            return (yield from self._finish("rejected", [str(p) for p in e.problems]))
        except BuildCancelled:
            return (yield from self._finish("cancelled", ["cancelled before it finished"]))
        except InfrastructureError as e:
            result.reason = infrastructure_reason(e, retried=True)
            if result.rounds:
                result.rounds[-1].outcome = "infrastructure"
                result.rounds[-1].reasons = [str(e)]
            return (yield from self._finish("failed", [str(e)]))
        except BuilderError as e:
            kind: ReasonKind = "model" if isinstance(e, ModelError) else "internal"
            stage = "generating" if kind == "model" else state.last_stage
            result.reason = FailureReason(kind=kind, stage=stage, message=str(e)[:500])
            return (yield from self._finish("failed", [str(e)]))
        return (yield from self._finish(status, reasons))

    def _prepare(self, request: FeatureRequest) -> None:
        repo = self.state.repo
        if repo.needs_skeleton() and request.base_branch != "main":
            raise RequestError(
                [
                    Problem(
                        "base_branch", f"{request.base_branch!r} does not exist in a new workspace"
                    )
                ]
            )
        repo.ensure()

    def _rounds(
        self, request: FeatureRequest, stack: ExitStack
    ) -> Generator[StageEvent, None, tuple[BuildStatus, list[str]]]:
        """Round after round: generate, validate, write and wire, test, verify, commit."""
        state, result, settings = self.state, self.state.result, self.state.settings
        base = FindBase(state).run(request)
        bench = Workbench(state, base, stack, self.held_tests)
        budget = RepairBudget(settings, state.model.name)
        feedback: Feedback | None = None
        previous_reply: str | None = None
        reasons: list[str] = []
        last = Rejection("validation", [], "no round ran")
        for number in range(1, settings.max_rounds + 1):
            state.check_stop()
            yield state.progress(
                "generating", f"asking {state.model.name} (round {number})", number
            )
            record = RoundRecord(round=number, outcome="accepted")
            result.rounds.append(record)
            # Its processes load while the model answers.
            bench.prepare()
            earlier = result.attempt
            reply = self.generate.run(request, base, record, feedback, previous_reply)
            budget.spend(record.prompt_tokens, record.completion_tokens)
            previous_reply = reply.text
            stop = budget.repeated(reply.text)
            if stop is not None:
                # The attempt kept is the earlier round's: its files, diff and test output.
                result.attempt = earlier
                record.outcome, record.reasons = "repeated", [stop.message]
                yield state.checked("validated", stop.message, number, ok=False)
                return self._stopped(stop, reasons)
            rejection = yield from self._attempt(request, base, reply, number, bench)
            if rejection is None:
                return "succeeded", []
            reasons = rejection.reasons
            feedback = yield from self._reject(record, rejection, bench)
            last = rejection
            stop = budget.after(rejection) if number < settings.max_rounds else None
            if stop is not None:
                return self._stopped(stop, reasons)
        self.stop_reason = "max_rounds"
        rounds = settings.max_rounds
        message = f"no passing reply after {rounds} round(s)"
        result.reason = FailureReason(
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
        rounds = len(self.state.result.rounds)
        why = f"stopped after {rounds} round(s) ({stop.reason}): {stop.message}"
        return "failed", [why, *reasons]

    def _attempt(
        self,
        request: FeatureRequest,
        base: Base,
        reply: ModelReply,
        number: int,
        bench: Workbench,
    ) -> Generator[StageEvent, None, Rejection | None]:
        """One reply through the stages: None once it is committed, else why it was not."""
        state = self.state
        bundle = self.validate.run(reply, request.feature, base)
        if isinstance(bundle, Rejection):
            return bundle
        passed = f"{len(bundle.files)} files pass the blueprint's checks"
        yield state.checked("validated", passed, number)
        state.check_stop()
        try:
            return (yield from self._test_verify_commit(request, base, bundle, number, bench))
        except InfrastructureError as e:
            # The machine, not the reply, ended it: once more with the same files, no repair
            # round spent and nothing told to the model (issue 28).
            reason = infrastructure_reason(e, retried=False)
            yield state.checked(
                "tested" if e.stage == "tested" else "verified",  # the two stages that raise it
                f"{e}; trying again",
                number,
                ok=False,
                reasons=[str(e)],
                reason=reason.model_dump(),
            )
        state.check_stop()
        bench.prepare()  # a clean worktree and fresh processes for the second try
        return (yield from self._test_verify_commit(request, base, bundle, number, bench))

    def _test_verify_commit(
        self,
        request: FeatureRequest,
        base: Base,
        bundle: FileBundle,
        number: int,
        bench: Workbench,
    ) -> Generator[StageEvent, None, Rejection | None]:
        """A checked bundle written, tested, verified and committed: None, else why not."""
        state = self.state
        tested = yield from self.write_and_test.run(request, base, bundle, number, bench)
        report = tested.report
        if not tested.passed:
            tested.verifier.close()
            return tested.rejection(FeatureLayout(request.feature).tests_dir)
        yield state.checked("tested", f"{report.passed} passed", number)
        state.check_stop()
        verification = self.verify.run(tested)
        if not verification.ok:
            reasons = verification.reasons
            return Rejection("verification", reasons, f"{len(reasons)} gate failure(s)")
        yield state.checked("verified", verification_summary(verification), number)
        yield from self.commit.run(request, base, tested, bench.worktree)
        return None

    def _reject(
        self, record: RoundRecord, rejection: Rejection, bench: Workbench
    ) -> Generator[StageEvent, None, Feedback]:
        """Record why a round's reply was not taken, say so, and return the model's feedback."""
        outcome, stage = REJECTED[rejection.kind]
        record.outcome, record.reasons = outcome, rejection.reasons
        if rejection.kind in ("tests", "verification"):
            self.state.attempt.diff = bench.worktree.diff()
        yield self.state.checked(
            stage, rejection.message, record.round, ok=False, reasons=rejection.reasons
        )
        return Feedback(rejection.kind, tuple(rejection.reasons), rejection.details)

    # --- bookkeeping -----------------------------------------------------------------------------

    def _finish(self, status: BuildStatus, reasons: list[str]) -> BuildStream:
        state, result = self.state, self.state.result
        if status != "succeeded" and result.reason is None:
            result.reason = default_reason(status, reasons, state.last_stage)
        conclude(result, status, reasons)
        result.stop_reason = self.stop_reason or _stop_reason_of(status, result)
        result.finished_at = datetime.now(UTC)
        result.seconds = round(time.perf_counter() - self.started, 4)
        result.cost_usd = state.settings.cost_usd(
            state.model.name, result.prompt_tokens, result.completion_tokens
        )
        result.timings = {stage: round(seconds, 4) for stage, seconds in result.timings.items()}
        request = result.request
        if status == "succeeded" and request is not None and request.open_pr:
            self._render()  # the pull request's body carries the report
            yield from self._open_pull_request()
        self._render()
        yield live_final_event(result)
        return result

    def _render(self) -> None:
        rendered(self.state.result, repo_name=self.state.repo.path.name, wiring=self.state.wiring)

    def _open_pull_request(self) -> Generator[StageEvent, None, None]:
        from agent.errors import PullRequestError
        from agent.review.pulls import open_pull_request

        state, result = self.state, self.state.result
        try:
            pull = open_pull_request(result, state.settings, state.repo)
        except PullRequestError as e:
            result.pr_error = str(e)
        else:
            result.pull_request = pull
            verb = "updated" if pull.updated else "opened"
            state.last_stage = "pr_opened"
            yield PullOpened(
                build_id=result.id,
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
