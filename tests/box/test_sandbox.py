"""Hostile bundles: each generated test tries one escape and passes only if it worked.

So a sandbox that holds makes every build fail; the outer test then checks from the host that
the escape really did not happen. The code dodges the static checks on purpose
(`importlib.import_module("so" + "cket")`, `getattr(builtins, "op" + "en")`): the sandbox is the
wall under test here.
"""

import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from agent.box.interpreter import interpreter_paths
from agent.box.sandbox import (
    BOX_UID,
    CONCURRENT_BOXES,
    UNSANDBOXED_NOTE,
    Limits,
    build_box,
    check_available,
)
from agent.bundle import BundleFile, parse_reply
from agent.models.scripted import ScriptedModel
from agent.pipeline.loop import Builder
from agent.settings import Settings
from tests.conftest import SEED_TEXT, SMOKE_REQUEST, refs

TESTS = "tests/features/smoke_test/test_smoke_test.py"
PRELUDE = (
    "import builtins\nimport importlib\nimport os\nimport time\n"
    "def _mod(name):\n    return importlib.import_module(name)\n"
    "def _open(*args):\n    return getattr(builtins, 'op' + 'en')(*args)\n\n"
)


def test_the_sandbox_is_available_here() -> None:
    assert check_available() is None, "install bubblewrap: scripts/system-deps.sh"


def hostile(body: str) -> object:
    seed = parse_reply(SEED_TEXT, "smoke_test")
    files = [f for f in seed.files if f.path != TESTS]
    files.append(BundleFile(path=TESTS, content=PRELUDE + "def test_escape():\n" + body))
    return seed.model_copy(update={"files": files})


def build(settings: Settings, body: str, timeout: float = 30) -> tuple[object, float]:
    Builder(settings).run({**SMOKE_REQUEST, "feature": "first_one"})
    before = refs(settings.workspace)
    model = ScriptedModel([hostile(body)])
    # The sandbox is the wall under test: the static scans (which refuse this code's shapes)
    # are off, as in a build with PETSAGE_STATIC_SCAN=false.
    quick = settings.model_copy(
        update={"max_rounds": 1, "test_timeout": timeout, "static_scan": False}
    )
    began = time.monotonic()
    result = Builder(quick, model=model).run(SMOKE_REQUEST)
    elapsed = time.monotonic() - began
    assert result.status == "failed", "the escape worked: " + "; ".join(result.reasons)
    assert result.reasons
    assert refs(settings.workspace) == before
    return result, elapsed


def test_no_connection_reaches_a_loopback_listener(settings: Settings) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    arrived: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                arrived.append(listener.accept())
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept)
    thread.start()
    try:
        body = f"    s = _mod('so' + 'cket').create_connection(('127.0.0.1', {port}), timeout=3)\n    s.sendall(b'hello')\n"
        build(settings, body)
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert arrived == []


def test_nothing_is_written_outside_the_worktree(settings: Settings) -> None:
    targets = [
        settings.workspace / "src" / "escaped.py",
        Path("/root/escaped.txt"),
        Path("/escaped.txt"),
    ]
    body = "".join(
        f"    try:\n        _open({str(t)!r}, 'w').write('out')\n        wrote = True\n    except OSError:\n        wrote = False\n"
        f"    assert wrote\n"
        for t in targets
    )
    build(settings, body)
    assert not any(t.exists() for t in targets)


