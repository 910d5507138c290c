"""A pull request's refresh and merge against their floor: the target suite run once in the box.

Two resource features are built from one `main` with local PRs (once). Then, N times, from the
same branches and PRs:

- replay: the feature re-created on the new main (`agent.review.rebase.replay`, no suite): git,
  the builder's wiring, the revision re-parented, the proof that the feature's files are unchanged;
- refresh: `pr refresh` of the PR behind main (the replay, the whole suite in the sandbox, the
  branch moved compare-and-swap, the PR pinned and its event recorded);
- merge behind: `pr merge` of a PR behind main (refresh, then the merge commit; the suite is not
  run twice on the same tree);
- floor: the whole suite on the replayed commit, in the sandbox, alone (`run_suite_on`: the
  merge check's suite run).

Then the merge check on a busy machine (issue 28), with `--hogs` CPU-spinning processes beside
it: the floor and the merge behind again. For every step the table gives the median, its ratio
to the quiet floor, the suite runs the machine starved past their wall ceiling and that were run
again (`retried`), and the steps that still ended with the machine's `infrastructure` error
(`busy`: never a refusal of the feature). `--wall` lowers the ceiling to see the retry.

    python bench/refresh_bench.py [--runs N] [--hogs 2] [--wall SECONDS]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FEATURES = {"kennel_booking": "nights: int >=1 <=30", "diet_plan": "calories: int >=0 <=5000"}


@dataclass
class Step:
    seconds: list[float] = field(default_factory=list)
    retried: int = 0
    busy: int = 0


class Retries(logging.Handler):
    """Counts the suite runs `run_suite_on` tries again (its warning on `petsage.box`)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "trying again" in record.getMessage():
            self.count += 1


def hog() -> None:
    """One core's worth of CPU, until killed."""
    while True:
        pass


@contextmanager
def hogs(count: int) -> Iterator[None]:
    spinning = [multiprocessing.Process(target=hog, daemon=True) for _ in range(count)]
    for process in spinning:
        process.start()
    try:
        yield
    finally:
        for process in spinning:
            process.kill()
            process.join()


def timed(step: Step, retries: Retries, action: Callable[[], object]) -> None:
    """Run `action` once into `step`: its time, its retries, whether the machine ended it."""
    from agent.errors import InfrastructureError

    before = retries.count
    clock = time.perf_counter()
    try:
        action()
    except InfrastructureError:
        step.busy += 1
    step.seconds.append(time.perf_counter() - clock)
    step.retried += retries.count - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--hogs", type=int, default=2, help="CPU hogs beside the busy steps")
    parser.add_argument("--wall", type=float, help="the wall ceiling (PETSAGE_TEST_WALL_SECONDS)")
    args = parser.parse_args()
    from agent.box.run import run_suite_on
    from agent.pipeline.loop import Builder
    from agent.review.pulls import LocalPulls
    from agent.review.rebase import replay
    from agent.review.refresh import refresh_pull
    from agent.settings import Settings

    retries = Retries()
    logging.getLogger("petsage.box").addHandler(retries)
    steps = {name: Step() for name in ("replay", "refresh", "merge behind", "floor")}
    busy_floor, busy_merge = f"floor, {args.hogs} hogs", f"merge behind, {args.hogs} hogs"
    steps[busy_floor], steps[busy_merge] = Step(), Step()
    with tempfile.TemporaryDirectory(prefix="petsage-refresh-bench-") as scratch:
        root = Path(scratch)
        settings = Settings(workspace=root / "repo", state_dir=root / "state", test_timeout=120)
        ids = {}
        for feature, fields in FEATURES.items():
            request = {"feature": feature, "description": feature, "requirements": fields}
            result = Builder(settings).run({**request, "open_pr": True})
            assert result.status == "succeeded" and result.pull_request, result.reasons
            ids[feature] = result.pull_request.id
        settings.test_wall_seconds = args.wall
        repo = Builder(settings).repo
        pulls = LocalPulls(repo)
        saved, start = pulls.path.read_text(), repo.branches()
        first = start["feature/kennel_booking"]

        def restore() -> None:
            for branch, commit in start.items():
                repo.run_git("update-ref", f"refs/heads/{branch}", commit)
            pulls.path.write_text(saved)
            repo.run_git("update-ref", "refs/heads/main", first)  # kennel_booking is merged

        def floor(name: str, run: int, commit: str) -> None:
            with repo.worktree(commit, f"floor-{run}-{len(steps[name].seconds)}") as tree:
                timed(steps[name], retries, lambda: run_suite_on(tree.path, settings, repo, first))

        def merge(name: str) -> None:
            restore()
            timed(steps[name], retries, lambda: pulls.merge(ids["diet_plan"], settings))

        for run in range(args.runs):
            restore()
            clock = time.perf_counter()
            replayed = replay(repo, "diet_plan", first, start["feature/diet_plan"])
            steps["replay"].seconds.append(time.perf_counter() - clock)
            floor("floor", run, replayed.commit)
            timed(
                steps["refresh"], retries, lambda: refresh_pull(pulls, ids["diet_plan"], settings)
            )
            merge("merge behind")
            with hogs(args.hogs):
                floor(busy_floor, run, replayed.commit)
                merge(busy_merge)
    quiet = statistics.median(steps["floor"].seconds)
    print(
        f"{'step':<22} {'median s':>9} {'min s':>7} {'/ floor':>8} {'retried':>8} {'busy':>5}"
        f"   ({args.runs} runs, wall ceiling {args.wall or 'default'})"
    )
    for name, step in steps.items():
        median = statistics.median(step.seconds)
        print(
            f"{name:<22} {median:>9.2f} {min(step.seconds):>7.2f} {median / quiet:>8.2f} "
            f"{step.retried:>8} {step.busy:>5}"
        )


if __name__ == "__main__":
    main()
