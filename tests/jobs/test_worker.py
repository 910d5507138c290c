"""The worker's logic in-process (no Celery): turns within a feature, pushes, the sweep."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.jobs.worker import BuildWorker
from agent.request import FeatureRequest
from agent.settings import Settings
from agent.store.builds import BuildStore
from tests.conftest import git


@pytest.fixture
def store(tmp_path: Path) -> Iterator[BuildStore]:
    opened = BuildStore(tmp_path / "shared" / "builds.db")
    yield opened
    opened.close()


def worker_on(
    tmp_path: Path, store: BuildStore, name: str, requeued: list[str], **changes: object
) -> BuildWorker:
    remote = tmp_path / "remote.git"
    if not remote.exists():
        git(tmp_path, "init", "-q", "--bare", str(remote))
    settings = Settings(
        workspace=tmp_path / name,
        state_dir=tmp_path / f"{name}-state",
        git_remote=str(remote),
        lease_seconds=1,
        max_attempts=2,
    ).model_copy(update=changes)
    worker = BuildWorker(settings, store, requeue=requeued.append, name=name)
    worker.clone.prepare()
    worker.clone.seed()
    return worker


def smoke(description: str) -> FeatureRequest:
    return FeatureRequest(feature="smoke_test", description=description, requirements="none")


def test_builds_of_one_feature_take_turns_and_are_pushed(tmp_path: Path, store: BuildStore) -> None:
    requeued: list[str] = []
    worker = worker_on(tmp_path, store, "alpha", requeued)
    store.create("b1", smoke("First"))
    store.create("b2", smoke("Second"))
    # b2's message came first: its elder is still queued, so b2 goes back to the queue.
    assert worker.handle("b2") == "queued" and requeued == ["b2"]
    assert worker.handle("b1") == "succeeded"
    assert worker.handle("b2") == "succeeded"
    # A message for a build that already ended is a no-op.
    assert worker.handle("b1") == "succeeded" and worker.handle("nope") == "unknown"
    log = git(tmp_path / "remote.git", "log", "--format=%s", "feature/smoke_test").splitlines()
    assert log == [
        "feat(smoke_test): Second",
        "feat(smoke_test): First",
        "chore: PetSage backend skeleton",
    ]
    stages = [body["stage"] for _, body in store.events("b1")]
    assert stages[0] == "received" and stages[-2:] == ["committed", "done"]


def test_the_sweep_requeues_a_dead_workers_build_then_ends_it(
    tmp_path: Path, store: BuildStore
) -> None:
    requeued: list[str] = []
    worker = worker_on(tmp_path, store, "alpha", requeued)
    store.create("b1", smoke("Orphan"))
    assert store.claim("b1", "ghost")
    assert worker.sweep() == []  # the ghost's lease is still fresh
    time.sleep(1.1)
    assert worker.sweep() == ["b1"] and requeued == ["b1"]
    assert [body["stage"] for _, body in store.events("b1")] == ["requeued"]
    assert store.claim("b1", "ghost")  # the second try dies too
    time.sleep(1.1)
    assert worker.sweep() == ["b1"] and requeued == ["b1"]
    record = store.get("b1")
    assert record is not None and record.status == "interrupted" and record.attempts == 2
    assert record.result is not None and "ghost" in record.result.reasons[0]
    assert [body["stage"] for _, body in store.events("b1")][-1] == "failed"


def test_a_retry_finds_the_commit_its_dead_try_pushed(tmp_path: Path, store: BuildStore) -> None:
    requeued: list[str] = []
    first = worker_on(tmp_path, store, "alpha", requeued)
    store.create("b1", smoke("Once"))
    assert first.handle("b1") == "succeeded"
    pushed = git(tmp_path / "remote.git", "rev-parse", "feature/smoke_test").strip()
    # As if the worker died after its push but before storing the result: running, stale.
    store.db.execute(
        "UPDATE builds SET status = 'running', result = NULL, heartbeat_at = 0 WHERE id = 'b1'"
    )
    second = worker_on(tmp_path, store, "beta", requeued)
    assert second.sweep() == ["b1"] and requeued == []
    record = store.get("b1")
    assert record is not None and record.status == "succeeded"
    assert record.result is not None and record.result.commit == pushed
    assert git(tmp_path / "remote.git", "rev-list", "--count", "feature/smoke_test").strip() == "2"


def test_a_refused_push_fails_the_build_and_loses_nothing(
    tmp_path: Path, store: BuildStore
) -> None:
    requeued: list[str] = []
    worker = worker_on(tmp_path, store, "alpha", requeued)
    # The remote refuses every update of feature branches.
    hook = tmp_path / "remote.git" / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'feature branches are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    store.create("b1", smoke("Refused"))
    assert worker.handle("b1") == "failed"
    record = store.get("b1")
    assert record is not None and record.result is not None
    assert "refused" in record.result.reasons[0] and record.result.commit is None
    assert "feature/smoke_test" not in git(tmp_path / "remote.git", "branch", "--list")


def test_a_cancel_request_reaches_the_running_build_within_a_beat(
    tmp_path: Path, store: BuildStore
) -> None:
    worker = worker_on(tmp_path, store, "alpha", [])
    store.create("b1", smoke("Stop"))
    assert store.claim("b1", "alpha")
    with worker._lease("b1") as should_stop:
        time.sleep(0.5)
        assert not should_stop()
        assert store.request_cancel("b1")
        deadline = time.monotonic() + 3
        while not should_stop():
            assert time.monotonic() < deadline, "the cancel never reached the build"
            time.sleep(0.05)


def test_a_build_queued_too_long_is_sent_again_once(tmp_path: Path, store: BuildStore) -> None:
    requeued: list[str] = []
    worker = worker_on(tmp_path, store, "alpha", requeued)
    other = worker_on(tmp_path, store, "beta", requeued)
    store.create("b1", smoke("Lost message"))
    worker.settings.visibility_timeout = other.settings.visibility_timeout = 1
    assert worker.sweep() == [] and requeued == []
    time.sleep(1.1)
    worker.sweep()
    other.sweep()
    assert requeued == ["b1"]


def test_workers_together_run_no_more_builds_than_the_limit(
    tmp_path: Path, postgres_url: str
) -> None:
    """Two workers on one PostgreSQL store, each handed a build at the same time, with a limit
    of one: the second waits queued for the first's slot, then runs; both succeed."""
    shared = BuildStore.open(postgres_url, tmp_path / "unused.db")
    workers = [
        worker_on(tmp_path, shared, name, [], max_concurrent_builds=1) for name in ("a", "b")
    ]
    for n in range(2):
        shared.create(f"b{n}", FeatureRequest(feature=f"slot_{n}", description="d"))
    statuses: dict[str, str] = {}
    threads = [
        threading.Thread(target=lambda n=n: statuses.update({f"b{n}": workers[n].handle(f"b{n}")}))
        for n in range(2)
    ]
    seen: list[tuple[int, int]] = []  # (running, queued), sampled while they run
    try:
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            counts = shared.count_by_status()
            seen.append((counts.get("running", 0), counts.get("queued", 0)))
            time.sleep(0.05)
    finally:
        for thread in threads:
            thread.join()
        shared.close()
    assert statuses == {"b0": "succeeded", "b1": "succeeded"}
    assert max(running for running, _ in seen) == 1
    assert (1, 1) in seen  # one ran while the other waited, queued
