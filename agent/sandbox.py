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

import contextlib
import functools
import json
import os
import platform
import shutil
import signal
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from agent.errors import BuilderError

UNSANDBOXED_NOTE = (
    "generated code ran WITHOUT a sandbox (PETSAGE_SANDBOX=off): it could reach the network, "
    "the host's files and its secrets"
)
BOX_UID = 65534
BOX_ROOT = "/petsage"
CGROUP_MOUNT = Path("/sys/fs/cgroup")


class SandboxUnavailable(BuilderError):
    """bubblewrap is missing or cannot start here; generated code will not run."""


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
        seccomp_fd = _memfd(program)
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
    group = Cgroup.create(name, limits)
    missing += group.missing
    processes = limits.processes + count_processes(uid)
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


@functools.lru_cache(maxsize=8)
def interpreter_paths(python: str) -> tuple[str, ...]:
    """The folders an interpreter needs besides /usr: its prefixes (a venv's and its base's).

    Nothing else of the host is visible: not the builder's checkout, not home folders.
    """
    probe = "import json, sys; print(json.dumps([sys.prefix, sys.base_prefix, sys.exec_prefix]))"
    done = subprocess.run(
        [python, "-I", "-c", probe], capture_output=True, text=True, check=False, timeout=60
    )
    if done.returncode != 0:
        raise SandboxUnavailable(f"cannot run the test interpreter {python}: {done.stderr.strip()}")
    folders = {os.path.realpath(prefix) for prefix in json.loads(done.stdout)}
    real_python = os.path.realpath(python)
    if not any(real_python.startswith(folder + os.sep) for folder in folders | {"/usr"}):
        folders.add(str(Path(real_python).parent))
    return tuple(sorted(f for f in folders if f != "/usr" and not f.startswith("/usr/")))


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
    """Processes of `uid` now: RLIMIT_NPROC counts them all, so the bound sits above."""
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += 1
            except OSError:
                continue
    return count


# --- cgroups -------------------------------------------------------------------------------------


@dataclass
class Cgroup:
    """The box's cgroup(s): `pids` and `memory` (v1 hierarchies or one v2 group)."""

    pids: Path | None = None
    memory: Path | None = None
    missing: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, name: str, limits: Limits) -> Cgroup:
        group = cls()
        unified = CGROUP_MOUNT / "cgroup.controllers"
        if unified.exists():
            group._create_v2(name, limits)
        else:
            group.pids = _make_v1("pids", name, {"pids.max": str(limits.processes)})
            memory = str(limits.memory_bytes)
            group.memory = _make_v1(
                "memory",
                name,
                {"memory.limit_in_bytes": memory, "memory.memsw.limit_in_bytes": memory},
            )
        if group.pids is None:
            group.missing.append(
                f"processes: no pids cgroup could be made under {CGROUP_MOUNT}; only "
                "RLIMIT_NPROC bounds the box's processes"
            )
        if group.memory is None:
            group.missing.append(
                f"memory: no memory cgroup could be made under {CGROUP_MOUNT}; only a "
                "per-process address-space limit and the sized /tmp bound the box's memory"
            )
        return group

    def _create_v2(self, name: str, limits: Limits) -> None:
        parent = CGROUP_MOUNT / _own_cgroup("")
        with contextlib.suppress(OSError):
            (parent / "cgroup.subtree_control").write_text("+pids +memory")
        folder = parent / f"petsage-{name}"
        try:
            folder.mkdir(exist_ok=True)
        except OSError:
            return
        if _write(folder / "pids.max", str(limits.processes)):
            self.pids = folder
        if _write(folder / "memory.max", str(limits.memory_bytes)):
            _write(folder / "memory.swap.max", "0")
            self.memory = folder

    @property
    def folders(self) -> list[Path]:
        return list(dict.fromkeys(f for f in (self.pids, self.memory) if f is not None))

    def enter(self) -> list[str]:
        """A prefix that moves the command's process into the cgroups, then runs it."""
        folders = self.folders
        if not folders:
            return []
        script = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 97; shift; done; shift; exec "$@"'
        return ["/bin/sh", "-c", script, "sh", *[str(f / "cgroup.procs") for f in folders], "--"]

    def kill_all(self, timeout: float = 10.0) -> bool:
        """Kill every process in the cgroups; True once they are empty."""
        deadline = time.monotonic() + timeout
        while True:
            pids = self.members()
            if not pids:
                return True
            if time.monotonic() > deadline:
                return False
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)

    def members(self) -> set[int]:
        found: set[int] = set()
        for folder in self.folders:
            with contextlib.suppress(OSError, ValueError):
                text = (folder / "cgroup.procs").read_text()
                found |= {int(line) for line in text.split()}
        return found

    def remove(self) -> None:
        for folder in self.folders:
            with contextlib.suppress(OSError):
                folder.rmdir()

    def peak_memory(self) -> int | None:
        """The most memory the box used, in bytes, when the cgroup says."""
        if self.memory is None:
            return None
        for name in ("memory.max_usage_in_bytes", "memory.peak"):
            with contextlib.suppress(OSError, ValueError):
                return int((self.memory / name).read_text())
        return None


