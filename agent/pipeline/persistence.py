"""The target's database layer (BLUEPRINT §2): the skeleton's files, their upgrade, the registry.

A repository made before the database issue lacks `src/db.py`, Alembic and the test database
fixture: the next build adds what is missing (never replacing a file that is there) and pins the
new requirements. `src/tables.py` imports every feature's table module; the builder keeps it,
as it keeps `src/main.py`.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from agent.errors import IntegrationError
from agent.layout import FeatureLayout
from agent.pipeline.line_edit import Insertion, insert_statements
from agent.pipeline.requirements import upgraded_requirements
from agent.pipeline.wiring import import_position
from agent.prompt_files import skeleton_files
from agent.syntax import parse

TABLES_PY = "src/tables.py"
#: Skeleton files a pre-database repository gains whole when it lacks them.
ADDED_FILES = (
    "src/db.py",
    TABLES_PY,
    "alembic.ini",
    "migrations/env.py",
    "migrations/script.py.mako",
    "migrations/versions/__init__.py",
)
_CONFTEST = "tests/conftest.py"
_CONFTEST_MARK = "get_session"


def upgrade(root: Path) -> dict[str, str]:
    """The files a checkout at `root` needs (path → new content) to have the database layer."""
    skeleton = skeleton_files()
    changes: dict[str, str] = {}
    for path in ADDED_FILES:
        if not (root / path).exists():
            changes[path] = skeleton[path]
    requirements = root / "requirements.txt"
    before = requirements.read_text() if requirements.is_file() else ""
    after = upgraded_requirements(before)
    if after != before:
        changes["requirements.txt"] = after
    conftest = root / _CONFTEST
    if conftest.is_file():
        text = conftest.read_text()
        if _CONFTEST_MARK not in text:
            changes[_CONFTEST] = text.rstrip("\n") + "\n\n" + _conftest_addition(skeleton)
    else:
        changes[_CONFTEST] = skeleton[_CONFTEST]
    return changes


def _conftest_addition(skeleton: dict[str, str]) -> str:
    """The skeleton's fresh-database fixture, to append to a conftest.py that predates it."""
    text = skeleton[_CONFTEST]
    start = text.index("import os")
    end = text.index("@pytest.fixture\ndef client")
    note = "# Added by PetSage Builder: a fresh database for every test.\n"
    return note + text[start:end].rstrip() + "\n"


def register_table(source: str, feature: str) -> str:
    """`source` (src/tables.py) importing the feature's table module; unchanged when it does."""
    module = FeatureLayout(feature).table_module
    try:
        tree = parse(source)
    except SyntaxError as e:
        raise IntegrationError(f"{TABLES_PY} does not parse: {e.msg} (line {e.lineno})") from e
    for node in tree.body:
        if isinstance(node, ast.Import) and any(a.name == module for a in node.names):
            return source
    line = f"import {module}  # noqa: F401\n"
    position = import_position(tree.body)
    blank = position == 1 and not any(isinstance(n, ast.Import | ast.ImportFrom) for n in tree.body)
    edited = insert_statements(source, tree, [Insertion(position, line, blank_before=blank)])
    if edited is not None:
        return edited
    from agent.pipeline.cst_edit import add_import_line

    return add_import_line(source, line)


VERSIONS_DIR = "migrations/versions"


def next_revision(existing: list[str], feature: str) -> tuple[str, str, str]:
    """(revision id, file path, message) of a feature's next Alembic revision: deterministic.

    `existing` lists the file names under migrations/versions/ at the build's start. The id is
    short (Alembic's version table holds 32 characters) and the same for the same history.
    """
    number = 1 + sum(1 for name in existing if _is_revision_of(name, feature))
    revision = hashlib.sha256(f"{feature}/{number}".encode()).hexdigest()[:12]
    path = f"{VERSIONS_DIR}/{feature}_{number:03d}.py"
    return revision, path, f"{feature}: tables of build {number}"


def _is_revision_of(name: str, feature: str) -> bool:
    stem = name.removesuffix(".py")
    prefix, _, number = stem.rpartition("_")
    return name.endswith(".py") and prefix == feature and number.isdigit()


def alembic_heads(root: Path) -> list[str]:
    """The heads of the revisions under migrations/versions/, read without running them."""
    revisions: dict[str, tuple[str, ...]] = {}
    folder = root / VERSIONS_DIR
    for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        try:
            tree = parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            continue
        values: dict[str, object] = {}
        for node in tree.body:
            target = node.targets[0] if isinstance(node, ast.Assign) else None
            if isinstance(node, ast.AnnAssign):
                target = node.target
            if isinstance(target, ast.Name) and isinstance(node, ast.Assign | ast.AnnAssign):
                try:
                    values[target.id] = ast.literal_eval(node.value) if node.value else None
                except ValueError:
                    continue
        revision, down = values.get("revision"), values.get("down_revision")
        if isinstance(revision, str):
            if isinstance(down, str):
                revisions[revision] = (down,)
            elif isinstance(down, tuple | list):
                revisions[revision] = tuple(str(d) for d in down)
            else:
                revisions[revision] = ()
    below = {down for downs in revisions.values() for down in downs}
    return sorted(set(revisions) - below)


def merge_revision(heads: list[str], title: str) -> tuple[str, str]:
    """(path, content) of an Alembic merge revision joining `heads` into one: no schema change."""
    revision = hashlib.sha256("merge/".join(sorted(heads)).encode()).hexdigest()[:12]
    content = (
        f'"""Merge {", ".join(sorted(heads))} ({title})\n\n'
        f"Revision ID: {revision}\nRevises: {', '.join(sorted(heads))}\n"
        '"""\n\n'
        f"revision = {revision!r}\n"
        f"down_revision = {tuple(sorted(heads))!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        "def upgrade() -> None:\n    pass\n\n\n"
        "def downgrade() -> None:\n    pass\n"
    )
    return f"{VERSIONS_DIR}/merge_{revision}.py", content
