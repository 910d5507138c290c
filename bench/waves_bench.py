"""Waves of concurrent builds through one service, with a CPU hog beside it (issue 28).

Each wave posts 15 builds at once: 12 features (half status endpoints, half six-field
resources) and three builds of one shared feature. A separate process spins on one core the
whole time (`--hogs`). For every build that does not succeed, the table says which stage and
which limit ended it (the result's `reason`, else its rounds and reasons), so a load failure
is told from a test failure without reading logs.

    python bench/waves_bench.py [--waves 3] [--workers N] [--hogs 1] [--verify standard]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.service.conftest import Server, wait_final  # noqa: E402

#: Six fields of every kind the offline generator builds (as examples/pet_profile.json).
RESOURCE_FIELDS: list[dict[str, Any]] = [
    {"name": "name", "type": "str", "min_length": 1, "max_length": 40},
    {"name": "age", "type": "int", "ge": 0, "le": 40},
    {"name": "weight_kg", "type": "float", "required": False, "ge": 0.5, "le": 90},
    {"name": "species", "type": "enum", "choices": ["dog", "cat", "bird"]},
    {"name": "vaccinated", "type": "bool"},
    {"name": "born", "type": "date", "required": False},
]


def wave_payloads(wave: int, copies: int = 1) -> list[dict[str, Any]]:
    """The issue's wave: 6 status features, 6 resources, 3 builds of one shared resource;
    `copies` times over (the shared feature's builds too), all posted at once."""
    payloads: list[dict[str, Any]] = []
    for copy in range(1, copies):
        payloads += [{**p, "feature": f"{p['feature']}_{copy}"} for p in wave_payloads(wave)]
    for number in range(6):
        payloads.append({"feature": f"w{wave}_status_{number}", "description": "Status check"})
        payloads.append(
            {
                "feature": f"w{wave}_resource_{number}",
                "description": "Keep a record for every pet",
                "requirements": {"fields": RESOURCE_FIELDS},
            }
        )
    shared = {
        "feature": "shared_profile",
        "description": "Keep a profile for every pet",
        "requirements": {"fields": RESOURCE_FIELDS},
    }
    return [*payloads, shared, shared, shared]


def hog() -> None:
    """One core's worth of CPU, until killed."""
    while True:
        pass


def why(body: dict[str, Any]) -> str:
    """Which stage and limit ended a failed build, from its stored result."""
    result = body  # GET /api/v1/builds/{id} answers the build's result
    reason = result.get("reason")
    if reason:
        figure = reason.get("figure")
        budget = reason.get("budget")
        return (
            f"{reason.get('kind')} at {reason.get('stage')}: {reason.get('limit')} "
            f"{figure} of {budget}; rounds "
            + ",".join(r["outcome"] for r in result.get("rounds", []))
        )
    rounds = ",".join(r["outcome"] for r in result.get("rounds", []))
    return f"rounds {rounds or '-'}: {'; '.join(result.get('reasons', []))[:400]}"


Row = tuple[int, str, str, float, float, str]


def run_waves(
    waves: int, workers: int, verify: str, hogs: int, env: dict[str, str], copies: int = 1
) -> list[Row]:
    """Every build of every wave: (wave, feature, status, seconds, test seconds, why it failed)."""
    rows: list[Row] = []
    spinning = [multiprocessing.Process(target=hog, daemon=True) for _ in range(hogs)]
    for process in spinning:
        process.start()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            server_env = {"PETSAGE_RATE_LIMIT": "0", "PETSAGE_VERIFY": verify, **env}
            server = Server(Path(scratch) / "petsage_backend", workers=workers, env=server_env)
            server.start()
            try:
                with server.client() as client:
                    for wave in range(1, waves + 1):
                        rows += one_wave(client, wave, copies)
            finally:
                server.stop()
    finally:
        for process in spinning:
            process.kill()
    return rows


def one_wave(client: Any, wave: int, copies: int = 1) -> list[Row]:
    began = time.perf_counter()
    posted = []
    for payload in wave_payloads(wave, copies):
        response = client.post("/api/v1/builds", json=payload)
        assert response.status_code == 202, response.text
        posted.append((payload["feature"], response.json()["id"]))
    rows = []
    for feature, build_id in posted:
        body = wait_final(client, build_id, timeout=3600)
        seconds = float(body.get("seconds") or time.perf_counter() - began)
        failed = body["status"] != "succeeded"
        tested = float((body.get("timings") or {}).get("test", 0.0))
        rows.append((wave, feature, body["status"], seconds, tested, why(body) if failed else ""))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waves", type=int, default=3)
    parser.add_argument("--workers", type=int, default=15, help="builds the service runs at once")
    parser.add_argument("--hogs", type=int, default=1, help="CPU-spinning processes beside it")
    parser.add_argument("--verify", default="standard")
    parser.add_argument("--copies", type=int, default=1, help="the wave's 15 builds, N times")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the service")
    args = parser.parse_args()
    os.environ.pop("PETSAGE_API_TOKENS", None)
    env = dict(item.split("=", 1) for item in args.env)
    began = time.perf_counter()
    rows = run_waves(args.waves, args.workers, args.verify, args.hogs, env, args.copies)
    elapsed = time.perf_counter() - began
    print(f"{len(rows)} builds in {args.waves} wave(s), {args.hogs} CPU hog(s), ", end="")
    print(f"{os.cpu_count()} cores, gates {args.verify}, {elapsed:.0f} s\n")
    print(f"{'wave':>4} | {'feature':<22} | {'status':<10} | {'seconds':>7} | {'test s':>6} | why")
    for wave, feature, status, seconds, tested, reason in rows:
        print(
            f"{wave:>4} | {feature:<22} | {status:<10} | {seconds:7.1f} | {tested:6.1f} | {reason}"
        )
    ok = sum(1 for row in rows if row[2] == "succeeded")
    slowest = max(row[4] for row in rows)
    print(f"\nsucceeded {ok}/{len(rows)}; the slowest test stage {slowest:.1f} s")


if __name__ == "__main__":
    main()
