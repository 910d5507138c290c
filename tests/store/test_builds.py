import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.errors import ConfigError, IdempotencyConflict
from agent.events import Checked, Done, Progress
from agent.pipeline.result import BuildResult
from agent.request import FeatureRequest
from agent.store.builds import BuildStore
from agent.store.migrations import MIGRATIONS

PETS = FeatureRequest(feature="pets", description="Pets")
TOYS = FeatureRequest(feature="toys", description="Toys")


def test_builds_are_stored_listed_newest_first_and_filtered(
    open_store: Callable[[], BuildStore],
) -> None:
    store = open_store()
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


def test_results_and_events_survive_a_reopen(open_store: Callable[[], BuildStore]) -> None:
    store = open_store()
    store.create("b1", PETS)
    for stage in ("received", "decoded"):
        store.append_event(Progress(build_id="b1", stage=stage, message=stage))
    store.append_event(Done(build_id="b1", message="done"))
    store.finish(BuildResult(id="b1", status="succeeded", feature="pets", commit="c" * 40))
    store.close()
    again = open_store()
    record = again.get("b1")
    assert record is not None and record.status == "succeeded"
    assert record.result is not None and record.result.commit == "c" * 40
    assert [body["stage"] for _, body in again.events("b1")] == ["received", "decoded", "done"]
    assert [seq for seq, _ in again.events("b1", after=1)] == [2, 3]
    assert again.get("nope") is None


def test_an_idempotency_key_returns_the_same_build(open_store: Callable[[], BuildStore]) -> None:
    store = open_store()
    first, created = store.create("b1", PETS, "key-1")
    again, created_again = store.create("b2", PETS, "key-1")
    assert created and not created_again and again.id == first.id == "b1"
    with pytest.raises(IdempotencyConflict):
        store.create("b3", TOYS, "key-1")
    assert store.page()[1] == 1


def test_a_claim_is_won_once_and_a_lease_goes_stale(open_store: Callable[[], BuildStore]) -> None:
    store = open_store()
    store.create("b1", PETS)
    store.create("b2", PETS)
    assert store.first_queued("pets") == "b1" and store.first_queued("toys") is None
    assert store.claim("b1", "worker-a")
    assert store.first_queued("pets") == "b2"
    assert not store.claim("b1", "worker-b")
    record = store.get("b1")
    assert record is not None and record.worker == "worker-a" and record.attempts == 1
    assert store.heartbeat("b1", "worker-a") == (True, False)
    assert store.heartbeat("b1", "worker-b") == (False, False)
    assert store.request_cancel("b1")
    assert store.heartbeat("b1", "worker-a") == (True, True)
    # Nothing is stale while the lease is fresh; once it is, exactly one taker wins.
    assert store.stale(older_than=time.time() - 60) == []
    later = time.time() + 1
    assert [r.id for r in store.stale(older_than=later)] == ["b1"]
    assert store.settle_stale("b1", later, None)
    assert not store.settle_stale("b1", later, None)
    again = store.get("b1")
    assert again is not None and again.status == "queued" and again.worker is None
    assert store.claim("b1", "worker-b")
    # The old holder can no longer store a result over the new holder's.
    assert not store.finish(BuildResult(id="b1", status="succeeded"), worker="worker-a")
    assert store.finish(BuildResult(id="b1", status="succeeded"), worker="worker-b")
    final = store.get("b1")
    assert final is not None and final.status == "succeeded" and final.attempts == 2


def test_a_stale_build_can_be_ended_by_whoever_takes_it_over(
    open_store: Callable[[], BuildStore],
) -> None:
    store = open_store()
    store.create("b1", PETS)
    store.claim("b1", "worker-a")
    later = time.time() + 1
    ended = BuildResult(id="b1", status="interrupted", reasons=["its worker died"])
    assert store.settle_stale("b1", later, ended)
    record = store.get("b1")
    assert record is not None and record.status == "interrupted"
    assert record.result is not None and record.result.reasons == ["its worker died"]
    assert store.count_by_status() == {"interrupted": 1}


def test_events_from_many_writers_are_numbered_without_gaps(
    open_store: Callable[[], BuildStore],
) -> None:
    stores = [open_store() for _ in range(4)]
    stores[0].create("b1", PETS)

    def write(store: BuildStore) -> None:
        for number in range(10):
            store.append_event(Checked(build_id="b1", stage="tested", message=str(number)))

    threads = [threading.Thread(target=write, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [seq for seq, _ in stores[0].events("b1")] == list(range(1, 41))


def test_opening_twice_migrates_once(open_store: Callable[[], BuildStore]) -> None:
    first, second = open_store(), open_store()
    versions = second.db.execute("SELECT version FROM schema_version ORDER BY version").rows
    assert [v for (v,) in versions] == list(range(1, len(MIGRATIONS) + 1))
    assert first.get("nothing") is None


def lock_holder(database: str, seconds: float) -> subprocess.Popen[str]:
    """Another process that holds the lock on `pets` for `seconds` (returns once it does)."""
    code = (
        "import sys, time; from pathlib import Path; from agent.store.builds import BuildStore\n"
        "store = BuildStore.open(sys.argv[1], Path('unused.db'))\n"
        "with store.feature_lock('pets') as held:\n"
        f"    print('held', held, flush=True); time.sleep({seconds})\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, database], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held True"
    return holder


def test_the_feature_lock_holds_across_processes(
    database: str, open_store: Callable[[], BuildStore]
) -> None:
    store = open_store()
    holder = lock_holder(database, seconds=1.5)
    began = time.monotonic()
    with store.feature_lock("pets", should_stop=lambda: time.monotonic() - began > 0.3) as held:
        assert not held
    assert time.monotonic() - began < 1.0
    with store.feature_lock("toys") as held:
        assert held
    with store.feature_lock("pets") as held:
        # Only once the holder let go (after its 1.5 s).
        assert held and time.monotonic() - began > 1.2
    holder.wait()
    assert holder.stdout is not None
    holder.stdout.close()


def test_a_killed_holder_releases_the_feature_lock(
    database: str, open_store: Callable[[], BuildStore]
) -> None:
    store = open_store()
    holder = lock_holder(database, seconds=60)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert holder.stdout is not None
    holder.stdout.close()
    began = time.monotonic()
    with store.feature_lock("pets", should_stop=lambda: time.monotonic() - began > 10) as held:
        assert held


def test_a_bad_database_url_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="PETSAGE_DATABASE_URL"):
        BuildStore.open("mysql://somewhere/db", Path("unused.db"))
    with pytest.raises(ConfigError, match="PETSAGE_DATABASE_URL: cannot connect"):
        BuildStore.open("postgresql://nobody@127.0.0.1:9/none", Path("unused.db"))


def test_a_dropped_postgresql_connection_is_made_again(postgres_url: str) -> None:
    import psycopg

    store = BuildStore.open(postgres_url, Path("unused.db"))
    try:
        store.create("b1", PETS)
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with pytest.raises(psycopg.OperationalError):
            store.get("b1")
        record = store.get("b1")
        assert record is not None and record.status == "queued"
    finally:
        store.close()
