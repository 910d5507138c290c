"""Reading back what the box may have touched: no link, no FIFO, no device, no overrun."""

import os
import time
from pathlib import Path

from agent.box.boxfiles import read_untrusted


def test_read_back_never_follows_blocks_or_overruns(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"results")
    (tmp_path / "big").write_bytes(b"x" * 100)
    (tmp_path / "environ").symlink_to("/proc/self/environ")
    (tmp_path / "zero").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    began = time.monotonic()
    assert read_untrusted(tmp_path, "plain", 50) == b"results"
    assert read_untrusted(tmp_path, "missing", 50) is None
    assert "over the 50 bytes" in str(read_untrusted(tmp_path, "big", 50))
    assert read_untrusted(tmp_path, "big", 50, tail=True) == b"x" * 50
    for name in ("environ", "zero", "fifo", "folder"):
        answer = read_untrusted(tmp_path, name, 50)
        assert isinstance(answer, str) and "not a plain file" in answer, (name, answer)
    (tmp_path / "swapped").symlink_to(tmp_path / "plain")
    assert isinstance(read_untrusted(tmp_path / "swapped", "x", 50), str)
    assert time.monotonic() - began < 2
