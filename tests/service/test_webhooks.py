"""GitHub webhooks over real HTTP: signed deliveries to a real service, a GitHub stand-in, a bare
remote. An issue becomes a pushed branch, a PR and a check run; `/petsage` on the PR a commit;
a push to main refreshes the builder's PR that fell behind."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.github.events import MARKER, signature
from tests.conftest import git
from tests.fake_github import FakeGitHub, merge_on_github
from tests.service.conftest import Server, wait_final
from tests.test_cli import cli

SECRET = "webhook-secret-for-tests"
TOKEN = "ghp_webhook_token_456"
REPO = "acme/petsage"
PET_PROFILE = """\
Please build this.

- **Feature:** `pet_profile`
- **Requirements:**
  - name: str len>=1 len<=40
  - age: int >=0 <=40
"""


@pytest.fixture
def forge(tmp_path: Path) -> Iterator[tuple[Server, FakeGitHub, Path]]:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    with FakeGitHub() as github:
        github.permissions = {"alice": "admin", "bob": "write"}
        env = {
            "PETSAGE_WEBHOOK_SECRET": SECRET,
            "PETSAGE_FORGE_REPO": REPO,
            "PETSAGE_FORGE_TOKEN": TOKEN,
            "PETSAGE_FORGE_API_URL": github.url,
            "PETSAGE_GIT_REMOTE": str(remote),
        }
        server = Server(tmp_path / "petsage_backend", env=env).start()
        try:
            yield server, github, remote
        finally:
            server.stop()


def deliver(
    server: Server,
    event: str,
    payload: dict[str, Any],
    *,
    delivery: str | None = None,
    secret: str = SECRET,
) -> httpx.Response:
    body = json.dumps(payload).encode()
    return httpx.post(
        f"{server.url}/api/v1/webhooks/github",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-Hub-Signature-256": signature(secret, body),
        },
        timeout=10,
    )


def labelled(number: int, body: str, *, user: str = "alice") -> dict[str, Any]:
    return {
        "action": "labeled",
        "label": {"name": "petsage"},
        "issue": {"number": number, "title": "Keep profiles of pets", "body": body, "labels": []},
        "repository": {"full_name": REPO},
        "sender": {"login": user, "type": "User"},
    }


def commented(number: int, body: str, *, user: str, on_pull: bool = False) -> dict[str, Any]:
    issue: dict[str, Any] = {"number": number, "title": "Keep profiles of pets", "body": ""}
    if on_pull:
        issue["pull_request"] = {"url": f"https://api.github.example/pulls/{number}"}
    return {
        "action": "created",
        "issue": issue,
        "comment": {"id": 900 + number, "body": body, "user": {"login": user, "type": "User"}},
        "repository": {"full_name": REPO},
        "sender": {"login": user, "type": "User"},
    }


def wait_for(condition: Callable[[], Any], timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def calls(github: FakeGitHub) -> list[tuple[str, str]]:
    return [(method, path) for method, path, _, _ in github.calls]


def test_an_issue_becomes_a_pr_and_a_review_comment_a_second_commit(
    forge: tuple[Server, FakeGitHub, Path],
) -> None:
    server, github, remote = forge
    started = time.monotonic()
    answer = deliver(server, "issues", labelled(7, PET_PROFILE), delivery="delivery-1")
    assert answer.status_code == 202 and time.monotonic() - started < 1.0, answer.text

    def progress_done() -> dict[str, Any] | None:
        found = [c for c in github.comments.values() if c["issue"] == 7]
        return found[0] if found and "PR opened: https://" in found[0]["body"] else None

    progress = wait_for(progress_done)
    assert [c["issue"] for c in github.comments.values()] == [7]  # one comment, edited
    edits = [p for m, p in calls(github) if m == "PATCH" and "/issues/comments/" in p]
    assert len(edits) == 3 and MARKER in progress["body"]  # generating, tested, PR opened
    assert "✅ tested" in progress["body"] and "https://github.example/pull/1" in progress["body"]
    assert len(github.pulls) == 1
    pull = github.pulls[0]
    assert pull["head"]["ref"] == "feature/pet_profile" and "Closes #7" in pull["body"]
    assert "Keep profiles of pets" in pull["body"]  # the title became the description
    first = git(remote, "rev-parse", "feature/pet_profile").strip()
    assert len(github.check_runs) == 1
    check = github.check_runs[0]
    assert check["name"] == "petsage/build" and check["head_sha"] == first
    assert check["conclusion"] == "success" and "**Tests:**" in check["output"]["summary"]
    assert "offline" in check["output"]["summary"]

    before = list(github.calls)
    again = deliver(server, "issues", labelled(7, PET_PROFILE), delivery="delivery-1")
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    time.sleep(1.0)
    assert github.calls == before
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/api/v1/builds").json()["total"] == 1

    command = "/petsage add field weight_kg: float >=0"
    assert (
        deliver(
            server, "issue_comment", commented(1, command, user="bob", on_pull=True)
        ).status_code
        == 202
    )

    def reply() -> dict[str, Any] | None:
        found = [c for c in github.comments.values() if c["issue"] == 1 and "Pushed" in c["body"]]
        return found[0] if found else None

    answer_comment = wait_for(reply)
    second = git(remote, "rev-parse", "feature/pet_profile").strip()
    assert second != first and git(remote, "rev-parse", f"{second}^").strip() == first
    assert f"/acme/petsage/commit/{second}" in answer_comment["body"]
    assert "weight_kg" in git(
        remote, "show", f"{second}:src/features/pet_profile/pet_profile_models.py"
    )
    assert len(github.pulls) == 1 and calls(github).count(("POST", f"/repos/{REPO}/pulls")) == 1
    assert ("PATCH", f"/repos/{REPO}/pulls/1") in calls(github)
    assert "Closes #7" in github.pulls[0]["body"] and "weight_kg" in github.pulls[0]["body"]
    assert [c["head_sha"] for c in github.check_runs] == [first, second]
    assert all(h["authorization"] == f"Bearer {TOKEN}" for _, _, _, h in github.calls)


def test_bad_signatures_readers_and_unreadable_issues_build_nothing(
    forge: tuple[Server, FakeGitHub, Path], tmp_path: Path
) -> None:
    server, github, remote = forge
    wrong = deliver(server, "issues", labelled(3, PET_PROFILE), secret="not-the-secret")
    assert wrong.status_code == 401 and wrong.json()["detail"]["error"] == "bad_signature"
    unsigned = httpx.post(
        f"{server.url}/api/v1/webhooks/github",
        content=b"{}",
        headers={"X-GitHub-Event": "issues", "X-GitHub-Delivery": "x"},
    )
    assert unsigned.status_code == 401
    assert deliver(server, "ping", {"zen": "Keep it simple."}).status_code == 204
    own = commented(3, f"/petsage build\n\n{MARKER}", user="alice")
    assert deliver(server, "issue_comment", own).status_code == 204
    bot = commented(3, "/petsage build", user="renovate[bot]")
    assert deliver(server, "issue_comment", bot).status_code == 204
    assert github.calls == []

    reader = commented(3, "/petsage build", user="mallory")
    assert deliver(server, "issue_comment", reader).status_code == 202
    polite = wait_for(lambda: [c for c in github.comments.values() if c["issue"] == 3])
    assert "@mallory" in polite[0]["body"] and "write access" in polite[0]["body"]
    assert deliver(server, "issue_comment", reader).status_code == 202
    time.sleep(1.0)
    assert len([c for c in github.comments.values() if c["issue"] == 3]) == 1  # one reply at most

    unreadable = labelled(4, "- **Feature:** `Pet-Profile`\n- **Requirements:** none")
    del unreadable["action"]  # `--event issues.labeled` fills it in
    (tmp_path / "issue.json").write_text(json.dumps(unreadable))
    hook = ("webhook-test", "--event", "issues.labeled", "--payload", "issue.json")
    url = ("--url", f"{server.url}/api/v1/webhooks/github")
    refused = cli(*hook, *url, cwd=tmp_path, env={"PETSAGE_WEBHOOK_SECRET": "wrong"})
    assert refused.returncode == 1 and refused.stdout.startswith("401"), refused.stderr
    sent = cli(*hook, *url, cwd=tmp_path, env={"PETSAGE_WEBHOOK_SECRET": SECRET})
    assert sent.returncode == 0 and sent.stdout.startswith("202 Accepted"), sent.stderr
    found = wait_for(lambda: [c for c in github.comments.values() if c["issue"] == 4])
    assert (
        "`feature`" in found[0]["body"] and "lowercase letters, digits and `_`" in found[0]["body"]
    )
    assert "**Feature Request:**" in found[0]["body"]  # the example form
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/api/v1/builds").json()["total"] == 0
    assert github.pulls == [] and github.check_runs == []
    assert git(remote, "for-each-ref") == ""


def test_a_push_to_main_refreshes_the_builders_pr_behind_it_once_per_delivery(
    forge: tuple[Server, FakeGitHub, Path],
) -> None:
    server, github, remote = forge
    features = {
        "kennel_booking": "nights: int >=1 <=30\nkennel: str len>=1 len<=40",
        "diet_plan": "meal: str len>=1 len<=40\ncalories: int >=0 <=5000",
    }
    with server.client() as client:
        ids = [
            client.post(
                "/api/v1/builds",
                json={"feature": f, "description": f, "requirements": r, "open_pr": True},
            ).json()["id"]
            for f, r in features.items()
        ]
        for build_id in ids:
            final = wait_final(client, build_id, timeout=600)
            assert final["status"] == "succeeded", final["reasons"]
            assert final["pull_request"]["kind"] == "forge", final["pr_error"]
    git(server.workspace, "push", "-q", str(remote), "main")
    number = {p["head"]["ref"]: p["number"] for p in github.pulls}
    first, second = number["feature/kennel_booking"], number["feature/diet_plan"]

    def tip(branch: str) -> str:
        return git(remote, "rev-parse", f"refs/heads/{branch}").strip()

    def rebased() -> list[str]:
        return [
            c["body"]
            for c in github.comments.values()
            if c["issue"] == second and c["body"].startswith("Rebased onto main")
        ]

    old_main, before = tip("main"), tip("feature/diet_plan")
    github.pulls[first - 1]["state"] = "closed"
    merged = merge_on_github(remote, "feature/kennel_booking", first)
    github.calls.clear()
    push = {
        "ref": "refs/heads/main",
        "before": old_main,
        "after": merged,
        "repository": {"full_name": REPO},
        "sender": {"login": "alice", "type": "User"},
    }
    wrong = deliver(server, "push", push, delivery="push-1", secret="not-the-secret")
    assert wrong.status_code == 401 and wrong.json()["detail"]["error"] == "bad_signature"
    time.sleep(1.0)
    assert github.calls == [] and tip("feature/diet_plan") == before

    answer = deliver(server, "push", push, delivery="push-1")
    assert answer.status_code == 202 and answer.json()["status"] == "accepted", answer.text
    [comment] = wait_for(rebased, timeout=600)
    after = tip("feature/diet_plan")
    assert after != before and git(remote, "rev-parse", f"{after}^").strip() == merged
    assert f"Rebased onto main at {merged}; the feature's own files are unchanged" in comment
    for folder in ("src/features/diet_plan", "tests/features/diet_plan"):
        tree = git(remote, "rev-parse", f"{before}:{folder}").strip()
        assert git(remote, "rev-parse", f"{after}:{folder}").strip() == tree
        assert f"| `{folder}` | `{tree}` | `{tree}` |" in comment

    seen = list(github.calls)
    again = deliver(server, "push", push, delivery="push-1")  # GitHub's redelivery
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    time.sleep(2.0)
    assert github.calls == seen and tip("feature/diet_plan") == after

    # The merge's other delivery (the PR closed, merged) finds the PR up to date: no new push.
    closed = {
        "action": "closed",
        "pull_request": {"number": first, "merged": True, "base": {"ref": "main"}},
        "repository": {"full_name": REPO},
        "sender": {"login": "alice", "type": "User"},
    }
    assert deliver(server, "pull_request", closed).status_code == 202
    listed = ("GET", f"/repos/{REPO}/pulls")
    wait_for(lambda: calls(github).count(listed) == 2, timeout=60)
    time.sleep(3.0)
    assert tip("feature/diet_plan") == after and len(rebased()) == 1
