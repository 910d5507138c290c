"""A build a busy machine ended says so, in its record and its event stream (a real service)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.service.conftest import Server, wait_final


def test_a_failed_builds_record_and_stream_carry_the_stage_the_limit_and_the_figure(
    tmp_path: Path,
) -> None:
    # A wall-clock ceiling no test run can meet: the machine's fault, every time.
    env = {"PETSAGE_TEST_WALL_SECONDS": "0.05", "PETSAGE_VERIFY": "off"}
    server = Server(tmp_path / "petsage_backend", workers=1, env=env).start()
    try:
        with server.client() as client:
            body = {"feature": "busy_day", "description": "d"}
            build_id = client.post("/api/v1/builds", json=body).json()["id"]
            result = wait_final(client, build_id)
            with client.stream("GET", f"/api/v1/builds/{build_id}/events") as stream:
                events = [
                    json.loads(line[len("data: ") :])
                    for line in stream.iter_lines()
                    if line.startswith("data: ")
                ]
    finally:
        server.stop()
    assert result["status"] == "failed"
    reason = result["reason"]
    assert (reason["kind"], reason["stage"], reason["limit"]) == (
        "infrastructure",
        "tested",
        "wall_seconds",
    )
    assert reason["budget"] == 0.05 and reason["figure"] >= 0.05 and reason["retried"]
    assert result["model_round_trips"] == 1
    retried = [e for e in events if e["stage"] == "tested" and not e["ok"]]
    assert len(retried) == 1 and retried[0]["data"]["reason"]["retried"] is False
    final = events[-1]
    assert final["stage"] == "failed"
    assert final["data"]["reason"] == reason


def test_a_merge_the_machine_starves_twice_is_a_503_with_retry_after(tmp_path: Path) -> None:
    """The PR is built with room to spare; the service then gets a wall ceiling no suite run
    can meet: the merge answers 503 with Retry-After and the `infrastructure` error (never a
    409 as if the feature were wrong), and nothing moved."""
    from tests.test_cli import cli

    request = json.dumps({"feature": "busy_day", "description": "d", "open_pr": True})
    built = cli(
        "build", "--payload", "-", "--workspace", "ws", "--json", "-q", cwd=tmp_path, stdin=request
    )
    assert built.returncode == 0, built.stderr
    pull_id = json.loads(built.stdout)["pull_request"]["id"]
    env = {"PETSAGE_TEST_WALL_SECONDS": "0.05"}
    server = Server(tmp_path / "ws", workers=1, env=env).start()
    try:
        with server.client() as client:
            merged = client.post(f"/api/v1/pulls/{pull_id}/merge")
            pull = client.get(f"/api/v1/pulls/{pull_id}").json()
    finally:
        server.stop()
    assert merged.status_code == 503, merged.text
    assert merged.headers["Retry-After"] == "30"
    body = merged.json()["detail"]
    assert body["error"] == "infrastructure"
    [problem] = body["detail"]
    assert problem["field"].startswith("merge: wall_seconds")
    assert "the machine was too busy" in problem["reason"] and "try again" in problem["reason"]
    assert pull["state"] == "open" and pull["sync"] == "up_to_date"
