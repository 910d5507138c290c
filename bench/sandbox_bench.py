"""Sandbox overhead: the same passing target suite run bare and inside the box.

Builds the 6-field resource feature once, then runs its whole suite N times each way, timing
each whole call (start to report): bare is a plain `python -m pytest` in the checkout; boxed is
the builder's own runner with every limit of the box (copy without `.git`, bubblewrap, cgroup,
unprivileged uid, seccomp filter, sized /tmp, read-back and disk checks). The runner without
the box is shown too. Target: <= 15% added wall time.

    python bench/sandbox_bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.box.env import ensure_test_env  # noqa: E402
from agent.box.run import run_tests  # noqa: E402
from agent.pipeline.loop import Builder  # noqa: E402
from agent.prompt_files import skeleton_files  # noqa: E402
from agent.settings import Settings  # noqa: E402


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
        times: dict[str, list[float]] = {"bare": [], "runner": [], "boxed": []}
        python = ensure_test_env(skeleton_files()["requirements.txt"]).python
        missing: list[str] = []
        for _ in range(args.runs):
            began = time.perf_counter()
            plain = [str(python), "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider"]
            subprocess.run(plain, cwd=checkout, check=True, capture_output=True)
            times["bare"].append(time.perf_counter() - began)
            for name, sandboxed in (("runner", False), ("boxed", True)):
                began = time.perf_counter()
                report = run_tests(checkout, python=python, timeout=300, sandboxed=sandboxed)
                times[name].append(time.perf_counter() - began)
                assert report.ok, report.output[-2000:]
                missing = report.missing_limits or missing
    bare, runner, boxed = (statistics.median(times[n]) for n in ("bare", "runner", "boxed"))
    print(f"{args.runs} runs each of the pet_profile suite ({report.passed} tests), medians\n")
    print(f"  bare pytest        : {bare:.3f} s")
    print(f"  runner, no box     : {runner:.3f} s")
    print(f"  runner, in the box : {boxed:.3f} s")
    print(f"  added by the box   : {(boxed - bare) / bare:+.1%} (target <= 15%)")
    print(f"  limits not set here: {missing or 'none'}")


if __name__ == "__main__":
    main()
