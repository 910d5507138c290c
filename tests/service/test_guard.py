"""The service holds against hostile input and hostile neighbours, over real HTTP on loopback."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.pathological import BODIES, MESSAGES
from tests.service.conftest import ROOT, Server, wait_final
from tests.service.test_app import SMOKE, request_for, sse_events


@pytest.fixture
def lone(tmp_path: Path) -> Server:
    """One service with one worker (so a second build waits in the queue), SQLite store."""
    running = Server(tmp_path / "petsage_backend", workers=1).start()
    yield running  # type: ignore[misc]
    running.stop()


def test_pathological_input_is_a_quick_4xx_while_health_keeps_answering(lone: Server) -> None:
    latencies: list[float] = []
    stop = threading.Event()

    def watch_health() -> None:
        with lone.client() as watcher:
            while not stop.is_set():
                started = time.perf_counter()
                assert watcher.get("/api/v1/health").status_code == 200
                latencies.append(time.perf_counter() - started)
                time.sleep(0.01)

    watcher = threading.Thread(target=watch_health)
    watcher.start()
    slow: list[str] = []
    try:
        with lone.client() as client:
            client.get("/api/v1/health")  # warm the connection
            for name, (body, field) in BODIES.items():
                started = time.perf_counter()
                response = client.post(
                    "/api/v1/builds", content=body, headers={"content-type": "text/plain"}
                )
                elapsed = time.perf_counter() - started
                assert 400 <= response.status_code < 500, (name, response.text)
                fields = [p["field"] for p in response.json()["detail"]["detail"]]
                assert field in fields, (name, fields)
                if elapsed >= 0.1:
                    slow.append(f"{name}: {elapsed * 1000:.0f} ms")
            chat = client.post("/api/v1/chats").json()["id"]
            for name, message in MESSAGES.items():
                started = time.perf_counter()
                response = client.post(f"/api/v1/chats/{chat}/messages", json={"content": message})
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, (name, response.text)
                assert response.json()["build_id"] is None
                if elapsed >= 0.1:
                    slow.append(f"chat {name}: {elapsed * 1000:.0f} ms")
            assert client.get("/api/v1/builds").json()["total"] == 0
    finally:
        stop.set()
        watcher.join()
    assert not slow, slow
    assert latencies and max(latencies) < 0.1, sorted(latencies)[-5:]


def test_bodies_over_their_limit_are_413_naming_the_limit(lone: Server) -> None:
    with lone.client() as client:
        chat = client.post("/api/v1/chats").json()["id"]
        huge = {"content": "x" * 2_000_000}
        response = client.post(f"/api/v1/chats/{chat}/messages", json=huge)
        assert response.status_code == 413
        assert "PETSAGE_MAX_CHAT_BYTES" in response.json()["detail"]["detail"][0]["reason"]

        def chunks() -> object:
            # No Content-Length: the limit is enforced while reading.
            for _ in range(40):
                yield b"x" * 65_536

        response = client.post(
            "/api/v1/builds", content=chunks(), headers={"content-type": "text/plain"}
        )
        assert response.status_code == 413
        assert "PETSAGE_MAX_REQUEST_BYTES" in response.json()["detail"]["detail"][0]["reason"]
        assert client.get("/api/v1/builds").json()["total"] == 0


def test_cross_site_writes_and_foreign_hosts_are_refused(lone: Server) -> None:
    seed_text = "Feature: smoke_test\nDescription: Ensure builder functional\nOpen PR: yes"
    with lone.client() as client:
        for headers, header in (
            ({"Origin": "https://evil.example"}, "Origin"),
            ({"Origin": "null"}, "Origin"),
            ({"Sec-Fetch-Site": "cross-site"}, "Sec-Fetch-Site"),
            ({"Sec-Fetch-Site": "same-site", "Origin": "http://localhost:3000"}, "Sec-Fetch-Site"),
        ):
            response = client.post(
                "/api/v1/builds",
                content=seed_text,
                headers={"content-type": "text/plain", **headers},
            )
            assert response.status_code == 403, response.text
            body = response.json()["detail"]
            assert body["error"] == "cross_site_request"
            assert body["detail"][0]["field"] == header
        # DNS rebinding: a foreign name that resolves to 127.0.0.1 reads nothing, starts nothing.
        for method in ("GET", "POST"):
            response = client.request(
                method, "/api/v1/builds", headers={"Host": "rebind.evil.example"}, json=SMOKE
            )
            assert response.status_code == 400
            assert response.json()["detail"]["detail"][0]["field"] == "Host"
        assert client.get("/api/v1/builds").json()["total"] == 0
        # The service's own page (same origin) still posts.
        own = client.post(
            "/api/v1/chats", headers={"Origin": lone.url, "Sec-Fetch-Site": "same-origin"}
        )
        assert own.status_code == 201


def test_a_second_service_on_the_same_state_exits_2_and_the_first_builds_on(
    lone: Server,
) -> None:
    with lone.client() as client:
        build_id = client.post("/api/v1/builds", json=SMOKE).json()["id"]
        second = Server(lone.workspace, workers=1)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "agent.cli",
                "serve",
                "--port",
                str(second.port),
                "--workspace",
                str(lone.workspace),
            ],
            env={
                "PATH": "/usr/bin:/bin",
                "PYTHONPATH": str(ROOT),
                "HOME": str(lone.workspace.parent),
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert f"pid {lone.process.pid}" in done.stderr  # type: ignore[union-attr]
        # A CLI build on the same workspace is refused too, touching nothing.
        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "agent.cli",
                "build",
                "--payload",
                "-",
                "--workspace",
                str(lone.workspace),
            ],
            input=b'{"feature": "other_one", "description": "d", "requirements": "none"}',
            env={
                "PATH": "/usr/bin:/bin",
                "PYTHONPATH": str(ROOT),
                "HOME": str(lone.workspace.parent),
            },
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert cli.returncode == 2 and b"in use by pid" in cli.stderr, cli.stderr
        assert wait_final(client, build_id)["status"] == "succeeded"


def _doom(database: Path, feature: str, statuses: str) -> None:
    """A real SQLite failure: storing `feature`'s end in one of `statuses` aborts."""
    with sqlite3.connect(database) as db:
        db.execute(
            f"CREATE TRIGGER doom_{feature} BEFORE UPDATE OF status ON builds "
            f"WHEN NEW.feature = '{feature}' AND NEW.status IN ({statuses}) "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error (simulated by a trigger)'); END"
        )


