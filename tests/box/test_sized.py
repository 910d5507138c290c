"""Folders the kernel bounds (agent.box.sized): a sized tmpfs as the box writes, gone after."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest

from agent.box.sandbox import Limits
from agent.box.sized import SizedFolder, bounded
from agent.pipeline.verify.box import Box
from tests.conftest import can_mount

pytestmark = pytest.mark.skipif(not can_mount(), reason="the builder may not mount a tmpfs here")


def mounted(path: Path) -> str | None:
    """The filesystem type mounted at `path`, if a mount is there."""
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if fields[1] == str(path):
            return fields[2]
    return None


def test_a_sized_folder_refuses_writes_past_its_size_and_frees_them(tmp_path: Path) -> None:
    folder = tmp_path / "box"
    folder.mkdir()
    sized = SizedFolder(folder, Limits(disk_bytes=4 * 2**20, disk_entries=100))
    assert sized.mounted and sized.missing is None and mounted(folder) == "tmpfs"
    written = 0
    with pytest.raises(OSError) as full, open(folder / "big.bin", "wb") as handle:
        for _ in range(8):
            handle.write(b"1" * 2**20)
            handle.flush()
            written += 1
    assert full.value.errno == errno.ENOSPC and written <= 4
    (folder / "big.bin").unlink()
    with pytest.raises(OSError) as many:
        for n in range(200):
            (folder / f"f{n}").touch()
    assert many.value.errno == errno.ENOSPC
    sized.unmount()
    sized.unmount()  # once
    assert mounted(folder) is None and list(folder.iterdir()) == []


def test_bounded_mounts_for_a_sandboxed_box_only(tmp_path: Path) -> None:
    with bounded(tmp_path / "gates" / "fuzz"):
        assert mounted(tmp_path / "gates" / "fuzz") == "tmpfs"
        total = os.statvfs(tmp_path / "gates" / "fuzz")
        assert total.f_blocks * total.f_frsize == Limits().disk_bytes
    assert mounted(tmp_path / "gates" / "fuzz") is None
    with bounded(tmp_path / "plain", sandboxed=False):
        assert mounted(tmp_path / "plain") is None


def test_the_gates_held_probe_writes_in_a_sized_folder(tmp_path: Path) -> None:
    probe = Box(Path(sys.executable), timeout=60).hold_probe()
    try:
        assert mounted(probe.scratch) == "tmpfs"
    finally:
        probe.close()
    assert mounted(probe.scratch) is None and not probe.scratch.exists()


def test_the_test_runs_box_folder_is_sized_while_it_runs(tmp_path: Path) -> None:
    from agent.box.run import start_tests

    run = start_tests(None, python=Path(sys.executable), timeout=60, own_config=False)
    folder = run._scratch
    try:
        assert mounted(folder / "box") == "tmpfs"
        assert mounted(folder / "private") == "tmpfs"  # the file its output goes to
        assert not any("disk" in missing for missing in run.missing_limits)
    finally:
        run.close()
    assert mounted(folder / "box") is None and not folder.exists()


def test_a_killed_builders_folders_are_swept_and_a_live_ones_kept(tmp_path: Path) -> None:
    import subprocess

    from agent.box.sized import SOURCE, _libc, sweep_orphans

    ended = subprocess.Popen(["true"])  # a builder's pid, once it has ended
    ended.wait()
    dead, alive = tmp_path / "dead", tmp_path / "alive"
    for folder, pid in ((dead, ended.pid), (alive, os.getpid())):
        folder.mkdir()
        source = f"{SOURCE}{pid}".encode()
        assert _libc().mount(source, os.fsencode(folder), b"tmpfs", 0, b"size=1m") == 0
    try:
        swept = sweep_orphans()
        assert dead in swept and alive not in swept
        assert mounted(dead) is None and mounted(alive) == "tmpfs"
    finally:
        for folder in (dead, alive):
            if mounted(folder):
                _libc().umount2(os.fsencode(folder), 2)


def test_a_test_run_that_fails_to_start_leaves_nothing_mounted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any error while the run starts (here the busy machine's, issue 28) cleans up its mounts."""
    from agent.box import run as run_module
    from agent.errors import InfrastructureError

    made: list[Path] = []

    class Recorded(SizedFolder):
        def __init__(self, path: Path, limits: Limits, *, mode: int = 0o700) -> None:
            super().__init__(path, limits, mode=mode)
            made.append(path)

    def busy(*args: object, **kwargs: object) -> None:
        raise InfrastructureError("busy", stage="tested", limit="x", figure=1.0, budget=1.0)

    monkeypatch.setattr(run_module, "SizedFolder", Recorded)
    monkeypatch.setattr(run_module.sandbox, "build_box", busy)
    with pytest.raises(InfrastructureError):
        run_module.start_tests(None, python=Path(sys.executable), timeout=60, own_config=False)
    assert len(made) == 2
    for folder in made:
        assert mounted(folder) is None and not folder.exists()
