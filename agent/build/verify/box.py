"""Run Python on a copy of a built tree inside the sandbox: what imports generated code runs here.

A `Box` runs one command a call, in the tree's folder, with the scrubbed environment and the
bubblewrap box of the test run (`agent.testing.sandbox`), a timeout that kills the process
group, and a scratch folder for what the command writes back. `copy_tree` gives each run its own
copy without `.git`, so nothing a run does reaches the build's worktree or its repository.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from agent.testing import sandbox
from agent.testing.boxfiles import read_untrusted
from agent.testing.run import scrubbed_environment

PROBE = Path(__file__).with_name("probe.py")


@dataclass(frozen=True)
class BoxRun:
    returncode: int | None
    output: str
    timed_out: bool


@dataclass(frozen=True)
class Box:
    """How to run the target's Python: its interpreter, a timeout, sandboxed or not."""

    python: Path
    timeout: float
    sandboxed: bool = True

    def run(
        self, tree: Path, scratch: Path, args: list[str], *, stop: threading.Event | None = None
    ) -> BoxRun:
        """`python <args>` in `tree` (writable, like `scratch`); nothing else of the host.

        Killed with its process group at the timeout, or as soon as `stop` is set.
        """
        shutil.copyfile(PROBE, scratch / "petsage_probe.py")
        home = scratch / "home"
        home.mkdir(exist_ok=True)
        env = scrubbed_environment(home)
        env.update(TMPDIR="/tmp" if self.sandboxed else str(scratch))
        command = [str(self.python), *args]
        popen_env = env
        box: sandbox.Box | None = None
        if self.sandboxed:
            box = self._box(command, tree, scratch, env)
            command = box.argv
            popen_env = {"PATH": "/usr/bin:/bin"}
        try:
            process = subprocess.Popen(
                command,
                cwd=tree,
                env=popen_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=box.pass_fds if box is not None else (),
            )
        except BaseException:
            if box is not None:
                box.cgroup.remove()
                box.close()
            raise
        try:
            output, timed_out = self._wait(process, stop)
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            if box is not None:
                box.cgroup.kill_all()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()
            if box is not None:
                box.cgroup.kill_all()
                box.cgroup.remove()
                box.close()
        text = output.decode("utf-8", errors="replace")[-8000:]
        return BoxRun(None if timed_out else process.returncode, text, timed_out)

    def _box(
        self, command: list[str], tree: Path, scratch: Path, env: dict[str, str]
    ) -> sandbox.Box:
        """The same box as the test run: its own uid owns the copies it may write, nothing else
        of the host is writable, and its cgroup is killed and removed afterwards."""
        uid = sandbox.BOX_UID if os.geteuid() == 0 else -1
        writable = {str(scratch): scratch}
        if not tree.is_relative_to(scratch):
            writable[str(tree)] = tree
        for folder in writable.values():
            hand_over(folder, uid)
        return sandbox.build_box(
            command,
            writable=writable,
            readonly={},
            chdir=str(tree),
            python=self.python,
            env=env,
            limits=sandbox.Limits(cpu_seconds=int(self.timeout) + 30),
            name=f"petsage-verify-{uuid.uuid4().hex[:12]}",
        )

    def _wait(
        self, process: subprocess.Popen[bytes], stop: threading.Event | None
    ) -> tuple[bytes, bool]:
        """The process's output, and whether it was cut off by the timeout or `stop`."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                output, _ = process.communicate(timeout=0.2)
                return output, False
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                    return b"", True


def hand_over(folder: Path, uid: int) -> None:
    """Everything under `folder` owned by the box's uid (links themselves, never followed)."""
    if uid < 0:
        return
    # Traversable by bwrap itself, which enters it without CAP_DAC_OVERRIDE before dropping uid.
    folder.chmod(0o755)
    os.lchown(folder, uid, uid)
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            os.lchown(Path(dirpath) / name, uid, uid)


def read_back(path: Path, cap: int = 8 * 1024 * 1024) -> bytes | None:
    """A file the box wrote, through a handle it cannot swap; None when absent or not plain."""
    found = read_untrusted(path.parent, path.name, cap)
    return found if isinstance(found, bytes) else None


def copy_tree(source: Path, into: Path, name: str = "tree") -> Path:
    """A copy of a checkout without `.git` and caches, as `into/name`."""
    target = into / name
    shutil.copytree(
        source,
        target,
        ignore=shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", "*.db"),
        symlinks=True,
    )
    return target
