"""GitHub webhook deliveries: their signature, and what each one asks the builder to do.

A delivery is trusted only once `X-Hub-Signature-256` matches the HMAC-SHA256 of its raw body
under PETSAGE_WEBHOOK_SECRET. `classify` then reads the few events the builder acts on:

- an issue opened with, or labelled, PETSAGE_TRIGGER_LABEL, or a comment `/petsage build` on an
  issue: build the issue's request and open a pull request (`IssueBuild`);
- a comment `/petsage <instruction>` on a pull request, in its conversation or in a review:
  apply the instruction to the PR's feature as a new commit (`PullCommand`);
- a push to a branch, or a pull request merged into one: the builder's open pull requests on
  that branch follow it (`BaseMoved`), whoever moved it (a bot's merge too).

Everything else (other events, bots' comments, the builder's own comments, pushes to the
builder's own `feature/` branches) is `None`: not handled.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

#: Ends every comment the builder writes, so that it never acts on its own words.
MARKER = "<!-- petsage-builder -->"
COMMAND = "/petsage"
EXAMPLE_REQUEST = """\
**Feature Request:**
- **Feature:** `pet_profile`
- **Description:** "Store the pets of a household"
- **Requirements:**
  - name: str len>=1 len<=40
  - age: int >=0 <=40
  - species: dog|cat|bird"""


@dataclass(frozen=True)
class IssueBuild:
    """Build the request an issue holds and open a pull request that closes it."""

    issue: int
    title: str
    body: str
    user: str


@dataclass(frozen=True)
class PullCommand:
    """Apply `instruction` to the feature of pull request `pull`, as a new commit."""

    pull: int
    instruction: str
    user: str


@dataclass(frozen=True)
class BaseMoved:
    """Branch `base` moved to `commit` (a push, or a merged PR): refresh the PRs behind it."""

    base: str
    commit: str
    user: str


Trigger = IssueBuild | PullCommand | BaseMoved
#: The builder's own branches: a push to one of them moves no base.
FEATURE_PREFIX = "feature/"


def signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str | None, body: bytes, given: str | None) -> bool:
    """True only when a secret is set and `given` is the body's signature (constant time)."""
    if not secret or not given:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), given.strip().encode())


def classify(event: str, payload: dict[str, Any], *, repo: str, label: str) -> Trigger | None:
    """What a verified delivery asks for; None for what the builder does not handle."""
    if str(_get(payload, "repository", "full_name")).lower() != repo.lower():
        return None
    if event in ("push", "pull_request"):
        return _base_moved(event, payload)
    if _from_a_bot(payload):
        return None
    action = payload.get("action")
    if event == "issues" and action in ("opened", "labeled"):
        return _labelled_issue(payload, action, label)
    if event in ("issue_comment", "pull_request_review_comment") and action == "created":
        return _comment_command(event, payload)
    return None


def _labelled_issue(payload: dict[str, Any], action: str, label: str) -> IssueBuild | None:
    """An issue opened with, or just given, the trigger label (not a pull request's)."""
    issue = payload.get("issue") or {}
    if "pull_request" in issue:
        return None
    if action == "labeled" and _get(payload, "label", "name") != label:
        return None
    if action == "opened" and label not in {
        str(item.get("name")) for item in issue.get("labels") or [] if isinstance(item, dict)
    }:
        return None
    return _issue_build(issue, payload)


def _base_moved(event: str, payload: dict[str, Any]) -> BaseMoved | None:
    """A push to a branch (not a deletion, not a tag), or a pull request merged into one."""
    if event == "push":
        ref = str(payload.get("ref") or "")
        if not ref.startswith("refs/heads/") or payload.get("deleted"):
            return None
        base, commit = ref.removeprefix("refs/heads/"), str(payload.get("after") or "")
    else:
        pull = payload.get("pull_request") or {}
        if payload.get("action") != "closed" or pull.get("merged") is not True:
            return None
        base, commit = str(_get(pull, "base", "ref") or ""), str(pull.get("merge_commit_sha") or "")
    if not base or base.startswith(FEATURE_PREFIX):
        return None
    return BaseMoved(base, commit, str(_get(payload, "sender", "login") or ""))


def _comment_command(event: str, payload: dict[str, Any]) -> Trigger | None:
    """A `/petsage ...` comment: an instruction on a pull request, or `build` on an issue."""
    comment = payload.get("comment") or {}
    instruction = _command(str(comment.get("body") or ""))
    if instruction is None:
        return None
    user = str(_get(comment, "user", "login") or "")
    if event == "pull_request_review_comment":
        return PullCommand(int(_get(payload, "pull_request", "number")), instruction, user)
    issue = payload.get("issue") or {}
    if "pull_request" in issue:
        return PullCommand(int(issue["number"]), instruction, user)
    if instruction.lower() == "build":
        return _issue_build(issue, payload, user)
    return None


def send_test_delivery(
    url: str, secret: str, event: str, payload: bytes, *, timeout: float = 30
) -> httpx.Response:
    """Sign `payload` as GitHub would and post it to a running service (`webhook-test`).

    `event` is `name` or `name.action` (`issues.labeled`); the action fills the payload's
    `action` when it has none.
    """
    name, _, action = event.partition(".")
    if action:
        data = json.loads(payload)
        if isinstance(data, dict) and "action" not in data:
            data["action"] = action
            payload = json.dumps(data).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": name,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": signature(secret, payload),
        "User-Agent": "GitHub-Hookshot/petsage-webhook-test",
    }
    return httpx.post(url, content=payload, headers=headers, timeout=timeout)


# --- helpers -------------------------------------------------------------------------------------


def _issue_build(issue: dict[str, Any], payload: dict[str, Any], user: str = "") -> IssueBuild:
    return IssueBuild(
        issue=int(issue["number"]),
        title=str(issue.get("title") or ""),
        body=str(issue.get("body") or ""),
        user=user or str(_get(payload, "sender", "login") or ""),
    )


def _command(body: str) -> str | None:
    """The instruction of a `/petsage <instruction>` comment; None for other comments."""
    if MARKER in body:
        return None
    text = body.strip()
    if not text.lower().startswith(COMMAND):
        return None
    rest = text[len(COMMAND) :]
    if rest and not rest[0].isspace():
        return None
    return rest.strip() or None


def _from_a_bot(payload: dict[str, Any]) -> bool:
    for who in (payload.get("sender"), _get(payload, "comment", "user")):
        if isinstance(who, dict) and (
            who.get("type") == "Bot" or str(who.get("login", "")).endswith("[bot]")
        ):
            return True
    comment = payload.get("comment")
    return isinstance(comment, dict) and bool(comment.get("performed_via_github_app"))


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


__all__ = [
    "EXAMPLE_REQUEST",
    "MARKER",
    "BaseMoved",
    "IssueBuild",
    "PullCommand",
    "Trigger",
    "classify",
    "send_test_delivery",
    "signature",
    "verify",
]
