"""The HTTP service: accept latency under 16 concurrent clients, and builds per minute.

Accept latency of `POST /api/v1/builds` (p50/p99) against a floor: a bare FastAPI endpoint that
only answers 202, served the same way (uvicorn, its own process), in alternating rounds (the
median of the rounds' p99 ratios is the figure). Each client's first requests are not measured,
on both servers. Then builds/minute with 1 and 2 workers, with the CPU seconds a build costs
(the machine's busy CPU time over the builds, divided by their number); and, where there are 2
cores or more, one worker held to one core against two workers on two: whether a worker per
core scales. Targets (issue 19):
p99 accept <= 2x the floor's p99; 2 workers >= 1.8x the builds/minute of 1.

    python bench/service_bench.py [--requests 320] [--repeats 3] [--builds 6]
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

from bench.waves_bench import RESOURCE_FIELDS  # noqa: E402
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


#: Unmeasured requests per client first (its connection, the server's first requests), on both
#: servers alike: the latencies are those of a running server.
WARM_UP = 2


def hammer(url: str, total: int, clients: int, payload: dict[str, str]) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = total // clients

    def client(number: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            for index in range(-WARM_UP, per_client):
                body = {**payload, "feature": f"bench_{number}_{index + WARM_UP}"}
                began = time.perf_counter()
                response = http.post("/api/v1/builds", json=body)
                elapsed = time.perf_counter() - began
                assert response.status_code == 202, response.text
                if index >= 0:  # the first requests of each client warm both ends up, unmeasured
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


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy so far (user, nice, system, interrupts):
    a build's processes start in new PID namespaces, beyond any one process's accounting."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def builds_per_minute(
    workers: int, builds: int, verify: str, cpus: set[int] | None = None
) -> tuple[float, float]:
    """(builds/minute, CPU seconds per build) of a service with `workers`, on `cpus` if given."""
    with tempfile.TemporaryDirectory() as scratch:
        env = {**BENCH_ENV, "PETSAGE_VERIFY": verify}
        previous = os.sched_getaffinity(0)
        if cpus is not None:
            os.sched_setaffinity(0, cpus)  # inherited by the server and everything it starts
        try:
            server = Server(Path(scratch) / "petsage_backend", workers=workers, env=env).start()
        finally:
            os.sched_setaffinity(0, previous)
        try:
            with server.client() as client:
                client.post("/api/v1/builds", json={"feature": "warm_up", "description": "d"})
                wait_final(client, client.get("/api/v1/builds").json()["items"][0]["id"])
                began, cpu = time.perf_counter(), busy_cpu_seconds()
                ids = [
                    client.post(
                        "/api/v1/builds", json={"feature": f"tput_{n}", "description": "d"}
                    ).json()["id"]
                    for n in range(builds)
                ]
                statuses = [wait_final(client, build_id, timeout=900)["status"] for build_id in ids]
                elapsed = time.perf_counter() - began
                cpu = busy_cpu_seconds() - cpu
            assert statuses == ["succeeded"] * builds, statuses
            return builds / elapsed * 60, cpu / builds
        finally:
            server.stop()


def concurrent_builds(count: int, verify: str) -> tuple[float, float, float, int]:
    """(builds/minute, p50 and p99 seconds from post to end, builds not succeeded) of `count`
    builds posted at once to one service with its default admission limit."""
    with tempfile.TemporaryDirectory() as scratch:
        env = {**BENCH_ENV, "PETSAGE_VERIFY": verify}
        workers = os.cpu_count() or 1  # the service's own default
        server = Server(Path(scratch) / "petsage_backend", workers=workers, env=env).start()
        try:
            with server.client() as client:
                client.post("/api/v1/builds", json={"feature": "warm_up", "description": "d"})
                wait_final(client, client.get("/api/v1/builds").json()["items"][0]["id"])
                began = time.perf_counter()
                posted: dict[str, float] = {}
                for n in range(count):
                    body: dict[str, object] = {"feature": f"load_{n}", "description": "d"}
                    if n % 2:
                        body["requirements"] = {"fields": RESOURCE_FIELDS}
                    posted[client.post("/api/v1/builds", json=body).json()["id"]] = (
                        time.perf_counter()
                    )
                ended, failed = watch(client, posted)
                elapsed = time.perf_counter() - began
        finally:
            server.stop()
    times = [ended[build_id] - at for build_id, at in posted.items()]
    return count / elapsed * 60, percentile(times, 0.5), percentile(times, 0.99), failed


def watch(client: httpx.Client, posted: dict[str, float]) -> tuple[dict[str, float], int]:
    """When each posted build was first seen ended (looked at every 0.25 s), and how many of
    them did not succeed."""
    ended: dict[str, float] = {}
    failed = 0
    deadline = time.monotonic() + 3600
    while len(ended) < len(posted) and time.monotonic() < deadline:
        for build_id in posted:
            if build_id in ended:
                continue
            status = client.get(f"/api/v1/builds/{build_id}").json()["status"]
            if status not in ("queued", "running"):
                ended[build_id] = time.perf_counter()
                failed += status != "succeeded"
        time.sleep(0.25)
    assert len(ended) == len(posted), "builds did not end within an hour"
    return ended, failed


def concurrency_table(levels: list[int], verify: str) -> None:
    print(f"\nbuilds posted at once, {os.cpu_count()} cores, gates {verify}, default admission")
    print(f"{'at once':>8} | {'builds/min':>10} | {'p50 s':>7} | {'p99 s':>7} | not succeeded")
    first = None
    for count in levels:
        rate, p50, p99, failed = concurrent_builds(count, verify)
        first = first or rate
        print(
            f"{count:>8} | {rate:10.1f} | {p50:7.1f} | {p99:7.1f} | {failed}"
            f"   ({rate / first:.2f}x the builds/minute of {levels[0]})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=320)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--builds", type=int, default=6)
    parser.add_argument("--verify", default="off,standard", help="PETSAGE_VERIFY levels")
    parser.add_argument("--repeats", type=int, default=3, help="accept-latency rounds")
    parser.add_argument("--concurrency", default="1,4,15,30", help="builds posted at once")
    parser.add_argument("--only", choices=("concurrency",), help="run only this part")
    args = parser.parse_args()
    os.environ.pop("PETSAGE_API_TOKENS", None)
    levels = [int(v) for v in args.concurrency.split(",") if v.strip()]
    if args.only == "concurrency":
        concurrency_table(levels, "standard")
        return
    payload = {"feature": "x", "description": "Accept latency", "requirements": "none"}

    rounds = []
    for _ in range(args.repeats):  # alternately: the machine's load moves both alike
        floor = floor_latencies(args.requests, args.clients, payload)
        with tempfile.TemporaryDirectory() as scratch:
            server = Server(Path(scratch) / "petsage_backend", workers=1, env=BENCH_ENV).start()
            try:
                ours = hammer(server.url, args.requests, args.clients, payload)
            finally:
                server.kill()
        rounds.append((floor, ours))
    print(
        f"accept latency, {args.requests} POSTs from {args.clients} concurrent clients (ms), "
        f"{WARM_UP} unmeasured first per client; {args.repeats} rounds\n"
    )
    print(f"{'':>28} | {'p50':>8} | {'p99':>8} | {'mean':>8} | p99 ratio")
    ratios = []
    for number, (floor, ours) in enumerate(rounds, 1):
        ratio = percentile(ours, 0.99) / percentile(floor, 0.99)
        ratios.append(ratio)
        for name, values in ((f"{number}: bare FastAPI 202", floor), ("POST /api/v1/builds", ours)):
            print(
                f"{name:>28} | {percentile(values, 0.5) * 1000:8.2f} | "
                f"{percentile(values, 0.99) * 1000:8.2f} | {statistics.mean(values) * 1000:8.2f}",
                end="",
            )
            print(f" | {ratio:.2f}x" if values is ours else " |")
    median = statistics.median(ratios)
    print(f"\np99 ratio, median of {args.repeats}: {median:.2f}x (target <= 2x)\n")

    cores = sorted(os.sched_getaffinity(0))
    print(f"builds/minute, {args.builds} smoke builds of different features, {len(cores)} cores")
    for level in (v.strip() for v in args.verify.split(",") if v.strip()):
        one, one_cpu = builds_per_minute(1, args.builds, level)
        two, two_cpu = builds_per_minute(2, args.builds, level)
        print(f"  verify {level:<8}: 1 worker {one:6.1f}, 2 workers {two:6.1f}", end="")
        print(f"   ratio {two / one:.2f}x (target >= 1.8x)", end="")
        print(f"   CPU s/build {one_cpu:.2f} / {two_cpu:.2f}")
        if len(cores) >= 2:
            pinned, _ = builds_per_minute(1, args.builds, level, {cores[0]})
            print(f"  verify {level:<8}: 1 worker on 1 core {pinned:6.1f}, ", end="")
            print(f"2 workers on 2 cores {two:6.1f}  ratio {two / pinned:.2f}x (a worker per core)")
    concurrency_table(levels, "standard")


if __name__ == "__main__":
    main()
