"""The store's tests run on both databases: a SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.store.builds import BuildStore


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a store lives: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'builds.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def open_store(database: str) -> Iterator[Callable[[], BuildStore]]:
    """Opens the test's store as often as asked (each is another connection); closes them all."""
    opened: list[BuildStore] = []

    def opener() -> BuildStore:
        opened.append(BuildStore.open(database, Path("unused.db")))
        return opened[-1]

    yield opener
    for store in opened:
        store.close()
