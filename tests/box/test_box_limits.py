"""Each limit of the box tried from inside it, with the figure it allowed printed.

The suites run through the builder's own test runner in the real box (bubblewrap, cgroup,
unprivileged uid, seccomp), with limits made small so that reaching them is cheap.
"""

import os
import re
import sys
from pathlib import Path

import pytest

from agent.box.run import TestReport, run_tests
from agent.box.sandbox import Limits
from agent.box.sized import SizedFolder
from tests.conftest import can_mount

PYTHON = Path(sys.executable)


def run_in_box(tmp_path: Path, body: str, limits: Limits) -> TestReport:
    root = tmp_path / "repo"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "__init__.py").write_text("")
    say = "def say(capsys, text):\n    with capsys.disabled():\n        print(text, flush=True)\n"
    (root / "tests" / "test_limit.py").write_text(say + body)
    return run_tests(root, python=PYTHON, timeout=60, limits=limits)


def figure(report: TestReport, name: str) -> int:
    found = re.findall(rf"{name}=(\d+)", report.output)
    assert found, report.output[-2000:]
    return int(found[-1])


def test_processes_stop_at_the_cap(tmp_path: Path) -> None:
    body = (
        "import os, time\n"
        "def test_fork(capsys):\n"
        "    made = 0\n"
        "    try:\n"
        "        for _ in range(500):\n"
        "            if getattr(os, 'fork')() == 0:\n"
        "                time.sleep(30)\n"
        "                os._exit(0)\n"
        "            made += 1\n"
        "    finally:\n"
        "        say(capsys, f'processes={made}')\n"
    )
    report = run_in_box(tmp_path, "import sys\n" + body, Limits(processes=40))
    allowed = figure(report, "processes")
    print(f"the box allowed {allowed} new processes with a cap of 40")
    assert allowed < 40 and not report.ok


def test_memory_including_tmp_stops_at_the_cap(tmp_path: Path) -> None:
    body = (
        "import os\n"
        "def test_fill(capsys):\n"
        "    block = b'0' * 2**20\n"
        "    held = []\n"
        "    for n in range(1024):\n"
        "        if n % 2:\n"
        "            held.append(bytearray(block))\n"
        "        else:\n"
        "            with open(f'/tmp/fill{n}', 'wb') as f:\n"
        "                f.write(block)\n"
        "        say(capsys, f'memory={n + 1}')\n"
    )
    limits = Limits(memory_bytes=192 * 2**20, tmp_bytes=2 * 2**30)
    report = run_in_box(tmp_path, body, limits)
    if report.missing_limits and any(m.startswith("memory") for m in report.missing_limits):
        pytest.skip("no memory cgroup here: " + "; ".join(report.missing_limits))
    reached = figure(report, "memory")
    print(f"the box held {reached} MiB (half in /tmp) with a memory cap of 192 MiB")
    assert reached < 192 and not report.ok


def test_tmp_has_a_size(tmp_path: Path) -> None:
    body = (
        "def test_fill(capsys):\n"
        "    written = 0\n"
        "    try:\n"
        "        for n in range(64):\n"
        "            with open(f'/tmp/fill{n}', 'wb') as f:\n"
        "                for _ in range(8):\n"
        "                    f.write(b'0' * 2**20)\n"
        "                    written += 1\n"
        "    finally:\n"
        "        say(capsys, f'tmp={written}')\n"
    )
    report = run_in_box(tmp_path, body, Limits(tmp_bytes=64 * 2**20))
    written = figure(report, "tmp")
    print(f"the box wrote {written} MiB to a /tmp of 64 MiB")
    assert written <= 64 and not report.ok


MOUNTS = pytest.mark.skipif(not can_mount(), reason="the builder may not mount a tmpfs here")
WRITE_48_MIB = (
    "def test_write(capsys):\n"
    "    written = 0\n"
    "    try:\n"
    "        for n in range(12):\n"
    "            with open(f'big{n}.bin', 'wb') as f:\n"
    "                f.write(b'1' * 4 * 2**20)\n"
    "            written += 4\n"
    "    finally:\n"
    "        say(capsys, f'disk={written}')\n"
)


