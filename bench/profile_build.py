"""Where a build's time goes: one whole `petsage-builder build`, profiled from the inside.

Runs the CLI's `main()` for the seed's `smoke_test` in a fresh workspace, in a child process
started with `python -X importtime`, and prints one table:

- imports: the modules the build loaded, by package (from `-X importtime`, its own time);
- git: every git process the builder ran, its count and wall time;
- the stages the build reports (prepare, generate = the model call, write, integrate = the
  wiring, test = the test process after its release, verify, commit);
- the test process: when it started (the head start) and when it was released, from the
  start of the process;
- the report and the result's JSON;
- the whole process, and the floors (one bare pytest run of the built branch, and the same
  ending without its last garbage collection, as the builder's test run ends) for scale.

    python bench/profile_build.py [--model offline|openai] [--verify off|standard]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START = time.perf_counter()


def child(workspace: Path) -> None:
    """The build, with git processes, the test process and the report timed on the way."""
    marks: dict[str, float] = {}
    git_runs: list[float] = []
    real_run = subprocess.run

    def timed_run(*args: object, **kwargs: object) -> object:
        began = time.perf_counter()
        try:
            return real_run(*args, **kwargs)  # type: ignore[call-overload]
        finally:
            argv = args[0] if args else kwargs.get("args")
            if isinstance(argv, list) and argv and str(argv[0]).endswith("git"):
                git_runs.append(time.perf_counter() - began)

    subprocess.run = timed_run  # type: ignore[assignment]
    from agent.box import run as test_run

    start, release = test_run.TestRun.__init__, test_run.TestRun.release

    def started(self: object, *args: object, **kwargs: object) -> None:
        marks.setdefault("test process started", time.perf_counter() - START)
        start(self, *args, **kwargs)  # type: ignore[arg-type]

    def released(self: object, *args: object) -> None:
        marks["test process released"] = time.perf_counter() - START
        release(self, *args)  # type: ignore[arg-type]

    test_run.TestRun.__init__ = started  # type: ignore[method-assign]
    test_run.TestRun.release = released  # type: ignore[method-assign]
    from agent.cli import main

    payload = str(ROOT / "examples" / "smoke_test.md")
    real_stdout = sys.stdout
    with tempfile.TemporaryFile("w+") as captured:
        sys.stdout = captured
        # As the console script runs it (argv from the command line): it ends the same way.
        sys.argv = ["petsage-builder", "build", "--payload", payload]
        sys.argv += ["--workspace", str(workspace), "--json", "-q"]
        code = main()
        sys.stdout = real_stdout
        marks["main() returned"] = time.perf_counter() - START
        captured.seek(0)
        result = json.loads(captured.read())
    from agent.pipeline.report import render_report
    from agent.pipeline.result import BuildResult

    built = BuildResult.model_validate(result)
    began = time.perf_counter()
    render_report(built, repo_name=workspace.name, wiring="")
    report_seconds = time.perf_counter() - began
    print(
        "PROFILE "
        + json.dumps(
            {
                "code": code,
                "timings": result["timings"],
                "git": [len(git_runs), sum(git_runs)],
                "marks": marks,
                "report": report_seconds,
            }
        )
    )


def imports_by_package(stderr: str) -> dict[str, float]:
    """Seconds of `-X importtime` self time, by top-level package."""
    totals: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        parts = line.split("|")
        own = int(parts[0].split(":")[1])
        name = parts[2].strip().split(".")[0]
        totals[name] += own / 1e6
    return dict(totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("offline", "openai"), default="offline")
    parser.add_argument("--verify", default="off")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PETSAGE_", "OPENAI_"))}
    env.update(PYTHONPATH=str(ROOT), PETSAGE_VERIFY=args.verify)
    with tempfile.TemporaryDirectory(prefix="petsage-profile-") as scratch:
        workspace = Path(scratch) / "petsage_backend"
        command = [sys.executable, "-X", "importtime", __file__, "--child", str(workspace)]
        fake = None
        if args.model == "openai":
            sys.path.insert(0, str(ROOT))
            from tests.models.fake_openai import FakeOpenAI

            fake = FakeOpenAI().__enter__()
            fake.reply((ROOT / "tests" / "data" / "seed_smoke_test.txt").read_text())
            env.update(
                PETSAGE_MODEL="openai:gpt-4.1-mini",
                OPENAI_BASE_URL=fake.base_url,
                OPENAI_API_KEY="sk-bench-not-a-real-key",
            )
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        whole = time.perf_counter() - began
        if fake is not None:
            fake.__exit__(None, None, None)
        lines = [line for line in done.stdout.splitlines() if line.startswith("PROFILE ")]
        if not lines:
            tail = f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
            raise SystemExit(f"the build did not finish:\n{tail}")
        profile = json.loads(lines[0].removeprefix("PROFILE "))
        floor = _floor(workspace, Path(scratch))
    _print(args, profile, imports_by_package(done.stderr), whole, floor)


def _floor(workspace: Path, scratch: Path) -> tuple[float, float]:
    from build_bench import floor_once, target_python  # this folder's whole-build bench

    return floor_once(dict(os.environ), workspace, scratch, target_python(), "smoke_test")


def _print(
    args: argparse.Namespace,
    profile: dict[str, object],
    imports: dict[str, float],
    whole: float,
    floor: tuple[float, float],
) -> None:
    timings: dict[str, float] = profile["timings"]  # type: ignore[assignment]
    marks: dict[str, float] = profile["marks"]  # type: ignore[assignment]
    count, git_seconds = profile["git"]  # type: ignore[misc]
    print(f"model {args.model}, verify {args.verify}, load {os.getloadavg()[0]:.2f}\n")
    print("| part | seconds |")
    print("|---|---|")
    top = sorted(imports.items(), key=lambda item: -item[1])[:8]
    print(f"| imports, all ({len(imports)} packages) | {sum(imports.values()):.3f} |")
    for name, seconds in top:
        print(f"| imports: {name} | {seconds:.3f} |")
    print(f"| git: {count} processes | {git_seconds:.3f} |")
    for stage in ("prepare", "generate", "validate", "write", "integrate", "test", "verify"):
        print(f"| stage {stage} | {timings.get(stage, 0.0):.3f} |")
    print(f"| stage commit | {timings.get('commit', 0.0):.3f} |")
    print(f"| report (rendered again here) | {profile['report']:.3f} |")
    for name, at in marks.items():
        print(f"| at {name} | {at:.3f} |")
    print(f"| **whole process** | **{whole:.3f}** |")
    bare, frozen = floor
    print(f"| floor: bare pytest of the built branch | {bare:.3f} |")
    print(f"| frozen floor: the same, ending without its last garbage collection | {frozen:.3f} |")
    print(
        f"\nratio {whole / bare:.2f}x, {whole / frozen:.2f}x to the frozen floor "
        "(one run: use bench/build_bench.py for medians)"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]))
    else:
        main()
