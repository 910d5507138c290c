"""Gate 7 (`PETSAGE_VERIFY=thorough`): Schemathesis against the built app's own operations.

Two boxes: the built app is served on a unix socket from one (serve.py), and Schemathesis fuzzes
it over HTTP from the other, which holds no file of the built tree. Nothing the app's modules do
reaches the fuzzer's checks or its results. For a bounded number of examples per operation
(valid and invalid data): no 5xx, every status code, content type and body as documented, no
schema-valid request rejected, no schema-violating request accepted.

Schemathesis is not a dependency of the target repository, so the fuzz run uses the builder's
own interpreter (the optional extra `petsage-builder[verify]` installs it); where it is not
installed the gate says so in its figures and does not fail the round.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from dataclasses import replace
from pathlib import Path

from agent.box.budget import overrun_error
from agent.box.sized import bounded
from agent.layout import FeatureLayout
from agent.pipeline.verify.box import PLUGINS, REPORTING, Box, BoxProcess, BoxRun, copy_tree
from agent.pipeline.verify.outcome import GateOutcome

EXAMPLES = 25
SERVE = Path(__file__).with_name("serve.py")
SERVE_NAME = "petsage_serve.py"
_FUZZ_TEST = """
import os
import select
import socket
import socketserver
import threading
import time

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)


def _wait_for_the_app(deadline: float) -> None:
    while time.monotonic() < deadline:
        if os.path.exists(SOCKET):
            probe = socket.socket(socket.AF_UNIX)
            try:
                probe.connect(SOCKET)
                return
            except OSError:
                pass
            finally:
                probe.close()
        time.sleep(0.05)
    raise RuntimeError("the app's server did not start")


class _Pipe(socketserver.BaseRequestHandler):
    # One HTTP connection of the fuzzer, carried to the app's socket and back.
    def handle(self):
        with socket.socket(socket.AF_UNIX) as upstream:
            upstream.connect(SOCKET)
            ends = {self.request: upstream, upstream: self.request}
            while True:
                ready, _, _ = select.select(list(ends), [], [], 120)
                if not ready:
                    return
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        return
                    ends[end].sendall(data)


class _Forward(socketserver.ThreadingTCPServer):
    daemon_threads = True


_wait_for_the_app(time.monotonic() + WAIT_SECONDS)
_forward = _Forward(("127.0.0.1", 0), _Pipe)
threading.Thread(target=_forward.serve_forever, daemon=True).start()
BASE = f"http://127.0.0.1:{_forward.server_address[1]}"

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance,
    negative_data_rejection,
]
# Valid data: answered as documented and accepted.
# Invalid data: the app must refuse it without a 5xx (an undocumented 400 for a body that is not
# even JSON is the framework's, not the feature's).
NEGATIVE_CHECKS = [not_a_server_error, negative_data_rejection]
schema = schemathesis.openapi.from_url(BASE + "/openapi.json").include(path_regex=PATH_REGEX)
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
    max_examples=EXAMPLES,
)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_operation(case):
    mode = case.meta.generation.mode if case.meta is not None else None
    positive = mode in (None, schemathesis.GenerationMode.POSITIVE)
    case.call_and_validate(checks=CHECKS if positive else NEGATIVE_CHECKS)
"""
_FINDING = re.compile(r"^\s*\|?\s*- (ST\d+ .+)$", re.MULTILINE)
_FORWARDER = re.compile(r"http://127\.0\.0\.1:\d+")
_CURL = re.compile(r"^\s*\|?\s*(curl .+)$", re.MULTILINE)


def available() -> bool:
    return importlib.util.find_spec("schemathesis") is not None


def gate(worktree: Path, scratch: Path, feature: str, box: Box) -> GateOutcome:
    """Fuzz the feature's operations; one reason per failing operation, with a reproduction."""
    if not available():
        return GateOutcome(
            gate="fuzz",
            figures={
                "skipped": "Schemathesis is not installed: pip install petsage-builder[verify]"
            },
        )
    # A tmpfs of its own where the machine allows (agent.box.sized): neither box can fill
    # the host's disk.
    with bounded(scratch, sandboxed=box.sandboxed):
        run = _fuzz(worktree, scratch, feature, box)
    if run.overrun is not None and run.overrun.infrastructure:
        raise overrun_error(run.overrun, "verified", "the fuzz run")  # the machine's: retried
    operations, reasons = _read(run)
    if run.breaches:
        reasons = [f"the fuzz run's results do not stand: {b}" for b in run.breaches]
    elif operations == 0:
        tail = " / ".join(run.output.strip().splitlines()[-3:])[:300]
        reasons = [f"the fuzz run did not run (exit {run.returncode}): {tail}"]
    return GateOutcome(
        gate="fuzz",
        ok=not reasons,
        reasons=reasons,
        figures={"operations": operations, "examples_per_operation": EXAMPLES},
    )


def _fuzz(worktree: Path, scratch: Path, feature: str, box: Box) -> BoxRun:
    """The fuzz run: the app served from a box of its own, fuzzed from another."""
    # The fuzzer's box first (its folder handed to the box's user while no hostile code runs),
    # then the app's, in a folder inside it: the only thing they share is the socket there.
    server = scratch / "server"
    server.mkdir()
    tree = copy_tree(worktree, server)
    empty = scratch / "empty"
    empty.mkdir()
    socket_path = server / "app.sock"
    url = FeatureLayout(feature).url
    test = scratch / "test_petsage_fuzz.py"
    test.write_text(
        f"PATH_REGEX = {('^' + re.escape(url) + '(/|$)')!r}\nEXAMPLES = {EXAMPLES}\n"
        f"SOCKET = {str(socket_path)!r}\nWAIT_SECONDS = {box.timeout}\n" + _FUZZ_TEST
    )
    (scratch / "pytest.ini").write_text("[pytest]\n")
    # The builder's interpreter (Schemathesis), with the build's budget and wall ceiling.
    fuzz_box = replace(box, python=Path(sys.executable))
    args = ["-m", "pytest", str(test), "-q", "-p", "no:cacheprovider", *REPORTING]
    args += ["-c", str(scratch / "pytest.ini"), f"--rootdir={scratch}"]
    fuzzer = BoxProcess(fuzz_box, empty, scratch, args)
    try:
        (server / PLUGINS).mkdir()
        shutil.copyfile(SERVE, server / PLUGINS / SERVE_NAME)
        app = BoxProcess(
            fuzz_box,
            tree,
            server,
            [str(server / PLUGINS / SERVE_NAME), str(socket_path), str(tree)],
        )
    except BaseException:
        fuzzer.close()
        raise
    try:
        run = fuzzer.finish()
    finally:
        app.close()
    return run


def _read(run: BoxRun) -> tuple[int, list[str]]:
    """How many operations the run fuzzed, and one reason per failing one (its verified
    records: the failure's text holds Schemathesis' findings and a reproduction)."""
    operations, reasons = 0, []
    for case in run.session.cases:
        operations += 1
        if case.outcome not in ("failed", "error"):
            continue
        name = case.nodeid.partition("test_operation")[2] or case.nodeid
        text = case.detail + case.message
        findings = sorted(set(_FINDING.findall(text))) or [text.strip()[:200]]
        # The fuzzer's forwarding port means nothing outside its box: a server's usual address.
        curls = [_FORWARDER.sub("http://localhost:8000", curl) for curl in _CURL.findall(text)]
        example = f" (e.g. {curls[0][:300]})" if curls else ""
        reasons.append(f"{name.strip('[]')}: {'; '.join(findings)}{example}")
    return operations, reasons
