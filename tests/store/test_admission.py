"""Admission across workers, on both databases: at most `limit` builds run at once, whoever
claims them, and a worker that stops renewing its lease frees its slot (issue 28)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from agent.request import FeatureRequest
from agent.store.admission import admit, running_now
from agent.store.builds import BuildStore


def request(feature: str) -> FeatureRequest:
    return FeatureRequest(feature=feature, description=feature)


def test_at_most_the_limit_is_admitted_and_a_lapsed_lease_frees_its_slot(
    open_store: Callable[[], BuildStore],
) -> None:
    store = open_store()
    for n in range(3):
        store.create(f"b{n}", request(f"f{n}"))
    assert admit(store, "b0", "alpha", limit=2, lease_seconds=0.6) == "claimed"
    assert admit(store, "b1", "beta", limit=2, lease_seconds=0.6) == "claimed"
    assert admit(store, "b2", "alpha", limit=2, lease_seconds=0.6) == "full"
    assert admit(store, "b0", "beta", limit=5, lease_seconds=0.6) == "gone"  # running already
    assert admit(store, "nope", "beta", limit=5, lease_seconds=0.6) == "gone"
    assert running_now(store, 0.6) == 2
    record = store.get("b2")
    assert record is not None and record.status == "queued" and record.attempts == 0
    # beta renews its lease; alpha died holding b0: once its lease lapses, its slot is free.
    time.sleep(0.4)
    assert store.heartbeat("b1", "beta") == (True, False)
    time.sleep(0.4)
    assert running_now(store, 0.6) == 1
    assert admit(store, "b2", "gamma", limit=2, lease_seconds=0.6) == "claimed"
    taken = store.get("b2")
    assert taken is not None and taken.status == "running" and taken.worker == "gamma"


def test_workers_admitting_at_once_never_pass_the_limit(
    open_store: Callable[[], BuildStore],
) -> None:
    """Eight workers, each on a connection of its own, try for three slots at the same moment."""
    stores = [open_store() for _ in range(8)]
    for n in range(8):
        stores[0].create(f"b{n}", request(f"f{n}"))
    start = threading.Barrier(8)
    outcomes: dict[str, str] = {}

    def worker(n: int) -> None:
        start.wait()
        outcomes[f"b{n}"] = admit(stores[n], f"b{n}", f"w{n}", limit=3, lease_seconds=60)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()) == ["claimed"] * 3 + ["full"] * 5
    assert running_now(stores[0], 60) == 3 == stores[0].count_by_status()["running"]
