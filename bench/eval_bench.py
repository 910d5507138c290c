"""The eval harness's own overhead: an eval attempt against a plain build of the same request.

For each task of a slice (default: three offline tasks of the builtin suite), N times, in the
same run: a plain `Builder.run` of the task's request in a fresh workspace (the floor), then
one `petsage-builder eval` attempt of the task (fresh workspace, setup builds, the build, the
acceptance run, the result, the resume cache, the recording). Prints medians in seconds: the
plain build, the attempt, the build inside it, its acceptance run, and the harness's overhead
(attempt - build - acceptance) with the ratio attempt / plain build. Then one resumed run of
the whole slice (every attempt from the cache), which should cost next to nothing.

    python bench/eval_bench.py [--runs N] [--tasks status_smoke,enum_choices,optional_fields]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tasks", default="status_smoke,enum_choices,optional_fields")
    args = parser.parse_args()

    from agent.evals.session import EvalPlan, run_eval
    from agent.evals.tasks import load_suite
    from agent.pipeline.loop import Builder
    from agent.settings import Settings

    names = args.tasks.split(",")
    tasks = [t for t in load_suite("builtin") if t.name in names]
    rows: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for run in range(args.runs):
            for task in tasks:
                figures = rows.setdefault(task.name, {})
                folder = root / f"plain-{task.name}-{run}"
                settings = Settings(workspace=folder / "ws", state_dir=folder / "state")
                for setup in task.setup:
                    Builder(settings).run(setup)
                began = time.perf_counter()
                Builder(settings).run(task.request)
                figures.setdefault("plain", []).append(time.perf_counter() - began)
                shutil.rmtree(folder, ignore_errors=True)
                plan = EvalPlan([task], "offline", "builtin", Settings(), root / f"eval-{run}")
                (result,) = run_eval(plan).results
                assert result.passed, result.reasons
                figures.setdefault("attempt", []).append(result.seconds)
                figures.setdefault("build", []).append(result.build_seconds)
                figures.setdefault("acceptance", []).append(result.acceptance_seconds)
        began = time.perf_counter()
        resumed = run_eval(EvalPlan(tasks, "offline", "builtin", Settings(), root / "eval-0"))
        resume_seconds = time.perf_counter() - began
        assert all(r.cached for r in resumed.results)

    print(f"medians of {args.runs} run(s), seconds\n")
    print("| task | plain build | eval attempt | build in it | acceptance | overhead | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, figures in rows.items():
        m = {key: statistics.median(values) for key, values in figures.items()}
        overhead = m["attempt"] - m["build"] - m["acceptance"]
        print(
            f"| {name} | {m['plain']:.2f} | {m['attempt']:.2f} | {m['build']:.2f} | "
            f"{m['acceptance']:.2f} | {overhead:.2f} | {m['attempt'] / m['plain']:.2f}x |"
        )
    print(f"\nresumed run of {len(tasks)} task(s), all cached: {resume_seconds:.3f} s")


if __name__ == "__main__":
    main()
