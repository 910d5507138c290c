"""Wait for a box process while reading its result channel as the records come.

The process's end is seen through a pidfd (the kernel wakes the builder), the channel's bytes as
they arrive (the pipe never fills, so a run that reports much never blocks on the builder). When
the process has ended, what the pipe holds is read once more, without waiting for it to close:
a process the box forked may hold it open.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
from collections.abc import Callable

from agent.box.budget import Budget, Overrun
from agent.box.channel import Record, ResultChannel


def watch(
    process: subprocess.Popen[bytes],
    channel: ResultChannel,
    budget: Budget,
    *,
    should_stop: Callable[[], bool] | None = None,
    on_record: Callable[[Record], None] | None = None,
) -> tuple[int | None, Overrun | None]:
    """(the exit status, or None when cut off; the limit of `budget` that cut it off, if one
    did: `agent.box.budget`, what the box used rather than the machine's load)."""
    pidfd = _pidfd(process)
    poller = select.poll()  # not select(): any descriptor number, however many are open
    listening = channel.read_fd >= 0
    if listening:
        poller.register(channel.read_fd, select.POLLIN)
    if pidfd >= 0:
        poller.register(pidfd, select.POLLIN)
    try:
        while True:
            returncode = process.poll()
            _deliver(channel, on_record)
            if listening and channel.eof:
                poller.unregister(channel.read_fd)  # closed early: it would wake us forever
                listening = False
            if returncode is not None:
                _deliver(channel, on_record)
                return returncode, None
            overrun = budget.over()
            if overrun is not None:
                return None, overrun
            if should_stop is not None and should_stop():
                return None, None
            wait = budget.next_look(0.5 if pidfd >= 0 else 0.05)
            poller.poll(max(1, int(wait * 1000)))
    finally:
        if pidfd >= 0:
            os.close(pidfd)


def _deliver(channel: ResultChannel, on_record: Callable[[Record], None] | None) -> None:
    channel.drain()
    for record in channel.new_records():
        if on_record is not None:
            on_record(record)


def _pidfd(process: subprocess.Popen[bytes]) -> int:
    with contextlib.suppress(AttributeError, OSError):
        return os.pidfd_open(process.pid)
    return -1
