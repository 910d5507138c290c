"""Replaying a feature onto a newer base: real builds, real git, the builder's lines re-applied."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.errors import MergeRefused, NeedsRebuild, PullRequestError
from agent.pipeline import persistence
from agent.pipeline.loop import Builder
from agent.repo.workspace import TargetRepo
from agent.review.rebase import feature_of, is_feature_file, reparent, replay
from agent.settings import Settings
from tests.conftest import git

RENDERED = '''"""diet_plan: tables of build 1

Revision ID: b98f51a5bbed
Revises:{space}
"""

import sqlalchemy as sa
from alembic import op

revision = 'b98f51a5bbed'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('diet_plan', sa.Column('id', sa.Integer(), nullable=False))


def downgrade() -> None:
    op.drop_table('diet_plan')
'''.format(space=" ")  # as Alembic's template renders a revision without a parent


def test_reparent_edits_exactly_the_two_lines_that_name_the_parent() -> None:
    edited = reparent(RENDERED, "migrations/versions/diet_plan_001.py", ["558da4956fd0"])
    before, after = RENDERED.splitlines(), edited.splitlines()
    changed = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert changed == [
        ("Revises: ", "Revises: 558da4956fd0"),
        ("down_revision = None", "down_revision = '558da4956fd0'"),
    ]
    two = reparent(RENDERED, "x.py", ["aaa", "bbb"])
    assert "down_revision = ('aaa', 'bbb')" in two and "Revises: aaa, bbb" in two
    values = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(two).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    assert values["down_revision"] == ("aaa", "bbb") and values["revision"] == "b98f51a5bbed"
    assert reparent(edited, "x.py", []).count("down_revision = None") == 1


def test_a_revision_not_laid_out_as_the_builder_renders_it_is_refused() -> None:
    doubled = RENDERED + "\ndown_revision = 'sneaky'\n"
    with pytest.raises(NeedsRebuild, match=r"x\.py is not laid out as the builder renders"):
        reparent(doubled, "x.py", ["abc"])
    with pytest.raises(NeedsRebuild, match="not laid out"):
        reparent(RENDERED.replace("Revises: \n", ""), "x.py", ["abc"])


def test_feature_names_and_files() -> None:
    assert feature_of("feature/diet_plan") == "diet_plan"
    for branch in ("main", "feature/", "feature/Bad", "release/diet_plan"):
        with pytest.raises(PullRequestError, match="not a builder branch"):
            feature_of(branch)
    assert is_feature_file("src/features/diet_plan/diet_plan_router.py", "diet_plan")
    assert is_feature_file("tests/features/diet_plan/test_diet_plan.py", "diet_plan")
    assert is_feature_file("migrations/versions/diet_plan_002.py", "diet_plan")
    assert not is_feature_file("migrations/versions/diet_plan_extra_001.py", "diet_plan")
    assert not is_feature_file("src/features/diet_plan_extra/x.py", "diet_plan")
    assert not is_feature_file("src/main.py", "diet_plan")


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, dict[str, str]]]:
    """Two resource features built from one `main`; kennel_booking then added to main by hand
    (a fast-forward of main onto its branch), so that diet_plan is behind."""
    root = tmp_path_factory.mktemp("rebase")
    settings = Settings(workspace=root / "repo", state_dir=root / "state", test_timeout=120)
    commits = {}
    for feature, fields in (("kennel_booking", "nights: int >=1 <=30"), ("diet_plan", "kcal: int")):
        result = Builder(settings).run(
            {"feature": feature, "description": feature, "requirements": fields}
        )
        assert result.status == "succeeded", result.reasons
        commits[feature] = str(result.commit)
    commits["main"] = git(settings.workspace, "rev-parse", "main").strip()
    git(settings.workspace, "update-ref", "refs/heads/main", commits["kennel_booking"])
    yield settings, commits


def repo_of(settings: Settings) -> TargetRepo:
    return Builder(settings).repo


def test_a_feature_behind_its_base_is_replayed_with_the_builders_lines_re_applied(
    two: tuple[Settings, dict[str, str]],
) -> None:
    settings, commits = two
    repo, workspace = repo_of(settings), settings.workspace
    checked: list[Path] = []
    done = replay(
        repo, "diet_plan", commits["kennel_booking"], commits["diet_plan"], check=checked.append
    )
    assert len(checked) == 1  # the caller's check saw the replayed checkout before the commit
    parents = git(workspace, "rev-list", "--parents", "-n", "1", done.commit).split()
    assert parents[1:] == [commits["kennel_booking"]]
    for folder, tree in done.feature_trees.items():
        assert git(workspace, "rev-parse", f"{commits['diet_plan']}:{folder}").strip() == tree
        assert git(workspace, "rev-parse", f"{done.commit}:{folder}").strip() == tree
    assert done.rewritten == [
        "src/main.py",
        "src/tables.py",
        "migrations/versions/diet_plan_001.py",
    ]
    main_py = git(workspace, "show", f"{done.commit}:src/main.py")
    for feature in ("kennel_booking", "diet_plan"):
        assert main_py.count(f"app.include_router({feature}_router.router") == 1
        assert main_py.count(f"from src.features.{feature} import {feature}_router") == 1
    tables = git(workspace, "show", f"{done.commit}:src/tables.py")
    assert "kennel_booking_table" in tables and "diet_plan_table" in tables
    kennel_revision = done.reparented["migrations/versions/diet_plan_001.py"]
    revision = git(workspace, "show", f"{done.commit}:migrations/versions/diet_plan_001.py")
    assert f"down_revision = {kennel_revision!r}" in revision
    checkout = settings.state_dir / "check-replay"
    git(workspace, "worktree", "add", "--detach", str(checkout), done.commit)
    assert len(persistence.alembic_heads(checkout)) == 1
    # Nothing moved: the caller moves branches.
    assert git(workspace, "rev-parse", "feature/diet_plan").strip() == commits["diet_plan"]


def test_a_person_edit_outside_the_feature_is_named_and_nothing_is_replayed(
    two: tuple[Settings, dict[str, str]], tmp_path: Path
) -> None:
    settings, commits = two
    workspace = settings.workspace
    edit = tmp_path / "edit"
    git(workspace, "worktree", "add", "--detach", str(edit), commits["diet_plan"])
    main_py = edit / "src/main.py"
    main_py.write_text(main_py.read_text() + "\n# tuned by hand\n")
    git(edit, "-c", "user.name=P", "-c", "user.email=p@e", "commit", "-qam", "hand edit")
    edited = git(edit, "rev-parse", "HEAD").strip()
    with pytest.raises(NeedsRebuild, match=r"src/main\.py on the branch differ.*edited by hand"):
        replay(repo_of(settings), "diet_plan", commits["kennel_booking"], edited)


def test_a_feature_file_changed_on_the_base_too_is_refused_by_name(
    two: tuple[Settings, dict[str, str]], tmp_path: Path
) -> None:
    settings, commits = two
    workspace = settings.workspace
    base = tmp_path / "base"
    git(workspace, "worktree", "add", "--detach", str(base), commits["kennel_booking"])
    (base / "src/features/diet_plan").mkdir(parents=True)
    (base / "src/features/diet_plan/notes.py").write_text("NOTE = 1\n")
    git(base, "add", "-A")
    git(base, "-c", "user.name=P", "-c", "user.email=p@e", "commit", "-qm", "theirs")
    moved = git(base, "rev-parse", "HEAD").strip()
    with pytest.raises(NeedsRebuild, match=r"base changed the feature's own files.*notes\.py"):
        replay(repo_of(settings), "diet_plan", moved, commits["diet_plan"])


def test_unrelated_histories_are_a_typed_refusal(two: tuple[Settings, dict[str, str]]) -> None:
    settings, commits = two
    workspace = settings.workspace
    tree = git(workspace, "rev-parse", "main^{tree}").strip()
    orphan = git(
        workspace, "-c", "user.name=T", "-c", "user.email=t@e", "commit-tree", "-m", "o", tree
    ).strip()
    with pytest.raises(MergeRefused, match="unrelated histories"):
        replay(repo_of(settings), "diet_plan", orphan, commits["diet_plan"])
