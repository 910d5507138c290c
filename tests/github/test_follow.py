"""Builder PRs on GitHub follow their base: a real bare remote, real builds, the GitHub stand-in.

Two resource features are built from one `main` with PRs on the stand-in (#1, #2); each test
starts again from those branches, merges #1 on "GitHub" (a merge commit pushed to the remote's
`main`), and lets the builder follow `main` as the job after a `push` delivery does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.github.events import MARKER
from agent.github.follow import Followed, follow_base
from agent.pipeline.loop import Builder
from agent.pipeline.result import BuildResult
from agent.repo.forge import GitHub
from agent.settings import Settings
from agent.store.builds import BuildStore
from agent.store.forge_pulls import ForgePins
from tests.conftest import git, refs
from tests.fake_github import FakeGitHub, merge_on_github

REPO = "acme/petsage"
FEATURES = {
    "kennel_booking": "nights: int >=1 <=30\nkennel: str len>=1 len<=40",
    "diet_plan": "meal: str len>=1 len<=40\ncalories: int >=0 <=5000",
}
FOLDERS = ("src/features/diet_plan", "tests/features/diet_plan")


@dataclass
class Forge:
    settings: Settings
    github: FakeGitHub
    remote: Path
    results: list[BuildResult]
    local: dict[str, str]
    pushed: dict[str, str]

    def restore(self, folder: Path) -> BuildStore:
        """Branches, PRs and the store back to just after the two builds."""
        for ref, commit in self.local.items():
            git(self.settings.workspace, "update-ref", ref, commit)
        for ref in bare_refs(self.remote):
            if ref not in self.pushed:
                git(self.remote, "update-ref", "-d", ref)
        for ref, commit in self.pushed.items():
            git(self.remote, "update-ref", ref, commit)
        for pull in self.github.pulls:
            pull["state"] = "open"
        self.github.calls.clear()
        self.github.comments.clear()
        self.github.reviews.clear()
        store = BuildStore(folder / "builds.db")
        for result in self.results:
            assert result.request is not None
            store.create(result.id, result.request)
            store.finish(result)
        return store

    def follow(self, pins: ForgePins) -> dict[int, Followed]:
        with GitHub(self.settings) as github:
            done = follow_base(github, Builder(self.settings).repo, pins, self.settings, "main")
        return {item.number: item for item in done}

    def merge_first(self) -> str:
        """PR #1 merged on GitHub: a merge commit on the remote's main; the PR closed."""
        self.github.pulls[0]["state"] = "closed"
        return merge_on_github(self.remote, "feature/kennel_booking", 1)

    def tip(self, branch: str) -> str:
        return git(self.remote, "rev-parse", f"refs/heads/{branch}").strip()

    def comments_on(self, number: int) -> list[str]:
        return [c["body"] for c in self.github.comments.values() if c["issue"] == number]


def bare_refs(repo: Path) -> dict[str, str]:
    """Every ref of a bare repository and where it points."""
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    return dict(line.split(" ", 1) for line in out.splitlines() if line)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Forge]:
    root = tmp_path_factory.mktemp("follow")
    remote = root / "remote.git"
    git(root, "init", "-q", "--bare", str(remote))
    os.environ.pop("PETSAGE_MODEL", None)
    with FakeGitHub() as github:
        settings = Settings(
            workspace=root / "repo",
            state_dir=root / "state",
            test_timeout=120,
            forge_repo=REPO,
            forge_token="ghp_follow_token",
            forge_api_url=github.url,
            git_remote=str(remote),
        )
        results = []
        for feature, fields in FEATURES.items():
            request = {"feature": feature, "description": feature, "requirements": fields}
            result = Builder(settings).run({**request, "open_pr": True})
            assert result.status == "succeeded" and result.pull_request, result.reasons
            assert result.pull_request.kind == "forge", result.pr_error
            results.append(result)
        git(settings.workspace, "push", "-q", str(remote), "main")
        assert [p["number"] for p in github.pulls] == [1, 2]
        yield Forge(settings, github, remote, results, refs(settings.workspace), bare_refs(remote))


@pytest.fixture
def pins(built: Forge, tmp_path: Path) -> Iterator[ForgePins]:
    """Each test starts from the two builds' branches, PRs and store."""
    store = built.restore(tmp_path)
    yield ForgePins(store)
    store.close()


