"""Distributed builds: the API, real Celery worker processes, Redis, PostgreSQL, one bare remote.

Each worker has its own clone; they share only the remote, the broker and the store.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import git
from tests.scaleout import queue_name
from tests.service.conftest import ROOT, Server, stop_process, wait_final
from tests.service.test_app import (
    SMOKE,
    THREE_ROUNDS,
    cancel_while_testing,
    hostile_env,
    request_for,
    sse_events,
)


class Worker:
    """`petsage-builder worker` in its own process, with its own clone."""

    def __init__(
        self, name: str, workspace: Path, env: dict[str, str], concurrency: int = 1
    ) -> None:
        self.name = name
        self.workspace = workspace
        self.log = workspace.parent / f"{name}.log"
        environment = {
            k: v for k, v in os.environ.items() if not k.startswith(("PETSAGE_", "OPENAI_"))
        }
        environment.update(PYTHONPATH=str(ROOT), **env)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "agent.cli",
                    "worker",
                    "--workspace",
                    str(workspace),
                    "--name",
                    name,
                    "--concurrency",
                    str(concurrency),
                ],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while b" ready." not in self.log.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {name} did not start:\n{self.log.read_text()}")
            time.sleep(0.1)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        stop_process(self.process)


class Cluster:
    """An API and any number of workers around one bare remote."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.remote = root / "remote.git"
        git(root, "init", "-q", "--bare", str(self.remote))
        self.env = {**env, "PETSAGE_GIT_REMOTE": str(self.remote)}
        self.api = Server(root / "api", env={**self.env, "PETSAGE_JOBS": "celery"}).start()
        self.workers: list[Worker] = []

    def worker(self, name: str, concurrency: int = 1) -> Worker:
        started = Worker(name, self.root / name, self.env, concurrency)
        self.workers.append(started)
        return started

    def remote_branches(self) -> dict[str, str]:
        out = git(self.remote, "for-each-ref", "--format=%(refname:short) %(objectname)")
        return dict(line.split(" ", 1) for line in out.splitlines())

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.api.stop()


@pytest.fixture
def shared(postgres_url: str, redis_url: str) -> dict[str, str]:
    """What API and workers share: a fresh database, the test Redis, a queue of the test's own."""
    return {
        "PETSAGE_DATABASE_URL": postgres_url,
        "PETSAGE_BROKER_URL": redis_url,
        "PETSAGE_QUEUE": queue_name(),
    }


@pytest.fixture
def cluster(tmp_path: Path, shared: dict[str, str]) -> Iterator[Cluster]:
    running = Cluster(tmp_path, {**shared, "PETSAGE_LEASE_SECONDS": "3"})
    try:
        yield running
    finally:
        running.stop()


def test_two_workers_build_thirteen_features_and_push_every_branch(cluster: Cluster) -> None:
    cluster.worker("alpha")
    cluster.worker("beta")
    with cluster.api.client() as client:
        features = [f"spread_{n:02d}" for n in range(10)]
        ids = [client.post("/api/v1/builds", json=request_for(f)).json()["id"] for f in features]
        same = [
            client.post("/api/v1/builds", json={**SMOKE, "description": f"Round {n}"}).json()["id"]
            for n in range(3)
        ]
        results = [wait_final(client, build_id, timeout=600) for build_id in ids + same]
        listed = client.get("/api/v1/builds", params={"limit": 50}).json()["items"]
        with client.stream("GET", f"/api/v1/builds/{same[-1]}/events") as stream:
            stages = [event["event"] for event in sse_events(stream)]
        diff = client.get(f"/api/v1/builds/{ids[0]}/diff")
        health = client.get("/api/v1/health").json()
        # A local pull request, merged on the API's mirror, lands on the shared remote.
        pull = client.post(f"/api/v1/builds/{ids[0]}/pull-request").json()
        merged = client.post(f"/api/v1/pulls/{pull['id']}/merge").json()
    assert [r["status"] for r in results] == ["succeeded"] * 13, [r["reasons"] for r in results]
    # Both workers took builds; each build ran once.
    assert {item["worker"] for item in listed} == {"alpha", "beta"}
    assert {item["attempts"] for item in listed} == {1}
    branches = cluster.remote_branches()
    for feature, result in zip(features, results[:10], strict=True):
        assert branches[f"feature/{feature}"] == result["commit"]
    log = git(cluster.remote, "log", "--format=%s", "feature/smoke_test").splitlines()
    assert log == THREE_ROUNDS
    assert stages[0] == "received" and stages[-2:] == ["committed", "done"]
    assert diff.status_code == 200 and "src/features/spread_00/" in diff.text
    assert health["jobs"] == "celery" and health["queued"] == health["running"] == 0
    assert merged["state"] == "merged"
    assert git(cluster.remote, "rev-parse", "main").strip() == merged["merge_commit"]


