"""Many features, one main: PRs built from one base merge one after another, in every order.

Three resource features are built once from one `main` with PRs; each order starts again from
those branches and PRs, merges them with nothing in between, and checks main as a user would:
each router wired once, one Alembic head, upgrade → downgrade round trips, the suite passes.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.errors import InfrastructureError, NeedsRebuild, PullRequestConflict
from agent.pipeline.loop import Builder
from agent.review.pulls import LocalPulls
from agent.review.refresh import refresh_pull, sync_of, with_sync
from agent.settings import Settings
from tests.conftest import git, refs

FEATURES = {
    "kennel_booking": "nights: int >=1 <=30\nkennel: str len>=1 len<=40\nnotes: str? len<=200",
    "diet_plan": "meal: str len>=1 len<=40\ncalories: int >=0 <=5000\nkind: wet|dry",
    "vet_visit": "reason: str len>=1 len<=80\nurgent: bool\nwhen: datetime",
}


@dataclass
class Built:
    settings: Settings
    refs: dict[str, str]
    pulls: str  # pulls.json as the builds left it
    ids: dict[str, str]  # feature → PR id

    def restore(self) -> LocalPulls:
        """Branches and PRs back to just after the three builds."""
        workspace = self.settings.workspace
        for ref, commit in self.refs.items():
            git(workspace, "update-ref", ref, commit)
        pulls = LocalPulls(Builder(self.settings).repo)
        pulls.path.write_text(self.pulls)
        return pulls


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    root = tmp_path_factory.mktemp("many")
    settings = Settings(workspace=root / "repo", state_dir=root / "state", test_timeout=120)
    os.environ.pop("PETSAGE_MODEL", None)
    ids = {}
    for feature, fields in FEATURES.items():
        request = {"feature": feature, "description": feature, "requirements": fields}
        result = Builder(settings).run({**request, "open_pr": True})
        assert result.status == "succeeded" and result.pull_request, result.reasons
        ids[feature] = result.pull_request.id
    pulls = LocalPulls(Builder(settings).repo)
    yield Built(settings, refs(settings.workspace), pulls.path.read_text(), ids)


def checkout(workspace: Path, folder: Path, commit: str = "main") -> Path:
    git(workspace, "worktree", "add", "--detach", str(folder), commit)
    return folder


def alembic(folder: Path, url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def round_trip(folder: Path, url: str, features: Iterable[str] = FEATURES) -> None:
    """`alembic upgrade head` creates every feature's table; `downgrade base` drops them all."""
    import sqlalchemy

    alembic(folder, url, "upgrade", "head")
    engine = sqlalchemy.create_engine(url)
    try:
        tables = set(sqlalchemy.inspect(engine).get_table_names())
        assert set(features) <= tables, tables
        alembic(folder, url, "downgrade", "base")
        engine.dispose()
        assert set(sqlalchemy.inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def check_main(workspace: Path, folder: Path, features: Iterable[str] = FEATURES) -> None:
    """main as a user finds it after the merges: wired once each, one head, one line each."""
    main_py = (folder / "src/main.py").read_text()
    tables = (folder / "src/tables.py").read_text()
    for feature in features:
        assert main_py.count(f"app.include_router({feature}_router.router") == 1, main_py
        assert main_py.count(f"from src.features.{feature} import {feature}_router") == 1
        assert tables.count(f"import src.features.{feature}.{feature}_table") == 1
    heads = alembic(folder, "sqlite:///:memory:", "heads").strip().splitlines()
    assert len(heads) == 1 and heads[0].endswith("(head)"), heads
    suite = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert suite.returncode == 0, suite.stdout[-3000:]
    # One line per feature: each merge's second parent is one commit on the previous main.
    merges = git(workspace, "rev-list", "--first-parent", "--parents", "main").splitlines()
    for line in merges[: len(list(features))]:
        _, first, second = line.split()
        assert git(workspace, "rev-list", "--parents", "-n", "1", second).split()[1:] == [first]


@pytest.mark.parametrize("order", list(itertools.permutations(FEATURES)), ids="-".join)
def test_three_features_from_one_main_merge_in_any_order(
    built: Built, order: tuple[str, ...], tmp_path: Path
) -> None:
    pulls = built.restore()
    workspace = built.settings.workspace
    for feature in order:
        merged = pulls.merge(built.ids[feature], built.settings)
        assert merged.state == "merged"
    for later in order[1:]:
        pull = pulls.get(built.ids[later])
        events = [c for c in pull.comments if c.startswith("Rebased onto main")]
        assert events and "the feature's own files are unchanged" in events[-1]
        for folder in (f"src/features/{later}", f"tests/features/{later}"):
            before = git(
                workspace, "rev-parse", f"{built.refs[f'refs/heads/feature/{later}']}:{folder}"
            )
            assert before.strip()[:12] in events[-1]
            assert git(workspace, "rev-parse", f"{pull.merge_commit}:{folder}") == before
    folder = checkout(workspace, tmp_path / "main")
    check_main(workspace, folder)
    round_trip(folder, f"sqlite:///{tmp_path / 'round.db'}")


def test_the_merged_main_round_trips_on_postgresql(
    built: Built, tmp_path: Path, postgres_url: str
) -> None:
    pulls = built.restore()
    for feature in ("vet_visit", "kennel_booking", "diet_plan"):
        pulls.merge(built.ids[feature], built.settings)
    folder = checkout(built.settings.workspace, tmp_path / "main")
    url = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    round_trip(folder, url)


def test_an_open_pr_is_behind_after_a_merge_until_refreshed_and_then_up_to_date(
    built: Built,
) -> None:
    pulls = built.restore()
    repo = pulls.repo
    first, second = built.ids["kennel_booking"], built.ids["diet_plan"]
    assert sync_of(repo, pulls.get(second)) == "up_to_date"
    # A merge made by hand (no follow-up): the other PR is now behind.
    git(
        built.settings.workspace,
        "update-ref",
        "refs/heads/main",
        pulls.get(first).head_commit or "",
    )
    assert sync_of(repo, pulls.get(second)) == "behind"
    before = pulls.get(second).head_commit
    done = refresh_pull(pulls, second, built.settings)
    assert done.moved and done.pull.head_commit != before
    assert done.pull.tested_on == git(built.settings.workspace, "rev-parse", "main").strip()
    assert with_sync(repo, pulls.get(second)).sync == "up_to_date"
    assert "+app.include_router(diet_plan_router.router" in done.pull.diff
    assert "kennel_booking_models.py" not in done.pull.diff
    again = refresh_pull(pulls, second, built.settings)
    assert not again.moved and "up to date" in again.note
    # main moves on past the first PR's commit (merged by hand): nothing is left to replay.
    git(built.settings.workspace, "update-ref", "refs/heads/main", done.pull.head_commit or "")
    assert sync_of(repo, pulls.get(first)) == "up_to_date"
    held = refresh_pull(pulls, first, built.settings)
    assert not held.moved and "already holds" in held.note
    assert pulls.get(first).needs_rebuild is None


def test_a_feature_file_edited_by_hand_is_not_rewritten_and_merge_stays_409(
    built: Built, tmp_path: Path
) -> None:
    pulls = built.restore()
    workspace, settings = built.settings.workspace, built.settings
    pull_id = built.ids["diet_plan"]
    edit = checkout(workspace, tmp_path / "edit", "feature/diet_plan")
    router = edit / "src/features/diet_plan/diet_plan_router.py"
    router.write_text(router.read_text() + "\n# a person's tweak\n")
    git(edit, "-c", "user.name=P", "-c", "user.email=p@e", "commit", "-qam", "tweak")
    tweak = git(edit, "rev-parse", "HEAD").strip()
    git(workspace, "update-ref", "refs/heads/feature/diet_plan", tweak)  # as a push would
    pulls.merge(built.ids["vet_visit"], settings)  # the follow-up leaves the edited PR alone
    before = refs(workspace)
    pull = with_sync(pulls.repo, pulls.get(pull_id))
    assert pull.sync == "needs_rebuild" and pull.needs_rebuild
    assert "diet_plan_router.py" in pull.needs_rebuild
    with pytest.raises(NeedsRebuild, match=r"edits the feature's own files .*diet_plan_router\.py"):
        refresh_pull(pulls, pull_id, settings)
    with pytest.raises(PullRequestConflict, match="moved to"):
        pulls.merge(pull_id, settings)
    assert refs(workspace) == before
    recorded = pulls.get(pull_id)
    assert recorded.state == "open" and recorded.needs_rebuild
    assert any("does not rewrite a person's edit" in c for c in recorded.comments)


def test_the_cli_lists_states_and_refreshes(built: Built) -> None:
    from tests.test_cli import cli

    pulls = built.restore()
    workspace = built.settings.workspace
    git(
        workspace,
        "update-ref",
        "refs/heads/main",
        pulls.get(built.ids["vet_visit"]).head_commit or "",
    )
    env = {"PETSAGE_STATE_DIR": str(built.settings.state_dir)}
    listed = cli("pr", "list", "--workspace", str(workspace), cwd=workspace.parent, env=env)
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[0]: line for line in listed.stdout.splitlines() if line[:1] != " "}
    assert "up to date" in lines[built.ids["vet_visit"]]
    assert "behind" in lines[built.ids["diet_plan"]]
    both = cli(
        "pr", "refresh", "x", "--all", "--workspace", str(workspace), cwd=workspace.parent, env=env
    )
    assert both.returncode == 2 and "not both" in both.stderr
    done = cli(
        "pr",
        "refresh",
        "--all",
        "--json",
        "--workspace",
        str(workspace),
        cwd=workspace.parent,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    outcomes = {o["id"]: o for o in json.loads(done.stdout)}
    assert set(outcomes) == {built.ids["diet_plan"], built.ids["kennel_booking"]}
    assert all(o["refreshed"] and "unchanged" in o["note"] for o in outcomes.values())
    listed = cli(
        "pr", "list", "--json", "--workspace", str(workspace), cwd=workspace.parent, env=env
    )
    states = {p["id"]: p["sync"] for p in json.loads(listed.stdout)}
    assert set(states.values()) == {"up_to_date"}


def test_a_refresh_the_machine_starves_twice_is_infrastructure_and_refuses_nothing(
    built: Built,
) -> None:
    """The refresh's suite run passes a wall ceiling no run can meet, twice: a typed
    `infrastructure` error, the PR neither moved nor marked as needing a rebuild; the CLI says
    so with its own exit code, and the refresh passes once the machine can hold it."""
    from tests.test_cli import cli

    pulls = built.restore()
    first, second = built.ids["kennel_booking"], built.ids["diet_plan"]
    workspace = built.settings.workspace
    git(workspace, "update-ref", "refs/heads/main", pulls.get(first).head_commit or "")
    before = refs(workspace)
    tight = built.settings.model_copy(update={"test_wall_seconds": 0.05})
    with pytest.raises(InfrastructureError) as e:
        refresh_pull(pulls, second, tight)
    assert (e.value.stage, e.value.limit) == ("refresh", "wall_seconds")
    assert refs(workspace) == before
    assert pulls.get(second).needs_rebuild is None and sync_of(pulls.repo, pulls.get(second)) == (
        "behind"
    )
    env = {
        "PETSAGE_TEST_WALL_SECONDS": "0.05",
        "PETSAGE_STATE_DIR": str(built.settings.resolved_state_dir()),
    }
    shown = cli(
        "pr",
        "refresh",
        second,
        "--workspace",
        str(workspace),
        "--json",
        cwd=workspace.parent,
        env=env,
    )
    assert shown.returncode == 3, shown.stderr
    [outcome] = json.loads(shown.stdout)
    assert outcome["retry"] is True and "the machine was too busy" in outcome["error"]
    assert refs(workspace) == before
    assert refresh_pull(pulls, second, built.settings).moved
