"""The HTTP service: accept latency under 16 concurrent clients, and builds per minute.

Accept latency of `POST /api/v1/builds` (p50/p99) against a floor: a bare FastAPI endpoint that
only answers 202, served the same way (uvicorn, its own process). Then builds/minute with 1 and
2 workers. Targets (issue 19): p99 accept <= 2x the floor's p99; 2 workers >= 1.8x the
builds/minute of 1.

    python bench/service_bench.py [--requests 320] [--builds 6]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.service.conftest import Server, free_port, wait_final  # noqa: E402

FLOOR_APP = textwrap.dedent(
    """
    from fastapi import FastAPI, Request
    app = FastAPI()

    @app.post("/api/v1/builds", status_code=202)
    async def accept(request: Request) -> dict[str, str]:
        await request.body()
        return {"id": "x", "status": "queued"}
    """
)


def hammer(url: str, total: int, clients: int, payload: dict[str, str]) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = total // clients

    def client(number: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            for index in range(per_client):
                body = {**payload, "feature": f"bench_{number}_{index}"}
                began = time.perf_counter()
                response = http.post("/api/v1/builds", json=body)
                elapsed = time.perf_counter() - began
                assert response.status_code == 202, response.text
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def floor_latencies(total: int, clients: int, payload: dict[str, str]) -> list[float]:
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "floor_app.py").write_text(FLOOR_APP)
        port = free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "floor_app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=scratch,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    httpx.post(f"{url}/api/v1/builds", json=payload, timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            return hammer(url, total, clients, payload)
        finally:
            process.terminate()
            process.wait()


#: The bench is one client posting as fast as it can: the per-client rate limit is off.
BENCH_ENV = {"PETSAGE_RATE_LIMIT": "0"}


def builds_per_minute(workers: int, builds: int, verify: str) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        env = {**BENCH_ENV, "PETSAGE_VERIFY": verify}
        server = Server(Path(scratch) / "petsage_backend", workers=workers, env=env).start()
        try:
            with server.client() as client:
                client.post("/api/v1/builds", json={"feature": "warm_up", "description": "d"})
                wait_final(client, client.get("/api/v1/builds").json()["items"][0]["id"])
                began = time.perf_counter()
                ids = [
                    client.post(
                        "/api/v1/builds", json={"feature": f"tput_{n}", "description": "d"}
                    ).json()["id"]
                    for n in range(builds)
                ]
                statuses = [wait_final(client, build_id, timeout=900)["status"] for build_id in ids]
                elapsed = time.perf_counter() - began
            assert statuses == ["succeeded"] * builds, statuses
            return builds / elapsed * 60
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=320)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--builds", type=int, default=6)
    parser.add_argument("--verify", default="off,standard", help="PETSAGE_VERIFY levels")
    args = parser.parse_args()
    os.environ.pop("PETSAGE_API_TOKENS", None)
    payload = {"feature": "x", "description": "Accept latency", "requirements": "none"}

    floor = floor_latencies(args.requests, args.clients, payload)
    with tempfile.TemporaryDirectory() as scratch:
        server = Server(Path(scratch) / "petsage_backend", workers=1, env=BENCH_ENV).start()
        try:
            ours = hammer(server.url, args.requests, args.clients, payload)
        finally:
            server.kill()
    print(f"accept latency, {args.requests} POSTs from {args.clients} concurrent clients (ms)\n")
    print(f"{'':>22} | {'p50':>8} | {'p99':>8} | {'mean':>8}")
    for name, values in (("bare FastAPI 202", floor), ("POST /api/v1/builds", ours)):
        print(
            f"{name:>22} | {percentile(values, 0.5) * 1000:8.2f} | "
            f"{percentile(values, 0.99) * 1000:8.2f} | {statistics.mean(values) * 1000:8.2f}"
        )
    print(f"\np99 ratio: {percentile(ours, 0.99) / percentile(floor, 0.99):.2f}x (target <= 2x)\n")

    print(
        f"builds/minute, {args.builds} smoke builds of different features, {os.cpu_count()} cores"
    )
    for level in (v.strip() for v in args.verify.split(",") if v.strip()):
        one = builds_per_minute(1, args.builds, level)
        two = builds_per_minute(2, args.builds, level)
        print(f"  verify {level:<8}: 1 worker {one:6.1f}, 2 workers {two:6.1f}", end="")
        print(f"   ratio {two / one:.2f}x (target >= 1.8x)")


if __name__ == "__main__":
    main()