def test_a_build_on_a_killed_worker_ends_and_commits_once(cluster: Cluster) -> None:
    doomed = cluster.worker("doomed")
    with cluster.api.client() as client:
        build_id = client.post("/api/v1/builds", json=request_for("survivor")).json()["id"]
        # A build cancelled while queued is skipped by whichever worker gets its message.
        cancelled = client.post("/api/v1/builds", json=request_for("never_built")).json()["id"]
        assert client.post(f"/api/v1/builds/{cancelled}/cancel").status_code == 202
        deadline = time.monotonic() + 60
        while client.get(f"/api/v1/builds/{build_id}").json()["status"] != "running":
            assert time.monotonic() < deadline, "the build never started"
            time.sleep(0.02)
        doomed.kill()
        cluster.worker("rescuer")
        result = wait_final(client, build_id, timeout=300)
        listed = {item["id"]: item for item in client.get("/api/v1/builds").json()["items"]}
        with client.stream("GET", f"/api/v1/builds/{build_id}/events") as stream:
            stages = [event["event"] for event in sse_events(stream)]
        assert wait_final(client, cancelled)["status"] == "cancelled"
    assert result["status"] in ("succeeded", "interrupted"), result["reasons"]
    # The rescuer ran it again, unless the doomed worker had pushed just before it died.
    assert (
        listed[build_id]["worker"] == "rescuer"
        or result["status"] == "interrupted"
        or any("recovered" in note for note in result["notes"])
    )
    assert stages[-1] in ("done", "failed")
    if result["status"] == "succeeded":
        assert listed[build_id]["attempts"] in (1, 2)
        log = git(cluster.remote, "log", "--format=%s", "feature/survivor").splitlines()
        # One commit, however many tries it took.
        assert log == [
            "feat(survivor): Ensure builder functional",
            "chore: PetSage backend skeleton",
        ]
    assert "feature/never_built" not in cluster.remote_branches()


def test_a_worker_needs_the_shared_store(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agent.cli", "worker", "--workspace", str(tmp_path / "w")],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("PETSAGE_")},
            "PYTHONPATH": str(ROOT),
            "PETSAGE_GIT_REMOTE": str(tmp_path / "remote.git"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "PETSAGE_DATABASE_URL" in result.stderr


def test_the_api_refuses_celery_without_a_shared_store(tmp_path: Path) -> None:
    server = Server(tmp_path / "api", env={"PETSAGE_JOBS": "celery"})
    with pytest.raises(RuntimeError, match="PETSAGE_DATABASE_URL"):
        server.start()


def test_the_api_names_an_unreachable_broker(tmp_path: Path, postgres_url: str) -> None:
    env = {
        "PETSAGE_JOBS": "celery",
        "PETSAGE_DATABASE_URL": postgres_url,
        "PETSAGE_BROKER_URL": "redis://127.0.0.1:9/0",
        "PETSAGE_GIT_REMOTE": str(tmp_path / "remote.git"),
    }
    server = Server(tmp_path / "api", env=env)
    with pytest.raises(RuntimeError, match="PETSAGE_BROKER_URL: cannot reach the broker"):
        server.start()


def test_cancel_reaches_a_build_running_on_a_worker(tmp_path: Path, shared: dict[str, str]) -> None:
    hostile = hostile_env(tmp_path, "    import time; time.sleep(120)\n", test_timeout=100)
    cluster = Cluster(tmp_path, {**shared, **hostile})
    try:
        cluster.worker("alpha")
        with cluster.api.client() as client:
            build_id = client.post("/api/v1/builds", json=SMOKE).json()["id"]
            result, stopped_in = cancel_while_testing(client, build_id)
        assert result["status"] == "cancelled", result["reasons"]
        assert stopped_in < 15
        assert "feature/smoke_test" not in cluster.remote_branches()
    finally:
        cluster.stop()


def test_workers_together_run_at_most_the_limit_and_health_shows_it(
    tmp_path: Path, shared: dict[str, str]
) -> None:
    """Two workers of two threads each, and a limit of one build at once: the builds run one
    after another, the others wait queued, and /health says so as it happens."""
    cluster = Cluster(
        tmp_path, {**shared, "PETSAGE_LEASE_SECONDS": "3", "PETSAGE_MAX_CONCURRENT_BUILDS": "1"}
    )
    try:
        cluster.worker("alpha", concurrency=2)
        cluster.worker("beta", concurrency=2)
        with cluster.api.client() as client:
            features = [f"one_at_a_time_{n}" for n in range(3)]
            ids = [
                client.post("/api/v1/builds", json=request_for(f)).json()["id"] for f in features
            ]
            seen: list[tuple[int, int, int]] = []
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                health = client.get("/api/v1/health").json()
                seen.append((health["running"], health["queued"], health["limit"]))
                if health["running"] == health["queued"] == 0:
                    break
                time.sleep(0.1)
            results = [wait_final(client, build_id) for build_id in ids]
    finally:
        cluster.stop()
    assert [r["status"] for r in results] == ["succeeded"] * 3, [r["reasons"] for r in results]
    assert {limit for _, _, limit in seen} == {1}
    assert max(running for running, _, _ in seen) == 1
    assert any(running == 1 and queued >= 1 for running, queued, _ in seen)
    # No two builds overlapped: each started after the one before it ended.
    spans = sorted((datetime.fromisoformat(r["started_at"]), r["finished_at"]) for r in results)
    ends = [datetime.fromisoformat(end) for _, end in spans]
    assert all(later[0] >= end for end, later in zip(ends, spans[1:], strict=False)), spans