def test_a_push_to_main_refreshes_the_pr_behind_it_pushes_it_and_comments_the_proof(
    built: Forge, pins: ForgePins, tmp_path: Path
) -> None:
    before = built.tip("feature/diet_plan")
    merged = built.merge_first()

    done = built.follow(pins)

    assert set(done) == {2} and done[2].refreshed, done
    after = built.tip("feature/diet_plan")
    assert after != before
    assert git(built.remote, "rev-list", "--parents", "-n", "1", after).split()[1:] == [merged]
    main_py = git(built.remote, "show", f"{after}:src/main.py")
    assert "kennel_booking_router" in main_py and "diet_plan_router" in main_py
    [comment] = built.comments_on(2)
    assert comment.startswith(
        f"Rebased onto main at {merged}; the feature's own files are unchanged"
    )
    for folder in FOLDERS:
        old = git(built.remote, "rev-parse", f"{before}:{folder}").strip()
        new = git(built.remote, "rev-parse", f"{after}:{folder}").strip()
        assert old == new and f"| `{folder}` | `{old}` | `{new}` |" in comment
    assert "src/main.py" in comment and MARKER in comment
    pin = pins.get(2, "diet_plan")
    assert pin is not None and (pin.head_commit, pin.tested_on) == (after, merged)
    assert git(built.settings.workspace, "rev-parse", "feature/diet_plan").strip() == after

    again = built.follow(pins)  # a second delivery for the same move: nothing left to do
    assert not again[2].refreshed and "up to date" in again[2].note
    assert built.tip("feature/diet_plan") == after and len(built.comments_on(2)) == 1


def test_a_hand_edited_feature_file_gets_a_needs_rebuild_comment_and_no_push(
    built: Forge, pins: ForgePins, tmp_path: Path
) -> None:
    edit = tmp_path / "edit"
    git(tmp_path, "clone", "-q", "--branch", "feature/diet_plan", str(built.remote), str(edit))
    router = edit / "src/features/diet_plan/diet_plan_router.py"
    router.write_text(router.read_text() + "\n# a person's tweak\n")
    git(edit, "-c", "user.name=P", "-c", "user.email=p@e", "commit", "-qam", "tweak")
    git(edit, "push", "-q", "origin", "feature/diet_plan")
    tweak = built.tip("feature/diet_plan")
    built.merge_first()
    pushed = bare_refs(built.remote)

    done = built.follow(pins)

    assert not done[2].refreshed and "needs a rebuild" in done[2].note
    assert bare_refs(built.remote) == pushed and built.tip("feature/diet_plan") == tweak
    [comment] = built.comments_on(2)
    assert "needs a rebuild" in comment and "diet_plan_router.py" in comment
    assert "does not rewrite a person's edit" in comment and "/petsage rebuild" in comment
    pin = pins.get(2, "diet_plan")
    assert pin is not None and pin.needs_rebuild and pin.head_commit != tweak

    built.follow(pins)  # said once: the next move adds no second comment
    assert len(built.comments_on(2)) == 1 and bare_refs(built.remote) == pushed


def test_a_builder_only_refresh_keeps_the_review(built: Forge, pins: ForgePins) -> None:
    reviewed = built.tip("feature/diet_plan")
    approval = {"id": 11, "state": "APPROVED", "user": {"login": "alice"}, "commit_id": reviewed}
    changes = {"id": 12, "state": "CHANGES_REQUESTED", "user": {"login": "bob"}}
    built.github.reviews[2] = [{**changes, "commit_id": reviewed}, approval]
    built.github.reviews[2].insert(0, {**approval, "id": 10, "user": {"login": "bob"}})
    built.merge_first()

    assert built.follow(pins)[2].refreshed

    [comment] = built.comments_on(2)
    assert f"the approvals of @alice (at `{reviewed[:12]}`) stand" in comment
    assert "Only builder-owned lines changed, so the review is kept" in comment
    assert "@bob" not in comment  # bob's latest review asks for changes
    # Nothing dismissed: the builder only read the reviews, pushed, and commented.
    review_calls = [(m, p) for m, p, _, _ in built.github.calls if "/reviews" in p]
    assert review_calls == [("GET", f"/repos/{REPO}/pulls/2/reviews")]
    assert all(m in ("GET", "POST") for m, _, _, _ in built.github.calls)
    pin = pins.get(2, "diet_plan")
    assert pin is not None and pin.head_commit == built.tip("feature/diet_plan") != reviewed
