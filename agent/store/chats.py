"""Chats: each conversation's state and its messages, in the build store's database.

The chat route keeps the assistant's `ChatState` here as JSON (the store never reads it) and
every message of the conversation, each with the build it started, if any.
"""

from __future__ import annotations

import time
from typing import Any

from agent.store.builds import BuildStore


class Chats:
    """The `chats` and `chat_messages` tables (SQLite or PostgreSQL, beside the builds)."""

    def __init__(self, store: BuildStore) -> None:
        self.db = store.db

    def create(self, chat_id: str, state: str) -> None:
        self.db.execute(
            "INSERT INTO chats (id, state, created_at) VALUES (?, ?, ?)",
            (chat_id, state, time.time()),
        )

    def state(self, chat_id: str) -> str | None:
        row = self.db.execute("SELECT state FROM chats WHERE id = ?", (chat_id,)).fetchone()
        return str(row[0]) if row else None

    def save_turn(
        self, chat_id: str, state: str, messages: list[tuple[str, str, str | None]]
    ) -> None:
        """Store the chat's new state and the turn's messages (role, content, build id)."""
        with self.db.transaction() as db:
            db.execute(f"SELECT id FROM chats WHERE id = ?{db.for_update}", (chat_id,))
            db.execute("UPDATE chats SET state = ? WHERE id = ?", (state, chat_id))
            seq = db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM chat_messages WHERE chat_id = ?", (chat_id,)
            ).rows[0][0]
            for role, content, build_id in messages:
                seq += 1
                db.execute(
                    "INSERT INTO chat_messages (chat_id, seq, role, content, build_id, at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (chat_id, seq, role, content, build_id, time.time()),
                )

    def messages(self, chat_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT seq, role, content, build_id, at FROM chat_messages"
            " WHERE chat_id = ? ORDER BY seq",
            (chat_id,),
        ).fetchall()
        return [
            {"seq": seq, "role": role, "content": content, "build_id": build_id, "at": at}
            for seq, role, content, build_id, at in rows
        ]


__all__ = ["Chats"]