@MOUNTS
def test_disk_stops_at_the_cap_as_the_box_writes(tmp_path: Path) -> None:
    report = run_in_box(tmp_path, WRITE_48_MIB, Limits(disk_bytes=32 * 2**20))
    written = figure(report, "disk")
    print(f"the box wrote {written} MiB to its folder, a tmpfs of 32 MiB")
    assert written <= 32 and report.failed == 1 and not report.ok
    assert "No space left on device" in report.output


@MOUNTS
def test_files_and_folders_stop_at_the_cap_as_the_box_makes_them(tmp_path: Path) -> None:
    body = (
        "def test_make(capsys):\n"
        "    made = 0\n"
        "    try:\n"
        "        for n in range(5000):\n"
        "            open(f'empty{n}', 'wb').close()\n"
        "            made += 1\n"
        "    finally:\n"
        "        say(capsys, f'entries={made}')\n"
    )
    report = run_in_box(tmp_path, body, Limits(disk_entries=2000))
    made = figure(report, "entries")
    print(f"the box made {made} files with a cap of 2000 entries")
    assert made < 2000 and report.failed == 1


def test_disk_is_measured_after_the_run_where_no_tmpfs_can_be_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Unmounted(SizedFolder):
        """A machine where mount(2) is refused (no CAP_SYS_ADMIN): a plain folder."""

        def __init__(self, path: Path, limits: Limits, *, mode: int = 0o700) -> None:
            self.path, self.mounted = path, False
            self.missing = "disk: refused here (test)"

    monkeypatch.setattr("agent.box.run.SizedFolder", Unmounted)
    report = run_in_box(tmp_path, WRITE_48_MIB, Limits(disk_bytes=32 * 2**20))
    print(
        f"the box wrote {figure(report, 'disk')} MiB with a disk cap of 32 MiB: {report.breaches}"
    )
    assert report.passed == 1 and not report.ok
    assert any("over the box's 32 MiB" in b for b in report.breaches)
    assert report.reasons(1, "tests") == report.breaches
    assert "disk: refused here (test)" in report.missing_limits


def test_no_user_namespace_can_be_made(tmp_path: Path) -> None:
    body = (
        "import ctypes, os\n"
        "def test_unshare(capsys):\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    for name, flag in (('user', 0x10000000), ('mount', 0x20000), ('net', 0x40000000)):\n"
        "        result = libc.unshare(flag)\n"
        "        say(capsys, f'unshare_{name}={result + 1} errno {ctypes.get_errno()}')\n"
        "        assert result == -1\n"
    )
    report = run_in_box(tmp_path, body, Limits())
    print(report.output[-600:])
    assert report.ok, report.output[-2000:]
    assert figure(report, "unshare_user") == 0


def test_no_blocks_can_be_reserved_past_the_file_size_limit(tmp_path: Path) -> None:
    """fallocate(FALLOC_FL_KEEP_SIZE) on the output's file would reserve blocks on the host that
    `RLIMIT_FSIZE` never counts: the seccomp filter refuses it (EOPNOTSUPP)."""
    body = (
        "import ctypes\n"
        "def test_reserve(capsys):\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]\n"
        "    result = libc.fallocate(1, 1, 0, 1 << 30)\n"
        "    say(capsys, f'fallocate={result + 1} errno={ctypes.get_errno()}')\n"
        "    assert result == -1 and ctypes.get_errno() == 95\n"
    )
    report = run_in_box(tmp_path, body, Limits())
    assert report.ok, report.output[-2000:]
    assert figure(report, "fallocate") == 0 and figure(report, "errno") == 95


def test_the_box_runs_as_an_unprivileged_uid(tmp_path: Path) -> None:
    body = "import os\ndef test_uid(capsys):\n    say(capsys, f'uid={os.getuid()}')\n"
    report = run_in_box(tmp_path, body, Limits())
    uid = figure(report, "uid")
    print(f"the box ran as uid {uid}; missing limits: {report.missing_limits}")
    assert uid != 0
    if os.geteuid() == 0:
        assert report.missing_limits == [] or all(
            not m.startswith("processes: the builder") for m in report.missing_limits
        )
