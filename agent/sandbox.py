"""The box generated code runs in: bubblewrap, resource limits, no network, no secrets.

The target's tests execute untrusted code. They run under `bwrap` with every namespace unshared
(no network, own PIDs, own mounts): the system read-only, only the interpreter's prefix visible
besides `/usr`, only the build's worktree and scratch folder writable, a private `/tmp`, user
`nobody`, no environment but a scrubbed one, and `prlimit` bounds on CPU seconds, address
space, file size and processes. Where bubblewrap cannot run, the builder refuses to run
generated code unless `PETSAGE_SANDBOX=off` says otherwise, and every result says so.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from agent.errors import BuilderError

UNSANDBOXED_NOTE = (
    "generated code ran WITHOUT a sandbox (PETSAGE_SANDBOX=off): it could reach the network, "
    "the host's files and its secrets"
)


class SandboxUnavailable(BuilderError):
    """bubblewrap is missing or cannot start here; generated code will not run."""


@dataclass(frozen=True)
class Limits:
    """Bounds on one test run, applied with prlimit to the whole sandbox."""

    cpu_seconds: int = 600
    memory_bytes: int = 4 * 1024**3
    file_bytes: int = 256 * 1024**2
    processes: int = 256


def wrap(
    command: list[str],
    *,
    worktree: Path,
    scratch: Path,
    python: Path,
    env: dict[str, str],
    limits: Limits,
    pass_fds: tuple[int, ...] = (),
) -> list[str]:
    """`command` as it runs inside the sandbox, limits included."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(
            "bubblewrap (`bwrap`) is not installed: install the Debian package `bubblewrap` "
            "(scripts/system-deps.sh), or set PETSAGE_SANDBOX=off to run tests unsandboxed"
        )
    argv = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--uid",
        "65534",
        "--gid",
        "65534",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
        *_system_mounts(),
    ]
    for folder in interpreter_paths(str(python)):
        argv += ["--ro-bind", folder, folder]
    argv += ["--bind", str(worktree), str(worktree), "--bind", str(scratch), str(scratch)]
    argv += ["--remount-ro", "/"]
    argv += ["--chdir", str(worktree), "--clearenv"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    processes = _own_processes() + limits.processes
    prlimit = [
        shutil.which("prlimit") or "prlimit",
        f"--cpu={limits.cpu_seconds}",
        f"--as={limits.memory_bytes}",
        f"--fsize={limits.file_bytes}",
        f"--nproc={processes}",
        "--core=0",
        "--",
    ]
    return prlimit + argv + ["--", *command]


@functools.lru_cache(maxsize=8)
def interpreter_paths(python: str) -> tuple[str, ...]:
    """The folders an interpreter needs besides /usr: its prefixes (a venv's and its base's),
    and the package folders a `.pth` file adds (the offline fallback's, over the builder's venv).

    Nothing else of the host is visible: not the builder's checkout, not home folders.
    """
    probe = (
        "import json, os, sys; print(json.dumps([sys.prefix, sys.base_prefix, sys.exec_prefix]"
        " + [p for p in sys.path if os.path.basename(p) in ('site-packages', 'dist-packages')]))"
    )
    done = subprocess.run([python, "-I", "-c", probe], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SandboxUnavailable(f"cannot run the test interpreter {python}: {done.stderr.strip()}")
    folders = {os.path.realpath(prefix) for prefix in json.loads(done.stdout)}
    real_python = os.path.realpath(python)
    if not any(real_python.startswith(folder + os.sep) for folder in folders | {"/usr"}):
        folders.add(str(Path(real_python).parent))
    outermost = {f for f in folders if not any(f.startswith(o + os.sep) for o in folders)}
    return tuple(sorted(f for f in outermost if f != "/usr" and not f.startswith("/usr/")))


def check_available() -> str | None:
    """None when bubblewrap can start a box here, else why not."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (`bwrap`) is not installed"
    probe = [bwrap, "--unshare-all", "--unshare-user", *_system_mounts(), "--", "/usr/bin/true"]
    done = subprocess.run(probe, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"bubblewrap cannot start a sandbox here: {done.stderr.strip() or done.returncode}"
    return None


def _system_mounts() -> list[str]:
    """/usr read-only, the top-level links or folders into it, and the few /etc files needed."""
    argv = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            argv += ["--symlink", str(host.readlink()), str(host)]
        elif host.is_dir():
            argv += ["--ro-bind", str(host), str(host)]
    for name in ("ld.so.cache", "localtime", "passwd", "group", "nsswitch.conf"):
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return argv


def _own_processes() -> int:
    """Processes of this real user now: RLIMIT_NPROC counts them all, so the bound sits above."""
    uid = os.getuid()
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += 1
            except OSError:
                continue
    return count
