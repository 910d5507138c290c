"""Guards at git's door: ids checked before git sees them, and a lock across processes."""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.errors import WorkspaceError

#: A full commit (or tree) id, as storage and results must hold it before git sees it.
OBJECT_ID = re.compile(r"[0-9a-f]{40}")
#: A build id (and a worktree's name): safe as a folder name and inside a `--grep`.
BUILD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def check_object_id(value: str) -> str:
    """`value` if it is a full 40-hex object id; `WorkspaceError` otherwise (never an option)."""
    if not isinstance(value, str) or not OBJECT_ID.fullmatch(value):
        raise WorkspaceError(f"not a commit id: {str(value)[:60]!r}")
    return value


def check_build_id(value: str) -> str:
    """`value` if it is a well-formed build id; `WorkspaceError` otherwise."""
    if not isinstance(value, str) or not BUILD_ID.fullmatch(value):
        raise WorkspaceError(f"not a build id: {str(value)[:60]!r}")
    return value


def refuse_escaping_symlinks(root: Path) -> None:
    """A checkout whose symlinks lead outside it could let generated code out: refuse it."""
    resolved_root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        if ".git" in dirnames:
            dirnames.remove(".git")
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink() and not path.resolve().is_relative_to(resolved_root):
                relative = path.relative_to(root)
                raise WorkspaceError(
                    f"the target repository holds a symlink that leads outside it: {relative} -> "
                    f"{path.readlink()}; remove it before building"
                )


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` across threads and processes (flock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
