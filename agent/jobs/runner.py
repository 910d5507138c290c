"""Run one stored build, record its events and result, and recover after a crash."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import git

from agent.errors import WorkspaceError
from agent.events import Failed, StageEvent
from agent.jobs.ending import ended, ended_for, recovered
from agent.models import Model, create_model
from agent.pipeline.loop import Builder, target_repo
from agent.pipeline.result import FINAL_STATUSES, BuildResult, final_event
from agent.redact import redact
from agent.repo.guards import check_object_id
from agent.repo.remote import RemoteClone
from agent.settings import Settings
from agent.store.builds import BuildRecord, BuildStore

log = logging.getLogger("petsage.service")


class ServiceRunner:
    """Runs stored builds with one model against one workspace."""

    def __init__(self, settings: Settings, store: BuildStore, model: Model | None = None) -> None:
        self.settings = settings
        self.store = store
        self.model = model if model is not None else create_model(settings.model, settings)
        self.model_name = self.model.name
        #: The workspace as the service reads it; each build gets its own `Builder` (and so its
        #: own git handle: builds run in threads, and a `git.Repo` is not shared between them).
        self.repo = target_repo(settings)
        #: Set by the app: true once the service is shutting down.
        self.shutting_down: Callable[[], bool] = lambda: False
        #: With distributed workers: the API's mirror of the shared remote.
        self.mirror: RemoteClone | None = None
        #: The last error that ended a build outside its own run (for `/health`); None when a
        #: later build ended normally.
        self.problem: str | None = None

    @property
    def state_dir(self) -> Path:
        return self.repo.state_dir

    def run(self, build_id: str, should_stop: Callable[[], bool]) -> None:
        """Run a queued build to its end (the in-process job backend calls this in a thread).

        Never raises: whatever goes wrong (the store, the disk, the last event) ends the build
        `failed` with the reason, or `interrupted` when even that cannot be stored, and is kept
        in `problem` for `/health`, so the worker thread goes on to the next build.
        """
        try:
            record = self.store.get(build_id)
            if record is None:
                return
            if not self.store.set_status(build_id, "running", only_from=("queued",)):
                return
            self.execute(record, should_stop)
            self.problem = None
        except Exception as e:  # a worker thread must outlive any one build
            log.exception("build %s: the worker caught an error outside the build", build_id)
            self.end_after_crash(build_id, f"{type(e).__name__}: {redact(str(e))}")

    def end_after_crash(self, build_id: str, error: str) -> None:
        """End a build whose run raised: `failed` with the reason, else `interrupted` in memory."""
        self.problem = f"build {build_id} ended by an error: {error}"
        for pause in (0.5, 1.0, 2.0, None):  # a locked database may come back in a moment
            try:
                record = self.store.get(build_id)
                if record is None or record.status in FINAL_STATUSES:
                    return
                result = ended_for(record, "failed", [f"internal error: {error}"])
                self.store.finish(result)
                self.store.append_event(final_event(result))
                return
            except Exception as e:
                log.exception("build %s: cannot store its end either", build_id)
                self.problem = (
                    f"the build store failed ({type(e).__name__}: {redact(str(e))}); "
                    f"build {build_id} is interrupted until the service restarts"
                )
                if pause is None or self.shutting_down():
                    return
                time.sleep(pause)

    def execute(
        self,
        record: BuildRecord,
        should_stop: Callable[[], bool],
        *,
        publish: Callable[[BuildResult], BuildResult] | None = None,
        worker: str | None = None,
    ) -> BuildResult:
        """Run a build this process holds; store its events and its result.

        `publish` gets a succeeded result before it is stored (a worker pushes its branch
        there). With `worker`, the result is stored only while that worker still holds the build.
        """
        result, final = self._build(record, should_stop, publish)
        if result.status == "cancelled" and self.shutting_down():
            result.status = "interrupted"
            result.reasons = ["the service shut down while this build ran; post it again to retry"]
        if not self.store.finish(result, worker=worker):
            log.warning("build %s: another worker took it over; its result is theirs", record.id)
            return result
        if final and final[0].stage == "done" and result.status != "succeeded":
            final = []
        for event in final or [final_event(result)]:
            if result.status == "interrupted":
                event = Failed(
                    build_id=event.build_id,
                    message=f"interrupted: {result.reasons[0]}",
                    ok=event.ok,
                    round=event.round,
                    at=event.at,
                    status="interrupted",
                )
            self.store.append_event(event)
        return result

    def _build(
        self,
        record: BuildRecord,
        should_stop: Callable[[], bool],
        publish: Callable[[BuildResult], BuildResult] | None,
    ) -> tuple[BuildResult, list[StageEvent]]:
        """Run the build, storing its events as they come; return its result and final event.

        The final event is held back: it is stored after the result, so whoever sees it can
        read the result.
        """
        builder = Builder(self.settings, model=self.model)
        final: list[StageEvent] = []

        def record_event(event: StageEvent) -> None:
            if event.final:
                final.append(event)
                return
            if event.stage == "committed":
                # Before the commit is published: recovery recognises it by these alone.
                self.store.record_commit(record.id, event.base, event.tree)
            self.store.append_event(event)

        try:
            result = builder.run(
                record.request, build_id=record.id, on_event=record_event, should_stop=should_stop
            )
            if publish is not None and result.status == "succeeded":
                result = publish(result)
        except Exception as e:
            log.exception("build %s crashed", record.id)
            reason = f"internal error: {type(e).__name__}: {redact(str(e))}"
            result = ended(record.id, "failed", [reason])
        return result, final

    def cancel_queued(self, build_id: str) -> bool:
        """Mark a build that never started as cancelled."""
        if not self.store.set_status(build_id, "cancelled", only_from=("queued",)):
            return False
        record = self.store.get(build_id)
        result = ended(build_id, "cancelled", ["cancelled before it started"])
        if record is not None:
            result = ended_for(record, "cancelled", ["cancelled before it started"])
        self.store.finish(result)
        self.store.append_event(final_event(result))
        return True

    def fail_unsent(self, build_id: str, reason: str) -> None:
        """End a stored build the job backend never took."""
        record = self.store.get(build_id)
        if record is None or not self.store.set_status(build_id, "running", only_from=("queued",)):
            return
        result = ended_for(record, "failed", [reason])
        self.store.finish(result)
        self.store.append_event(final_event(result))

    def recover(self) -> list[str]:
        """After a crash: end builds that were running, clear worktrees; return the queued ids."""
        for build_id in self.store.ids_with_status("running"):
            record = self.store.get(build_id)
            if record is None:
                continue
            commit = self._committed_by(record)
            if commit is not None:
                result = recovered(
                    record, commit, "the service stopped after this build committed; recovered"
                )
            else:
                result = ended_for(
                    record,
                    "interrupted",
                    ["the service stopped while this build ran; post it again to retry"],
                )
            self.store.finish(result)
            self.store.append_event(final_event(result))
        self._clear_worktrees()
        return self.store.ids_with_status("queued")

    def commit_diff(self, commit: str) -> str:
        """The patch a build's commit made (fetched from the shared remote when not here yet)."""
        commit = check_object_id(commit)
        self.sync_mirror(commit)
        repo = git.Repo(self.repo.path)
        return str(
            repo.git.show(
                "--format=", "--no-color", "--end-of-options", commit, strip_newline_in_stdout=False
            )
        )

    def sync_mirror(self, commit: str | None = None) -> None:
        """Bring the API's mirror up to the remote (only when `commit` is missing, if given)."""
        if self.mirror is None:
            return
        if commit is not None:
            try:
                git.Repo(self.repo.path).git.cat_file("-e", f"{check_object_id(commit)}^{{commit}}")
                return
            except git.GitCommandError:
                pass
        self.mirror.sync()

    def _committed_by(self, record: BuildRecord) -> str | None:
        """The commit a build made before a crash: its message, base and tested tree match."""
        try:
            return self.repo.commit_of_build(
                record.request.branch, record.id, base=record.base_commit, tree=record.commit_tree
            )
        except (WorkspaceError, OSError):
            return None

    def _clear_worktrees(self) -> None:
        folder = self.state_dir / "worktrees"
        if not folder.is_dir():
            return
        for leftover in folder.iterdir():
            shutil.rmtree(leftover, ignore_errors=True)
        try:
            git.Repo(self.repo.path).git.worktree("prune")
        except (git.GitError, OSError) as e:
            log.warning("could not prune worktrees: %s", e)
