"""Webhook deliveries: the first of an id is new, a redelivery is not, on both databases."""

from __future__ import annotations

from collections.abc import Callable

from agent.store.builds import BuildStore
from agent.store.deliveries import first_delivery


def test_a_delivery_is_new_once(open_store: Callable[[], BuildStore]) -> None:
    store = open_store()
    assert first_delivery(store, "d-1", "issues") is True
    assert first_delivery(store, "d-1", "issues") is False  # GitHub's redelivery
    assert first_delivery(store, "d-2", "issue_comment") is True
    # Another connection (another process: the API restarted, a second API) sees it too.
    assert first_delivery(open_store(), "d-1", "issues") is False
    rows = store.db.execute("SELECT id, event FROM webhook_deliveries ORDER BY id").rows
    assert [tuple(row) for row in rows] == [("d-1", "issues"), ("d-2", "issue_comment")]
