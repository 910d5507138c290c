"""Re-create a feature's commit on a newer base: the builder's own lines re-applied, never merged.

A feature branch made from an older base conflicts with the base only where the builder writes on
every build: the router wiring in `src/main.py`, the registry line in `src/tables.py`, the
database layer's files, the features packages' `__init__.py`, the parent of the feature's Alembic
revision. Those lines are the builder's, so no textual merge is needed for them: the replay starts
from the new base, writes the feature's own files exactly as they are on the branch, wires them
with the code that wired them at build time (`agent.pipeline.integrate`), and re-parents the
feature's first revision onto the base's head by an edit of the two lines that name its parent.

Before anything is rewritten the branch must be what the builder made: the same replay onto the
commit the branch started from must give the branch's own tree, byte for byte. A file a person
edited, or a feature file the base changed as well, is refused by name (`NeedsRebuild`, a 409).
"""

from __future__ import annotations

import ast
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent.bundle import BundleFile, FileBundle
from agent.errors import GitFailed, MergeRefused, NeedsRebuild, PullRequestError
from agent.layout import FeatureLayout
from agent.pipeline import persistence
from agent.pipeline.integrate import integrate
from agent.repo.guards import check_object_id
from agent.repo.workspace import TargetRepo, Worktree
from agent.syntax import parse

BRANCH_PREFIX = "feature/"
_DOWN_LINE = re.compile(r"^down_revision = .*$", re.M)
_REVISES_LINE = re.compile(r"^Revises:.*$", re.M)


@dataclass(frozen=True)
class Replayed:
    """A feature re-created on `base`: its commit and the proof that its own files are unchanged."""

    commit: str
    base: str
    #: Each of the feature's folders → its tree id, on the branch and in `commit` alike.
    feature_trees: dict[str, str]
    #: Files outside the feature's folders whose content differs from the branch's version.
    rewritten: list[str] = field(default_factory=list)
    #: Revision file → the parent it was given.
    reparented: dict[str, str] = field(default_factory=dict)

    def proof(self) -> str:
        """The feature folders' tree ids, as a PR event quotes them."""
        return ", ".join(f"{folder} {tree[:12]}" for folder, tree in self.feature_trees.items())


def feature_of(branch: str) -> str:
    """The feature a builder branch (`feature/<f>`) holds; refused for any other branch."""
    feature = branch.removeprefix(BRANCH_PREFIX)
    if not branch.startswith(BRANCH_PREFIX) or not re.fullmatch(r"[a-z][a-z0-9_]{1,47}", feature):
        raise PullRequestError(f"{branch} is not a builder branch (feature/<name>)")
    return feature


def is_feature_file(path: str, feature: str) -> bool:
    """Whether `path` belongs to the feature itself: its folders and its Alembic revisions."""
    layout = FeatureLayout(feature)
    return path.startswith((layout.src_dir + "/", layout.tests_dir + "/")) or _is_revision(
        path, feature
    )


def replay(
    repo: TargetRepo,
    feature: str,
    base_tip: str,
    head: str,
    *,
    check: Callable[[Path], None] | None = None,
) -> Replayed:
    """`head`'s feature re-created as one commit on `base_tip`; `check(path)` vets its checkout.

    Raises `NeedsRebuild` naming the files when the branch holds anything the builder did not
    write, or when the base changed the feature's own files; `MergeRefused` when the two share
    no history. Nothing is moved here: the caller moves the branch, compare-and-swap.
    """
    base_tip, head = check_object_id(base_tip), check_object_id(head)
    start = _merge_base(repo, base_tip, head)
    own = sorted(p for p in _changed(repo, start, head) if is_feature_file(p, feature))
    if not own:
        raise NeedsRebuild(f"{head[:12]} changes none of {feature}'s files; nothing to replay")
    on_base = sorted(p for p in _changed(repo, start, base_tip) if is_feature_file(p, feature))
    if on_base:
        raise NeedsRebuild(
            f"the base changed the feature's own files as well: {', '.join(on_base)}; "
            "rebuild the feature on the new base"
        )
    _prove_builder_made(repo, feature, start, head, own)
    name = f"replay-{feature.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    with repo.worktree(base_tip, name) as tree:
        parents = persistence.alembic_heads(tree.path)
        _, reparented = _apply(repo, tree, feature, head, own, parents)
        if check is not None:
            check(tree.path)
        commit = tree.commit_recorded(_message(repo, head, base_tip))
    trees = feature_trees(repo, feature, head)
    if feature_trees(repo, feature, commit) != trees:
        raise NeedsRebuild(f"replaying {feature} changed its own files; nothing was moved")
    wiring = [p for p in _differing(repo, base_tip, commit) if not is_feature_file(p, feature)]
    return Replayed(commit, base_tip, trees, [*wiring, *sorted(reparented)], reparented)


# --- the steps ---------------------------------------------------------------------------------


def _prove_builder_made(
    repo: TargetRepo, feature: str, start: str, head: str, own: list[str]
) -> None:
    """The same replay onto `start` must give `head`'s tree; else name the files that differ."""
    name = f"prove-{feature.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    with repo.worktree(start, name) as tree:
        derived, _ = _apply(repo, tree, feature, head, own, None)
    edited = _differing(repo, derived, head)
    if edited:
        raise NeedsRebuild(
            f"{', '.join(edited)} on the branch differ from what the builder writes (edited by "
            "hand?); the builder does not rewrite a person's edit: rebuild the feature, or "
            "merge it by hand"
        )


