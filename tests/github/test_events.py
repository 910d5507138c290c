"""Deliveries: signatures, what each event asks for, and issue bodies read as requests."""

import base64
import json

import pytest

from agent.errors import RequestError
from agent.github.builds import check_summary, refine, request_from_issue, unreadable
from agent.github.events import (
    MARKER,
    BaseMoved,
    IssueBuild,
    PullCommand,
    classify,
    signature,
    verify,
)
from agent.pipeline.result import BuildResult
from agent.request import FeatureRequest
from tests.conftest import SEED_TEXT

REPO = "acme/petsage"


def test_only_the_hmac_of_the_exact_body_under_the_secret_verifies() -> None:
    body = b'{"action": "labeled"}'
    good = signature("s3cret", body)
    assert good.startswith("sha256=") and len(good) == 71
    assert verify("s3cret", body, good)
    assert not verify("s3cret", body + b" ", good)
    assert not verify("other", body, good)
    assert not verify("s3cret", body, None) and not verify(None, body, good)
    assert not verify("", body, signature("", body))  # no secret set: nothing verifies


def payload(**changes: object) -> dict:
    base = {
        "action": "labeled",
        "label": {"name": "petsage"},
        "issue": {"number": 4, "title": "T", "body": "B", "labels": [{"name": "petsage"}]},
        "repository": {"full_name": REPO},
        "sender": {"login": "alice", "type": "User"},
    }
    return {**base, **changes}


def comment(body: str, *, pull: bool = False, user: str = "alice") -> dict:
    issue: dict = {"number": 9, "title": "T", "body": ""}
    if pull:
        issue["pull_request"] = {}
    return payload(action="created", issue=issue, comment={"body": body, "user": {"login": user}})


@pytest.mark.parametrize(
    ("event", "data", "expected"),
    [
        ("issues", payload(), IssueBuild(4, "T", "B", "alice")),
        ("issues", payload(action="opened"), IssueBuild(4, "T", "B", "alice")),
        ("issues", payload(label={"name": "bug"}), None),
        ("issues", payload(action="closed"), None),
        ("issues", payload(repository={"full_name": "evil/fork"}), None),
        ("issues", payload(sender={"login": "ci[bot]", "type": "Bot"}), None),
        ("issue_comment", comment("/petsage build"), IssueBuild(9, "T", "", "alice")),
        (
            "issue_comment",
            comment("/petsage add field x: int", pull=True, user="bob"),
            PullCommand(9, "add field x: int", "bob"),
        ),
        ("issue_comment", comment("/petsagex build"), None),
        ("issue_comment", comment("please /petsage build"), None),
        ("issue_comment", comment(f"/petsage build\n{MARKER}"), None),
        ("ping", {"zen": "hi", "repository": {"full_name": REPO}}, None),
    ],
)
def test_classify_reads_the_events_it_handles_and_nothing_else(
    event: str, data: dict, expected: object
) -> None:
    assert classify(event, data, repo=REPO, label="petsage") == expected


def test_a_review_comment_is_a_command_on_its_pull_request() -> None:
    data = {
        "action": "created",
        "comment": {"body": "/petsage rebuild", "user": {"login": "bob"}},
        "pull_request": {"number": 12, "head": {"ref": "feature/pets"}},
        "repository": {"full_name": REPO},
        "sender": {"login": "bob", "type": "User"},
    }
    assert classify("pull_request_review_comment", data, repo=REPO, label="petsage") == (
        PullCommand(12, "rebuild", "bob")
    )


def test_a_push_or_a_merged_pr_moves_a_base_whoever_made_it() -> None:
    def push(ref: str, **changes: object) -> dict:
        sender = {"login": "github-merge-queue[bot]", "type": "Bot"}
        body = {"ref": ref, "after": "a" * 40, "repository": {"full_name": REPO}}
        return {**body, "sender": sender, **changes}

    def read(event: str, body: dict) -> object:
        return classify(event, body, repo=REPO, label="petsage")

    # A bot's push counts: merge queues and merge bots move bases too.
    assert read("push", push("refs/heads/main")) == BaseMoved(
        "main", "a" * 40, "github-merge-queue[bot]"
    )
    assert read("push", push("refs/heads/release/1.0")) == BaseMoved(
        "release/1.0", "a" * 40, "github-merge-queue[bot]"
    )
    assert read("push", push("refs/heads/feature/diet_plan")) is None  # the builder's own
    assert read("push", push("refs/tags/v1")) is None
    assert read("push", push("refs/heads/main", deleted=True)) is None
    assert read("push", {**push("refs/heads/main"), "repository": {"full_name": "x/y"}}) is None

    def closed(merged: bool, base: str = "main", action: str = "closed") -> dict:
        pull = {"merged": merged, "base": {"ref": base}, "merge_commit_sha": "b" * 40}
        return {"action": action, "pull_request": pull, "repository": {"full_name": REPO}}

    assert read("pull_request", closed(True)) == BaseMoved("main", "b" * 40, "")
    assert read("pull_request", closed(False)) is None  # closed without merging
    assert read("pull_request", closed(True, action="opened")) is None
    assert read("pull_request", closed(True, base="feature/x")) is None


def test_an_issue_body_in_each_encoding_reads_and_the_title_describes_it() -> None:
    seed = request_from_issue("ignored", SEED_TEXT)
    assert (seed.feature, seed.description, seed.open_pr) == (
        "smoke_test",
        "Ensure builder functional",
        False,
    )
    as_json = json.dumps(
        {"feature": "pet_profile", "requirements": "age: int >=0", "open_pr": True}
    )
    from_json = request_from_issue("Keep pets", as_json)
    assert from_json.description == "Keep pets" and not from_json.open_pr
    assert from_json.resource is not None and from_json.resource.fields[0].name == "age"
    encoded = base64.b64encode(json.dumps({**json.loads(as_json), "description": "D"}).encode())
    assert request_from_issue("T", encoded.decode()).description == "D"
    assert request_from_issue("Title", "Feature: pets_two").description == "Title"
    with pytest.raises(RequestError) as caught:
        request_from_issue("T", "Feature: Not-A-Name")
    text = unreadable(caught.value)
    assert "`feature`" in text and "**Feature Request:**" in text and MARKER in text
    with pytest.raises(RequestError, match="body"):
        request_from_issue("T", "just words, no request")


def test_refinements_are_the_chats() -> None:
    last = FeatureRequest.model_validate(
        {"feature": "pet_profile", "description": "Pets", "requirements": "name: str\nage: int"}
    )
    added = refine(last, "add field weight_kg: float >=0")
    assert isinstance(added, FeatureRequest) and added.resource is not None
    assert [f.name for f in added.resource.fields] == ["name", "age", "weight_kg"]
    removed = refine(last, "remove field age")
    assert isinstance(removed, FeatureRequest) and removed.branch == last.branch
    assert refine(last, "rebuild") == last
    assert "has no field `colour`" in str(refine(last, "remove field colour"))


def test_the_check_summary_carries_the_evidence() -> None:
    result = BuildResult(
        id="b1",
        status="succeeded",
        feature="pets",
        model="openai:gpt-4.1-mini",
        files=["src/features/pets/pets_router.py"],
        prompt_tokens=1200,
        completion_tokens=300,
        cost_usd=0.00096,
        notes=["tests ran unsandboxed"],
    )
    title, summary = check_summary(result)
    assert title == "succeeded: 0 passed, 0 failed"
    for part in ("`src/features/pets/pets_router.py`", "1200 prompt + 300 completion", "$0.0010"):
        assert part in summary
    assert "unsandboxed" in summary and "0 round(s)" in summary
