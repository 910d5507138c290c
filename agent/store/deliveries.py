"""GitHub webhook deliveries seen, by their id, so that a redelivery starts nothing new."""

from __future__ import annotations

import time

from agent.store.builds import BuildStore


def first_delivery(store: BuildStore, delivery: str, event: str) -> bool:
    """Record delivery `delivery` (an `event`); False when it was recorded before (a
    redelivery). One statement: two deliveries of one id at once, in any process using the
    store's database, record it once."""
    done = store.db.execute(
        "INSERT INTO webhook_deliveries (id, event, received_at) VALUES (?, ?, ?)"
        " ON CONFLICT (id) DO NOTHING",
        (delivery, event, time.time()),
    )
    return done.rowcount == 1


__all__ = ["first_delivery"]
