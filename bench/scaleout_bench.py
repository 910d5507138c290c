"""Distributed builds: builds/minute with 1, 2 and 4 Celery workers, and queue latency.

For each worker count: a fresh PostgreSQL database, a fresh queue, a bare remote, the API and N
`petsage-builder worker` processes (the offline model); then N warm-up builds, then `--builds`
builds of different features posted at once (50 by default: 50 queued builds).

- builds/min: builds ÷ (last end - first POST).
- queue latency: POST → the build's start (a worker claims it), p50 and p99. Most of it is the
  wait for a free worker; `dispatch` takes that wait away: start - max(POST, the moment the
  worker that ran it finished its previous build). Target: dispatch p99 ≤ 100 ms, no build lost.

Needs Redis and PostgreSQL (TEST_REDIS_URL, TEST_POSTGRES_URL as in the tests).

    python bench/scaleout_bench.py [--workers 1 2 4] [--builds 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from tests.scaleout import POSTGRES_ADMIN_URL, REDIS_URL  # noqa: E402
from tests.service.conftest import wait_final  # noqa: E402
from tests.service.test_scaleout import Cluster  # noqa: E402

SMOKE = {"description": "Ensure builder functional", "requirements": "none"}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(workers: int, builds: int) -> dict[str, float]:
    name = f"petsage_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            with tempfile.TemporaryDirectory(prefix="petsage-scale-") as scratch:
                env = {
                    "PETSAGE_DATABASE_URL": POSTGRES_ADMIN_URL.rpartition("/")[0] + f"/{name}",
                    "PETSAGE_BROKER_URL": REDIS_URL,
                    "PETSAGE_QUEUE": f"petsage-bench-{uuid.uuid4().hex[:8]}",
                }
                cluster = Cluster(Path(scratch), env)
                try:
                    for number in range(workers):
                        cluster.worker(f"w{number}")
                    return measure(cluster, workers, builds)
                finally:
                    cluster.stop()
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(cluster: Cluster, workers: int, builds: int) -> dict[str, float]:
    with cluster.api.client() as client:
        warm = [
            client.post("/api/v1/builds", json={**SMOKE, "feature": f"warm_{n}"}).json()["id"]
            for n in range(workers)
        ]
        for build_id in warm:
            wait_final(client, build_id)
        began = time.time()
        ids = [
            client.post("/api/v1/builds", json={**SMOKE, "feature": f"load_{n:03d}"}).json()["id"]
            for n in range(builds)
        ]
        results = [wait_final(client, build_id, timeout=1800) for build_id in ids]
        listed = client.get("/api/v1/builds", params={"limit": 200}).json()["items"]
    lost = sum(1 for result in results if result["status"] != "succeeded")
    by_id = {item["id"]: item for item in listed}
    # A build's record is last updated when its result is stored: the moment it ended.
    ended = {build_id: float(by_id[build_id]["updated_at"]) for build_id in ids + warm}
    waits, dispatch = [], []
    free_at: dict[str, float] = {}
    for item in sorted(
        (by_id[i] for i in ids + warm), key=lambda item: float(item["started_at"] or 0)
    ):
        start, posted = float(item["started_at"]), float(item["created_at"])
        if item["id"] in ids:
            waits.append(start - posted)
            dispatch.append(start - max(posted, free_at.get(item["worker"], 0.0)))
        free_at[item["worker"]] = ended[item["id"]]
    span = max(ended[i] for i in ids) - began
    return {
        "workers": workers,
        "builds": builds,
        "lost": lost,
        "per_minute": builds / span * 60,
        "wait_p50": statistics.median(waits) * 1000,
        "wait_p99": percentile(waits, 0.99) * 1000,
        "dispatch_p50": statistics.median(dispatch) * 1000,
        "dispatch_p99": percentile(dispatch, 0.99) * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--builds", type=int, default=50)
    args = parser.parse_args()
    rows = [run(workers, args.builds) for workers in args.workers]
    header = (
        f"{'workers':>7} {'builds':>6} {'lost':>4} {'builds/min':>10} {'speed-up':>8} "
        f"{'wait p50 ms':>11} {'wait p99 ms':>11} {'dispatch p50 ms':>15} {'dispatch p99 ms':>15}"
    )
    print(header)
    base = rows[0]["per_minute"]
    for row in rows:
        print(
            f"{row['workers']:>7} {row['builds']:>6} {row['lost']:>4} {row['per_minute']:>10.1f} "
            f"{row['per_minute'] / base:>7.2f}x {row['wait_p50']:>11.0f} {row['wait_p99']:>11.0f} "
            f"{row['dispatch_p50']:>15.1f} {row['dispatch_p99']:>15.1f}"
        )
    lost = sum(int(row["lost"]) for row in rows)
    worst = max(row["dispatch_p99"] for row in rows)
    print(f"\nbuilds lost: {lost}; dispatch p99 {worst:.1f} ms (target <= 100 ms)")
    return 0 if lost == 0 and worst <= 100 else 1


if __name__ == "__main__":
    sys.exit(main())
