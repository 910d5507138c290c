"""Whole-build time against its floor: one bare `python -m pytest` of the same target suite.

For each feature (the seed's `smoke_test` and a 6-field resource), N times in a fresh workspace:
run `petsage-builder build` as a user does (a new process: imports, skeleton, git, one pytest run,
commit), then time a bare `python -m pytest` in a checkout of the built branch of the same repo.
Prints per-stage medians and the ratio build / floor. Target: <= 1.5 now, <= 1.2 later.
Each feature is built with the `verified` stage off and at `standard` (PETSAGE_VERIFY), and the
gates' cost is printed as the build time they add (target: at most 30 %).

    python bench/build_bench.py [--runs N] [--verify off,standard]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEATURES = {
    "smoke_test": (ROOT / "examples" / "smoke_test.md").read_text(),
    "pet_profile": (ROOT / "examples" / "pet_profile.json").read_text(),
}
STAGES = ("prepare", "generate", "validate", "write", "integrate", "test", "verify", "commit")


def target_python() -> Path:
    """The interpreter builds run the target's tests with (the managed environment)."""
    sys.path.insert(0, str(ROOT))
    from agent.prompt_files import skeleton_files
    from agent.testing.env import ensure_test_env

    return ensure_test_env(skeleton_files()["requirements.txt"]).python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--verify", default="off,standard", help="PETSAGE_VERIFY levels to compare")
    args = parser.parse_args()
    levels = [level.strip() for level in args.verify.split(",") if level.strip()]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PETSAGE_", "OPENAI_"))}
    env["PYTHONPATH"] = str(ROOT)
    test_python = target_python()
    rows = []
    for feature, payload in FEATURES.items():
        for level in levels:
            env["PETSAGE_VERIFY"] = level
            builds, floors, stages = [], [], {stage: [] for stage in STAGES}
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory(prefix="petsage-bench-") as scratch:
                    workspace = Path(scratch) / "petsage_backend"
                    began = time.perf_counter()
                    done = subprocess.run(
                        [
                            sys.executable,
                            "-m",
                            "agent.cli",
                            "build",
                            "--payload",
                            "-",
                            "--workspace",
                            str(workspace),
                            "--json",
                            "-q",
                        ],
                        input=payload,
                        capture_output=True,
                        text=True,
                        env=env,
                        check=False,
                    )
                    builds.append(time.perf_counter() - began)
                    if done.returncode != 0:
                        raise SystemExit(
                            f"build of {feature} ({level}) failed:\n"
                            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
                        )
                    result = json.loads(done.stdout)
                    for stage in STAGES:
                        stages[stage].append(result["timings"].get(stage, 0.0))
                    checkout = Path(scratch) / "checkout"
                    subprocess.run(
                        ["git", "worktree", "add", "-q", str(checkout), f"feature/{feature}"],
                        cwd=workspace,
                        check=True,
                    )
                    began = time.perf_counter()
                    subprocess.run(
                        [str(test_python), "-m", "pytest", "-q"],
                        cwd=checkout,
                        capture_output=True,
                        check=True,
                        env=env,
                    )
                    floors.append(time.perf_counter() - began)
            rows.append(
                (f"{feature}/{level}", stages, statistics.median(builds), statistics.median(floors))
            )
    print(f"{args.runs} runs each, medians in seconds; target tests on {test_python}\n")
    header = ["feature", *STAGES, "build", "floor", "ratio"]
    print(" | ".join(f"{h:>11}" for h in header))
    print("-|-".join("-" * 11 for _ in header))
    for feature, stages, build, floor in rows:
        cells = [
            feature,
            *(f"{statistics.median(stages[s]):.3f}" for s in STAGES),
            f"{build:.3f}",
            f"{floor:.3f}",
            f"{build / floor:.2f}x",
        ]
        print(" | ".join(f"{c:>11}" for c in cells))
    medians = {name: build for name, _, build, _ in rows}
    for feature in FEATURES:
        off, standard = medians.get(f"{feature}/off"), medians.get(f"{feature}/standard")
        if off and standard:
            print(f"{feature}: the standard gates add {100 * (standard / off - 1):.0f} % (<= 30 %)")
    print("\nbuild = the whole `petsage-builder build` process in a fresh workspace;")
    print("floor = one bare `python -m pytest` of the same suite, same repo; target ratio <= 1.5")


if __name__ == "__main__":
    main()
