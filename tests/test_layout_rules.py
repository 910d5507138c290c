"""The house rules that keep `agent/` readable: folders by purpose, no module over 400 lines."""

import fnmatch
from pathlib import Path

import pytest

AGENT = Path(__file__).resolve().parents[1] / "agent"
MAX_LINES = 400
FOLDERS = {
    "pipeline",
    "box",
    "repo",
    "models",
    "chat",
    "github",
    "service",
    "store",
    "jobs",
    "cli",
    "fields",
}


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(AGENT)): n
        for path in AGENT.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these by responsibility: {long}"


#: Modules loose at `agent/`'s top (issue 30: at most 12): the rest live in their packages.
MAX_LOOSE = 12


def test_few_modules_are_loose_at_the_top() -> None:
    loose = sorted(p.name for p in AGENT.glob("*.py") if p.name != "__init__.py")
    assert len(loose) <= MAX_LOOSE, loose


def test_the_folders_show_the_design() -> None:
    packages = {p.name for p in AGENT.iterdir() if (p / "__init__.py").is_file()}
    assert packages >= FOLDERS, sorted(FOLDERS - packages)
    for folder in FOLDERS:
        doc = (AGENT / folder / "__init__.py").read_text(encoding="utf-8").strip()
        assert doc.startswith('"""'), f"agent/{folder}/__init__.py says what the folder is for"


def test_every_test_folder_is_collected(pytestconfig: pytest.Config) -> None:
    """No folder of tests/ is one pytest skips by name (its default skips any `build`)."""
    tests = Path(__file__).resolve().parent
    skipped = pytestconfig.getini("norecursedirs")
    folders = [p for p in tests.rglob("*") if p.is_dir() and any(p.glob("test_*.py"))]
    assert folders, "no test folder found"
    hidden = [
        str(p.relative_to(tests))
        for p in folders
        for part in p.relative_to(tests).parts
        if any(fnmatch.fnmatch(part, pattern) for pattern in skipped)
    ]
    assert hidden == [], f"pytest would never collect these: {hidden} (norecursedirs {skipped})"


#: Folder names ruff skips by default (its `exclude`), beside pytest's `norecursedirs`.
RUFF_SKIPS = (
    ".*",
    "__pypackages__",
    "_build",
    "buck-out",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
)


def test_no_package_has_a_name_tools_skip(pytestconfig: pytest.Config) -> None:
    """pytest keeps its default `norecursedirs`, and no folder of agent/ or tests/ is named as
    build output (`build`, `dist`...): tools skip those, and tests of them go uncollected."""
    skipped = [*pytestconfig.getini("norecursedirs"), *RUFF_SKIPS]
    assert "build" in pytestconfig.getini("norecursedirs"), "pyproject overrides pytest's default"
    roots = [AGENT, Path(__file__).resolve().parent]
    named = [
        str(p.relative_to(root.parent))
        for root in roots
        for p in root.rglob("*")
        if p.is_dir()
        and p.name != "__pycache__"
        and any(fnmatch.fnmatch(p.name, pattern) for pattern in skipped)
    ]
    assert named == [], f"rename these: {named}"