def test_secrets_are_not_readable(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-sandbox-secret-123")
    body = (
        "    found = os.environ.get('OPENAI_API_KEY', '')\n"
        "    for pid in ('1', str(os.getppid()), 'self'):\n"
        "        try:\n"
        "            found += _open(f'/proc/{pid}/environ', 'rb').read().decode(errors='replace')\n"
        "        except OSError:\n"
        "            pass\n"
        "    assert 'sk-sandbox-secret-123' in found\n"
    )
    build(settings, body)


def test_the_builders_files_are_not_visible(settings: Settings) -> None:
    here = Path(__file__).resolve()
    body = f"    assert _open({str(here)!r}).read()\n"
    build(settings, body)


def test_a_fork_bomb_is_contained(settings: Settings) -> None:
    body = "    fork = getattr(os, 'fo' + 'rk')\n    while True:\n        fork()\n"
    _, elapsed = build(settings, body, timeout=20)
    assert elapsed < 150  # bounded, with room for a busy machine (speed is in bench/)
    assert subprocess.run(["true"], check=False).returncode == 0


def test_allocating_8_gb_fails(settings: Settings) -> None:
    body = "    block = bytearray(8 * 1024**3)\n    assert len(block)\n"
    result, _ = build(settings, body)
    assert "MemoryError" in result.attempt.test_output  # type: ignore[attr-defined]


def test_an_endless_loop_is_killed_at_the_timeout(settings: Settings) -> None:
    result, elapsed = build(settings, "    while True:\n        pass\n", timeout=8)
    assert any("timeout" in reason for reason in result.reasons)  # type: ignore[attr-defined]
    assert elapsed < 120  # a CPU-time budget: wall time depends on the machine


def test_a_2_gb_file_is_cut_off(settings: Settings) -> None:
    body = "    with _open('big.bin', 'wb') as f:\n        for _ in range(2048):\n            f.write(b'0' * 1024 * 1024)\n"
    build(settings, body)


def test_no_background_process_survives(settings: Settings) -> None:
    body = (
        "    spawn = getattr(os, 'posix_' + 'spawn')\n"
        "    spawn('/usr/bin/sleep', ['sleep', '987654'], dict(os.environ))\n"
        "    time.sleep(0.2)\n"
        "    raise AssertionError('left a sleeper behind')\n"
    )
    build(settings, body)
    time.sleep(0.5)
    leftover = subprocess.run(
        ["pgrep", "-f", "sleep 987654"], capture_output=True, text=True, check=False
    )
    assert leftover.stdout.strip() == ""


def test_sandbox_off_runs_unsandboxed_and_says_so(settings: Settings) -> None:
    result = Builder(settings.model_copy(update={"sandbox": "off"})).run(SMOKE_REQUEST)
    assert result.status == "succeeded"
    assert UNSANDBOXED_NOTE in result.notes and UNSANDBOXED_NOTE in result.report


def test_the_box_shows_only_the_interpreter_and_usr(tmp_path: Path) -> None:
    import sys

    folders = interpreter_paths(sys.executable)
    # Not the builder's checkout (a virtualenv inside it, as the set-up makes, may be bound).
    checkout = str(Path(__file__).resolve().parents[2])
    assert all(not (checkout + os.sep).startswith(f + os.sep) for f in folders), folders
    assert all(not f.startswith(checkout + os.sep + "agent") for f in folders)
    box = build_box(
        ["python"],
        writable={"/petsage/work": tmp_path},
        readonly={},
        chdir="/petsage/work",
        python=Path(sys.executable),
        env={"A": "1"},
        limits=Limits(),
        name="argv-probe",
    )
    try:
        argv = box.argv
        assert "--clearenv" in argv and "--unshare-net" in argv
        assert str(tmp_path) in argv and "/petsage/work" in argv
        if os.geteuid() == 0:
            assert f"--reuid={BOX_UID}" in argv and "--no-new-privs" in argv
        assert (
            os.environ.get("OPENAI_API_KEY", "x") not in " ".join(argv)
            or "OPENAI_API_KEY" not in os.environ
        )
        # RLIMIT_NPROC counts every thread of the box's uid machine-wide: where the pids cgroup
        # bounds this box, other builds' boxes must not use up its room (issue 28).
        nproc = next(int(a.split("=", 1)[1]) for a in argv if a.startswith("--nproc="))
        if box.cgroup.pids is not None:
            assert nproc >= Limits().processes * (CONCURRENT_BOXES + 1)
    finally:
        box.close()
        box.cgroup.remove()
