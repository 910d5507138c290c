"""scripts/system-deps.sh as a new machine runs it: what it installs, why, and a clear failure."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "system-deps.sh"


def system_deps(path: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PATH"} | {"PATH": path}
    return subprocess.run(
        [shutil.which("bash") or "bash", str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_nothing_missing_installs_nothing_and_says_nothing() -> None:
    done = system_deps(os.environ["PATH"])
    assert (done.returncode, done.stderr) == (0, ""), done.stderr


def test_no_network_fails_naming_each_package_and_why_with_nothing_installed(
    tmp_path: Path,
) -> None:
    # A machine with python3 and git but no bubblewrap, whose package index cannot be reached.
    for command in ("id", "cat", "git", "prlimit"):
        (tmp_path / command).symlink_to(shutil.which(command) or command)
    (tmp_path / "python3").symlink_to(sys.executable)
    calls = tmp_path / "apt-calls"
    apt_get = tmp_path / "apt-get"
    apt_get.write_text(
        f'#!/bin/bash\necho "$*" >> {calls}\necho "E: could not resolve deb.debian.org" >&2\nexit 100\n'
    )
    apt_get.chmod(0o755)
    sudo = tmp_path / "sudo"
    sudo.write_text('#!/bin/bash\nexec "$@"\n')
    sudo.chmod(0o755)
    done = system_deps(str(tmp_path))
    assert done.returncode == 1
    assert "bubblewrap: bwrap, the sandbox generated tests run in" in done.stderr
    assert "apt-get update failed (no network?); nothing was installed" in done.stderr
    assert "apt-get install bubblewrap" in done.stderr
    assert "python3-venv" not in done.stderr  # this python3 has venv and ensurepip
    assert calls.read_text().split("\n")[0].startswith("update")
    assert "install" not in calls.read_text()
