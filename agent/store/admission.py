"""Admission across workers: at most `limit` builds run at once on every Celery worker together.

The count is the store's own: builds `running` under a live lease (a heartbeat within
`PETSAGE_LEASE_SECONDS`), the lease a worker already renews to hold its build and that another
worker's sweep takes over when it lapses. A worker claims a build only through `admit`, which
counts and claims in one transaction under a database lock (PostgreSQL: a transaction-level
advisory lock; SQLite: its immediate transaction), so two workers never both take the last slot.
A worker that dies frees its slot when its lease lapses; `/api/v1/health` shows this same count.
"""

from __future__ import annotations

import time
from typing import Literal

from agent.store.builds import CLAIM, BuildStore
from agent.store.database import Database

Admission = Literal["claimed", "full", "gone"]


def admit(
    store: BuildStore, build_id: str, worker: str, limit: int, lease_seconds: float
) -> Admission:
    """`store.claim`, only while fewer than `limit` builds run under a live lease: `full` when
    that many do, `gone` when the build is no longer queued."""
    now = time.time()
    with store.db.transaction() as db:
        db.serialise("admission")
        row = db.execute("SELECT status FROM builds WHERE id = ?", (build_id,)).fetchone()
        if row is None or row[0] != "queued":
            return "gone"
        if _running(db, now - lease_seconds) >= limit:
            return "full"
        db.execute(CLAIM, (worker, now, now, now, build_id))
    return "claimed"


def running_now(store: BuildStore, lease_seconds: float) -> int:
    """Builds running under a live lease, as `admit` counts them."""
    return _running(store.db, time.time() - lease_seconds)


def _running(db: Database, renewed_after: float) -> int:
    row = db.execute(
        "SELECT COUNT(*) FROM builds WHERE status = 'running' AND heartbeat_at >= ?",
        (renewed_after,),
    ).fetchone()
    return int(row[0]) if row else 0
