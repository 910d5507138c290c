"""The build pipeline: decode → generate → validate → write → integrate → test → commit.

Failures of validation or of the tests go back to the model as a repair round, at most
`max_rounds` rounds in all. A branch only ever moves to a commit whose tests passed; a failed
build leaves every branch as it was and keeps its attempt in the result.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.build import persistence
from agent.build.bundle import FileBundle, parse_reply
from agent.build.checks import check_bundle
from agent.build.report import render_report
from agent.build.result import Attempt, AttemptFile, BuildResult, BuildStatus, RoundRecord
from agent.build.suite import (
    check_collected,
    commit_message,
    counts_of,
    expected_tests,
    test_python_for,
)
from agent.build.verify.box import Box
from agent.build.verify.gates import Verifier
from agent.build.verify.render import verification_summary
from agent.build.wiring import MAIN_PY, patch, wire_router
from agent.errors import (
    BuildCancelled,
    BuilderError,
    BundleError,
    ModelError,
    ModelRefused,
    Problem,
    RequestError,
)
from agent.events import Stage, StageEvent
from agent.layout import FeatureLayout
from agent.models import Feedback, GenerationTask, Model, create_model
from agent.models.context import load_context
from agent.repo.workspace import TargetRepo, Worktree
from agent.request import FeatureRequest, decode_request
from agent.settings import Settings
from agent.testing.run import TestReport, start_tests
from agent.testing.sandbox import UNSANDBOXED_NOTE

BuildStream = Generator[StageEvent, None, BuildResult]
NO_SCAN_NOTE = (
    "the static scan of generated code was OFF (PETSAGE_STATIC_SCAN=false): only the sandbox "
    "stood between it and the host"
)


class Builder:
    """Runs builds against one target repository with one model."""

    def __init__(
        self, settings: Settings, *, model: Model | None = None, workspace: Path | None = None
    ) -> None:
        self.settings = settings
        self.model = model if model is not None else create_model(settings.model, settings)
        path = workspace if workspace is not None else settings.workspace
        self.repo = TargetRepo(
            path,
            settings.resolved_state_dir(path),
            author=(settings.author_name, settings.author_email),
        )

    def stream(
        self,
        request: FeatureRequest | bytes | str | dict[str, Any],
        *,
        build_id: str | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> BuildStream:
        """The build's events as they happen; the generator returns the `BuildResult`."""
        run = _BuildRun(self, build_id or uuid.uuid4().hex[:12], should_stop)
        return run.execute(request)

    def run(
        self,
        request: FeatureRequest | bytes | str | dict[str, Any],
        *,
        build_id: str | None = None,
        on_event: Callable[[StageEvent], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> BuildResult:
        """Run one build to its end, passing each event to `on_event`."""
        stream = self.stream(request, build_id=build_id, should_stop=should_stop)
        while True:
            try:
                event = next(stream)
            except StopIteration as done:
                result: BuildResult = done.value
                return result
            if on_event is not None:
                on_event(event)


class _BuildRun:
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

    # --- the pipeline ----------------------------------------------------------------------------

    def execute(self, raw: FeatureRequest | bytes | str | dict[str, Any]) -> BuildStream:
        yield self._event("received", "request received")
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
        yield self._event("decoded", f"{request.feature}: {request.title}")
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
        except BuilderError as e:
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
        branches = self.repo.branches()
        previous_tip = branches.get(request.branch)
        start = previous_tip or branches.get(request.base_branch)
        if start is None:
            raise RequestError(
                [
                    Problem(
                        "base_branch",
                        f"branch {request.base_branch!r} does not exist in {self.repo.path}",
                    )
                ]
            )
        self._check_references(request, start)
        layout = FeatureLayout(request.feature)
        with self._timed("prepare"):
            # The environment comes from the base branch's requirements, never the feature's.
            base_tip = branches.get(request.base_branch) or start
            test_python, self.test_env_note = test_python_for(self.settings, self.repo, base_tip)
        revision, revision_path, revision_message = persistence.next_revision(
            self.repo.list_dir(start, persistence.VERSIONS_DIR), request.feature
        )
        feedback: Feedback | None = None
        previous_reply: str | None = None
        reasons: list[str] = []
        worktree: Worktree | None = None
        for round_number in range(1, self.settings.max_rounds + 1):
            self._check_stop()
            yield self._event(
                "generating", f"asking {self.model.name} (round {round_number})", round=round_number
            )
            task = GenerationTask(
                request=request,
                round=round_number,
                max_rounds=self.settings.max_rounds,
                feedback=feedback,
                previous_reply=previous_reply,
                load_context=lambda: load_context(self.repo, start),
                build_id=self.result.id,
            )
            record = RoundRecord(round=round_number, outcome="accepted")
            self.result.rounds.append(record)
            began = time.perf_counter()
            try:
                reply = self.model.generate(task)
            except ModelError as e:
                record.outcome, record.reasons = "model_error", [str(e)]
                raise
            finally:
                record.seconds = time.perf_counter() - began
                self._add_time("generate", record.seconds)
                self.result.model_round_trips += 1
            record.prompt_tokens = reply.usage.prompt_tokens
            record.completion_tokens = reply.usage.completion_tokens
            self.result.prompt_tokens += reply.usage.prompt_tokens
            self.result.completion_tokens += reply.usage.completion_tokens
            previous_reply = reply.text
            self.result.attempt = Attempt(round=round_number, reply=reply.text)
            if reply.finish_reason == "length":
                reasons = ["the reply was cut off at the token limit before it ended"]
                record.outcome, record.reasons = "invalid", reasons
                feedback = Feedback("length", tuple(reasons))
                yield self._event(
                    "validated", reasons[0], ok=False, round=round_number, reasons=reasons
                )
                continue
            try:
                with self._timed("validate"):
                    parsed = reply.bundle or parse_reply(reply.text, request.feature)
                    self.result.attempt.files = [
                        AttemptFile(path=f.path, content=f.content) for f in parsed.files
                    ]
                    bundle = check_bundle(parsed, request.feature, scan=self.settings.static_scan)
            except BundleError as e:
                reasons = [str(p) for p in e.problems]
                record.outcome, record.reasons = "invalid", reasons
                feedback = Feedback("validation", tuple(reasons))
                yield self._event(
                    "validated",
                    f"{len(reasons)} problem(s)",
                    ok=False,
                    round=round_number,
                    reasons=reasons,
                )
                continue
            self.result.summary = bundle.summary
            self.result.notes = list(bundle.notes)
            if self.test_env_note:
                self.result.notes.append(self.test_env_note)
            if not self.settings.static_scan:
                self.result.notes.append(NO_SCAN_NOTE)
            yield self._event(
                "validated",
                f"{len(bundle.files)} files pass the blueprint's checks",
                round=round_number,
            )
            self._check_stop()
            with self._timed("write"):
                if worktree is None:
                    worktree = stack.enter_context(self.repo.worktree(start, self.result.id))
                else:
                    worktree.reset()
            # The test process starts now and loads pytest while the files are written and wired.
            sandboxed = self.settings.sandbox != "off"
            if not sandboxed and UNSANDBOXED_NOTE not in self.result.notes:
                self.result.notes.append(UNSANDBOXED_NOTE)
            with start_tests(
                worktree.path,
                python=test_python,
                timeout=self.settings.test_timeout,
                sandboxed=sandboxed,
                migration={"revision": revision, "message": revision_message},
            ) as test_run:
                with self._timed("write"):
                    worktree.write(bundle.files)
                yield self._event(
                    "written", f"{len(bundle.files)} files written", round=round_number
                )
                with self._timed("integrate"):
                    paths = self._integrate(worktree, bundle, request.feature)
                    # The commit's tree is recorded now, before any generated code runs.
                    worktree.record(paths)
                    expected = expected_tests(worktree.path)
                yield self._event(
                    "integrated",
                    "router wired into src/main.py" if self.wiring else "already wired",
                    round=round_number,
                )
                self._check_stop()
                with self._timed("test"):
                    test_run.release()
                    # The gates' box work runs beside the main test run (see `verified` below).
                    verifier = Verifier(
                        worktree.path,
                        request,
                        bundle,
                        repo=self.repo,
                        base=start,
                        settings=self.settings,
                        box=Box(test_python, self.settings.test_timeout, sandboxed),
                    )
                    stack.callback(verifier.close)
                    report = test_run.wait(self.should_stop)
                    migration = test_run.migration_result()
                self._check_stop()
            self._note_missing_limits(report)
            check_collected(report, expected)
            migration_problem = self._add_migration(worktree, migration, revision_path, paths)
            own = report.ran_under(f"tests.features.{request.feature}.")
            self._record_tests(report, own, bundle)
            if report.ok and own > 0 and migration_problem is None:
                yield self._event("tested", f"{report.passed} passed", round=round_number)
                self._check_stop()
                with self._timed("verify"):
                    verification = verifier.finish(report)
                self.result.verification = verification
                if not verification.ok:
                    reasons = verification.reasons
                    record.outcome, record.reasons = "unverified", reasons
                    if self.result.attempt is not None:
                        self.result.attempt.diff = worktree.diff()
                    feedback = Feedback("verification", tuple(reasons))
                    yield self._event(
                        "verified",
                        f"{len(reasons)} gate failure(s)",
                        ok=False,
                        round=round_number,
                        reasons=reasons,
                    )
                    continue
                yield self._event(
                    "verified",
                    verification_summary(verification),
                    round=round_number,
                )
                with self._timed("commit"):
                    self.result.commit = worktree.commit_recorded(
                        commit_message(
                            request,
                            paths,
                            report,
                            self.result.id,
                            self.model.name,
                            len(self.result.rounds),
                        )
                    )
                    self.repo.update_branch(
                        request.branch,
                        self.result.commit,
                        previous_tip,
                        f"petsage-builder: build {self.result.id}",
                    )
                self.result.files = paths
                yield self._event(
                    "committed",
                    f"{request.branch} at {self.result.commit[:12]}",
                    commit=self.result.commit,
                    base=start,
                    tree=self.repo.tree_of(self.result.commit),
                )
                return "succeeded", []
            verifier.close()
            reasons = report.reasons(own, layout.tests_dir) if not report.ok or own == 0 else []
            if migration_problem is not None:
                reasons.append(migration_problem)
            record.outcome, record.reasons = "tests_failed", reasons
            if self.result.attempt is not None:
                self.result.attempt.diff = worktree.diff()
            feedback = Feedback("tests", tuple(reasons), report.failure_summary())
            yield self._event(
                "tested", f"{report.failed} failed", ok=False, round=round_number, reasons=reasons
            )
        return "failed", [f"no passing reply after {self.settings.max_rounds} round(s)", *reasons]

    # --- steps -----------------------------------------------------------------------------------

    def _integrate(self, worktree: Worktree, bundle: FileBundle, feature: str) -> list[str]:
        paths = [file.path for file in bundle.files]
        for path, content in persistence.upgrade(worktree.path).items():
            worktree.write_text(path, content)
            paths.append(path)
        if FeatureLayout(feature).table_path in paths:
            tables = worktree.read(persistence.TABLES_PY)
            registered = persistence.register_table(tables, feature)
            if registered != tables:
                worktree.write_text(persistence.TABLES_PY, registered)
                if persistence.TABLES_PY not in paths:
                    paths.append(persistence.TABLES_PY)
        before = worktree.read(MAIN_PY)
        after = wire_router(before, feature)
        self.wiring = ""
        if after != before:
            worktree.write_text(MAIN_PY, after)
            self.wiring = patch(MAIN_PY, before, after)
            paths.append(MAIN_PY)
        return paths

    def _add_migration(
        self,
        worktree: Worktree,
        migration: dict[str, Any] | None,
        path: str,
        paths: list[str],
    ) -> str | None:
        """Add the revision the test run made to the commit; a failed check is a repair reason."""
        if migration is None:
            if (worktree.path / "alembic.ini").exists():
                return "the migration check did not run: the test process ended before it"
            return None
        if not migration.get("ok"):
            return f"the Alembic migration check failed: {migration.get('reason', '?')}"
        content = migration.get("content")
        if isinstance(content, str):
            # The box wrote only its own copy: the builder's worktree is still its own, so the
            # revision joins the recorded tree here, by plumbing.
            worktree.write_text(path, content)
            paths.append(path)
            worktree.record(paths)
            self.result.notes.append(f"Alembic revision {migration.get('revision')}: {path}")
        return None

    def _check_references(self, request: FeatureRequest, start: str) -> None:
        """Every feature a `ref` field names must have its table on the base: else, refuse."""
        if request.resource is None:
            return
        problems = [
            Problem(
                "requirements",
                f"refers to feature {target!r}, which has no table on "
                f"{request.base_branch!r} ({FeatureLayout(target).table_path} is missing): "
                f"build {target!r} as a resource feature first and merge it into "
                f"{request.base_branch!r}, or build this one with base_branch "
                f"'feature/{target}'",
            )
            for target in request.resource.references
            if target != request.feature
            and self.repo.show(start, FeatureLayout(target).table_path) is None
        ]
        if problems:
            raise RequestError(problems)

    def _note_missing_limits(self, report: TestReport) -> None:
        for missing in report.missing_limits:
            note = f"sandbox limit not set on this machine: {missing}"
            if note not in self.result.notes:
                self.result.notes.append(note)

    def _record_tests(self, report: TestReport, own: int, bundle: FileBundle) -> None:
        self.result.tests = counts_of(report, own)
        if self.result.attempt is not None:
            self.result.attempt.files = [
                AttemptFile(path=f.path, content=f.content) for f in bundle.files
            ]
            self.result.attempt.test_output = report.output

    # --- bookkeeping -----------------------------------------------------------------------------

    def _finish(self, status: BuildStatus, reasons: list[str]) -> BuildStream:
        self.result.status = status
        self.result.reasons = reasons
        if status != "succeeded":
            self.result.commit = None
            self.result.files = []
        self.result.finished_at = datetime.now(UTC)
        self.result.seconds = round(time.perf_counter() - self.started, 4)
        self.result.cost_usd = self.settings.cost_usd(
            self.model.name, self.result.prompt_tokens, self.result.completion_tokens
        )
        self.result.timings = {
            stage: round(seconds, 4) for stage, seconds in self.result.timings.items()
        }
        self.result.report = render_report(
            self.result, repo_name=self.repo.path.name, wiring=self.wiring
        )
        if (
            status == "succeeded"
            and self.result.request is not None
            and self.result.request.open_pr
        ):
            yield from self._open_pull_request()
        if status == "succeeded":
            yield self._event(
                "done", f"{status}: {self.result.branch} at {(self.result.commit or '')[:12]}"
            )
        else:
            yield self._event(
                "failed", f"{status}: {'; '.join(reasons)[:300]}", ok=False, status=status
            )
        return self.result

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
            yield self._event(
                "pr_opened", f"pull request {pull.id} {verb}", url=pull.url, kind=pull.kind
            )
        self.result.report = render_report(
            self.result, repo_name=self.repo.path.name, wiring=self.wiring
        )

    def _event(
        self, stage: Stage, message: str, *, ok: bool = True, round: int | None = None, **data: Any
    ) -> StageEvent:
        return StageEvent(
            build_id=self.result.id, stage=stage, message=message, ok=ok, round=round, data=data
        )

    def _add_time(self, stage: str, seconds: float) -> None:
        self.result.timings[stage] = self.result.timings.get(stage, 0.0) + seconds

    @contextmanager
    def _timed(self, stage: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self._add_time(stage, time.perf_counter() - began)

    def _check_stop(self) -> None:
        if self.should_stop():
            raise BuildCancelled("cancelled")
