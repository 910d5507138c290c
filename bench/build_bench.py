"""Whole-build time against its floor: one bare `python -m pytest` of the same target suite.

Two paths, each N times in a fresh workspace, with the verification gates off and at `standard`
(PETSAGE_VERIFY):

- offline: `petsage-builder build` of the seed's `smoke_test` with the offline generator;
- openai: the same build with `PETSAGE_MODEL=openai:gpt-4.1-mini` against a local
  OpenAI-compatible server (tests/models/fake_openai.py) that answers the seed instantly.

Each build is a new process, as a user runs it (imports, skeleton, git, model, one pytest run,
gates, commit). Right after it, in the same run, the floor: a bare `python -m pytest -q` in a
checkout of the built branch, with the interpreter the build ran the tests with (the managed
test environment). Prints medians, per-stage medians, the overhead (build - floor) and the
ratio build / floor. Target (issue 19): ratio <= 1.3, overhead <= 0.25 s.

The builder's own test run ends without the interpreter's last garbage collection (its gate
plugin freezes the collector once the results are written: agent/box/gate.py), which a bare
pytest run spends 0.1-0.3 s on. So a second floor is measured beside the first, the same bare
run ending the same way (`frozen floor`), and the ratio to it is printed too: that one compares
like with like, what the builder adds beside the test run itself.

With `--feature pet_profile` the offline path builds examples/pet_profile.json instead (a
resource: 6 fields, a table, its Alembic revision, 59 tests): a bigger suite.

    python bench/build_bench.py [--runs N] [--verify off,standard] [--paths offline,openai]
                                [--feature smoke_test|pet_profile]
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
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PAYLOADS = {
    "smoke_test": (ROOT / "examples" / "smoke_test.md").read_text(),
    "pet_profile": (ROOT / "examples" / "pet_profile.json").read_text(),
}
SEED = (ROOT / "tests" / "data" / "seed_smoke_test.txt").read_text()
STAGES = ("prepare", "generate", "validate", "write", "integrate", "test", "verify", "commit")


def target_python() -> Path:
    """The interpreter builds run the target's tests with (the managed environment)."""
    from agent.box.env import ensure_test_env
    from agent.prompt_files import skeleton_files

    return ensure_test_env(skeleton_files()["requirements.txt"]).python


def build_once(
    env: dict[str, str], scratch: Path, feature: str
) -> tuple[float, dict[str, float], Path]:
    workspace = scratch / "petsage_backend"
    command = [sys.executable, "-m", "agent.cli", "build", "--payload", "-"]
    command += ["--workspace", str(workspace), "--json", "-q"]
    began = time.perf_counter()
    done = subprocess.run(
        command, input=PAYLOADS[feature], capture_output=True, text=True, env=env, check=False
    )
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"build failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    timings = json.loads(done.stdout)["timings"]
    return seconds, {stage: timings.get(stage, 0.0) for stage in STAGES}, workspace


#: A bare pytest run that ends as the builder's does: no last garbage collection.
FROZEN_EXIT = (
    "import gc, sys, pytest\n"
    "code = pytest.main(['-q', '-p', 'no:cacheprovider'])\n"
    "gc.freeze()\n"
    "sys.exit(code)\n"
)


def floor_once(
    env: dict[str, str], workspace: Path, scratch: Path, python: Path, feature: str
) -> tuple[float, float]:
    """(bare pytest, the same ending without its last collection), in a checkout of the branch."""
    checkout = scratch / "checkout"
    subprocess.run(
        ["git", "worktree", "add", "-q", str(checkout), f"feature/{feature}"],
        cwd=workspace,
        check=True,
    )
    seconds = []
    for command in (
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        [str(python), "-c", FROZEN_EXIT],
    ):
        began = time.perf_counter()
        subprocess.run(command, cwd=checkout, capture_output=True, check=True, env=env)
        seconds.append(time.perf_counter() - began)
    return seconds[0], seconds[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--verify", default="off,standard", help="PETSAGE_VERIFY levels")
    parser.add_argument("--paths", default="offline,openai", help="offline and/or openai")
    parser.add_argument("--feature", choices=sorted(PAYLOADS), default="smoke_test")
    args = parser.parse_args()
    levels = [level.strip() for level in args.verify.split(",") if level.strip()]
    paths = [path.strip() for path in args.paths.split(",") if path.strip()]
    if args.feature != "smoke_test":
        paths = [path for path in paths if path == "offline"]  # the fake model knows the seed
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PETSAGE_", "OPENAI_"))}
    base["PYTHONPATH"] = str(ROOT)
    test_python = target_python()
    rows = []
    with ExitStack() as stack:
        fake = None
        if "openai" in paths:
            from tests.models.fake_openai import FakeOpenAI

            fake = stack.enter_context(FakeOpenAI())
        for path in paths:
            for level in levels:
                env = dict(base, PETSAGE_VERIFY=level)
                if path == "openai":
                    assert fake is not None
                    env.update(
                        PETSAGE_MODEL="openai:gpt-4.1-mini",
                        OPENAI_BASE_URL=fake.base_url,
                        OPENAI_API_KEY="sk-bench-not-a-real-key",
                    )
                builds, floors, frozen = [], [], []
                stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
                for _ in range(args.runs):
                    if fake is not None and path == "openai":
                        fake.reply(SEED)
                    with tempfile.TemporaryDirectory(prefix="petsage-bench-") as scratch:
                        seconds, timings, workspace = build_once(env, Path(scratch), args.feature)
                        builds.append(seconds)
                        for stage, value in timings.items():
                            stages[stage].append(value)
                        bare, like = floor_once(
                            env, workspace, Path(scratch), test_python, args.feature
                        )
                        floors.append(bare)
                        frozen.append(like)
                rows.append((path, level, stages, builds, floors, frozen))
    load = os.getloadavg()
    print(
        f"{args.feature}: {args.runs} runs each, medians in seconds; "
        f"load average {load[0]:.2f} {load[1]:.2f}"
    )
    print(f"target tests on {test_python}\n")
    header = ["path", "verify", *STAGES, "build", "floor", "overhead", "ratio"]
    header += ["frozen floor", "overhead", "ratio"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for path, level, stages, builds, floors, frozen in rows:
        build, floor = statistics.median(builds), statistics.median(floors)
        like = statistics.median(frozen)
        cells = [
            path,
            level,
            *(f"{statistics.median(stages[s]):.3f}" for s in STAGES),
            f"{build:.2f}",
            f"{floor:.2f}",
            f"{build - floor:+.2f}",
            f"{build / floor:.2f}x",
            f"{like:.2f}",
            f"{build - like:+.2f}",
            f"{build / like:.2f}x",
        ]
        print("| " + " | ".join(cells) + " |")
    medians = {(p, lv): statistics.median(b) for p, lv, _, b, _, _ in rows}
    for path in paths:
        off, standard = medians.get((path, "off")), medians.get((path, "standard"))
        if off and standard:
            print(f"{path}: the standard gates add {standard - off:+.2f} s")
    print("\nbuild = the whole `petsage-builder build` process in a fresh workspace;")
    print("floor = one bare `python -m pytest` of the same suite, same repo, same interpreter;")
    print("frozen floor = the same run ending without its last garbage collection, as the")
    print("builder's test run ends (agent/box/gate.py): like with like;")
    print("target: ratio <= 1.3 (overhead <= 0.25 s)")


if __name__ == "__main__":
    main()
