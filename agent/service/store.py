"""The build store: builds, their events and results, in one SQLite file (WAL).

A thin layer of plain SQL with numbered migrations, so that a PostgreSQL store can implement the
same methods later. Every method is safe to call from any thread.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.events import StageEvent
from agent.request import FeatureRequest
from agent.result import FINAL_STATUSES, BuildResult, BuildStatus

MIGRATIONS = (
    """
    CREATE TABLE builds (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        feature TEXT NOT NULL,
        status TEXT NOT NULL,
        request TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        idempotency_key TEXT UNIQUE,
        result TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    )
    """,
    "CREATE INDEX builds_status ON builds (status, seq)",
    "CREATE INDEX builds_feature ON builds (feature, seq)",
    """
    CREATE TABLE events (
        build_id TEXT NOT NULL REFERENCES builds (id),
        seq INTEGER NOT NULL,
        stage TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (build_id, seq)
    )
    """,
    """
    CREATE TABLE chats (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        created_at REAL NOT NULL
    )
    """,
    """
    CREATE TABLE chat_messages (
        chat_id TEXT NOT NULL REFERENCES chats (id),
        seq INTEGER NOT NULL,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        build_id TEXT,
        at REAL NOT NULL,
        PRIMARY KEY (chat_id, seq)
    )
    """,
)


@dataclass(frozen=True)
class BuildRecord:
    """One build as stored: its request, status and (once it ends) its result."""

    id: str
    feature: str
    status: BuildStatus
    request: FeatureRequest
    result: BuildResult | None
    created_at: float
    updated_at: float

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "feature": self.feature,
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class IdempotencyConflict(Exception):
    """An Idempotency-Key came back with a different request."""


class BuildStore:
    """Builds and events in SQLite; one connection, serialised by a lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- builds ----------------------------------------------------------------------------------

    def create(
        self, build_id: str, request: FeatureRequest, idempotency_key: str | None = None
    ) -> tuple[BuildRecord, bool]:
        """Store a queued build; with a known idempotency key, answer that build instead."""
        body = request.model_dump_json()
        digest = hashlib.sha256(body.encode()).hexdigest()
        now = time.time()
        with self._transaction() as db:
            if idempotency_key is not None:
                row = db.execute(
                    "SELECT id, request_hash FROM builds WHERE idempotency_key = ?",
                    (idempotency_key,),
                ).fetchone()
                if row is not None:
                    if row[1] != digest:
                        raise IdempotencyConflict(idempotency_key)
                    existing = self.get(row[0])
                    assert existing is not None
                    return existing, False
            db.execute(
                "INSERT INTO builds (id, feature, status, request, request_hash, idempotency_key,"
                " created_at, updated_at) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)",
                (build_id, request.feature, body, digest, idempotency_key, now, now),
            )
        record = self.get(build_id)
        assert record is not None
        return record, True

    def get(self, build_id: str) -> BuildRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM builds WHERE id = ?", (build_id,)
            ).fetchone()
        return _record(row) if row else None

    def page(
        self,
        *,
        status: str | None = None,
        feature: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[BuildRecord], int]:
        """Newest first, with the total count for the same filters."""
        where, args = [], []
        if status:
            where.append("status = ?")
            args.append(status)
        if feature:
            where.append("feature = ?")
            args.append(feature)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM builds {clause}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM builds {clause} ORDER BY seq DESC LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return [_record(row) for row in rows], int(total)

    def ids_with_status(self, status: BuildStatus) -> list[str]:
        """Oldest first: the order in which queued builds run."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM builds WHERE status = ? ORDER BY seq", (status,)
            ).fetchall()
        return [row[0] for row in rows]

    def set_status(
        self, build_id: str, status: BuildStatus, *, only_from: tuple[str, ...] = ()
    ) -> bool:
        """Move a build to `status`; with `only_from`, only if it is in one of those now."""
        query = "UPDATE builds SET status = ?, updated_at = ? WHERE id = ?"
        args: list[Any] = [status, time.time(), build_id]
        if only_from:
            query += f" AND status IN ({', '.join('?' for _ in only_from)})"
            args += list(only_from)
        with self._transaction() as db:
            return db.execute(query, args).rowcount == 1

    def finish(self, result: BuildResult) -> None:
        """Store a build's final result (and its status)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE builds SET status = ?, result = ?, updated_at = ? WHERE id = ?",
                (result.status, result.model_dump_json(), time.time(), result.id),
            )

    # --- events ----------------------------------------------------------------------------------

    def append_event(self, event: StageEvent) -> int:
        """Store an event; its number (1 up, per build) is its SSE id."""
        with self._transaction() as db:
            seq = db.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE build_id = ?", (event.build_id,)
            ).fetchone()[0]
            db.execute(
                "INSERT INTO events (build_id, seq, stage, body) VALUES (?, ?, ?, ?)",
                (event.build_id, seq, event.stage, json.dumps(event.to_dict())),
            )
        return int(seq)

    def events(self, build_id: str, after: int = 0) -> list[tuple[int, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, body FROM events WHERE build_id = ? AND seq > ? ORDER BY seq",
                (build_id, after),
            ).fetchall()
        return [(int(seq), json.loads(body)) for seq, body in rows]

    # --- chats -----------------------------------------------------------------------------------

    def create_chat(self, chat_id: str, state: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO chats (id, state, created_at) VALUES (?, ?, ?)",
                (chat_id, state, time.time()),
            )

    def chat_state(self, chat_id: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT state FROM chats WHERE id = ?", (chat_id,)).fetchone()
        return str(row[0]) if row else None

    def save_chat_turn(
        self, chat_id: str, state: str, messages: list[tuple[str, str, str | None]]
    ) -> None:
        """Store the chat's new state and the turn's messages (role, content, build id)."""
        with self._transaction() as db:
            db.execute("UPDATE chats SET state = ? WHERE id = ?", (state, chat_id))
            seq = db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM chat_messages WHERE chat_id = ?", (chat_id,)
            ).fetchone()[0]
            for role, content, build_id in messages:
                seq += 1
                db.execute(
                    "INSERT INTO chat_messages (chat_id, seq, role, content, build_id, at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (chat_id, seq, role, content, build_id, time.time()),
                )

    def chat_messages(self, chat_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, role, content, build_id, at FROM chat_messages"
                " WHERE chat_id = ? ORDER BY seq",
                (chat_id,),
            ).fetchall()
        return [
            {"seq": seq, "role": role, "content": content, "build_id": build_id, "at": at}
            for seq, role, content, build_id, at in rows
        ]

    # --- internals -------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = row[0] or 0
            for number, statement in enumerate(MIGRATIONS, start=1):
                if number > current:
                    db.execute(statement)
                    db.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))


_COLUMNS = "id, feature, status, request, result, created_at, updated_at"


def _record(row: tuple[Any, ...]) -> BuildRecord:
    build_id, feature, status, request, result, created, updated = row
    return BuildRecord(
        id=build_id,
        feature=feature,
        status=status,
        request=FeatureRequest.model_validate_json(request),
        result=BuildResult.model_validate_json(result) if result else None,
        created_at=created,
        updated_at=updated,
    )


__all__ = ["FINAL_STATUSES", "BuildRecord", "BuildStore", "IdempotencyConflict"]
