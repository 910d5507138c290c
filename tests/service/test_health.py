"""`GET /api/v1/health` on a real service: the admission limit, and builds running and queued."""

from __future__ import annotations

import time
from pathlib import Path

from tests.service.conftest import Server, wait_final


def test_the_service_runs_at_most_its_limit_and_queues_the_rest(tmp_path: Path) -> None:
    env = {"PETSAGE_MAX_CONCURRENT_BUILDS": "1", "PETSAGE_VERIFY": "off", "PETSAGE_RATE_LIMIT": "0"}
    server = Server(tmp_path / "petsage_backend", workers=4, env=env).start()
    try:
        with server.client() as client:
            ids = [
                client.post(
                    "/api/v1/builds", json={"feature": f"admitted_{n}", "description": "d"}
                ).json()["id"]
                for n in range(3)
            ]
            seen: list[dict[str, int]] = []
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                health = client.get("/api/v1/health").json()
                seen.append({k: health[k] for k in ("running", "queued", "limit")})
                if health["running"] == 0 and health["queued"] == 0:
                    break
                time.sleep(0.1)
            statuses = [wait_final(client, build_id)["status"] for build_id in ids]
    finally:
        server.stop()
    assert statuses == ["succeeded"] * 3
    assert {s["limit"] for s in seen} == {1}
    assert max(s["running"] for s in seen) == 1
    assert max(s["queued"] for s in seen) >= 1
    assert seen[-1] == {"running": 0, "queued": 0, "limit": 1}
