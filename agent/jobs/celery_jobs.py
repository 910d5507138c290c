"""Builds on Celery workers (Redis as broker and result backend): the API's side of it.

The API stores a build, then sends its id as a `petsage.build` task; a worker
(`petsage-builder worker`, `agent.jobs.worker`) runs it and writes events and the result to
the shared store, where the API reads them. Messages are acknowledged only after the build ended
(`acks_late`), so a worker that dies holding one leaves it to Redis to hand out again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.errors import ConfigError, JobsUnavailable
from agent.jobs.threads import JobBackend
from agent.settings import Settings
from agent.store.builds import BuildStore

if TYPE_CHECKING:
    from celery import Celery  # type: ignore[import-untyped]

TASK = "petsage.build"


def celery_app(settings: Settings) -> Celery:
    """The Celery app both sides use: one queue, late acks, one message per worker at a time."""
    try:
        from celery import Celery
    except ImportError as e:
        raise ConfigError(
            "PETSAGE_JOBS=celery needs Celery: pip install 'petsage-builder[scale]'"
        ) from e
    app = Celery("petsage", broker=settings.broker_url, backend=settings.broker_url)
    app.conf.update(
        task_default_queue=settings.queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout},
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )
    return app


class CeleryJobs(JobBackend):
    """Sends builds to the workers; cancelling one is a flag in the store the worker watches."""

    def __init__(self, settings: Settings, store: BuildStore) -> None:
        self.settings = settings
        self.store = store
        self._app = celery_app(settings)

    @property
    def stopping(self) -> bool:
        # The API stopping does not stop the builds: they belong to the workers.
        return False

    def start(self) -> None:
        try:
            with self._app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=5)
        except Exception as e:
            raise JobsUnavailable(
                f"PETSAGE_BROKER_URL: cannot reach the broker: {type(e).__name__}: {e}"
            ) from e

    def submit(self, build_id: str, feature: str) -> None:
        try:
            self._app.send_task(TASK, args=[build_id], queue=self.settings.queue)
        except Exception as e:
            raise JobsUnavailable(
                f"the broker did not take build {build_id}: {type(e).__name__}: {e}"
            ) from e

    def cancel(self, build_id: str) -> bool:
        return self.store.request_cancel(build_id)

    def shutdown(self) -> None:
        self._app.close()
