"""A pull request's refresh and merge against their floor: the target suite run once in the box.

Two resource features are built from one `main` with local PRs (once). Then, N times, from the
same branches and PRs:

- replay: the feature re-created on the new main (`agent.repo.rebase.replay`, no suite): git,
  the builder's wiring, the revision re-parented, the proof that the feature's files are unchanged;
- refresh: `pr refresh` of the PR behind main (the replay, the whole suite in the sandbox, the
  branch moved compare-and-swap, the PR pinned and its event recorded);
- merge behind: `pr merge` of a PR behind main (refresh, then the merge commit; the suite is not
  run twice on the same tree);
- floor: the whole suite on the replayed commit, in the sandbox, alone (`run_suite_on`).

Prints medians and the ratios to the floor: what following the base costs beyond testing it.

    python bench/refresh_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FEATURES = {"kennel_booking": "nights: int >=1 <=30", "diet_plan": "calories: int >=0 <=5000"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    from agent.box.run import run_suite_on
    from agent.pipeline.loop import Builder
    from agent.repo.pulls import LocalPulls
    from agent.repo.rebase import replay
    from agent.repo.refresh import refresh_pull
    from agent.settings import Settings

    with tempfile.TemporaryDirectory(prefix="petsage-refresh-bench-") as scratch:
        root = Path(scratch)
        settings = Settings(workspace=root / "repo", state_dir=root / "state", test_timeout=120)
        ids = {}
        for feature, fields in FEATURES.items():
            request = {"feature": feature, "description": feature, "requirements": fields}
            result = Builder(settings).run({**request, "open_pr": True})
            assert result.status == "succeeded" and result.pull_request, result.reasons
            ids[feature] = result.pull_request.id
        repo = Builder(settings).repo
        pulls = LocalPulls(repo)
        saved, start = pulls.path.read_text(), repo.branches()
        first = start["feature/kennel_booking"]

        def restore() -> None:
            for branch, commit in start.items():
                repo.run_git("update-ref", f"refs/heads/{branch}", commit)
            pulls.path.write_text(saved)
            repo.run_git("update-ref", "refs/heads/main", first)  # kennel_booking is merged

        times: dict[str, list[float]] = {"replay": [], "refresh": [], "merge behind": []}
        times["floor"] = []
        for run in range(runs):
            restore()
            clock = time.perf_counter()
            replayed = replay(repo, "diet_plan", first, start["feature/diet_plan"])
            times["replay"].append(time.perf_counter() - clock)
            with repo.worktree(replayed.commit, f"floor-{run}") as tree:
                clock = time.perf_counter()
                run_suite_on(tree.path, settings, repo, first)
                times["floor"].append(time.perf_counter() - clock)
            clock = time.perf_counter()
            refresh_pull(pulls, ids["diet_plan"], settings)
            times["refresh"].append(time.perf_counter() - clock)
            restore()
            clock = time.perf_counter()
            pulls.merge(ids["diet_plan"], settings)
            times["merge behind"].append(time.perf_counter() - clock)
    floor = statistics.median(times["floor"])
    print(f"{'step':<14} {'median s':>9} {'min s':>7} {'/ floor':>8}   ({runs} runs)")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<14} {median:>9.2f} {min(values):>7.2f} {median / floor:>8.2f}")


if __name__ == "__main__":
    main()
