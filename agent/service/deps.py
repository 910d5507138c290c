"""What the service's routes share: the running `Service` and the dependencies that find it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from agent.models.base import Model
from agent.service.jobs import JobBackend, ThreadJobs
from agent.service.runner import ServiceRunner
from agent.service.schemas import errors
from agent.service.store import BuildRecord, BuildStore
from agent.settings import Settings


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
        database_url = settings.shared_database_url() if self.distributed else settings.database_url
        self.store = BuildStore.open(database_url, settings.resolved_state_dir() / "builds.db")
        self.runner = ServiceRunner(settings, self.store, model)
        self.jobs: JobBackend
        if jobs_factory is not None:
            self.jobs = jobs_factory(self.runner)
        elif self.distributed:
            from agent.remote import RemoteClone
            from agent.service.celery_jobs import CeleryJobs

            # The API's own mirror of the shared remote: diffs and pull requests read it.
            self.runner.mirror = RemoteClone(self.runner.repo, settings.git_remote)
            self.jobs = CeleryJobs(settings, self.store)
        else:
            self.jobs = ThreadJobs(self.runner.run, settings.workers)
        self.runner.shutting_down = lambda: self.jobs.stopping

    def start(self) -> None:
        if self.distributed:
            # Running builds belong to the workers, whose sweep takes over a dead one's.
            assert self.runner.mirror is not None
            self.runner.mirror.prepare()
            self.jobs.start()
            return
        queued = self.runner.recover()
        self.jobs.start()
        for build_id in queued:
            record = self.store.get(build_id)
            if record is not None:
                self.jobs.submit(build_id, record.feature)

    def stop(self) -> None:
        self.jobs.shutdown()
        self.store.close()


def service_of(request: Request) -> Service:
    """The running app's `Service` (a FastAPI dependency)."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(service_of)]


def existing_build(build_id: str, service: ServiceDep) -> BuildRecord:
    """The build named in the path, or a 404 before any response starts."""
    return record_of(service, build_id)


def record_of(service: Service, build_id: str) -> BuildRecord:
    record = service.store.get(build_id)
    if record is None:
        raise HTTPException(
            404, detail=errors("not_found", [("build_id", f"no build {build_id!r}")])
        )
    return record
