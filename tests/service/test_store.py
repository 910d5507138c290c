from pathlib import Path

import pytest

from agent.events import StageEvent
from agent.request import FeatureRequest
from agent.result import BuildResult
from agent.service.store import BuildStore, IdempotencyConflict

PETS = FeatureRequest(feature="pets", description="Pets")
TOYS = FeatureRequest(feature="toys", description="Toys")


def test_builds_are_stored_listed_newest_first_and_filtered(tmp_path: Path) -> None:
    store = BuildStore(tmp_path / "builds.db")
    for number, request in enumerate([PETS, TOYS, PETS]):
        record, created = store.create(f"b{number}", request)
        assert created and record.status == "queued"
    records, total = store.page()
    assert total == 3 and [r.id for r in records] == ["b2", "b1", "b0"]
    pets, total = store.page(feature="pets")
    assert total == 2 and [r.id for r in pets] == ["b2", "b0"]
    assert store.set_status("b0", "running", only_from=("queued",))
    assert not store.set_status("b0", "running", only_from=("queued",))
    running, _ = store.page(status="running")
    assert [r.id for r in running] == ["b0"]
    assert store.ids_with_status("queued") == ["b1", "b2"]
    second, _ = store.page(limit=1, offset=1)
    assert [r.id for r in second] == ["b1"]


def test_results_and_events_survive_a_reopen(tmp_path: Path) -> None:
    store = BuildStore(tmp_path / "builds.db")
    store.create("b1", PETS)
    for stage in ("received", "decoded", "done"):
        store.append_event(StageEvent(build_id="b1", stage=stage, message=stage))  # type: ignore[arg-type]
    store.finish(BuildResult(id="b1", status="succeeded", feature="pets", commit="c" * 40))
    store.close()
    again = BuildStore(tmp_path / "builds.db")
    record = again.get("b1")
    assert record is not None and record.status == "succeeded"
    assert record.result is not None and record.result.commit == "c" * 40
    assert [body["stage"] for _, body in again.events("b1")] == ["received", "decoded", "done"]
    assert [seq for seq, _ in again.events("b1", after=1)] == [2, 3]
    assert again.get("nope") is None


def test_an_idempotency_key_returns_the_same_build(tmp_path: Path) -> None:
    store = BuildStore(tmp_path / "builds.db")
    first, created = store.create("b1", PETS, "key-1")
    again, created_again = store.create("b2", PETS, "key-1")
    assert created and not created_again and again.id == first.id == "b1"
    with pytest.raises(IdempotencyConflict):
        store.create("b3", TOYS, "key-1")
    assert store.page()[1] == 1
