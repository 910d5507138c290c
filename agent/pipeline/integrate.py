"""Write and wire: put a checked bundle into the worktree and connect it to the app.

The database layer's upgrade, the feature's table registered in `src/tables.py`, its router
included in `src/main.py`; after the test run, the Alembic revision that run made.
"""

from __future__ import annotations

from typing import Any

from agent.bundle import FileBundle
from agent.layout import MAIN_PY, FeatureLayout
from agent.pipeline import persistence
from agent.pipeline.wiring import patch, wire_router
from agent.repo.workspace import Worktree


def integrate(worktree: Worktree, bundle: FileBundle, feature: str) -> tuple[list[str], str]:
    """Wire the written bundle in; return the commit's paths and the patch of `src/main.py`."""
    paths = [file.path for file in bundle.files]
    for path, content in persistence.upgrade(worktree.path).items():
        worktree.write_text(path, content)
        paths.append(path)
    if FeatureLayout(feature).table_path in paths:
        _register_table(worktree, feature, paths)
    before = worktree.read(MAIN_PY)
    after = wire_router(before, feature)
    wiring = ""
    if after != before:
        worktree.write_text(MAIN_PY, after)
        wiring = patch(MAIN_PY, before, after)
        paths.append(MAIN_PY)
    return paths, wiring


def _register_table(worktree: Worktree, feature: str, paths: list[str]) -> None:
    tables = worktree.read(persistence.TABLES_PY)
    registered = persistence.register_table(tables, feature)
    if registered != tables:
        worktree.write_text(persistence.TABLES_PY, registered)
        if persistence.TABLES_PY not in paths:
            paths.append(persistence.TABLES_PY)


#: Text that marks a module as one that may touch the database schema (or import something
#: that does, or import by name): any of it in a generated file and the Alembic check runs.
SCHEMA_MARKERS = (
    "sqlalchemy",
    "src.db",
    "from src import",
    "__tablename__",
    "metadata",
    "importlib",
    "__import__",
)


def changes_schema(bundle: FileBundle, paths: list[str], feature: str) -> bool:
    """Whether a build can change the database schema the Alembic check sees.

    It can when it adds the feature's table module or the database layer itself
    (`persistence.upgrade`), or when any generated file so much as mentions SQLAlchemy, the
    database module, metadata or importing by name: a table declared outside its module would
    reach `Base.metadata` too (the check runs after the conftest imported the app). Only a
    build whose files touch none of that, a status feature, skips the check, which would then
    check the base's schema again.
    """
    if FeatureLayout(feature).table_path in paths:
        return True
    if any(path in paths for path in persistence.ADDED_FILES):
        return True
    return any(
        marker in file.content
        for file in bundle.files
        if file.path.endswith(".py")
        for marker in SCHEMA_MARKERS
    )


def add_migration(
    worktree: Worktree, migration: dict[str, Any] | None, path: str, paths: list[str]
) -> tuple[str | None, str | None]:
    """Add the feature's revision to the commit: the text the builder rendered from the box's
    description (`agent.pipeline.migration_ops`) and the box then ran, never the box's text.

    Returns (a repair reason when the check failed, a note for the result when a revision was
    added).
    """
    if migration is None:
        if (worktree.path / "alembic.ini").exists():
            return "the migration check did not run: the test process ended before it", None
        return None, None
    if not migration.get("ok"):
        return f"the Alembic migration check failed: {migration.get('reason', '?')}", None
    content = migration.get("content")
    if not isinstance(content, str):
        return None, None
    # The builder's own text: the worktree is still its own, so the revision joins the
    # recorded tree here, by plumbing.
    worktree.write_text(path, content)
    paths.append(path)
    worktree.record(paths)
    return None, f"Alembic revision {migration.get('revision')}: {path}"
