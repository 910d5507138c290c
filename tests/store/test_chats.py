"""Chats in the store: a state replaced each turn, messages numbered in order, on both databases."""

from __future__ import annotations

from collections.abc import Callable

from agent.store.builds import BuildStore
from agent.store.chats import Chats


def test_a_chat_keeps_its_state_and_its_messages_in_order(
    open_store: Callable[[], BuildStore],
) -> None:
    chats = Chats(open_store())
    assert chats.state("nochat") is None and chats.messages("nochat") == []
    chats.create("chat1", '{"draft": null}')
    assert chats.state("chat1") == '{"draft": null}'
    chats.save_turn("chat1", '{"draft": 1}', [("user", "a pet profile", None)])
    chats.save_turn(
        "chat1", '{"draft": 2}', [("user", "build it", None), ("assistant", "ok", "b1")]
    )
    again = Chats(open_store())  # another connection: another process sees the same chat
    assert again.state("chat1") == '{"draft": 2}'
    said = [(m["seq"], m["role"], m["content"], m["build_id"]) for m in again.messages("chat1")]
    assert said == [
        (1, "user", "a pet profile", None),
        (2, "user", "build it", None),
        (3, "assistant", "ok", "b1"),
    ]
