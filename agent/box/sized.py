"""Folders the kernel bounds: what a box may write, held to its disk limit while it writes.

A box's writable folders are host folders (the builder puts the checkout there and removes it
afterwards). Measured after a run only, a test could fill the host's disk first. Where the
builder may mount (root with CAP_SYS_ADMIN, as in a container), each box's folder is a tmpfs of
its own, `limits.disk_bytes` and `limits.disk_entries` in size: a write beyond them fails with
ENOSPC as it happens, the pages count against the box's memory cgroup, and unmounting frees
them. Where it may not, the folder stays a plain one, `SizedFolder.missing` says so, and the
run's leftovers are measured after it (`agent.box.boxfiles.written_too_much`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.box.sandbox import Limits

MS_NOSUID = 0x2
MS_NODEV = 0x4
MNT_DETACH = 0x2
UMOUNT_NOFOLLOW = 0x8

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


class SizedFolder:
    """`path` (an existing, empty folder) bounded by a tmpfs of `limits`' size, if it can be."""

    def __init__(self, path: Path, limits: Limits, *, mode: int = 0o700) -> None:
        self.path = path
        self.mounted = False
        #: Why the kernel does not bound this folder (None when it does).
        self.missing: str | None = None
        options = f"size={limits.disk_bytes},nr_inodes={limits.disk_entries},mode={mode:o}"
        flags = MS_NOSUID | MS_NODEV
        if _libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", flags, options.encode()) == 0:
            self.mounted = True
        else:
            reason = os.strerror(ctypes.get_errno())
            self.missing = (
                f"disk: the box's folder could not be made a sized tmpfs ({reason}); what it "
                f"writes is measured after the run only"
            )

    def unmount(self) -> None:
        """Free its pages (detached: a process still inside keeps only its own view); once."""
        if self.mounted:
            self.mounted = False
            _libc.umount2(os.fsencode(self.path), MNT_DETACH | UMOUNT_NOFOLLOW)


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
