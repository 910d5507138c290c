"""Where builds run: a small job-backend interface and its in-process implementation.

The service only submits and cancels build ids; the distributed backend (Celery on Redis,
`agent/jobs/celery_jobs.py`, `PETSAGE_JOBS=celery`) takes the same place without touching the
pipeline.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable

log = logging.getLogger("petsage.service")

#: Runs one build to its end; the callable it gets says when to stop early.
BuildRunner = Callable[[str, Callable[[], bool]], None]


class JobBackend(ABC):
    """Runs submitted builds, at most one at a time per feature."""

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def submit(self, build_id: str, feature: str) -> None: ...

    @abstractmethod
    def cancel(self, build_id: str) -> bool:
        """Ask a queued or running build to stop; False when this backend does not hold it."""

    @abstractmethod
    def shutdown(self) -> None:
        """Stop taking builds and ask running ones to stop; returns when the workers are done."""

    @property
    @abstractmethod
    def stopping(self) -> bool: ...


class ThreadJobs(JobBackend):
    """A bounded pool of worker threads; builds of one feature never run at the same time."""

    def __init__(self, run: BuildRunner, workers: int) -> None:
        self._run = run
        self._workers = max(1, workers)
        self._cond = threading.Condition()
        self._queue: list[tuple[str, str]] = []
        self._running: dict[str, str] = {}
        self._cancelled: set[str] = set()
        self._stopping = False
        self._threads: list[threading.Thread] = []

    @property
    def stopping(self) -> bool:
        return self._stopping

    def start(self) -> None:
        for number in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"build-worker-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def submit(self, build_id: str, feature: str) -> None:
        with self._cond:
            self._queue.append((build_id, feature))
            self._cond.notify_all()

    def cancel(self, build_id: str) -> bool:
        with self._cond:
            queued = [item for item in self._queue if item[0] == build_id]
            if queued:
                self._queue.remove(queued[0])
                return True
            if build_id in self._running:
                self._cancelled.add(build_id)
                return True
            return False

    def shutdown(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()

    def alive(self) -> int:
        """Worker threads still running (all of them, unless one died)."""
        return sum(thread.is_alive() for thread in self._threads)

    @property
    def size(self) -> int:
        return self._workers

    def _work(self) -> None:
        while True:
            with self._cond:
                item = self._next()
                while item is None and not self._stopping:
                    self._cond.wait()
                    item = self._next()
                if self._stopping or item is None:
                    return
                build_id, feature = item
                self._running[build_id] = feature
            try:
                self._run(build_id, self._stop_check(build_id))
            except Exception:  # the runner ends its build; this thread must go on regardless
                log.exception("build %s: the worker thread caught an error", build_id)
            finally:
                with self._cond:
                    del self._running[build_id]
                    self._cancelled.discard(build_id)
                    self._cond.notify_all()

    def _stop_check(self, build_id: str) -> Callable[[], bool]:
        return lambda: self._stopping or build_id in self._cancelled

    def _next(self) -> tuple[str, str] | None:
        """The oldest queued build whose feature is not being built right now."""
        busy = set(self._running.values())
        for item in self._queue:
            if item[1] not in busy:
                self._queue.remove(item)
                return item
        return None