def test_a_store_failing_on_finish_ends_the_build_and_the_next_runs(lone: Server) -> None:
    database = lone.workspace.parent / ".petsage" / "petsage_backend" / "builds.db"
    with lone.client() as client:
        assert client.get("/api/v1/health").json()["status"] == "ok"
        _doom(database, "doomed_one", "'succeeded'")
        doomed = client.post("/api/v1/builds", json=request_for("doomed_one")).json()["id"]
        after = client.post("/api/v1/builds", json=request_for("after_one")).json()["id"]
        ended = wait_final(client, doomed)
        assert ended["status"] == "failed"
        assert "disk I/O error" in ended["reasons"][0]
        assert wait_final(client, after)["status"] == "succeeded"
        # When even the failure cannot be stored, /health says so, and the pool lives on.
        _doom(database, "lost_one", "'succeeded', 'failed'")
        lost = client.post("/api/v1/builds", json=request_for("lost_one")).json()["id"]
        deadline = time.monotonic() + 120
        while client.get("/api/v1/health").json()["status"] == "ok":
            assert time.monotonic() < deadline, "health never said degraded"
            time.sleep(0.2)
        health = client.get("/api/v1/health").json()
        assert health["status"] == "degraded"
        assert any("the build store failed" in p and lost in p for p in health["problems"])
        last = client.post("/api/v1/builds", json=request_for("last_one")).json()["id"]
        assert wait_final(client, last)["status"] == "succeeded"
        assert client.get("/api/v1/health").json()["status"] == "ok"


def test_the_stream_of_a_build_cancelled_while_queued_ends_at_once(lone: Server) -> None:
    with lone.client() as client:
        first = client.post("/api/v1/builds", json=request_for("first_one")).json()["id"]
        queued = client.post("/api/v1/builds", json=request_for("second_one")).json()["id"]
        assert client.get(f"/api/v1/builds/{queued}").json()["status"] == "queued"
        assert client.post(f"/api/v1/builds/{queued}/cancel").status_code == 202
        started = time.perf_counter()
        with client.stream("GET", f"/api/v1/builds/{queued}/events") as stream:
            events = sse_events(stream)
        assert time.perf_counter() - started < 1
        assert events[-1]["event"] == "failed" and "cancelled" in events[-1]["data"]
        wait_final(client, first)


