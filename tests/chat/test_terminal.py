"""The chat command driven through a pseudo-terminal, as a person would type into it."""

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from agent.chat.terminal import run_chat
from agent.settings import Settings
from tests.conftest import branch_files

ROOT = Path(__file__).resolve().parents[2]


def read_until(fd: int, marker: str, timeout: float = 180) -> str:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {marker!r} in:\n{seen.decode(errors='replace')}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    return seen.decode(errors="replace")


def test_a_chat_in_a_terminal_builds_a_feature(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PETSAGE_", "OPENAI_"))}
    env["PYTHONPATH"] = str(ROOT)
    process = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "chat", "--workspace", str(tmp_path / "ws")],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    try:
        assert "Describe a feature" in read_until(leader, "you> ")
        os.write(leader, b"I want something to keep pet profiles\n")
        assert "What should the feature be called?" in read_until(leader, "you> ")
        os.write(leader, b'"""\nCall it pet_profile.\nname: str len>=1\nage: int >=0 <=40\n"""\n')
        assert "- feature: `pet_profile`" in read_until(leader, "you> ")
        os.write(leader, b"build it\n")
        shown = read_until(leader, "you> ")
        assert "committed" in shown and "succeeded: feature/pet_profile" in shown
        os.write(leader, b"status\n")
        assert "is succeeded" in read_until(leader, "you> ")
        os.write(leader, b"exit\n")
        assert "bye" in read_until(leader, "bye")
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        os.close(leader)


def test_the_issue_phrasings_build_after_one_confirmation(settings: Settings) -> None:
    """Issue #29's two phrasings, in-process with the offline model: each is shown once, and
    "build it" builds and commits the feature with every field it said."""
    messages = [
        "Please add a new feature: Medication Reminder. It needs a drug name (text up to 60 "
        "chars), a dose in mg (number, at least 0) and an optional note.",
        "build it",
        "we want to store adoption applications -- call it adoption_application. applicant: "
        "str len<=80, household_size: int >=1 <=20, has_garden: bool",
        "build it",
    ]
    out = io.StringIO()
    assert run_chat(settings, stdin=io.StringIO("\n".join(messages) + "\n"), stdout=out) == 0
    shown = out.getvalue()
    assert shown.count("Here is what I understood:") == 2, shown
    assert "succeeded: feature/medication_reminder" in shown, shown
    assert "succeeded: feature/adoption_application" in shown, shown
    for branch, fields in (
        ("feature/medication_reminder", ("drug_name", "dose_mg", "note")),
        ("feature/adoption_application", ("applicant", "household_size", "has_garden")),
    ):
        files = branch_files(settings.workspace, branch)
        code = "\n".join(text for name, text in files.items() if name.endswith(".py"))
        for field in fields:
            assert field in code, (branch, field)
