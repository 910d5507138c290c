"""The command line as a user runs it: a real process, real files, exit codes."""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ONE_ROUND_STAGES, SEED_TEXT, SMOKE_REQUEST, git, refs, run_python

ROOT = Path(__file__).resolve().parents[1]


def cli(
    *args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PETSAGE_", "OPENAI_"))}
    environment["PYTHONPATH"] = str(ROOT)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )


def test_build_from_a_file_prints_the_report_and_exits_0(tmp_path: Path) -> None:
    payload = tmp_path / "request.md"
    payload.write_text(SEED_TEXT)
    done = cli("build", "--payload", str(payload), "--workspace", "ws", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "### **BUILD COMPLETE**" in done.stdout
    for stage in ONE_ROUND_STAGES:
        assert f" {stage}" in done.stderr
    workspace = tmp_path / "ws"
    assert "refs/heads/feature/smoke_test" in refs(workspace)
    records = list((tmp_path / ".petsage" / "ws" / "builds").glob("*.json"))
    assert len(records) == 1
    assert json.loads(records[0].read_text())["status"] == "succeeded"


def test_the_default_workspace_is_generated_petsage_backend(tmp_path: Path) -> None:
    done = cli(
        "build", "--payload", "-", "--json", "-q", cwd=tmp_path, stdin=json.dumps(SMOKE_REQUEST)
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    assert result["branch"] == "feature/smoke_test"
    assert set(result["timings"]) >= {
        "decode",
        "generate",
        "validate",
        "write",
        "integrate",
        "test",
        "commit",
    }
    assert result["tests"]["passed"] == 3
    assert (
        git(tmp_path / "generated" / "petsage_backend", "rev-parse", "feature/smoke_test").strip()
        == result["commit"]
    )
    assert done.stderr == ""


def test_base64_on_stdin(tmp_path: Path) -> None:
    encoded = base64.urlsafe_b64encode(json.dumps(SMOKE_REQUEST).encode()).decode().rstrip("=")
    done = cli(
        "build", "--payload", "-", "--workspace", "ws", "--json", cwd=tmp_path, stdin=encoded
    )
    assert done.returncode == 0, done.stderr


def test_bad_input_exits_2_names_the_field_and_writes_nothing(tmp_path: Path) -> None:
    done = cli(
        "build",
        "--payload",
        "-",
        "--workspace",
        "ws",
        cwd=tmp_path,
        stdin='{"feature": "Bad", "description": "x"}',
    )
    assert done.returncode == 2
    assert (
        "error: feature: must be lowercase letters, digits and `_`, starting with a letter"
        in done.stderr
    )
    assert not (tmp_path / "ws").exists() and not (tmp_path / ".petsage").exists()


def test_missing_payload_file_and_bad_settings_exit_2(tmp_path: Path) -> None:
    missing = cli("build", "--payload", "nope.json", cwd=tmp_path)
    assert missing.returncode == 2 and "--payload: cannot read nope.json" in missing.stderr
    rounds = cli(
        "build",
        "--payload",
        "-",
        "--max-rounds",
        "0",
        cwd=tmp_path,
        stdin=json.dumps(SMOKE_REQUEST),
    )
    assert rounds.returncode == 2 and "--max-rounds" in rounds.stderr
    model = cli(
        "build",
        "--payload",
        "-",
        cwd=tmp_path,
        stdin=json.dumps(SMOKE_REQUEST),
        env={"PETSAGE_MODEL": "magic"},
    )
    assert (
        model.returncode == 2
        and "PETSAGE_MODEL='magic'" in model.stderr
        and "Valid:" in model.stderr
    )
    env = cli(
        "build",
        "--payload",
        "-",
        cwd=tmp_path,
        stdin=json.dumps(SMOKE_REQUEST),
        env={"PETSAGE_TEST_TIMEOUT": "soon"},
    )
    assert env.returncode == 2 and "PETSAGE_TEST_TIMEOUT" in env.stderr
    assert not (tmp_path / "generated").exists()


def test_a_request_beyond_the_offline_generator_is_rejected_with_exit_2(tmp_path: Path) -> None:
    request = {
        "feature": "vet_visits",
        "description": "d",
        "requirements": "Track vet visits with reminders.",
    }
    done = cli(
        "build", "--payload", "-", "--workspace", "ws", cwd=tmp_path, stdin=json.dumps(request)
    )
    assert done.returncode == 2
    assert "needs a configured model" in done.stderr or "need a configured model" in done.stderr
    assert not (tmp_path / "ws").exists()


def test_a_failed_build_exits_1(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    git(workspace, "init", "-q", "-b", "main")
    (workspace / "src").mkdir()
    (workspace / "src" / "main.py").write_text("print('no app here')\n")
    git(workspace, "add", "-A")
    git(workspace, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    before = refs(workspace)
    done = cli(
        "build",
        "--payload",
        "-",
        "--workspace",
        "ws",
        cwd=tmp_path,
        stdin=json.dumps(SMOKE_REQUEST),
    )
    assert done.returncode == 1
    assert "defines no module-level \\`app" in done.stdout
    assert refs(workspace) == before


def test_no_command_prints_help_and_exits_2(tmp_path: Path) -> None:
    done = cli(cwd=tmp_path)
    assert done.returncode == 2 and "build" in done.stderr


def test_the_command_ends_without_a_last_garbage_collection_but_a_caller_keeps_its_own(
    tmp_path: Path,
) -> None:
    """Run as the process's command, `main` freezes the collector before the interpreter ends
    (its last collection over every module's objects is skipped); called with `argv` from a
    program that goes on, it leaves the collector as it found it. (A request refused at once
    is enough to see it: the command ends the same way for every outcome.)"""
    payload = tmp_path / "refused.json"
    payload.write_text('{"feature": "Not A Name", "description": "refused"}')
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0))\n"
        "from agent.cli import main\n"
        "argv = ['build', '--payload', sys.argv[2], '--workspace', sys.argv[3], '-q']\n"
        "if sys.argv[1] == 'caller':\n"
        "    code = main(argv)\n"
        "else:\n"
        "    sys.argv = ['petsage-builder', *argv]\n"
        "    code = main()\n"
        "print('exit', code)\n"
    )
    lines = {}
    for how in ("command", "caller"):
        done = run_python(probe, how, str(payload), str(tmp_path / how), cwd=tmp_path)
        lines[how] = done.stdout.strip().splitlines()[-2:]
    assert lines["command"] == ["exit 2", "frozen True"]
    assert lines["caller"] == ["exit 2", "frozen False"]
