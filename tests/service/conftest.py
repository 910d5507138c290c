"""A real `petsage-builder serve` process on a loopback port, and an HTTP client for it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """The service in its own process, started and stopped (or killed) as a user would."""

    def __init__(
        self, workspace: Path, *, workers: int = 2, env: dict[str, str] | None = None
    ) -> None:
        self.workspace = workspace
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workspace.parent / f"server-{self.port}.log"

    def start(self) -> Server:
        environment = {
            k: v for k, v in os.environ.items() if not k.startswith(("PETSAGE_", "OPENAI_"))
        }
        environment.update(PYTHONPATH=str(ROOT), **self.env)
        command = [
            sys.executable,
            "-m",
            "agent.cli",
            "serve",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--workspace",
            str(self.workspace),
        ]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command, env=environment, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.log.read_text()}")

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a user would; SIGKILL if it does not end within a minute."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_final(client: httpx.Client, build_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/api/v1/builds/{build_id}").json()
        if body["status"] not in ("queued", "running"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"build {build_id} did not end in {timeout} s")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The service's store: its own SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return {}
    return {"PETSAGE_DATABASE_URL": request.getfixturevalue("postgres_url")}


@pytest.fixture
def server(tmp_path: Path, store_env: dict[str, str]) -> Iterator[Server]:
    running = Server(tmp_path / "petsage_backend", env=store_env).start()
    yield running
    running.stop()
