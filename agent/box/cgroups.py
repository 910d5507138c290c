"""The box's cgroup: a process cap and a memory cap (tmpfs pages included) that really bind.

Under cgroup v1 the box gets a `pids` and a `memory` group beside the builder's own, and a
`cpuacct` group that counts the CPU time it used; under v2 one group with both controllers,
whose `cpu.stat` counts it. `/bin/sh` moves itself into them and execs the box, and the
builder kills every member once the run ends. Where a group cannot be made, `missing` says so.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

CGROUP_MOUNT = Path("/sys/fs/cgroup")


@dataclass
class Cgroup:
    """The box's cgroup(s): `pids` and `memory` (v1 hierarchies or one v2 group)."""

    pids: Path | None = None
    memory: Path | None = None
    missing: list[str] = field(default_factory=list)
    #: Where the box's CPU time is counted (v1 `cpuacct`, or the v2 group); None: nowhere.
    cpu: Path | None = None

    @classmethod
    def create(cls, name: str, processes: int, memory_bytes: int) -> Cgroup:
        group = cls()
        unified = CGROUP_MOUNT / "cgroup.controllers"
        if unified.exists():
            group._create_v2(name, processes, memory_bytes)
        else:
            group.pids = _make_v1("pids", name, {"pids.max": str(processes)})
            memory = str(memory_bytes)
            group.memory = _make_v1(
                "memory",
                name,
                {"memory.limit_in_bytes": memory, "memory.memsw.limit_in_bytes": memory},
            )
            group.cpu = _make_v1("cpuacct", name, {})
        if group.cpu is None:
            group.missing.append(
                f"cpu time: no cpuacct cgroup could be made under {CGROUP_MOUNT}; the test "
                "timeout counts wall time, so a busy machine can end a run"
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

    def _create_v2(self, name: str, processes: int, memory_bytes: int) -> None:
        parent = CGROUP_MOUNT / _own_cgroup("")
        with contextlib.suppress(OSError):
            (parent / "cgroup.subtree_control").write_text("+pids +memory")
        folder = parent / f"petsage-{name}"
        try:
            folder.mkdir(exist_ok=True)
        except OSError:
            return
        if _write(folder / "pids.max", str(processes)):
            self.pids = folder
        if _write(folder / "memory.max", str(memory_bytes)):
            _write(folder / "memory.swap.max", "0")
            self.memory = folder
        if (folder / "cpu.stat").is_file():  # every v2 group counts its CPU time
            self.cpu = folder

    @property
    def folders(self) -> list[Path]:
        found = (self.pids, self.memory, self.cpu)
        return list(dict.fromkeys(f for f in found if f is not None))

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

    def cpu_seconds(self) -> float | None:
        """The CPU time (user and system) every process of the box used so far, in seconds;
        None where no group counts it."""
        if self.cpu is None:
            return None
        with contextlib.suppress(OSError, ValueError):
            if (self.cpu / "cpuacct.usage").is_file():
                return int((self.cpu / "cpuacct.usage").read_text()) / 1e9
            for line in (self.cpu / "cpu.stat").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) / 1e6
        return None

    def waiting_seconds(self) -> float | None:
        """How long the box's longest-waiting process has waited for a CPU so far (the
        scheduler's run delay, /proc/<pid>/schedstat), in seconds; None where nothing says."""
        found: list[float] = []
        for pid in self.members():
            with contextlib.suppress(OSError, ValueError, IndexError):
                found.append(int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9)
        return max(found) if found else None


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
    if not settings:
        return folder
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
