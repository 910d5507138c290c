"""The box generated code runs in: bubblewrap, real limits, no network, no secrets.

The target's tests execute untrusted code. They run under `bwrap` with the network, PIDs, IPC
and host name unshared: the system read-only, only the interpreter's prefixes visible besides
`/usr`, a copy of the checkout (never its `.git`) and a few scratch folders writable, a sized
`/tmp`, no environment but a scrubbed one. The limits bind for real:

- a cgroup (v1 `pids` + `memory` hierarchies, or v2) caps the box's processes and its memory,
  tmpfs pages included; the builder kills everything in it when the run ends;
- run by root, the box drops to an unprivileged uid (`setpriv` inside bwrap), so that
  `RLIMIT_NPROC` counts and binds even where no cgroup can be made;
- a seccomp filter (a BPF program built here) refuses new namespaces (user namespaces
  included), mounts, ptrace, keyrings, BPF and kernel modules; unprivileged, bwrap's
  `--disable-userns` does so too;
- `prlimit` bounds CPU seconds, address space, file size and core dumps.

Where a limit cannot be set on a machine, `Box.missing` says which, and the build's result
records it. Where bubblewrap cannot run, the builder refuses to run generated code unless
`PETSAGE_SANDBOX=off` says otherwise, and every result says so.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from agent.box.cgroups import Cgroup
from agent.box.interpreter import interpreter_paths
from agent.box.seccomp import memfd, seccomp_program
from agent.errors import SandboxUnavailable

UNSANDBOXED_NOTE = (
    "generated code ran WITHOUT a sandbox (PETSAGE_SANDBOX=off): it could reach the network, "
    "the host's files and its secrets"
)
BOX_UID = 65534
BOX_ROOT = "/petsage"


@dataclass(frozen=True)
class Limits:
    """Bounds on one test run, for the whole box."""

    cpu_seconds: int = 600
    memory_bytes: int = 4 * 1024**3
    address_space_bytes: int = 4 * 1024**3
    file_bytes: int = 256 * 1024**2
    processes: int = 256
    tmp_bytes: int = 256 * 1024**2
    disk_bytes: int = 512 * 1024**2
    disk_entries: int = 100_000


@dataclass
class Box:
    """One prepared box: the argv to start, its cgroup, and the limits this machine lacks."""

    argv: list[str]
    cgroup: Cgroup
    uid: int
    missing: list[str] = field(default_factory=list)
    seccomp_fd: int = -1

    @property
    def pass_fds(self) -> tuple[int, ...]:
        return (self.seccomp_fd,) if self.seccomp_fd >= 0 else ()

    def close(self) -> None:
        if self.seccomp_fd >= 0:
            os.close(self.seccomp_fd)
            self.seccomp_fd = -1


def build_box(
    command: list[str],
    *,
    writable: dict[str, Path],
    readonly: dict[str, Path],
    chdir: str,
    python: Path,
    env: dict[str, str],
    limits: Limits,
    name: str,
) -> Box:
    """`command` as it runs inside the box; `writable`/`readonly` map box paths to host folders.

    The host folders must be readable (and the writable ones writable) by the box's uid.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(
            "bubblewrap (`bwrap`) is not installed: install the Debian package `bubblewrap` "
            "(scripts/system-deps.sh), or set PETSAGE_SANDBOX=off to run tests unsandboxed"
        )
    missing: list[str] = []
    as_root = os.geteuid() == 0
    uid = BOX_UID if as_root else os.getuid()
    argv = [bwrap]
    if as_root:
        # Privileged bwrap makes no user namespace: the box's uid is a real one, and setpriv
        # (below) drops to it, so RLIMIT_NPROC binds.
        argv += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        argv += ["--unshare-cgroup-try"]
    else:
        argv += ["--unshare-all", "--unshare-user", "--disable-userns"]
        argv += ["--uid", str(BOX_UID), "--gid", str(BOX_UID)]
        missing.append(
            "processes: the builder is not root, so the box runs as the builder's own uid and "
            "RLIMIT_NPROC counts the builder's processes too"
        )
    argv += ["--die-with-parent", "--new-session"]
    argv += ["--dev", "/dev", "--proc", "/proc"]
    argv += ["--size", str(limits.tmp_bytes), "--perms", "1777", "--tmpfs", "/tmp"]
    argv += _system_mounts()
    made: set[str] = {"/", "/tmp", "/usr", "/dev", "/proc"}
    for folder in interpreter_paths(str(python)):
        argv += [*_parents(folder, made), "--ro-bind", folder, folder]
    for inside, host in readonly.items():
        argv += [*_parents(inside, made), "--ro-bind", str(host), inside]
    for inside, host in writable.items():
        argv += [*_parents(inside, made), "--bind", str(host), inside]
    argv += ["--remount-ro", "/"]
    seccomp_fd = -1
    program = seccomp_program()
    if program is None:
        missing.append(
            f"seccomp: no filter for the {platform.machine()} architecture; new namespaces "
            "are blocked only where bwrap's --disable-userns applies"
            + ("" if not as_root else " (it does not for root: user namespaces are open)")
        )
    else:
        seccomp_fd = memfd(program)
        argv += ["--seccomp", str(seccomp_fd)]
    argv += ["--chdir", chdir, "--clearenv"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    if as_root:
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        argv += ["--", "/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}"]
        argv += ["--clear-groups", "--no-new-privs", "--inh-caps=-all"]
    else:
        argv += ["--cap-drop", "ALL"]
    argv += ["--", *command]
    group = Cgroup.create(name, limits.processes, limits.memory_bytes)
    missing += group.missing
    # RLIMIT_NPROC counts every task (thread) of the uid, in every box of it on the machine:
    # boxes of builds that run beside this one, or start after it, count against it. Where the
    # pids cgroup bounds this box, RLIMIT_NPROC is only a backstop, with room for as many
    # other boxes as the machine would run (issue 28: a busy machine never fails a build).
    others = limits.processes * CONCURRENT_BOXES if group.pids is not None else 0
    processes = limits.processes + count_processes(uid) + others
    prlimit = [
        shutil.which("prlimit") or "prlimit",
        f"--cpu={limits.cpu_seconds}",
        f"--as={limits.address_space_bytes}",
        f"--fsize={limits.file_bytes}",
        f"--nproc={processes}",
        "--core=0",
        "--",
    ]
    return Box(group.enter() + prlimit + argv, group, uid, missing, seccomp_fd)


#: Boxes of the same uid the backstop leaves room for, beside this one.
CONCURRENT_BOXES = 64


def _parents(folder: str, made: set[str]) -> list[str]:
    """`--dir` for each missing ancestor of `folder`, world-traversable (the box's uid must)."""
    argv: list[str] = []
    parts = Path(folder).parts
    for end in range(2, len(parts)):
        ancestor = str(Path(*parts[:end]))
        if ancestor not in made:
            made.add(ancestor)
            argv += ["--perms", "0755", "--dir", ancestor]
    made.add(folder)
    return argv


def check_available() -> str | None:
    """None when bubblewrap can start a box here, else why not."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (`bwrap`) is not installed"
    unshare = ["--unshare-net", "--unshare-pid"] if os.geteuid() == 0 else ["--unshare-all"]
    probe = [bwrap, *unshare, *_system_mounts(), "--", "/usr/bin/true"]
    done = subprocess.run(probe, capture_output=True, text=True, check=False, timeout=60)
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


def count_processes(uid: int) -> int:
    """Tasks (threads) of `uid` now: RLIMIT_NPROC counts them all, so the bound sits above."""
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += sum(1 for _ in (entry / "task").iterdir())
            except OSError:
                continue
    return count
