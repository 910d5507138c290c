"""`git` as a subprocess: one command, its output, its failure as the builder's own error.

What a build runs on its path (the skeleton, branches, worktrees, the recorded tree, the commit)
goes through here rather than GitPython, whose import alone costs a build more than all of its
git processes, and so does a local pull request's merge commit (`merge-tree`, `commit-tree`);
the rest of the pull-request and remote code keeps GitPython (`TargetRepo.repo`).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from agent.errors import GitFailed

#: As GitPython runs git: messages in English, whatever the user's locale.
_LOCALE = {"LANGUAGE": "C", "LC_ALL": "C"}


class Attempt(NamedTuple):
    """A git command whose exit status is an answer (`merge-tree`: 1 is "conflicts")."""

    status: int
    out: str
    err: str


def clean_git_environment(folder: Path) -> dict[str, str]:
    """The builder's environment for git in `folder`: no inherited `GIT_*` variable (a
    `GIT_DIR`, `GIT_INDEX_FILE` or `GIT_CONFIG_*` set around the builder must not point its git
    elsewhere), English messages, and never a repository above `folder`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("GIT_")}
    env.update(_LOCALE, GIT_CEILING_DIRECTORIES=str(folder.resolve().parent))
    return env


class Git:
    """Runs git in `cwd`, with `env` added to the builder's environment and `config` given
    as `-c` options before every command."""

    def __init__(
        self, cwd: Path, *, env: Mapping[str, str] | None = None, config: tuple[str, ...] = ()
    ) -> None:
        self.cwd = cwd
        self.env = {**clean_git_environment(cwd), **(env or {})}
        self.options = [item for option in config for item in ("-c", option)]

    def __call__(self, *args: str, keep_newline: bool = False) -> str:
        """The command's output (its last newline taken off unless `keep_newline`)."""
        return self.run([*self.options, *args], keep_newline=keep_newline)

    def run(self, args: list[str], *, keep_newline: bool = False) -> str:
        """`git <args>` exactly as given (no `-c` options added)."""
        out = self.output(args).decode("utf-8", errors="replace")
        return out if keep_newline or not out.endswith("\n") else out[:-1]

    def attempt(self, *args: str) -> Attempt:
        """`git <args>` (after the `-c` options) whatever its exit status: the status and both
        outputs, for the caller to read. Only a git that cannot run at all raises."""
        done = self._completed([*self.options, *args])
        out = done.stdout.decode("utf-8", errors="replace")
        return Attempt(done.returncode, out, done.stderr.decode("utf-8", errors="replace"))

    def output(self, args: list[str]) -> bytes:
        """`git <args>` exactly as given, its output as it came (an archive is not text)."""
        done = self._completed(args)
        if done.returncode != 0:
            out = done.stdout.decode("utf-8", errors="replace")
            detail = done.stderr.decode("utf-8", errors="replace").strip() or out.strip()
            raise GitFailed(done.returncode, detail)
        return done.stdout

    def _completed(self, args: list[str]) -> subprocess.CompletedProcess[bytes]:
        if not self.cwd.is_dir():
            raise GitFailed(-1, f"{self.cwd} is not a folder")
        try:
            return subprocess.run(
                ["git", *args],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
            )
        except OSError as e:
            raise GitFailed(-1, f"cannot run git: {e}") from e
