"""The result channel on its own: the box's plugin writes frames, the builder verifies them, and
anything else in the pipe (forged, replayed, reordered, cut short) spoils the stream."""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from agent.box import report_plugin
from agent.box.channel import ResultChannel

PLUGIN_DIR = Path(report_plugin.__file__).parent


def write_from_child(channel: ResultChannel, code: str) -> None:
    """Run `code` in a child process that holds the write end (as the box does)."""
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(PLUGIN_DIR)!r})\n"
        "import report_plugin as r\n"
        f"c = r.Channel({channel.write_fd}, bytes.fromhex({channel.key_hex!r}))\n" + code
    )
    subprocess.run(
        [sys.executable, "-c", script], pass_fds=(channel.write_fd,), check=True, timeout=60
    )
    channel.started()


def test_records_of_any_size_arrive_whole_and_in_order() -> None:
    channel = ResultChannel()
    try:
        write_from_child(
            channel,
            "c.send({'t': 'start'})\n"
            "c.send({'t': 'document', 'name': 'built', 'doc': {'x': 'y' * 20000}})\n"
            "c.fork_for(1)\n"
            "c.send({'t': 'migration', 'ops': []})\n",
        )
        records = channel.drain()
        assert channel.problem is None and channel.leftover() is None
        assert [(r.stream, r.data["t"]) for r in records] == [
            (0, "start"),
            (0, "document"),
            (1, "migration"),
        ]
        assert len(records[1].data["doc"]["x"]) == 20000
    finally:
        channel.close()


def frame(key: bytes, payload: bytes, sequence: int, stream: int = 0) -> bytes:
    header = struct.pack(">IBBQ", len(payload), stream, 1, sequence)
    return header + hmac.new(key, header + payload, hashlib.sha256).digest() + payload


@pytest.mark.parametrize(
    ("forged", "why"),
    [
        (lambda key: frame(os.urandom(32), b'{"t":"end"}', 1), "does not carry the run's key"),
        (lambda key: frame(key, b'{"t":"end"}', 0), "frame 0 where 1 was due"),  # a replay
        (lambda key: frame(key, b'{"t":"end"}', 5), "frame 5 where 1 was due"),
        (lambda key: b'{"t": "end", "exitstatus": 0}\n', "a frame header no plugin frame has"),
        (lambda key: frame(key, b"[1, 2]", 1), "a record that is not the plugin's"),
    ],
)
def test_bytes_the_plugin_did_not_write_spoil_the_stream(forged, why: str) -> None:  # type: ignore[no-untyped-def]
    channel = ResultChannel()
    try:
        os.write(channel.write_fd, frame(channel.key, b'{"t":"start"}', 0))
        os.write(channel.write_fd, forged(channel.key))
        os.write(channel.write_fd, frame(channel.key, b'{"t":"end"}', 1))
        channel.started()
        channel.drain()
        assert channel.problem is not None and why in channel.problem
        assert [r.data["t"] for r in channel.records] == ["start"]
    finally:
        channel.close()


def test_a_stream_cut_inside_a_frame_says_so() -> None:
    channel = ResultChannel()
    try:
        whole = frame(channel.key, b'{"t":"end","exitstatus":0}', 0)
        os.write(channel.write_fd, whole[:-3])
        channel.started()
        channel.drain()
        assert channel.records == [] and channel.eof
        assert "cut off" in (channel.leftover() or "")
    finally:
        channel.close()


def test_a_run_that_sends_too_much_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agent.box.channel.CAP", 10_000)
    channel = ResultChannel()
    try:
        for sequence in range(10):
            os.write(
                channel.write_fd,
                frame(channel.key, b'{"t":"x","p":"' + b"a" * 2000 + b'"}', sequence),
            )
            channel.drain()
        assert channel.problem is not None and "over" in channel.problem
    finally:
        channel.close()
