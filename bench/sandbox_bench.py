"""Sandbox overhead: the same passing target suite run bare and inside bubblewrap.

Builds the 6-field resource feature once, then runs its whole suite N times each way through
the builder's own test runner. Target: <= 15% added wall time.

    python bench/sandbox_bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.loop import Builder  # noqa: E402
from agent.prompt_files import skeleton_files  # noqa: E402
from agent.settings import Settings  # noqa: E402
from agent.testenv import ensure_test_env  # noqa: E402
from agent.testrun import run_tests  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for name in list(os.environ):
        if name.startswith("PETSAGE_"):
            del os.environ[name]
    with tempfile.TemporaryDirectory() as scratch:
        workspace = Path(scratch) / "petsage_backend"
        settings = Settings(workspace=workspace, state_dir=Path(scratch) / "state")
        result = Builder(settings).run((ROOT / "examples" / "pet_profile.json").read_text())
        assert result.status == "succeeded", result.reasons
        checkout = Path(scratch) / "checkout"
        subprocess.run(
            ["git", "worktree", "add", "-q", str(checkout), "feature/pet_profile"],
            cwd=workspace,
            check=True,
        )
        times: dict[bool, list[float]] = {False: [], True: []}
        python = ensure_test_env(skeleton_files()["requirements.txt"]).python
        for _ in range(args.runs):
            for sandboxed in (False, True):
                report = run_tests(checkout, python=python, timeout=300, sandboxed=sandboxed)
                assert report.ok, report.output[-2000:]
                times[sandboxed].append(report.seconds)
    bare, boxed = statistics.median(times[False]), statistics.median(times[True])
    print(f"{args.runs} runs each of the pet_profile suite ({report.passed} tests), medians\n")
    print(f"  bare      : {bare:.3f} s")
    print(f"  sandboxed : {boxed:.3f} s")
    print(f"  added     : {(boxed - bare) / bare:+.1%} (target <= 15%)")


if __name__ == "__main__":
    main()
