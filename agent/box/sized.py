"""Folders the kernel bounds: what a box may write, held to its disk limit while it writes.

A box's writable folders are host folders (the builder puts the checkout there and removes it
afterwards), and so is the file its output goes to. Measured after a run only, a test could fill
the host's disk first. Where the builder may mount (root with CAP_SYS_ADMIN, as in a
container), each box's folder is a tmpfs of its own, `limits.disk_bytes` and
`limits.disk_entries` in size: a write beyond them fails with ENOSPC as it happens, the pages
count against the writer's memory cgroup, and unmounting frees them. Where it may not, the
folder stays a plain one, `SizedFolder.missing` says so, and the test run's leftovers are
measured after it (`agent.box.boxfiles.written_too_much`).

Each mount's source names the builder's process (`petsage-box-<pid>`): a builder that was
killed before it unmounted leaves mounts that the next one sweeps (`sweep_orphans`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent.box.sandbox import Limits

log = logging.getLogger("petsage.box")
MS_NOSUID = 0x2
MS_NODEV = 0x4
MNT_DETACH = 0x2
UMOUNT_NOFOLLOW = 0x8
SOURCE = "petsage-box-"


@functools.cache
def _libc() -> Any:
    """The C library's mount(2) and umount2(2), loaded on first use (never with the box off)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    return libc


class SizedFolder:
    """`path` (an existing, empty folder) bounded by a tmpfs of `limits`' size, if it can be."""

    def __init__(self, path: Path, limits: Limits, *, mode: int = 0o700) -> None:
        self.path = path
        self.mounted = False
        #: Why the kernel does not bound this folder (None when it does).
        self.missing: str | None = None
        _sweep_once()
        options = f"size={limits.disk_bytes},nr_inodes={limits.disk_entries},mode={mode:o}"
        source = f"{SOURCE}{os.getpid()}".encode()
        libc = _libc()
        if libc.mount(source, os.fsencode(path), b"tmpfs", MS_NOSUID | MS_NODEV, options.encode()):
            reason = os.strerror(ctypes.get_errno())
            self.missing = (
                f"disk: a box's folder could not be made a sized tmpfs ({reason}): the test "
                "run's leftovers are measured after it, and nothing bounds the gates' boxes "
                "while they write"
            )
        else:
            self.mounted = True

    def unmount(self) -> None:
        """Free its pages (detached: a process still inside keeps only its own view); once."""
        if self.mounted:
            self.mounted = False
            _unmount(self.path)


def _unmount(path: Path) -> None:
    if _libc().umount2(os.fsencode(path), MNT_DETACH | UMOUNT_NOFOLLOW):
        log.warning("could not unmount %s: %s", path, os.strerror(ctypes.get_errno()))


@contextmanager
def bounded(path: Path, *, sandboxed: bool = True, mode: int = 0o700) -> Iterator[None]:
    """`path` made (with its parents) and, for a sandboxed box, bounded to the default limits'
    disk size while the block runs; unmounted after it, so the folder's removal is plain."""
    path.mkdir(mode=mode, parents=True)
    sized = SizedFolder(path, Limits(), mode=mode) if sandboxed else None
    try:
        yield
    finally:
        if sized is not None:
            sized.unmount()


def sweep_orphans(mountinfo: Path = Path("/proc/self/mountinfo")) -> list[Path]:
    """Unmount the box folders of builders that are gone (killed before they unmounted)."""
    swept: list[Path] = []
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return swept
    for line in lines:
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 2 or tail[0] != "tmpfs":
            continue
        owner = tail[1].removeprefix(SOURCE)
        if owner == tail[1] or not owner.isdigit() or _alive(int(owner)):
            continue
        path = Path(fields[4].replace("\\040", " "))
        _unmount(path)
        swept.append(path)
    return swept


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@functools.cache
def _sweep_once() -> None:
    """The first folder a process bounds sweeps what dead builders left (once per process)."""
    swept = sweep_orphans()
    if swept:
        log.warning("unmounted %d box folder(s) left by builders that were killed", len(swept))
