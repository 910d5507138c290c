"""Run Python on a copy of a built tree inside the sandbox: what imports generated code runs here.

A `Box` runs one command a call, in the tree's folder, with the scrubbed environment and the
bubblewrap box of the test run (`agent.box.sandbox`), a timeout that kills the process
group, and a scratch folder the command may write. What a run found comes back only through its
result channel (`agent.box.channel`): the key goes in on stdin before any generated code is
imported, the records come out authenticated, and `BoxRun.breaches` says why a stream does not
stand. Nothing the run wrote to its scratch folder, its output or its exit status is read as a
result. `copy_tree` gives each run its own copy without `.git`, so nothing a run does reaches
the build's worktree or its repository.
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
from dataclasses import dataclass, replace
from pathlib import Path

from agent.box import sandbox
from agent.box.boxfiles import read_untrusted, remove_tree
from agent.box.budget import Budget, Overrun
from agent.box.channel import ResultChannel
from agent.box.report_plugin import FD_VARIABLE
from agent.box.run import install_plugins, scrubbed_environment
from agent.box.sized import SizedFolder
from agent.box.verdict import Session, breaches, read_session
from agent.box.watch import watch

PROBE = Path(__file__).with_name("probe.py")
PROBE_NAME = "petsage_probe.py"
#: Where the builder's plugins and the probe lie in a run's scratch folder (on PYTHONPATH).
PLUGINS = ".petsage"
#: The probe's first argument when it is started ahead: its arguments come on stdin.
HELD = "--held"
#: pytest's arguments that load the gate (the key, from stdin) and the report plugin.
REPORTING = ["-p", "petsage_report", "-p", "petsage_gate"]


@dataclass(frozen=True)
class BoxRun:
    """What one box run said: its exit, its output (for people only), its verified records."""

    returncode: int | None
    output: str
    timed_out: bool
    session: Session
    breaches: list[str]
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
        self,
        tree: Path,
        scratch: Path,
        args: list[str],
        *,
        stop: threading.Event | None = None,
        stop_on_failure: bool = False,
        gate: dict[str, object] | None = None,
    ) -> BoxRun:
        """`python <args>` in `tree` (writable, like `scratch`); nothing else of the host.

        `args` run pytest with `REPORTING` among them: the key goes to its gate on a pipe,
        with `gate` (e.g. the mutation gate's mutant) on the same line.
        Killed with its process group at the timeout, or as soon as `stop` is set.
        """
        process = BoxProcess(self, tree, scratch, args, gate=gate)
        return process.finish(stop, stop_on_failure=stop_on_failure)

    def hold_probe(self) -> HeldProbe:
        """The gates' probe (probe.py) started now in a scratch folder of its own, its Python,
        pytest and FastAPI loading, held until `HeldProbe.release` gives it its arguments."""
        scratch = tempfile.TemporaryDirectory(prefix="petsage-verify-")
        folder = Path(scratch.name)
        # A tmpfs of its own where the machine allows (agent.box.sized): the probe, the gates'
        # runs of generated code, cannot fill the host's disk.
        sized = SizedFolder(folder, sandbox.Limits()) if self.sandboxed else None
        try:
            probe = str(folder / PLUGINS / PROBE_NAME)
            process = BoxProcess(self, folder, folder, [probe, HELD], held=True)
        except BaseException:
            if sized is not None:
                sized.unmount()
            scratch.cleanup()
            raise
        return HeldProbe(scratch, process, sized)


class BoxProcess:
    """One process in the box, with its result channel; held ones wait for their arguments on
    stdin (`release`), others get the channel's key at once on a gate pipe of their own (their
    gate plugin reads it before the checkout's modules are imported)."""

    def __init__(
        self,
        box: Box,
        tree: Path,
        scratch: Path,
        args: list[str],
        *,
        held: bool = False,
        gate: dict[str, object] | None = None,
    ) -> None:
        self.box, self.scratch = box, scratch
        plugins = scratch / PLUGINS
        plugins.mkdir(exist_ok=True)
        shutil.copyfile(PROBE, plugins / PROBE_NAME)
        install_plugins(plugins)
        home = scratch / "home"
        home.mkdir(exist_ok=True)
        self.channel = ResultChannel()
        env = scrubbed_environment(home)
        env.update(TMPDIR="/tmp" if box.sandboxed else str(scratch), PYTHONPATH=str(plugins))
        env[FD_VARIABLE] = str(self.channel.write_fd)
        # Not stdin: pytest's capture puts /dev/null there before its gate plugin reads.
        gate_read, gate_write = os.pipe() if not held else (-1, -1)
        if not held:
            env["PETSAGE_TEST_GATE_FD"] = str(gate_read)
        command = [str(box.python), *args]
        popen_env = env
        self._sandbox: sandbox.Box | None = None
        self.uid = sandbox.BOX_UID if box.sandboxed and os.geteuid() == 0 else -1
        # The output, for people only, in a folder of the builder's: never the box's scratch.
        self._private = Path(tempfile.mkdtemp(prefix="petsage-verify-log-"))
        # The output goes to a host file: bounded as the box writes it (agent.box.sized).
        limits = sandbox.Limits()
        output = replace(limits, disk_bytes=limits.file_bytes, disk_entries=16)
        self._sized = SizedFolder(self._private, output) if box.sandboxed else None
        self._log = open(self._private / "output.log", "wb")  # noqa: SIM115 - closed by close()
        try:
            if box.sandboxed:
                self._sandbox = box_for(box, command, tree, scratch, env, self.uid, held=held)
                command = self._sandbox.argv
                popen_env = {"PATH": "/usr/bin:/bin"}
            pass_fds: tuple[int, ...] = (self.channel.write_fd,)
            if not held:
                pass_fds += (gate_read,)
            if self._sandbox is not None:
                pass_fds += self._sandbox.pass_fds
            self._process = subprocess.Popen(
                command,
                cwd=tree,
                env=popen_env,
                stdin=subprocess.PIPE if held else subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=pass_fds,
            )
        except BaseException:
            if self._sandbox is not None:
                self._sandbox.cgroup.remove()
                self._sandbox.close()
            self._log.close()
            self.channel.close()
            self._remove_private()
            for descriptor in (gate_read, gate_write):
                if descriptor >= 0:
                    os.close(descriptor)
            raise
        self.channel.started()
        self._ended = False
        if not held:
            os.close(gate_read)
            message = {**(gate or {}), "go": True, "key": self.channel.key_hex}
            line = json.dumps(message).encode() + b"\n"
            with contextlib.suppress(BrokenPipeError):
                os.write(gate_write, line)
            os.close(gate_write)

    def release(self, args: list[str]) -> None:
        """Give a held process its arguments: everything now in its scratch folder is handed to
        the box's user first (the trees copied there meanwhile)."""
        hand_over(self.scratch, self.uid)
        self._send({"key": self.channel.key_hex, "args": args})

    def _send(self, message: dict[str, object]) -> None:
        """One line on a held process's stdin, which then closes: before it, the process runs
        nothing of the checkout."""
        stdin = self._process.stdin
        assert stdin is not None
        with contextlib.suppress(BrokenPipeError):  # it ended already: `finish` says how
            stdin.write(json.dumps(message).encode() + b"\n")
        with contextlib.suppress(BrokenPipeError):
            stdin.close()
        self._process.stdin = None

    @property
    def alive(self) -> bool:
        """Still running (a held one: still waiting for its arguments)."""
        return not self._ended and self._process.poll() is None

    def finish(
        self, stop: threading.Event | None = None, *, stop_on_failure: bool = False
    ) -> BoxRun:
        """Wait for it (the timeout counts from now), then kill what is left of it."""
        group = self._sandbox.cgroup if self._sandbox is not None else None
        budget = Budget.of_box(group, self.box.timeout, self.box.wall_seconds)
        try:
            returncode, overrun = watch(
                self._process,
                self.channel,
                budget,
                should_stop=stop.is_set if stop is not None else None,
            )
            timed_out = overrun is not None
            stopped = not timed_out and returncode is None
            session = read_session(self.channel.records)
            found = (
                []
                if timed_out or stopped
                else breaches(self.channel, session, returncode, stop_on_failure=stop_on_failure)
            )
            output = read_untrusted(self._private, "output.log", 8000, tail=True)
        finally:
            self.close()
        text = output.decode("utf-8", errors="replace") if isinstance(output, bytes) else ""
        return BoxRun(returncode, text, timed_out or stopped, session, found, overrun)

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
        self._log.close()
        if box is not None:
            box.cgroup.kill_all()
            box.cgroup.remove()
            box.close()
        self.channel.close()
        self._remove_private()

    def _remove_private(self) -> None:
        if self._sized is not None:
            self._sized.unmount()
        remove_tree(self._private)


@dataclass
class HeldProbe:
    """The gates' probe started ahead (`Box.hold_probe`), and the scratch folder it owns."""

    scratch_folder: tempfile.TemporaryDirectory[str]
    process: BoxProcess
    #: The tmpfs on the scratch folder (None where the machine does not allow one).
    sized: SizedFolder | None = None

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
            if self.sized is not None:
                self.sized.unmount()
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
