"""Files crossing the box's wall: the checkout in, the results out, the leftovers away.

The box gets a copy of the checkout without `.git`, owned by its uid. What comes back is read
only through handles it cannot swap (`read_untrusted`), what it left on disk is measured, and
its folders are removed with plain file removal (no link followed, never git).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

from agent.box.sandbox import Limits


def read_untrusted(folder: Path, name: str, cap: int, *, tail: bool = False) -> bytes | str | None:
    """At most `cap` bytes of a file generated code may have touched; None when it is absent.

    Never follows a link, never blocks on a FIFO or device, reads regular files only: anything
    else, or a file over `cap` (unless `tail`), comes back as a sentence saying why.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        directory = os.open(folder, flags | os.O_DIRECTORY)
    except OSError as e:
        return f"{name}: its folder could not be opened safely ({e.strerror})"
    try:
        try:
            descriptor = os.open(name, flags, dir_fd=directory)
        except FileNotFoundError:
            return None
        except OSError as e:
            return f"{name} was replaced by something that is not a plain file ({e.strerror})"
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            os.close(descriptor)
            return f"{name} was replaced by something that is not a plain file"
        with os.fdopen(descriptor, "rb") as handle:
            if info.st_size > cap:
                if not tail:
                    return f"{name} is {info.st_size} bytes, over the {cap} bytes read back"
                handle.seek(info.st_size - cap)
            return handle.read(cap)
    finally:
        os.close(directory)


def give(folder: Path, uid: int) -> None:
    if uid >= 0:
        os.chown(folder, uid, uid)


def copy_checkout(source: Path, target: Path, uid: int) -> None:
    """The checkout's files (never `.git`) into the box's folder, owned by the box's uid."""
    for dirpath, dirnames, filenames in os.walk(source):
        if ".git" in dirnames:
            dirnames.remove(".git")
        relative = Path(dirpath).relative_to(source)
        for name in list(dirnames):
            made = target / relative / name
            if (Path(dirpath) / name).is_symlink():
                made.symlink_to((Path(dirpath) / name).readlink())
                dirnames.remove(name)
                continue
            made.mkdir(mode=0o755, exist_ok=True)
            give(made, uid)
        for name in filenames:
            if name == ".git":
                continue
            origin, copy = Path(dirpath) / name, target / relative / name
            if origin.is_symlink():
                copy.symlink_to(origin.readlink())
                continue
            shutil.copyfile(origin, copy, follow_symlinks=False)
            copy.chmod(0o644)
            give(copy, uid)


def written_too_much(folders: list[Path], limits: Limits) -> list[str]:
    """Why what the run left on disk breaks the box's disk limit, if it does."""
    total, entries = 0, 0
    pending = list(folders)
    while pending:
        try:
            scan = os.scandir(pending.pop())
        except OSError:
            continue
        with scan:
            for entry in scan:
                entries += 1
                if entries > limits.disk_entries:
                    return [f"the run left over {limits.disk_entries} files and folders behind"]
                info = entry.stat(follow_symlinks=False)
                total += info.st_blocks * 512
                if stat.S_ISDIR(info.st_mode):
                    pending.append(Path(entry.path))
    if total > limits.disk_bytes:
        return [
            f"the run wrote {total // 2**20} MiB to disk, over the box's "
            f"{limits.disk_bytes // 2**20} MiB"
        ]
    return []


def remove_tree(root: Path) -> None:
    """Plain file removal of a tree the box wrote: never a link followed, never git."""

    def retry(function: Callable[..., object], path: str, _: object) -> None:
        with contextlib.suppress(OSError):
            Path(path).parent.chmod(0o700)
            function(path)

    shutil.rmtree(root, onerror=retry)
