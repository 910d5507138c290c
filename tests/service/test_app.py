"""The service over real HTTP: a uvicorn process on loopback and an httpx client."""

import base64
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ONE_ROUND_STAGES, SEED_TEXT, git, refs
from tests.service.conftest import ROOT, Server, wait_final

SMOKE = {
    "feature": "smoke_test",
    "description": "Ensure builder functional",
    "requirements": "none",
}


#: feature/smoke_test after three builds posted as "Round 0", "Round 1", "Round 2": in order.
THREE_ROUNDS = [
    "feat(smoke_test): Round 2",
    "feat(smoke_test): Round 1",
    "feat(smoke_test): Round 0",
    "chore: PetSage backend skeleton",
]


def request_for(feature: str) -> dict[str, str]:
    return {**SMOKE, "feature": feature}


def sse_events(response: httpx.Response) -> list[dict[str, str]]:
    events, current = [], {}
    for line in response.iter_lines():
        if not line:
            if current:
                events.append(current)
            current = {}
            continue
        if line.startswith(":"):
            continue  # a comment: keep-alive
        key, _, value = line.partition(":")
        current[key] = value.strip()
    return events


def test_every_encoding_is_accepted_built_and_streamed(server: Server) -> None:
    b64 = base64.b64encode(json.dumps(request_for("via_payload")).encode()).decode()
    urlsafe = (
        base64.urlsafe_b64encode(json.dumps(request_for("via_raw_b64")).encode())
        .decode()
        .rstrip("=")
    )
    posts = [
        {"json": request_for("via_json")},
        {"json": {"payload": b64}},
        {"content": urlsafe, "headers": {"content-type": "text/plain"}},
        {"content": SEED_TEXT, "headers": {"content-type": "text/plain; charset=utf-8"}},
    ]
    with server.client() as client:
        ids = []
        for post in posts:
            response = client.post("/api/v1/builds", **post)  # type: ignore[arg-type]
            assert response.status_code == 202, response.text
            body = response.json()
            assert (
                body["status"] == "queued"
                and response.headers["location"] == f"/api/v1/builds/{body['id']}"
            )
            ids.append(body["id"])
        with client.stream("GET", f"/api/v1/builds/{ids[-1]}/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = sse_events(stream)
        for build_id in ids:
            assert wait_final(client, build_id)["status"] == "succeeded"
        stages = [e["event"] for e in events]
        assert stages == ONE_ROUND_STAGES
        assert [int(e["id"]) for e in events] == list(range(1, len(ONE_ROUND_STAGES) + 1))
        assert json.loads(events[-1]["data"])["build_id"] == ids[-1]
        with client.stream(
            "GET", f"/api/v1/builds/{ids[-1]}/events", headers={"Last-Event-ID": "6"}
        ) as stream:
            assert [e["event"] for e in sse_events(stream)] == [
                "tested",
                "verified",
                "committed",
                "done",
            ]
        result = client.get(f"/api/v1/builds/{ids[-1]}").json()
        assert result["verification"]["ok"] and result["verification"]["level"] == "standard"
        assert result["commit"] == git(server.workspace, "rev-parse", "feature/smoke_test").strip()
        assert result["tests"]["passed"] == 3
        report = client.get(f"/api/v1/builds/{ids[-1]}/report")
        assert (
            report.headers["content-type"].startswith("text/markdown")
            and "### **BUILD COMPLETE**" in report.text
        )
        diff = client.get(f"/api/v1/builds/{ids[-1]}/diff").text
        assert (
            "+++ b/src/features/smoke_test/smoke_test_router.py" in diff
            and "+app.include_router(smoke_test_router.router" in diff
        )
        listing = client.get("/api/v1/builds", params={"feature": "via_json"}).json()
        assert listing["total"] == 1 and listing["items"][0]["id"] == ids[0]
        assert [item["id"] for item in client.get("/api/v1/builds").json()["items"]] == ids[::-1]
        assert (
            client.get("/api/v1/builds", params={"status": "succeeded", "limit": 2}).json()["total"]
            == 4
        )


@pytest.mark.parametrize(
    ("post", "status", "field"),
    [
        ({"content": b"\xff\xfe", "headers": {"content-type": "text/plain"}}, 400, "body"),
        ({"content": "{not json", "headers": {"content-type": "application/json"}}, 400, "body"),
        ({"content": "hello there", "headers": {"content-type": "text/plain"}}, 400, "body"),
        ({"content": "x" * 300_000, "headers": {"content-type": "text/plain"}}, 413, "body"),
        (
            {"content": "<feature/>", "headers": {"content-type": "application/xml"}},
            415,
            "content-type",
        ),
        ({"json": {"feature": "Bad", "description": "d"}}, 422, "feature"),
        ({"json": {"feature": "pets", "description": ""}}, 422, "description"),
        (
            {
                "json": {
                    "feature": "pets",
                    "description": "d",
                    "requirements": {"fields": [{"name": "a1", "type": "blob"}]},
                }
            },
            422,
            "requirements.fields[0].type",
        ),
        ({"json": {"payload": "%%%"}}, 400, "payload"),
        (
            {
                "json": {
                    "feature": "pets",
                    "description": "d",
                    "requirements": "name: text\nage: integr >= 0",
                }
            },
            422,
            "requirements",
        ),
    ],
)
def test_bad_input_gets_its_status_and_creates_no_build(
    server: Server, post: dict, status: int, field: str
) -> None:
    with server.client() as client:
        response = client.post("/api/v1/builds", **post)
        assert response.status_code == status, response.text
        body = response.json()["detail"]
        assert body["error"] and any(p["field"] == field and p["reason"] for p in body["detail"]), (
            body
        )
        assert client.get("/api/v1/builds").json()["total"] == 0
    assert not server.workspace.exists()


def test_an_idempotency_key_returns_the_same_build(server: Server) -> None:
    with server.client() as client:
        first = client.post("/api/v1/builds", json=SMOKE, headers={"Idempotency-Key": "k1"})
        again = client.post("/api/v1/builds", json=SMOKE, headers={"Idempotency-Key": "k1"})
        assert (
            first.json()["id"] == again.json()["id"]
            and again.headers["idempotent-replayed"] == "true"
        )
        conflict = client.post(
            "/api/v1/builds", json=request_for("other_one"), headers={"Idempotency-Key": "k1"}
        )
        assert (
            conflict.status_code == 422
            and conflict.json()["detail"]["detail"][0]["field"] == "Idempotency-Key"
        )
        assert client.get("/api/v1/builds").json()["total"] == 1
        wait_final(client, first.json()["id"])


def test_twelve_features_at_once_and_three_builds_of_one(
    tmp_path: Path, store_env: dict[str, str]
) -> None:
    server = Server(tmp_path / "petsage_backend", workers=2, env=store_env).start()
    try:
        with server.client() as client:
            features = [f"feature_{n:02d}" for n in range(12)]
            ids = [
                client.post("/api/v1/builds", json=request_for(f)).json()["id"] for f in features
            ]
            same = [
                client.post("/api/v1/builds", json={**SMOKE, "description": f"Round {n}"}).json()[
                    "id"
                ]
                for n in range(3)
            ]
            results = [wait_final(client, build_id, timeout=600) for build_id in ids + same]
        assert [r["status"] for r in results] == ["succeeded"] * 15, [
            r["reasons"] for r in results
        ][:3]
        branches = refs(server.workspace)
        for feature in features:
            assert f"refs/heads/feature/{feature}" in branches
        log = git(server.workspace, "log", "--format=%s", "feature/smoke_test").splitlines()
        assert log == THREE_ROUNDS
    finally:
        server.stop()


def test_a_killed_server_loses_no_build(tmp_path: Path, store_env: dict[str, str]) -> None:
    workspace = tmp_path / "petsage_backend"
    server = Server(workspace, workers=1, env=store_env).start()
    with server.client() as client:
        ids = [
            client.post("/api/v1/builds", json=request_for(f"killed_{n}")).json()["id"]
            for n in range(4)
        ]
        deadline = time.monotonic() + 60
        while client.get(f"/api/v1/builds/{ids[0]}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    server.kill()
    restarted = Server(workspace, workers=2, env=store_env).start()
    try:
        with restarted.client() as client:
            results = [wait_final(client, build_id, timeout=300) for build_id in ids]
            statuses = [r["status"] for r in results]
            assert statuses[0] in ("interrupted", "succeeded")
            assert statuses[1:] == ["succeeded"] * 3
            if statuses[0] == "interrupted":
                assert "stopped while this build ran" in results[0]["reasons"][0]
                assert "refs/heads/feature/killed_0" not in refs(workspace)
            with client.stream("GET", f"/api/v1/builds/{ids[0]}/events") as stream:
                assert sse_events(stream)[-1]["event"] in ("done", "failed")
        assert git(workspace, "worktree", "list").count("\n") == 1
        leftovers = workspace.parent / ".petsage" / "petsage_backend" / "worktrees"
        assert not leftovers.exists() or list(leftovers.iterdir()) == []
    finally:
        restarted.stop()


def test_cancel_a_queued_build(tmp_path: Path, store_env: dict[str, str]) -> None:
    server = Server(tmp_path / "petsage_backend", workers=1, env=store_env).start()
    try:
        with server.client() as client:
            first = client.post("/api/v1/builds", json=request_for("first_one")).json()["id"]
            second = client.post("/api/v1/builds", json=request_for("second_one")).json()["id"]
            cancelled = client.post(f"/api/v1/builds/{second}/cancel")
            assert cancelled.status_code == 202
            assert wait_final(client, second)["status"] == "cancelled"
            assert wait_final(client, first)["status"] == "succeeded"
            assert client.post(f"/api/v1/builds/{first}/cancel").status_code == 409
            assert client.get(f"/api/v1/builds/{second}/report").status_code == 200
            assert client.get(f"/api/v1/builds/{second}/diff").status_code == 404
            assert client.get("/api/v1/builds/nope").status_code == 404
        assert "refs/heads/feature/second_one" not in refs(server.workspace)
    finally:
        server.stop()


def test_a_failed_builds_diff_is_its_attempt(tmp_path: Path, store_env: dict[str, str]) -> None:
    workspace = tmp_path / "petsage_backend"
    server = Server(workspace, workers=1, env=store_env).start()
    try:
        with server.client() as client:
            wait_final(
                client, client.post("/api/v1/builds", json=request_for("first_one")).json()["id"]
            )
            (workspace / "tests" / "test_broken.py").write_text(
                "def test_always_fails():\n    assert False\n"
            )
            git(workspace, "add", "-A")
            git(
                workspace,
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qm",
                "a broken test",
            )
            failed = wait_final(
                client, client.post("/api/v1/builds", json=request_for("second_one")).json()["id"]
            )
            assert failed["status"] == "failed"
            assert any("test_always_fails" in reason for reason in failed["reasons"])
            diff = client.get(f"/api/v1/builds/{failed['id']}/diff")
            assert (
                diff.status_code == 200
                and "+++ b/src/features/second_one/second_one_router.py" in diff.text
            )
    finally:
        server.stop()


def test_tokens_guard_every_build_route(tmp_path: Path, store_env: dict[str, str]) -> None:
    server = Server(
        tmp_path / "petsage_backend", env={**store_env, "PETSAGE_API_TOKENS": "alpha, beta"}
    ).start()
    try:
        with server.client() as client:
            assert client.get("/api/v1/health").status_code == 200
            denied = client.post("/api/v1/builds", json=SMOKE)
            assert denied.status_code == 401 and denied.headers["www-authenticate"] == "Bearer"
            assert (
                client.get("/api/v1/builds", headers={"Authorization": "Bearer wrong"}).status_code
                == 401
            )
            accepted = client.post(
                "/api/v1/builds", json=SMOKE, headers={"Authorization": "Bearer beta"}
            )
            assert accepted.status_code == 202
        with server.client(headers={"Authorization": "Bearer alpha"}) as authorised:
            assert wait_final(authorised, accepted.json()["id"])["status"] == "succeeded"
        build_id = accepted.json()["id"]
        with server.client() as client:
            # A token in a URL stays in logs and history: only the header is accepted.
            for token in ("wrong", "alpha"):
                assert (
                    client.get(
                        f"/api/v1/builds/{build_id}/events", params={"access_token": token}
                    ).status_code
                    == 401
                )
            with client.stream(
                "GET",
                f"/api/v1/builds/{build_id}/events",
                headers={"Authorization": "Bearer alpha"},
            ) as stream:
                assert stream.status_code == 200
                assert sse_events(stream)[-1]["event"] == "done"
    finally:
        server.stop()


def test_serving_beyond_loopback_needs_tokens(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent.cli",
            "serve",
            "--host",
            "0.0.0.0",
            "--workspace",
            str(tmp_path / "ws"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2 and "PETSAGE_API_TOKENS" in done.stderr


def test_openapi_documents_the_models_and_the_seed_example(server: Server) -> None:
    with server.client() as client:
        schema = client.get("/openapi.json").json()
        assert client.get("/docs").status_code == 200
    components = schema["components"]["schemas"]
    for name in (
        "FeatureRequest",
        "EncodedPayload",
        "BuildResult",
        "BuildAccepted",
        "ErrorBody",
        "ResourceSpec",
        "FieldSpec",
    ):
        assert name in components
    body = schema["paths"]["/api/v1/builds"]["post"]["requestBody"]["content"]
    assert body["application/json"]["examples"]["seed"]["value"]["feature"] == "smoke_test"
    assert "**Feature:** `smoke_test`" in body["text/plain"]["examples"]["seed"]["value"]
    assert set(schema["paths"]["/api/v1/builds"]["post"]["responses"]) >= {
        "202",
        "400",
        "401",
        "413",
        "415",
        "422",
    }


def hostile_env(tmp_path: Path, body: str, test_timeout: int) -> dict[str, str]:
    """Settings for a recorded model whose smoke_test test starts with `body`; one round."""
    seed = SEED_TEXT.replace(
        "def test_smoke_test_endpoint_success(client: TestClient):",
        f"def test_smoke_test_endpoint_success(client: TestClient):\n{body}",
    )
    recording = tmp_path / "hostile.json"
    recording.write_text(
        json.dumps(
            {
                "format": "petsage-record/1",
                "model": "hostile",
                "exchanges": [{"round": 1, "reply": seed}],
            }
        )
    )
    return {
        "PETSAGE_MODEL": f"replay:{recording}",
        "PETSAGE_TEST_TIMEOUT": str(test_timeout),
        "PETSAGE_MAX_ROUNDS": "1",
    }


def cancel_while_testing(client: httpx.Client, build_id: str) -> tuple[dict[str, Any], float]:
    """Cancel a build once its tests run; its final result and the seconds it took to stop."""
    # Follow the live stream until the files are in place and the tests start.
    with client.stream("GET", f"/api/v1/builds/{build_id}/events") as stream:
        for line in stream.iter_lines():
            if line == "event: integrated":
                break
    time.sleep(1)  # the tests are running now
    began = time.monotonic()
    assert client.post(f"/api/v1/builds/{build_id}/cancel").status_code == 202
    result = wait_final(client, build_id, timeout=60)
    return result, time.monotonic() - began


def test_cancel_stops_a_build_while_its_tests_run(
    tmp_path: Path, store_env: dict[str, str]
) -> None:
    env = hostile_env(tmp_path, "    import time; time.sleep(120)\n", test_timeout=100)
    server = Server(tmp_path / "petsage_backend", workers=1, env={**store_env, **env}).start()
    try:
        with server.client() as client:
            build_id = client.post("/api/v1/builds", json=SMOKE).json()["id"]
            result, stopped_in = cancel_while_testing(client, build_id)
        assert result["status"] == "cancelled", result["reasons"]
        assert stopped_in < 15
        assert "refs/heads/feature/smoke_test" not in refs(server.workspace)
    finally:
        server.stop()


def test_the_service_keeps_answering_while_a_hostile_build_runs(
    tmp_path: Path, store_env: dict[str, str]
) -> None:
    env = hostile_env(tmp_path, "    while True:\n        pass\n", test_timeout=10)
    server = Server(tmp_path / "petsage_backend", workers=1, env={**store_env, **env}).start()
    try:
        with server.client() as client:
            build_id = client.post("/api/v1/builds", json=SMOKE).json()["id"]
            slowest = 0.0
            deadline = time.monotonic() + 120
            while client.get(f"/api/v1/builds/{build_id}").json()["status"] in (
                "queued",
                "running",
            ):
                began = time.monotonic()
                assert client.get("/api/v1/health").status_code == 200
                slowest = max(slowest, time.monotonic() - began)
                assert time.monotonic() < deadline
                time.sleep(0.2)
            result = client.get(f"/api/v1/builds/{build_id}").json()
        assert result["status"] == "failed"
        assert any("timeout" in reason for reason in result["reasons"])
        assert slowest < 2.0
        assert "refs/heads/feature/smoke_test" not in refs(server.workspace)
    finally:
        server.stop()


def test_pull_requests_over_http(server: Server) -> None:
    with server.client() as client:
        build_id = client.post("/api/v1/builds", json=SMOKE).json()["id"]
        assert wait_final(client, build_id)["status"] == "succeeded"
        opened = client.post(f"/api/v1/builds/{build_id}/pull-request")
        assert opened.status_code == 200, opened.text
        pull = opened.json()
        assert pull["kind"] == "local" and pull["state"] == "open"
        assert client.get(f"/api/v1/builds/{build_id}").json()["pull_request"]["id"] == pull["id"]
        assert [p["id"] for p in client.get("/api/v1/pulls").json()] == [pull["id"]]
        merged = client.post(f"/api/v1/pulls/{pull['id']}/merge")
        assert merged.status_code == 200, merged.text and merged.json()["state"] == "merged"
        assert client.post(f"/api/v1/pulls/{pull['id']}/close").status_code == 409
        assert client.get("/api/v1/pulls/nope").status_code == 404
    assert "src/features/smoke_test/smoke_test_router.py" in git(
        server.workspace, "ls-tree", "-r", "--name-only", "main"
    )
