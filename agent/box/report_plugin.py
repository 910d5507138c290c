"""Runs INSIDE the box: the only way a result leaves it (copied in as `petsage_report.py`).

The builder opens a pipe before the box starts and hands its write end to the process
(`PETSAGE_REPORT_FD`), and a fresh key through the gate (stdin or the gate pipe) before any
module of the checkout is imported. Every record (the session's start, what was collected,
each test as it ends, the session's end, the migration check's findings, the gates' documents)
goes down that pipe as authenticated frames: a header (length, stream, last, sequence number),
an HMAC-SHA256 over header and payload, the payload. Each frame is at most `PIPE_BUF` bytes and
written in one `write`, so frames never interleave with anything else written to the pipe; the
builder rejects a whole stream on the first frame that does not verify.

What this excludes, and what it does not, is written in docs/architecture.md ("What the builder
reads back"): bytes written into the pipe by anything without the key (a raw write through
`/proc/self/fd`, a swapped `sys.stdout`, an `atexit` hook) fail the build; a session that never
reaches its end record (`os._exit`, a kill, a closed descriptor) fails the build; so do hooks
added to pytest or pytest internals replaced while the tests ran. Code that reaches into this
module's objects inside the live process is the residue: the static scan is the wall there.
"""

import hashlib
import hmac
import json
import os
import struct
from typing import Any

FD_VARIABLE = "PETSAGE_REPORT_FD"
#: One frame, header and MAC included: at most PIPE_BUF bytes, so one write is atomic.
FRAME = 4096
HEADER = struct.Struct(">IBBQ")  # payload length, stream, last frame of a record, sequence
MAC_SIZE = 32
ROOM = FRAME - HEADER.size - MAC_SIZE
#: Streams: the test session itself, and the migration check's forked process.
SESSION, MIGRATION = 0, 1
MESSAGE_CAP = 4000
TEXT_CAP = 6000


class Channel:
    """The armed write end: a descriptor, a key, a stream and its sequence. Slotted: no
    attribute of the instance (its `send` above all) can be shadowed from outside."""

    __slots__ = ("descriptor", "key", "sequence", "stream")

    def __init__(self, descriptor: int, key: bytes, stream: int = SESSION) -> None:
        self.descriptor = descriptor
        self.key = key
        self.stream = stream
        self.sequence = 0

    def send(self, record: dict[str, Any]) -> None:
        payload = json.dumps(record, separators=(",", ":"), default=str).encode("utf-8")
        chunks = [payload[at : at + ROOM] for at in range(0, len(payload), ROOM)] or [b""]
        for index, chunk in enumerate(chunks):
            last = 1 if index == len(chunks) - 1 else 0
            header = HEADER.pack(len(chunk), self.stream, last, self.sequence)
            mac = hmac.new(self.key, header + chunk, hashlib.sha256).digest()
            os.write(self.descriptor, header + mac + chunk)
            self.sequence += 1

    def fork_for(self, stream: int) -> None:
        """In a forked child: a stream of its own, numbered from zero."""
        self.stream = stream
        self.sequence = 0


_armed: list[Channel] = []
#: What `Channel.send` calls through other modules, in the fingerprint with this module's names.
_CALLED: dict[Any, tuple[str, ...]] = {
    json: ("dumps",),
    hmac: ("new",),
    hashlib: ("sha256",),
    struct: ("Struct",),
}


def arm(key_hex: str, descriptor: int | None = None) -> Channel | None:
    """Take the key (from the gate) and the pipe named by the environment; once."""
    if _armed:
        return _armed[0]
    if descriptor is None:
        descriptor = int(os.environ.pop(FD_VARIABLE, "-1"))
    if descriptor < 0 or not key_hex:
        return None
    _armed.append(Channel(descriptor, bytes.fromhex(key_hex)))
    return _armed[0]


def channel() -> Channel | None:
    return _armed[0] if _armed else None


def send(record: dict[str, Any]) -> None:
    if _armed:
        _armed[0].send(record)


# --- pytest hooks --------------------------------------------------------------------------------

_WATCHED_HOOKS = (
    "pytest_runtest_protocol",
    "pytest_runtest_makereport",
    "pytest_runtest_logreport",
    "pytest_runtest_logfinish",
    "pytest_runtest_call",
    "pytest_pyfunc_call",
    "pytest_runtestloop",
    "pytest_report_teststatus",
    "pytest_collection_modifyitems",
    "pytest_collectreport",
    "pytest_sessionfinish",
)
_state: dict[str, Any] = {"exitstatus": None, "before": None, "changed": []}


