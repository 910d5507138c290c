"""Run Python on a copy of a built tree inside the sandbox: what imports generated code runs here.

A `Box` runs one command a call, in the tree's folder, with the scrubbed environment and the
bubblewrap box of the test run (`agent.box.sandbox`), a timeout that kills the process
group, and a scratch folder for what the command writes back. `copy_tree` gives each run its own
copy without `.git`, so nothing a run does reaches the build's worktree or its repository.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from agent.box import sandbox
from agent.box.boxfiles import read_untrusted
from agent.box.budget import Budget, Overrun
from agent.box.run import scrubbed_environment

PROBE = Path(__file__).with_name("probe.py")
PROBE_NAME = "petsage_probe.py"
#: The probe's first argument when it is started ahead: its arguments come on stdin.
HELD = "--held"


@dataclass(frozen=True)
class BoxRun:
    returncode: int | None
    output: str
    timed_out: bool
    #: The limit that ended it (`agent.box.budget`), if one did.
    overrun: Overrun | None = None


@dataclass(frozen=True)
class Box:
    """How to run the target's Python: its interpreter, a timeout, sandboxed or not."""

    python: Path
    timeout: float
    sandboxed: bool = True
    #: The wall-clock ceiling; `timeout` is the box's CPU-time budget (`agent.box.budget`).
    wall_seconds: float | None = None

    def run(
        self, tree: Path, scratch: Path, args: list[str], *, stop: threading.Event | None = None
    ) -> BoxRun:
        """`python <args>` in `tree` (writable, like `scratch`); nothing else of the host.

        Killed with its process group at the timeout, or as soon as `stop` is set.
        """
        return BoxProcess(self, tree, scratch, args).finish(stop)

    def hold_probe(self) -> HeldProbe:
        """The gates' probe (probe.py) started now in a scratch folder of its own, its Python,
        pytest and FastAPI loading, held until `HeldProbe.release` gives it its arguments."""
        scratch = tempfile.TemporaryDirectory(prefix="petsage-verify-")
        try:
            folder = Path(scratch.name)
            process = BoxProcess(self, folder, folder, [str(folder / PROBE_NAME), HELD], held=True)
        except BaseException:
            scratch.cleanup()
            raise
        return HeldProbe(scratch, process)


class BoxProcess:
    """One process in the box; held ones wait for their arguments on stdin (`release`)."""

    def __init__(
        self, box: Box, tree: Path, scratch: Path, args: list[str], *, held: bool = False
    ) -> None:
        self.box, self.scratch = box, scratch
        shutil.copyfile(PROBE, scratch / PROBE_NAME)
        home = scratch / "home"
        home.mkdir(exist_ok=True)
        env = scrubbed_environment(home)
        env.update(TMPDIR="/tmp" if box.sandboxed else str(scratch))
        command = [str(box.python), *args]
        popen_env = env
        self._sandbox: sandbox.Box | None = None
        self.uid = sandbox.BOX_UID if box.sandboxed and os.geteuid() == 0 else -1
        if box.sandboxed:
            self._sandbox = box_for(box, command, tree, scratch, env, self.uid, held=held)
            command = self._sandbox.argv
            popen_env = {"PATH": "/usr/bin:/bin"}
        try:
            self._process = subprocess.Popen(
                command,
                cwd=tree,
                env=popen_env,
                stdin=subprocess.PIPE if held else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=self._sandbox.pass_fds if self._sandbox is not None else (),
            )
        except BaseException:
            if self._sandbox is not None:
                self._sandbox.cgroup.remove()
                self._sandbox.close()
            raise
        self._ended = False

    def release(self, args: list[str]) -> None:
        """Give a held process its arguments: everything now in its scratch folder is handed to
        the box's user first (the trees copied there meanwhile)."""
        hand_over(self.scratch, self.uid)
        stdin = self._process.stdin
        assert stdin is not None
        with contextlib.suppress(BrokenPipeError):  # it ended already: `finish` says how
            stdin.write(json.dumps(args).encode() + b"\n")
        with contextlib.suppress(BrokenPipeError):
            stdin.close()
        self._process.stdin = None

    @property
    def alive(self) -> bool:
        """Still running (a held one: still waiting for its arguments)."""
        return not self._ended and self._process.poll() is None

    def finish(self, stop: threading.Event | None = None) -> BoxRun:
        """Wait for it (the timeout counts from now), then kill what is left of it."""
        group = self._sandbox.cgroup if self._sandbox is not None else None
        budget = Budget.of_box(group, self.box.timeout, self.box.wall_seconds)
        try:
            output, timed_out, overrun = _wait(self._process, budget, stop)
        finally:
            self.close()
        text = output.decode("utf-8", errors="replace")[-8000:]
        code = None if timed_out else self._process.returncode
        return BoxRun(code, text, timed_out, overrun)

    def close(self) -> None:
        """Kill its process group and cgroup, and clean up the box; once."""
        if self._ended:
            return
        self._ended = True
        process, box = self._process, self._sandbox
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
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


@dataclass
class HeldProbe:
    """The gates' probe started ahead (`Box.hold_probe`), and the scratch folder it owns."""

    scratch_folder: tempfile.TemporaryDirectory[str]
    process: BoxProcess

    @property
    def scratch(self) -> Path:
        return Path(self.scratch_folder.name)

    @property
    def alive(self) -> bool:
        """Whether it can still be released (it may have been killed while held: memory)."""
        return self.process.alive

    def close(self) -> None:
        try:
            self.process.close()
        finally:
            self.scratch_folder.cleanup()


def box_for(
    box: Box,
    command: list[str],
    tree: Path,
    scratch: Path,
    env: dict[str, str],
    uid: int,
    *,
    held: bool = False,
) -> sandbox.Box:
    """The same box as the test run: its own uid owns the copies it may write, nothing else
    of the host is writable, and its cgroup is killed and removed afterwards.

    `held`: the box gets only its home now. The scratch folder stays the builder's (readable,
    not writable by the box's user) while the builder puts the trees there; `release` hands it
    all over once they are in place."""
    writable = {str(scratch): scratch}
    if not tree.is_relative_to(scratch):
        writable[str(tree)] = tree
    for folder in writable.values():
        folder.chmod(0o755)  # traversable by bwrap itself, before it drops to the box's uid
    for folder in [scratch / "home"] if held else writable.values():
        hand_over(folder, uid)
    return sandbox.build_box(
        command,
        writable=writable,
        readonly={},
        chdir=str(tree),
        python=box.python,
        env=env,
        limits=sandbox.Limits(cpu_seconds=int(box.timeout) + 30),
        name=f"petsage-verify-{uuid.uuid4().hex[:12]}",
    )


def _wait(
    process: subprocess.Popen[bytes], budget: Budget, stop: threading.Event | None
) -> tuple[bytes, bool, Overrun | None]:
    """The process's output, whether it was cut off (by its budget or `stop`), and the limit
    it passed."""
    while True:
        try:
            output, _ = process.communicate(timeout=0.2)
            return output, False, None
        except subprocess.TimeoutExpired:
            overrun = budget.over()
            if overrun is not None or (stop is not None and stop.is_set()):
                return b"", True, overrun


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
