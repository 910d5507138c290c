"""The stages of one build round: generate, validate, write and wire, test, verify, commit.

`agent.pipeline.loop` runs them round after round; each stage either hands the next its result or
returns a `Rejection`, which the loop turns into the round's record, event and feedback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Unpack

from agent.box.budget import box_wall_seconds, overrun_error
from agent.box.env import test_python_for
from agent.box.results import TestReport
from agent.box.run import (
    TestRun,
    default_limits,
    has_pytest_config,
    run_signature,
    start_tests,
)
from agent.box.sandbox import UNSANDBOXED_NOTE
from agent.errors import BuildCancelled, BundleError, ModelError, Problem, RequestError
from agent.events import (
    Checked,
    CheckStage,
    Committed,
    Found,
    Progress,
    ProgressStage,
    Stage,
    StageEvent,
)
from agent.layout import FeatureLayout
from agent.models import Feedback, GenerationTask, Model, ModelReply
from agent.models.context import load_context
from agent.pipeline import persistence
from agent.pipeline.bundle import FileBundle, parse_reply
from agent.pipeline.checks import check_bundle
from agent.pipeline.integrate import add_migration, changes_schema, integrate
from agent.pipeline.migration_ops import MigrationPlan
from agent.pipeline.result import Attempt, AttemptFile, BuildResult, RoundRecord, counts_of
from agent.pipeline.round import Base, Rejection, Tested
from agent.repo.workspace import TargetRepo, Worktree
from agent.request import FeatureRequest
from agent.settings import Settings

if TYPE_CHECKING:
    from agent.pipeline.verify.box import Box, HeldProbe
    from agent.pipeline.verify.outcome import Verification

NO_SCAN_NOTE = (
    "the static scan of generated code was OFF (PETSAGE_STATIC_SCAN=false): only the sandbox "
    "stood between it and the host"
)


def _files_of(bundle: FileBundle) -> list[AttemptFile]:
    return [AttemptFile(path=f.path, content=f.content) for f in bundle.files]


class Stages:
    """The stages of a build's rounds, over the state of one build (`agent.pipeline.loop`)."""

    settings: Settings
    model: Model
    repo: TargetRepo
    result: BuildResult
    should_stop: Callable[[], bool]
    wiring: str
    test_env_note: str | None
    worktree: Worktree | None
    worktree_dirty: bool
    held_tests: TestRun | None
    held_probe: HeldProbe | None
    #: The stage of the last event: where a build that ends on an error stopped.
    last_stage: Stage = "received"

    def _base(self, request: FeatureRequest) -> Base:
        """Where the build starts, its test interpreter and its migration's name."""
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
        with self._timed("prepare"):
            # The environment comes from the base branch's requirements, never the feature's.
            base_tip = branches.get(request.base_branch) or start
            test_python, self.test_env_note = test_python_for(self.settings, self.repo, base_tip)
        revision, revision_path, revision_message = persistence.next_revision(
            self.repo.list_dir(start, persistence.VERSIONS_DIR), request.feature
        )
        return Base(start, previous_tip, test_python, revision, revision_path, revision_message)

    def _generate(
        self,
        request: FeatureRequest,
        base: Base,
        record: RoundRecord,
        feedback: Feedback | None,
        previous_reply: str | None,
    ) -> ModelReply:
        """Ask the model for the round's reply; count its time and tokens."""
        task = GenerationTask(
            request=request,
            round=record.round,
            max_rounds=self.settings.max_rounds,
            feedback=feedback,
            previous_reply=previous_reply,
            load_context=lambda: load_context(self.repo, base.start),
            build_id=self.result.id,
        )
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
        self.result.attempt = Attempt(round=record.round, reply=reply.text)
        return reply

    def _validate(self, reply: ModelReply, feature: str) -> FileBundle | Rejection:
        """The reply's bundle, checked (the attempt keeps the files that were checked)."""
        with self._timed("validate"):
            try:
                bundle = reply.bundle or parse_reply(reply.text, feature)
                self._attempt_now.files = _files_of(bundle)
                bundle = check_bundle(bundle, feature, scan=self.settings.static_scan)
            except BundleError as e:
                reasons = [str(p) for p in e.problems]
                return Rejection("validation", reasons, f"{len(reasons)} problem(s)")
            # Completed with its packages: these are the files written.
            self._attempt_now.files = _files_of(bundle)
        return bundle

    def _test(
        self,
        request: FeatureRequest,
        base: Base,
        bundle: FileBundle,
        number: int,
        stack: ExitStack,
    ) -> Generator[StageEvent, None, Tested]:
        """Write and wire the bundle, release the held test process, and run the suite."""
        worktree, test_run = self._prepare_round(base, stack)
        self.held_tests = None  # this round's run takes it: the next round starts its own
        held_probe, self.held_probe = self.held_probe, None  # and the gates' probe, as well
        sandboxed = self.settings.sandbox != "off"
        if not sandboxed and UNSANDBOXED_NOTE not in self.result.notes:
            self.result.notes.append(UNSANDBOXED_NOTE)
        with test_run:
            paths = yield from self._write_and_wire(worktree, bundle, request, number)
            self._check_stop()
            # Only files that touch the database can change the schema the check sees: else
            # it would check the base's again (agent.pipeline.integrate.changes_schema).
            checks_schema = changes_schema(bundle, paths, request.feature)
            plan = MigrationPlan.for_base(request, base, worktree.path) if checks_schema else None
            with self._timed("test"):
                test_run.release(plan)
                # The gates' box work runs beside the main test run (`_verify`), in the probe
                # held since the round began. Imported here, not before: the test process runs
                # meanwhile (issue 19).
                from agent.pipeline.verify.gates import Verifier

                verifier = Verifier(
                    worktree.path,
                    request,
                    bundle,
                    repo=self.repo,
                    base=base.start,
                    settings=self.settings,
                    box=self._gates_box(base),
                    held=held_probe,
                )
                stack.callback(verifier.close)
                test_run.wall_seconds = self._wall_seconds()
                report = test_run.wait(self.should_stop)
                migration = test_run.migration_result()
            self._check_stop()
        overrun = test_run.overrun
        if overrun is not None and overrun.infrastructure:
            verifier.close()  # the stage is tried again from the start: never the model's fault
            raise overrun_error(overrun, "tested", "the test run")
        self._note_missing_limits(report)
        problem, note = (
            add_migration(worktree, migration, base.revision_path, paths)
            if checks_schema
            else (None, None)
        )
        if note is not None:
            self.result.notes.append(note)
        own = report.own_tests(f"tests.features.{request.feature}.")
        self.result.tests = counts_of(report, own)
        self._attempt_now.test_output = report.output
        return Tested(report, own, paths, verifier, problem)

    def _write_and_wire(
        self, worktree: Worktree, bundle: FileBundle, request: FeatureRequest, number: int
    ) -> Generator[StageEvent, None, list[str]]:
        """Write the files, wire them in, record the commit's tree; return its paths."""
        with self._timed("write"):
            self.worktree_dirty = True
            worktree.write(bundle.files)
        yield self._progress("written", f"{len(bundle.files)} files written", number)
        with self._timed("integrate"):
            paths, self.wiring = integrate(worktree, bundle, request.feature)
            # The commit's tree is recorded now, before any generated code runs.
            worktree.record(paths)
        wired = "router wired into src/main.py" if self.wiring else "already wired"
        yield self._progress("integrated", wired, number)
        return paths

    def _verify(self, tested: Tested) -> Verification:
        with self._timed("verify"):
            verification = tested.verifier.finish(tested.report)
        self.result.verification = verification
        return verification

    def _commit(
        self, request: FeatureRequest, base: Base, tested: Tested
    ) -> Generator[StageEvent, None, None]:
        assert self.worktree is not None
        from agent.pipeline.commit import commit_build, commit_message

        message = commit_message(
            request,
            tested.paths,
            tested.report,
            self.result.id,
            self.model.name,
            len(self.result.rounds),
        )
        with self._timed("commit"):
            self.result.commit = commit_build(
                self.repo,
                self.worktree,
                request,
                message,
                build_id=self.result.id,
                previous_tip=base.previous_tip,
            )
        self.result.files = tested.paths
        self.last_stage = "committed"
        yield Committed(
            build_id=self.result.id,
            message=f"{request.branch} at {self.result.commit[:12]}",
            commit=self.result.commit,
            base=base.start,
            tree=self.repo.tree_of(self.result.commit),
        )

    # --- helpers ---------------------------------------------------------------------------------

    @property
    def _attempt_now(self) -> Attempt:
        assert self.result.attempt is not None
        return self.result.attempt

    def _prepare_round(self, base: Base, stack: ExitStack) -> tuple[Worktree, TestRun]:
        """The round's clean worktree and its test process, started and held at its gate.

        Called before the model is asked: the interpreter, pytest and the target's heavy
        imports load while the model answers and the files are checked, written and wired. A
        held run no round released (the reply was invalid) serves the next round.
        """
        if self.worktree is None:
            with self._timed("write"):
                self.worktree = stack.enter_context(self.repo.worktree(base.start, self.result.id))
        elif self.worktree_dirty:
            with self._timed("write"):
                self.worktree.reset()
        self.worktree_dirty = False
        sandboxed = self.settings.sandbox != "off"
        own_config = has_pytest_config(self.worktree.path)
        held = self.held_tests
        if held is not None and held.source is None:
            # Started ahead of the build (agent.box.prestart): taken only if it fits.
            stack.callback(held.close)
            limits = default_limits(self.settings.test_timeout)
            wanted = run_signature(
                base.test_python, self.settings.test_timeout, sandboxed, limits, own_config, True
            )
            if held.signature == wanted:
                held.adopt(self.worktree.path)
            else:
                held.close()
                self.held_tests = None
        if self.held_tests is None:
            with self._timed("test"):
                self.held_tests = start_tests(
                    self.worktree.path,
                    python=base.test_python,
                    timeout=self.settings.test_timeout,
                    sandboxed=sandboxed,
                    migration_check=True,
                    own_config=own_config,
                )
            stack.callback(self.held_tests.close)
        if self.held_probe is not None and not self.held_probe.alive:
            self.held_probe.close()  # ended while held (killed: memory): start another
            self.held_probe = None
        if self.held_probe is None and self.settings.verify != "off":
            # The gates' probe, too: its interpreter, pytest and FastAPI load meanwhile.
            with self._timed("verify"):
                self.held_probe = self._gates_box(base).hold_probe()
            stack.callback(self.held_probe.close)
        return self.worktree, self.held_tests

    def _gates_box(self, base: Base) -> Box:
        """How the gates run the target's Python: as the tests do (interpreter, timeout, box)."""
        from agent.pipeline.verify.box import Box

        sandboxed = self.settings.sandbox != "off"
        return Box(base.test_python, self.settings.test_timeout, sandboxed, self._wall_seconds())

    def _wall_seconds(self) -> float:
        """The wall-clock ceiling of the build's boxes (their timeout is a CPU-time budget)."""
        return box_wall_seconds(self.settings)

    def _note_bundle(self, bundle: FileBundle) -> None:
        self.result.summary = bundle.summary
        self.result.notes = list(bundle.notes)
        if self.test_env_note:
            self.result.notes.append(self.test_env_note)
        if not self.settings.static_scan:
            self.result.notes.append(NO_SCAN_NOTE)

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

    # --- bookkeeping -----------------------------------------------------------------------------

    def _progress(self, stage: ProgressStage, message: str, round: int | None = None) -> Progress:
        self.last_stage = stage
        return Progress(build_id=self.result.id, stage=stage, message=message, round=round)

    def _checked(
        self, stage: CheckStage, message: str, round: int, **found: Unpack[Found]
    ) -> Checked:
        self.last_stage = stage
        return Checked(build_id=self.result.id, stage=stage, message=message, round=round, **found)

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