def test_streams_are_bounded_per_client(tmp_path: Path) -> None:
    server = Server(
        tmp_path / "petsage_backend", workers=1, env={"PETSAGE_MAX_STREAMS_PER_CLIENT": "1"}
    ).start()
    try:
        with server.client() as client, server.client() as other:
            build_id = client.post("/api/v1/builds", json=SMOKE).json()["id"]
            with client.stream("GET", f"/api/v1/builds/{build_id}/events") as open_one:
                assert open_one.status_code == 200
                refused = other.get(f"/api/v1/builds/{build_id}/events")
                assert refused.status_code == 429
                sse_events(open_one)
            # Its slot is given back as the stream ends (a moment after its last byte).
            deadline = time.monotonic() + 2
            while other.get(f"/api/v1/builds/{build_id}/events").status_code == 429:
                assert time.monotonic() < deadline, "the slot was never given back"
                time.sleep(0.05)
    finally:
        server.stop()


def test_posting_too_fast_is_429_with_retry_after(tmp_path: Path) -> None:
    server = Server(
        tmp_path / "petsage_backend", workers=1, env={"PETSAGE_RATE_LIMIT": "2"}
    ).start()
    try:
        with server.client() as client:
            bad = {"content": "{", "headers": {"content-type": "application/json"}}
            assert [client.post("/api/v1/builds", **bad).status_code for _ in range(3)] == [
                400,
                400,
                429,
            ]
            limited = client.post("/api/v1/builds", **bad)
            assert 1 <= int(limited.headers["Retry-After"]) <= 60
            assert client.get("/api/v1/health").status_code == 200
    finally:
        server.stop()


def test_credentials_in_the_remote_never_leave_the_process(tmp_path: Path) -> None:
    secret = "ghp_SuperSecret123"
    remote = f"https://x-access-token:{secret}@127.0.0.1:9/owner/repo.git"
    env = {
        "PETSAGE_GIT_REMOTE": remote,
        "PETSAGE_FORGE_TOKEN": "forge-token-never-shown",
        "PETSAGE_FORGE_REPO": "owner/repo",
        "PETSAGE_FORGE_API_URL": "http://127.0.0.1:9",
    }
    server = Server(tmp_path / "petsage_backend", workers=1, env=env).start()
    try:
        with server.client() as client:
            request = {**SMOKE, "open_pr": True}
            build_id = client.post("/api/v1/builds", json=request).json()["id"]
            result = wait_final(client, build_id)
            seen = [str(result)]
            seen.append(client.get(f"/api/v1/builds/{build_id}/report").text)
            with client.stream("GET", f"/api/v1/builds/{build_id}/events") as stream:
                seen.append(str(sse_events(stream)))
            pulls = client.get("/api/v1/pulls")
            seen.append(pulls.text)
            for pull in pulls.json() if isinstance(pulls.json(), list) else []:
                merged = client.post(f"/api/v1/pulls/{pull['id']}/merge")
                seen.append(merged.text)
    finally:
        server.stop()
    seen.append(server.log.read_text())
    everything = "\n".join(seen)
    assert "127.0.0.1:9" in everything, "the remote was never used"
    assert secret not in everything
    assert "forge-token-never-shown" not in everything


def test_the_terminal_chat_takes_its_token_from_the_environment(tmp_path: Path) -> None:
    server = Server(tmp_path / "petsage_backend", env={"PETSAGE_API_TOKENS": "alpha"}).start()
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}

    def chat(*flags: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agent.cli", "chat", "--url", server.url, *flags],
            input="status\nexit\n",
            env={**base, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    try:
        done = chat(env={"PETSAGE_API_TOKEN": "alpha"})
        assert done.returncode == 0, done.stderr
        assert "No build yet in this chat." in done.stdout
        assert chat("--token", "alpha", env={}).returncode == 2  # never on argv
        assert chat(env={}).returncode != 0
    finally:
        server.stop()
