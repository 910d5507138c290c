"""`petsage-builder worker`: a Celery worker that runs builds from the shared queue.

Each worker keeps its own clone of the shared remote (its `PETSAGE_WORKSPACE`) and reaches the
API only through the shared store. For one build it:

1. skips it unless it is still queued (a redelivered message, a cancelled build);
2. takes the feature's lock in the database, so builds of one feature run one at a time on
   every machine, in the order they were posted (a build whose elder is still queued goes
   back to the queue), and claims the build (`queued` → `running`, held by this worker) once
   fewer than `PETSAGE_MAX_CONCURRENT_BUILDS` builds run on all workers together, waiting
   for a slot until then (`agent.store.admission`; the build stays `queued` meanwhile);
3. fetches every branch from the remote, runs the build, and pushes the branch after a passing
   build, never forced; a refused push fails the build instead of losing a commit;
4. renews its hold (a lease) while the build runs, which also carries cancel requests.

Every worker also sweeps for builds whose holder stopped renewing (SIGKILL, a lost machine):
one that already pushed its commit ends `succeeded`; one with tries left is queued again; the
rest end `interrupted`. Builds queued for longer than the visibility timeout are sent again, in
case the broker lost their message. A build is never lost and never committed twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from agent.errors import BuilderError
from agent.events import Progress
from agent.jobs.ending import ended_for, recovered
from agent.jobs.runner import ServiceRunner
from agent.models.base import Model
from agent.pipeline.report import rendered
from agent.pipeline.result import BuildResult, conclude, final_event
from agent.repo.remote import RemoteClone
from agent.settings import Settings
from agent.store.admission import admit
from agent.store.builds import BuildRecord, BuildStore

log = logging.getLogger("petsage.worker")

SETUP_LOCK = "__setup__"
#: Seconds between a waiting worker's tries for a build slot.
ADMISSION_POLL = 0.5


class BuildWorker:
    """Runs builds handed to this process; the Celery task calls `handle`."""

    def __init__(
        self,
        settings: Settings,
        store: BuildStore,
        *,
        requeue: Callable[[str], None],
        model: Model | None = None,
        name: str | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.requeue = requeue
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.runner = ServiceRunner(settings, store, model)
        self.clone = RemoteClone(self.runner.repo, settings.git_remote)
        #: Builds that may run at once on every worker together (issue 28).
        self.limit = settings.build_slots()
        self._stopping = threading.Event()
        self._sweeper: threading.Thread | None = None

    @property
    def beat_every(self) -> float:
        return min(1.0, self.settings.lease_seconds / 3)

    def start(self) -> None:
        """Prepare the clone (seeding an empty remote) and start sweeping for dead workers."""
        self.clone.prepare()
        with self.store.feature_lock(SETUP_LOCK):
            self.clone.seed()
        self._sweeper = threading.Thread(target=self._sweep_forever, name="sweeper", daemon=True)
        self._sweeper.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=10)

    # --- one build -------------------------------------------------------------------------------

    def handle(self, build_id: str) -> str:
        """Run one build if it is still queued; return the status it ended in (or has)."""
        record = self.store.get(build_id)
        if record is None:
            log.warning("build %s is not in the store; dropped", build_id)
            return "unknown"
        if record.status != "queued":
            return record.status
        with self.store.feature_lock(record.feature, self._gone_check(build_id)) as held:
            first = self.store.first_queued(record.feature) if held else None
            if held and first not in (None, build_id):
                # An older build of this feature waits its turn: it goes first, this one after.
                time.sleep(0.1)
                self.requeue(build_id)
                return "queued"
            if not held or not self._admitted(build_id):
                current = self.store.get(build_id)
                return current.status if current is not None else "unknown"
            claimed = self.store.get(build_id)
            assert claimed is not None
            with self._lease(build_id) as should_stop:
                result = self._run_claimed(claimed, should_stop)
        return result.status

    def _admitted(self, build_id: str) -> bool:
        """Claim the build once fewer than `limit` builds run on all workers; wait until then.
        False when the build is no longer queued (cancelled, taken) or this worker stops."""
        waiting = False
        while not self._stopping.is_set():
            outcome = admit(
                self.store, build_id, self.name, self.limit, self.settings.lease_seconds
            )
            if outcome != "full":
                return outcome == "claimed"
            if not waiting:
                waiting = True
                log.info(
                    "build %s: %d builds run already; waiting for a slot", build_id, self.limit
                )
            self._stopping.wait(ADMISSION_POLL)
        self.requeue(build_id)  # this worker stops: the build waits in the queue for another
        return False

    def _run_claimed(self, record: BuildRecord, should_stop: Callable[[], bool]) -> BuildResult:
        try:
            self.clone.sync()
            # A try before this one may have pushed its commit just before its worker died.
            commit = (
                self.clone.commit_of_build(
                    record.request.branch,
                    record.id,
                    base=record.base_commit,
                    tree=record.commit_tree,
                    fetch=False,
                )
                if record.attempts > 1
                else None
            )
        except BuilderError as e:
            result = ended_for(record, "failed", [str(e)])
            self._store_final(result)
            return result
        if commit is not None:
            result = recovered(record, commit, "an earlier try pushed this build's commit")
            self._store_final(result)
            return result
        return self.runner.execute(record, should_stop, publish=self._push, worker=self.name)

    def _push(self, result: BuildResult) -> BuildResult:
        """Push the build's commit to its branch on the remote; a refusal fails the build."""
        assert result.branch is not None and result.commit is not None
        try:
            self.clone.push(result.commit, result.branch)
        except BuilderError as e:
            conclude(result, "failed", [f"the remote refused {result.branch}: {e}"])
            rendered(result)
        return result

    def _store_final(self, result: BuildResult) -> None:
        if self.store.finish(result, worker=self.name):
            self.store.append_event(final_event(result))

    def _gone_check(self, build_id: str) -> Callable[[], bool]:
        """While waiting for the feature lock: stop waiting once the build is no longer queued."""
        checked = [0.0]

        def gone() -> bool:
            now = time.monotonic()
            if now - checked[0] < 1.0:
                return False
            checked[0] = now
            record = self.store.get(build_id)
            return record is None or record.status != "queued"

        return gone

    @contextmanager
    def _lease(self, build_id: str) -> Iterator[Callable[[], bool]]:
        """Renew this worker's hold on the build until the block ends; yields the stop check."""
        state = {"lost": False, "cancelled": False}
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.beat_every):
                try:
                    held, cancelled = self.store.heartbeat(build_id, self.name)
                except Exception:
                    log.exception("build %s: could not renew the lease", build_id)
                    continue
                state["lost"], state["cancelled"] = not held, cancelled

        thread = threading.Thread(target=beat, name=f"lease-{build_id}", daemon=True)
        thread.start()
        try:
            yield lambda: state["lost"] or state["cancelled"]
        finally:
            done.set()
            thread.join()

    # --- dead workers' builds --------------------------------------------------------------------

    def _sweep_forever(self) -> None:
        every = max(0.5, self.settings.lease_seconds / 3)
        while not self._stopping.wait(every):
            try:
                self.sweep()
            except Exception:
                log.exception("sweep failed; trying again")

    def sweep(self) -> list[str]:
        """Take over builds whose worker stopped renewing its lease; return their ids."""
        cutoff = time.time() - self.settings.lease_seconds
        taken = []
        for record in self.store.stale(cutoff):
            commit = self.clone.commit_of_build(
                record.request.branch, record.id, base=record.base_commit, tree=record.commit_tree
            )
            result: BuildResult | None
            if commit is not None:
                result = recovered(record, commit, "its worker died after pushing; recovered")
            elif record.attempts >= self.settings.max_attempts:
                result = ended_for(
                    record,
                    "interrupted",
                    [
                        f"its worker ({record.worker}) stopped while it ran, "
                        f"{record.attempts} time(s); post it again to retry"
                    ],
                )
            else:
                result = None
            if not self.store.settle_stale(record.id, cutoff, result):
                continue
            taken.append(record.id)
            if result is None:
                self.store.append_event(
                    Progress(
                        build_id=record.id,
                        stage="requeued",
                        message=f"its worker ({record.worker}) stopped; queued again "
                        f"(try {record.attempts + 1} of {self.settings.max_attempts})",
                        ok=False,
                    )
                )
                self.requeue(record.id)
                log.warning("build %s: worker %s stopped; queued again", record.id, record.worker)
            else:
                self.store.append_event(final_event(result))
                log.warning(
                    "build %s: worker %s stopped; %s", record.id, record.worker, result.status
                )
        # A build queued longer than Redis keeps a message unseen may have lost its message
        # (a broker restarted without persistence): send it again; a duplicate is a no-op.
        for build_id in self.store.resend_due(time.time() - self.settings.visibility_timeout):
            self.requeue(build_id)
            log.warning(
                "build %s: queued for over %.0f s; sent again",
                build_id,
                self.settings.visibility_timeout,
            )
        return taken


def run_worker(settings: Settings, *, name: str | None = None, concurrency: int = 1) -> int:
    """Start a Celery worker process on the build queue; returns when it shuts down."""
    from agent.jobs.celery_jobs import TASK, celery_app

    database_url = settings.shared_database_url()
    app = celery_app(settings)
    store = BuildStore.open(database_url, settings.resolved_state_dir() / "builds.db")
    worker_name = name or f"petsage-{os.getpid()}@{socket.gethostname()}"

    def requeue(build_id: str) -> None:
        app.send_task(TASK, args=[build_id], queue=settings.queue)

    worker = BuildWorker(settings, store, requeue=requeue, name=worker_name)

    @app.task(name=TASK, acks_late=True)  # type: ignore[untyped-decorator]
    def build(build_id: str) -> str:
        return worker.handle(build_id)

    worker.start()
    pool = "solo" if concurrency == 1 else "threads"
    try:
        app.worker_main(
            argv=[
                "worker",
                f"--hostname={worker_name}",
                f"--pool={pool}",
                f"--concurrency={concurrency}",
                f"--queues={settings.queue}",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ]
        )
    finally:
        worker.stop()
        store.close()
    return 0