def _fingerprint(config: Any) -> dict[str, object]:
    """What decides a test's outcome inside pytest: the hook implementations and the runner's
    own functions. Taken before the checkout's modules are imported; compared after."""
    import _pytest.outcomes
    import _pytest.python
    import _pytest.reports
    import _pytest.runner
    import _pytest.skipping

    hooks = config.pluginmanager.hook
    found: dict[str, object] = {}
    for name in _WATCHED_HOOKS:
        caller = getattr(hooks, name, None)
        impls = caller.get_hookimpls() if caller is not None else []
        found[name] = tuple((impl.plugin_name, id(impl.function)) for impl in impls)
    owners: tuple[tuple[Any, tuple[str, ...]], ...] = (
        (_pytest.runner, ("call_and_report", "runtestprotocol", "call_runtest_hook")),
        (_pytest.runner.CallInfo, ("from_call", "__init__")),
        (_pytest.reports.TestReport, ("from_item_and_call", "__init__")),
        (_pytest.python.Function, ("runtest", "setup", "_getobj")),
        (_pytest.python.Class, ("collect",)),
        (_pytest.skipping, ("evaluate_skip_marks", "evaluate_xfail_marks")),
        (_pytest.outcomes, ("skip", "fail", "xfail", "exit")),
        (os, ("write", "fork", "_exit", "kill")),
        (Channel, ("send", "__slots__")),
    )
    for owner, names in owners:
        for name in names:
            found[f"{getattr(owner, '__name__', owner)}.{name}"] = id(owner.__dict__.get(name))
    found["the armed channel"] = tuple(
        (id(c), type(c).__name__, c.descriptor, c.stream) for c in _armed
    )
    # Every name of this module (its functions, the modules and functions it calls through):
    # replacing any of them, `json.dumps` included, is a change the next comparison names.
    for name, value in vars(_module()).items():
        if not name.startswith("__"):
            found[f"petsage_report.{name}"] = id(value)
    for module, names in _CALLED.items():
        for name in names:
            found[f"{module.__name__}.{name}"] = id(getattr(module, name, None))
    return found


def _module() -> Any:
    import sys

    return sys.modules[__name__]


def _compare(config: Any, when: str) -> None:
    before = _state["before"]
    if before is None:
        return
    now = _fingerprint(config)
    for name, value in now.items():
        if before.get(name) != value:
            _state["changed"].append(f"{name} was replaced {when}")
    _state["before"] = now


def pytest_configure(config: Any) -> None:
    _state["config"] = config
    send({"t": "start", "pid": os.getpid()})


def pytest_collection(session: Any) -> None:
    # The checkout's conftest.py (the base branch's, never generated) is imported by now;
    # its test modules are not.
    _state["before"] = _fingerprint(session.config)


def pytest_collectreport(report: Any) -> None:
    if getattr(report, "failed", False):
        send({"t": "collecterror", "id": report.nodeid, "msg": _message(report)})


def pytest_collection_finish(session: Any) -> None:
    _compare(session.config, "while the test modules were imported")
    send({"t": "collected", "ids": [item.nodeid for item in session.items]})


def pytest_runtest_logreport(report: Any) -> None:
    """Each phase leaves as it is reported: nothing about a test waits in this process (where
    the test's own code could change it) for the test's end."""
    outcome = report.outcome
    entry: dict[str, Any] = {"when": report.when, "outcome": outcome, "seconds": report.duration}
    if hasattr(report, "wasxfail"):
        entry["xfail"] = str(report.wasxfail)[:MESSAGE_CAP] or "xfail"
    if outcome == "failed" or (outcome == "skipped" and report.when == "setup"):
        entry["msg"] = _message(report)
        entry["text"] = str(getattr(report, "longreprtext", ""))[-TEXT_CAP:]
    send({"t": "phase", "id": report.nodeid, **entry})


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    if "config" in _state:
        _compare(_state["config"], f"while {nodeid} ran")
    send({"t": "test", "id": nodeid})


def pytest_sessionfinish(session: Any, exitstatus: Any) -> None:
    _state["exitstatus"] = int(exitstatus)


def pytest_unconfigure(config: Any) -> None:
    """The last word: after every plugin's session finish (the JUnit file, the migration
    check's child reaped). Anything the builder reads after this is not the session's."""
    _compare(config, "while the tests ran")
    send({"t": "end", "exitstatus": _state["exitstatus"], "changed": _state["changed"]})


def _message(report: Any) -> str:
    longrepr = getattr(report, "longrepr", None)
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message)[:MESSAGE_CAP]
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
        return str(longrepr[2])[:MESSAGE_CAP]
    return str(longrepr or "")[-MESSAGE_CAP:]