def _apply(
    repo: TargetRepo,
    tree: Worktree,
    feature: str,
    head: str,
    own: list[str],
    parents: list[str] | None,
) -> tuple[str, dict[str, str]]:
    """Write the feature's files from `head` into `tree` and wire them; return (tree id, the
    revisions re-parented onto `parents`, or none when `parents` is None)."""
    files: list[BundleFile] = []
    revisions: dict[str, str] = {}
    for path in own:
        content = repo.show(head, path)
        if content is None:
            raise NeedsRebuild(f"the branch deletes {path}; the builder only replays additions")
        if _is_revision(path, feature):
            revisions[path] = content
        else:
            files.append(BundleFile(path=path, content=content))
    tree.write(files)
    paths, _ = integrate(tree, FileBundle(feature=feature, files=files), feature)
    reparented: dict[str, str] = {}
    if parents is not None:
        own_ids = {_revision_ids(text, path)[0] for path, text in revisions.items()}
        for path, text in revisions.items():
            if not _revision_ids(text, path)[1] & own_ids:  # the first of the feature's own
                revisions[path] = reparent(text, path, parents)
                reparented[path] = ", ".join(parents) or "base"
    for path, text in revisions.items():
        tree.write_text(path, text)
    return tree.record([*paths, *revisions]), reparented


def reparent(content: str, path: str, parents: list[str]) -> str:
    """A revision the builder rendered, with its parent set to `parents`: two lines change.

    Only `down_revision = …` and the docstring's `Revises: …` are edited, each found exactly
    once; a file laid out otherwise was not rendered by the builder and is refused.
    """
    downs, revises = _DOWN_LINE.findall(content), _REVISES_LINE.findall(content)
    if len(downs) != 1 or len(revises) != 1:
        raise NeedsRebuild(
            f"{path} is not laid out as the builder renders a revision (one `down_revision = ` "
            "line and one `Revises:` line); it will not be edited"
        )
    value: str | tuple[str, ...] | None = (
        parents[0] if len(parents) == 1 else tuple(parents) if parents else None
    )
    edited = _DOWN_LINE.sub(lambda _: f"down_revision = {value!r}", content, count=1)
    return _REVISES_LINE.sub(lambda _: f"Revises: {', '.join(parents)}", edited, count=1)


def _revision_ids(content: str, path: str) -> tuple[str, set[str]]:
    """(revision, its parents) of a revision file, read without running it."""
    try:
        body = parse(content).body
    except SyntaxError as e:
        raise NeedsRebuild(f"{path} does not parse: {e.msg} (line {e.lineno})") from e
    values: dict[str, object] = {}
    for node in body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    revision, down = values.get("revision"), values.get("down_revision")
    if not isinstance(revision, str):
        raise NeedsRebuild(f"{path} names no `revision`")
    if isinstance(down, str):
        return revision, {down}
    return revision, {str(d) for d in down} if isinstance(down, tuple | list) else set()


def _message(repo: TargetRepo, head: str, base_tip: str) -> str:
    """`head`'s message, with a line that says where it was re-created."""
    original = repo.run_git("log", "-1", "--format=%B", "--end-of-options", head).strip()
    kept = [line for line in original.splitlines() if not line.startswith("Replayed-onto: ")]
    return "\n".join([*kept, f"Replayed-onto: {base_tip} (from {head})", ""])


def _is_revision(path: str, feature: str) -> bool:
    return re.fullmatch(rf"{persistence.VERSIONS_DIR}/{feature}_\d+\.py", path) is not None


# --- git reads --------------------------------------------------------------------------------


def _merge_base(repo: TargetRepo, one: str, two: str) -> str:
    try:
        return check_object_id(repo.run_git("merge-base", "--end-of-options", one, two))
    except GitFailed as e:
        raise MergeRefused(
            f"{two[:12]} and {one[:12]} share no history (unrelated histories); "
            "nothing can be replayed"
        ) from e


def _changed(repo: TargetRepo, old: str, new: str) -> list[str]:
    out = repo.run_git("diff", "--name-only", "--no-renames", "--end-of-options", old, new, "--")
    return [line for line in out.splitlines() if line]


def _differing(repo: TargetRepo, old: str, new: str) -> list[str]:
    """Paths whose content differs between two trees or commits."""
    out = repo.run_git("diff-tree", "-r", "--name-only", "--no-renames", old, new)
    return sorted(line for line in out.splitlines() if line)


def feature_trees(repo: TargetRepo, feature: str, commit: str) -> dict[str, str]:
    """Each of the feature's folders → its git tree id at `commit` (`(none)` when absent)."""
    layout = FeatureLayout(feature)
    trees: dict[str, str] = {}
    for folder in (layout.src_dir, layout.tests_dir):
        try:
            trees[folder] = repo.run_git("rev-parse", "--verify", f"{commit}:{folder}")
        except GitFailed:
            trees[folder] = "(none)"
    return trees
