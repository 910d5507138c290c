"""The builder's end of the result channel: a pipe, a key, and frames that must verify.

Opened before a box starts; its write end goes to the box process only (`pass_fds`), its key
through the gate after the process started and before any module of the checkout is imported
(`agent.box.report_plugin` writes the frames). The builder reads it while the box runs (the
pipe never fills) and stops at the first frame that does not verify: from there on, nothing
in the stream is the plugin's, and the run fails with the reason. Nothing here waits for the
pipe to close: a process the box forked may hold the write end as long as it lives.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

HEADER = struct.Struct(">IBBQ")  # as agent.box.report_plugin.HEADER
MAC_SIZE = 32
FRAME = 4096
STREAMS = (0, 1)
#: The most a run may send back, all streams together.
CAP = 32 * 1024**2


@dataclass
class Record:
    """One verified record: its stream and its JSON object."""

    stream: int
    data: dict[str, Any]


@dataclass
class ResultChannel:
    """A pipe whose write end a box process inherits; the verified records read from it."""

    key: bytes = field(default_factory=lambda: os.urandom(32))
    records: list[Record] = field(default_factory=list)
    problem: str | None = None
    received: int = 0
    eof: bool = False

    def __post_init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        self._buffer = bytearray()
        self._sequence = dict.fromkeys(STREAMS, 0)
        self._parts: dict[int, bytearray] = {stream: bytearray() for stream in STREAMS}
        self._taken = 0

    @property
    def key_hex(self) -> str:
        return self.key.hex()

    def started(self) -> None:
        """The box process has its copy of the write end: the builder keeps none."""
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def drain(self) -> list[Record]:
        """Read what the pipe holds now, without waiting; the records it completed."""
        while self.read_fd >= 0 and self.problem is None:
            try:
                chunk = os.read(self.read_fd, 65536)
            except BlockingIOError:
                break
            except OSError as e:
                self.problem = f"the result stream could not be read ({e.strerror})"
                break
            if not chunk:
                self.eof = True  # every write end is closed: nothing more can come
                break
            self.received += len(chunk)
            if self.received > CAP:
                self.problem = f"the run sent back over {CAP // 2**20} MiB of results"
                break
            self._buffer += chunk
        return self._parse()

    def new_records(self) -> list[Record]:
        """The records not handed out by an earlier call."""
        fresh = self.records[self._taken :]
        self._taken = len(self.records)
        return fresh

    def _parse(self) -> list[Record]:
        made: list[Record] = []
        while self.problem is None and len(self._buffer) >= HEADER.size + MAC_SIZE:
            length, stream, last, sequence = HEADER.unpack_from(self._buffer)
            if length > FRAME - HEADER.size - MAC_SIZE or stream not in STREAMS or last > 1:
                self.problem = _FORGED + "a frame header no plugin frame has"
                break
            end = HEADER.size + MAC_SIZE + length
            if len(self._buffer) < end:
                break
            header = bytes(self._buffer[: HEADER.size])
            mac = bytes(self._buffer[HEADER.size : HEADER.size + MAC_SIZE])
            payload = bytes(self._buffer[HEADER.size + MAC_SIZE : end])
            del self._buffer[:end]
            wanted = hmac.new(self.key, header + payload, hashlib.sha256).digest()
            if not hmac.compare_digest(mac, wanted):
                self.problem = _FORGED + "a frame that does not carry the run's key"
                break
            if sequence != self._sequence[stream]:
                self.problem = _FORGED + f"frame {sequence} where {self._sequence[stream]} was due"
                break
            self._sequence[stream] += 1
            self._parts[stream] += payload
            if last:
                record = self._record(stream, bytes(self._parts[stream]))
                self._parts[stream].clear()
                if record is not None:
                    made.append(record)
        self.records += made
        return made

    def _record(self, stream: int, payload: bytes) -> Record | None:
        try:
            data = json.loads(payload.decode("utf-8"))
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("t"), str):
            self.problem = _FORGED + "a record that is not the plugin's"
            return None
        return Record(stream, data)

    def leftover(self) -> str | None:
        """Why what is left unread is a problem (a frame cut short), if it is."""
        if self.problem is None and (self._buffer or any(self._parts.values())):
            return "the result stream ends inside a frame: the run was cut off while reporting"
        return None

    def close(self) -> None:
        for name in ("read_fd", "write_fd"):
            descriptor = getattr(self, name)
            if descriptor >= 0:
                with contextlib.suppress(OSError):
                    os.close(descriptor)
                setattr(self, name, -1)


_FORGED = "the result stream held bytes the builder's plugin did not write: "
