"""Run Python on a copy of a built tree inside the sandbox: what imports generated code runs here.

A `Box` runs one command a call, in the tree's folder, with the scrubbed environment and the
bubblewrap box of the test run (`agent.sandbox`), a timeout that kills the process group, and a
scratch folder for what the command writes back. `copy_tree` gives each run its own copy without
`.git`, so nothing a run does reaches the build's worktree or its repository.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from agent import sandbox
from agent.testrun import scrubbed_environment

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
        if self.sandboxed:
            command = sandbox.wrap(
                command,
                worktree=tree,
                scratch=scratch,
                python=self.python,
                env=env,
                limits=sandbox.Limits(cpu_seconds=int(self.timeout) + 30),
            )
            popen_env = {"PATH": "/usr/bin:/bin"}
        process = subprocess.Popen(
            command,
            cwd=tree,
            env=popen_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        timed_out = False
        deadline = time.monotonic() + self.timeout
        output = b""
        try:
            while True:
                try:
                    output, _ = process.communicate(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                        timed_out = True
                        break
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
        text = output.decode("utf-8", errors="replace")[-8000:]
        return BoxRun(None if timed_out else process.returncode, text, timed_out)


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
