"""Forge PR pins: the newest build that opened or updated a PR pins it; a refresh moves the pin
only while that build stays the newest, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.jobs.ending import ended
from agent.pipeline.result import BuildResult, PullRequest
from agent.request import FeatureRequest
from agent.store.builds import BuildStore
from agent.store.forge_pulls import ForgePin, ForgePins

REQUEST = FeatureRequest(feature="diet_plan", description="Diet plans")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BuildStore]:
    url = (
        f"sqlite:///{tmp_path / 'builds.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    opened = BuildStore.open(url, Path("unused.db"))
    yield opened
    opened.close()


def built(store: BuildStore, build_id: str, commit: str, *, number: str = "2") -> BuildResult:
    """A stored succeeded build of diet_plan whose commit opened or updated forge PR `number`."""
    result = ended(build_id, "succeeded", [])
    result.feature, result.request, result.commit = "diet_plan", REQUEST, commit
    result.pull_request = PullRequest(
        kind="forge",
        id=number,
        branch="feature/diet_plan",
        base="main",
        title="feat(diet_plan): Diet plans",
        head_commit=commit,
    )
    store.create(build_id, REQUEST)
    store.finish(result)
    return result


def test_a_refresh_moves_the_pin_until_a_later_build_supersedes_it(store: BuildStore) -> None:
    pins = ForgePins(store)
    assert pins.get(2, "diet_plan") is None  # no build opened it: not the builder's to touch
    built(store, "build00000001", "a" * 40)
    built(store, "build00000009", "f" * 40, number="3")  # another PR of the same feature
    assert pins.get(2, "diet_plan") == ForgePin(2, "build00000001", "a" * 40)

    pins.record(ForgePin(2, "build00000001", "b" * 40, tested_on="c" * 40))
    assert pins.get(2, "diet_plan") == ForgePin(2, "build00000001", "b" * 40, "c" * 40)
    pins.record(ForgePin(2, "build00000001", "b" * 40, needs_rebuild="a person's edit"))
    assert pins.get(2, "diet_plan") == ForgePin(
        2, "build00000001", "b" * 40, needs_rebuild="a person's edit"
    )

    time.sleep(0.01)
    built(store, "build00000002", "d" * 40)  # a new build updates the PR: its commit pins it
    assert pins.get(2, "diet_plan") == ForgePin(2, "build00000002", "d" * 40)
    assert pins.get(3, "diet_plan") == ForgePin(3, "build00000009", "f" * 40)