def _own_cgroup(controller: str) -> str:
    """This process's cgroup path in the hierarchy of `controller` ("" for v2), relative."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(",") or (not controller and not controllers):
                return path.lstrip("/")
    return ""


def _make_v1(controller: str, name: str, settings: dict[str, str]) -> Path | None:
    mount = CGROUP_MOUNT / controller
    if not (mount / "cgroup.procs").exists():
        return None
    parent = mount / _own_cgroup(controller)
    if not parent.is_dir():
        parent = mount
    folder = parent / f"petsage-{name}"
    try:
        folder.mkdir(exist_ok=True)
    except OSError:
        return None
    first, *rest = settings.items()
    if not _write(folder / first[0], first[1]):
        with contextlib.suppress(OSError):
            folder.rmdir()
        return None
    for key, value in rest:
        _write(folder / key, value)
    return folder


def _write(path: Path, value: str) -> bool:
    try:
        path.write_text(value)
    except OSError:
        return False
    return True


# --- seccomp -------------------------------------------------------------------------------------

_AUDIT_ARCH_X86_64 = 0xC000003E
_X86_64_DENIED = {
    # namespaces and mounts
    "unshare": 272,
    "setns": 308,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "chroot": 161,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
    # other processes, the kernel, keyrings
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "keyctl": 250,
    "add_key": 248,
    "request_key": 249,
    "bpf": 321,
    "perf_event_open": 298,
    "userfaultfd": 323,
    "kexec_load": 246,
    "kexec_file_load": 320,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "open_by_handle_at": 304,
}
_CLONE, _CLONE3 = 56, 435
_NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
_EPERM, _ENOSYS = 1, 38
_RET_ALLOW, _RET_ERRNO, _RET_KILL = 0x7FFF0000, 0x00050000, 0x80000000
_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06


def seccomp_program() -> bytes | None:
    """A classic-BPF seccomp filter for bwrap's `--seccomp`, or None on an unknown architecture.

    It kills foreign-ABI calls (i386, x32), refuses the calls above with EPERM, `clone3` with
    ENOSYS (so libc falls back to `clone`), and `clone` with any namespace flag with EPERM.
    """
    if platform.machine() != "x86_64":
        return None

    def op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
        return struct.pack("=HBBI", code, jt, jf, k)

    program = [
        op(_LD_ABS, 4),
        op(_JEQ, _AUDIT_ARCH_X86_64, 1, 0),
        op(_RET, _RET_KILL),
        op(_LD_ABS, 0),
        op(_JGE, 0x40000000, 0, 1),
        op(_RET, _RET_KILL),
    ]
    for number in sorted(_X86_64_DENIED.values()):
        program += [op(_JEQ, number, 0, 1), op(_RET, _RET_ERRNO | _EPERM)]
    program += [op(_JEQ, _CLONE3, 0, 1), op(_RET, _RET_ERRNO | _ENOSYS)]
    program += [
        op(_JEQ, _CLONE, 0, 4),
        op(_LD_ABS, 16),  # args[0], low 32 bits: the clone flags
        op(_JSET, _NAMESPACE_FLAGS, 0, 1),
        op(_RET, _RET_ERRNO | _EPERM),
        op(_RET, _RET_ALLOW),
        op(_RET, _RET_ALLOW),
    ]
    return b"".join(program)


def _memfd(data: bytes) -> int:
    """A descriptor holding `data` from its start, for bwrap to read."""
    descriptor = os.memfd_create("petsage-seccomp", 0)
    os.write(descriptor, data)
    os.lseek(descriptor, 0, os.SEEK_SET)
    return descriptor
