"""One service per builder state folder: a lock on the folder, naming the process that holds it.

A service or worker holds it exclusively for its whole life (its start-up recovery clears what
crashed builds left, which only the sole holder may touch); CLI builds hold it shared, so several
can run at once but never beside a service. Whoever cannot take it is refused at once, with the
holder's pid, instead of destroying the other's worktrees. The lock is the operating system's
(`flock`), so it goes with its process, however that process ends.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.errors import StateLocked

LOCK_NAME = "lock"
_held: dict[Path, list[int]] = {}  # lock file -> [descriptor, holds]
_guard = threading.Lock()


def acquire(state_dir: Path, *, role: str, shared: bool = False) -> None:
    """Take the lock of `state_dir` (re-entrant within this process); `StateLocked` if held."""
    path = (state_dir / LOCK_NAME).resolve()
    with _guard:
        if path in _held:
            _held[path][1] += 1
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StateLocked(
                f"the builder state {state_dir} is in use by {holder}; "
                "stop it first, or use another workspace (or PETSAGE_STATE_DIR)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({role})\n".encode(), 0)
        _held[path] = [fd, 1]


def release(state_dir: Path) -> None:
    path = (state_dir / LOCK_NAME).resolve()
    with _guard:
        entry = _held.get(path)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del _held[path]
            os.close(entry[0])  # closing the descriptor lets go of the lock


@contextmanager
def holding(state_dir: Path, *, role: str, shared: bool = False) -> Iterator[None]:
    acquire(state_dir, role=role, shared=shared)
    try:
        yield
    finally:
        release(state_dir)
