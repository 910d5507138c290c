"""The composition root: the running `Service`, which makes the store, the runner and the job
backend, holds the state folder's lock, warms the pipeline and freezes what start-up made.

The routes find it through `agent.service.deps`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from agent.errors import BuilderError, ConfigError
from agent.jobs.runner import ServiceRunner
from agent.jobs.threads import JobBackend, ThreadJobs
from agent.models.base import Model
from agent.pipeline.warm import warm_up
from agent.redact import redact
from agent.request import FeatureRequest
from agent.service.guard import StreamSlots
from agent.settings import Settings
from agent.store import statelock
from agent.store.builds import BuildRecord, BuildStore

#: Threads taking new builds at once (anyio's default limit, which the routes used before).
ACCEPT_THREADS = 40


def _freeze_start_up() -> None:
    """What start-up made (every module, the app, its routes, the warmed pipeline) lives as long
    as the service: the collector's full passes skip it from now on, so that none of them
    stalls a request. Before any build starts, so that nothing of a build is frozen."""
    gc.collect()
    gc.freeze()


@dataclass(frozen=True)
class Started:
    """A build stored and sent (`Service.start_build`)."""

    record: BuildRecord
    #: False when the idempotency key named a build stored before (it is not sent again).
    created: bool
    #: Why the job backend did not take it (`JobsUnavailable`: a 503); the build is failed.
    refused: BuilderError | None = None


class Service:
    """What the routes share: settings, store, runner and job backend."""

    def __init__(
        self,
        settings: Settings,
        model: Model | None,
        jobs_factory: Callable[[ServiceRunner], JobBackend] | None,
    ) -> None:
        self.settings = settings
        self.distributed = settings.jobs == "celery" and jobs_factory is None
        self.state_dir = settings.resolved_state_dir()
        # Before anything touches the state: one service per state folder.
        statelock.acquire(self.state_dir, role="petsage-builder serve")
        try:
            self._open(settings, model, jobs_factory)
        except BaseException:
            statelock.release(self.state_dir)
            raise

    def _open(
        self,
        settings: Settings,
        model: Model | None,
        jobs_factory: Callable[[ServiceRunner], JobBackend] | None,
    ) -> None:
        self.notifier = Notifier()
        self.streams = StreamSlots(settings.max_streams, settings.max_streams_per_client)
        database_url = settings.shared_database_url() if self.distributed else settings.database_url
        self.store = BuildStore.open(database_url, self.state_dir / "builds.db")
        self.store.on_event = self.notifier.notify
        self.runner = ServiceRunner(settings, self.store, model)
        #: Builds run at once (admission); the rest wait queued (issue 28).
        self.slots = settings.build_slots()
        self.jobs: JobBackend
        if jobs_factory is not None:
            self.jobs = jobs_factory(self.runner)
        elif self.distributed:
            from agent.jobs.celery_jobs import CeleryJobs
            from agent.repo.remote import RemoteClone

            # The API's own mirror of the shared remote: diffs and pull requests read it.
            self.runner.mirror = RemoteClone(self.runner.repo, settings.git_remote)
            self.jobs = CeleryJobs(settings, self.store)
        else:
            self.jobs = ThreadJobs(self.runner.run, self.slots)
        self.runner.shutting_down = lambda: self.jobs.stopping
        # The threads new builds are taken on (decoded, stored, sent): their own pool, as large
        # as the framework's, and cheaper to reach than its thread-pool machinery.
        self.accepting = ThreadPoolExecutor(max_workers=ACCEPT_THREADS, thread_name_prefix="accept")

    def start(self) -> None:
        if self.distributed:
            # Running builds belong to the workers, whose sweep takes over a dead one's.
            assert self.runner.mirror is not None
            self.runner.mirror.prepare()
            _freeze_start_up()
            self.jobs.start()
            return
        try:
            warm_up()  # the builds run in this process: none of them loads the pipeline midway
        except Exception as e:  # a template or module that cannot load: refused at start-up
            raise ConfigError(f"the build pipeline cannot load: {type(e).__name__}: {e}") from e
        _freeze_start_up()
        queued = self.runner.recover()
        self.jobs.start()
        for build_id in queued:
            record = self.store.get(build_id)
            if record is not None:
                self.jobs.submit(build_id, record.feature)

    def stop(self) -> None:
        try:
            self.jobs.shutdown()
            self.accepting.shutdown(wait=True)
            self.store.close()
        finally:
            gc.unfreeze()  # an app in a process that goes on (tests, a bench) leaves none behind
            statelock.release(self.state_dir)

    def start_build(self, request: FeatureRequest, idempotency_key: str | None = None) -> Started:
        """Store a new build and send it to the job backend: how every route starts one."""
        record, created = self.store.create(uuid.uuid4().hex[:12], request, idempotency_key)
        if not created:
            return Started(record, created=False)
        try:
            self.submit(record)
        except BuilderError as e:
            return Started(record, created=True, refused=e)
        return Started(record, created=True)

    def submit(self, record: BuildRecord) -> None:
        """Send a stored build to the job backend, or end it now, saying why it never ran.

        Raises the backend's error (`JobsUnavailable`: a 503) after failing the build, rather
        than leave it queued forever.
        """
        try:
            self.jobs.submit(record.id, record.feature)
        except BuilderError as e:
            self.runner.fail_unsent(record.id, str(e))
            raise

    def problems(self) -> list[str]:
        """Why the service is degraded: the store or the workers unhealthy; empty when ok."""
        found = []
        try:
            self.store.count_by_status()
        except Exception as e:
            found.append(f"the build store does not answer: {type(e).__name__}: {redact(str(e))}")
        jobs = self.jobs
        if isinstance(jobs, ThreadJobs) and not jobs.stopping and jobs.alive() < jobs.size:
            found.append(f"{jobs.size - jobs.alive()} worker thread(s) died")
        if self.runner.problem is not None:
            found.append(self.runner.problem)
        return found


class Notifier:
    """Wakes the event streams when a build's event is stored (one notifier, no poll per stream).

    Stores in other processes (Celery workers) do not call it: streams also look every second.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop, self._event = loop, asyncio.Event()

    def notify(self, build_id: str) -> None:
        """Called from any thread after an event is stored."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake)

    async def wait(self, timeout: float) -> None:
        """Until the next event is stored anywhere in this process, or `timeout` seconds."""
        if self._event is None:
            self.bind(asyncio.get_running_loop())
        assert self._event is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)

    def _wake(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = asyncio.Event()
