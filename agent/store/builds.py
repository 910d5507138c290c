"""The build store: builds, their events and results, in SQLite (WAL) or PostgreSQL.

Plain SQL with one list of numbered migrations for both databases (`agent.store.migrations`;
`agent.store.database` spells what differs). Every method is safe to call from any thread and from
any number of processes sharing the database: the API, and workers on other machines.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import IdempotencyConflict
from agent.events import StageEvent
from agent.pipeline.result import BuildResult, BuildStatus
from agent.redact import redact
from agent.repo.guards import check_object_id
from agent.request import FeatureRequest
from agent.store.database import Database, open_database
from agent.store.migrations import migrate


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
    worker: str | None = None
    started_at: float | None = None
    heartbeat_at: float | None = None
    attempts: int = 0
    cancel_requested: bool = False
    #: Recorded when the build committed: the commit it started from and the tree it tested.
    base_commit: str | None = None
    commit_tree: str | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "feature": self.feature,
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "started_at": self.started_at,
            "worker": self.worker,
            "attempts": self.attempts,
        }


class BuildStore:
    """Builds and their events in one database (SQLite file or PostgreSQL); the chats
    (`agent.store.chats`), webhook deliveries and forge PR pins live beside them."""

    def __init__(self, where: Path | Database) -> None:
        self.db = where if isinstance(where, Database) else open_database(None, where)
        migrate(self.db)
        #: Called with the build id after each event is stored (the service wakes its streams).
        self.on_event: Callable[[str], None] = lambda build_id: None

    @classmethod
    def open(cls, url: str | None, default_path: Path) -> BuildStore:
        """The store at `url` (PETSAGE_DATABASE_URL), or the SQLite file at `default_path`."""
        return cls(open_database(url, default_path))

    def close(self) -> None:
        self.db.close()

    # --- builds ----------------------------------------------------------------------------------

    def create(
        self, build_id: str, request: FeatureRequest, idempotency_key: str | None = None
    ) -> tuple[BuildRecord, bool]:
        """Store a queued build; with a known idempotency key, answer that build instead."""
        body = request.model_dump_json()
        digest = hashlib.sha256(body.encode()).hexdigest()
        now = time.time()
        try:
            with self.db.transaction() as db:
                if idempotency_key is not None:
                    existing = self._by_key(db, idempotency_key, digest)
                    if existing is not None:
                        return existing, False
                db.execute(
                    "INSERT INTO builds (id, feature, status, request, request_hash,"
                    " idempotency_key, created_at, updated_at)"
                    " VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)",
                    (build_id, request.feature, body, digest, idempotency_key, now, now),
                )
        except self.db.integrity_errors:
            # Another process stored the same key between our read and our insert.
            if idempotency_key is None:
                raise
            existing = self._by_key(self.db, idempotency_key, digest)
            if existing is None:
                raise
            return existing, False
        record = self.get(build_id)
        assert record is not None
        return record, True

    def _by_key(self, db: Database, key: str, digest: str) -> BuildRecord | None:
        row = db.execute(
            "SELECT id, request_hash FROM builds WHERE idempotency_key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        if row[1] != digest:
            raise IdempotencyConflict(key)
        return self.get(row[0])

    def get(self, build_id: str) -> BuildRecord | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM builds WHERE id = ?", (build_id,)).fetchone()
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
        with self.db.transaction() as db:
            total = db.execute(f"SELECT COUNT(*) FROM builds {clause}", args).rows[0][0]
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM builds {clause} ORDER BY seq DESC LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return [_record(row) for row in rows], int(total)

    def ids_with_status(self, status: BuildStatus) -> list[str]:
        """Oldest first: the order in which queued builds run."""
        rows = self.db.execute(
            "SELECT id FROM builds WHERE status = ? ORDER BY seq", (status,)
        ).fetchall()
        return [row[0] for row in rows]

    def first_queued(self, feature: str) -> str | None:
        """The oldest queued build of `feature`: the one whose turn comes next."""
        row = self.db.execute(
            "SELECT id FROM builds WHERE feature = ? AND status = 'queued' ORDER BY seq LIMIT 1",
            (feature,),
        ).fetchone()
        return str(row[0]) if row else None

    def count_by_status(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, COUNT(*) FROM builds GROUP BY status").fetchall()
        return {str(status): int(count) for status, count in rows}

    def set_status(
        self, build_id: str, status: BuildStatus, *, only_from: tuple[str, ...] = ()
    ) -> bool:
        """Move a build to `status`; with `only_from`, only if it is in one of those now."""
        query = "UPDATE builds SET status = ?, updated_at = ? WHERE id = ?"
        args: list[Any] = [status, time.time(), build_id]
        if only_from:
            query += f" AND status IN ({', '.join('?' for _ in only_from)})"
            args += list(only_from)
        return self.db.execute(query, args).rowcount == 1

    def finish(self, result: BuildResult, *, worker: str | None = None) -> bool:
        """Store a build's final result (and its status).

        With `worker`, only while that worker still holds the build: a worker that lost its
        lease (another took the build over) cannot overwrite what the new holder stores.
        """
        query = "UPDATE builds SET status = ?, result = ?, updated_at = ? WHERE id = ?"
        # Redacted here, once for every path: results, reports and reasons never hold credentials.
        args: list[Any] = [result.status, redact(result.model_dump_json()), time.time(), result.id]
        if worker is not None:
            query += " AND worker = ? AND status = 'running'"
            args.append(worker)
        return self.db.execute(query, args).rowcount == 1

    # --- distributed builds: claims, leases, cancel requests -------------------------------------

    def claim(self, build_id: str, worker: str) -> bool:
        """A worker takes a queued build: it becomes `running`, held by `worker`, one more try."""
        now = time.time()
        return self.db.execute(CLAIM, (worker, now, now, now, build_id)).rowcount == 1

    def heartbeat(self, build_id: str, worker: str) -> tuple[bool, bool]:
        """Renew `worker`'s lease on a build: (still held, cancel requested)."""
        with self.db.transaction() as db:
            changed = db.execute(
                "UPDATE builds SET heartbeat_at = ? WHERE id = ? AND worker = ?"
                " AND status = 'running'",
                (time.time(), build_id, worker),
            ).rowcount
            row = db.execute(
                "SELECT cancel_requested FROM builds WHERE id = ?", (build_id,)
            ).fetchone()
        return changed == 1, bool(row and row[0])

    def request_cancel(self, build_id: str) -> bool:
        """Ask whichever worker runs a build to stop it."""
        return (
            self.db.execute(
                "UPDATE builds SET cancel_requested = 1, updated_at = ? WHERE id = ?"
                " AND status IN ('queued', 'running')",
                (time.time(), build_id),
            ).rowcount
            == 1
        )

    def record_commit(self, build_id: str, base: str, tree: str) -> None:
        """Keep the base and the tested tree of a build's commit, before it is published."""
        self.db.execute(
            "UPDATE builds SET base_commit = ?, commit_tree = ? WHERE id = ?",
            (check_object_id(base), check_object_id(tree), build_id),
        )

    def stale(self, older_than: float) -> list[BuildRecord]:
        """Running builds whose holder has not renewed its lease since `older_than`."""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM builds WHERE status = 'running'"
            " AND (heartbeat_at IS NULL OR heartbeat_at < ?) ORDER BY seq",
            (older_than,),
        ).fetchall()
        return [_record(row) for row in rows]

    def settle_stale(self, build_id: str, older_than: float, result: BuildResult | None) -> bool:
        """Take over a stale build: end it with `result`, or (None) queue it again.

        Only one process wins: the update holds only while the lease is still stale.
        """
        now = time.time()
        if result is None:
            query = "UPDATE builds SET status = 'queued', worker = NULL, updated_at = ?"
            args: list[Any] = [now]
        else:
            query = "UPDATE builds SET status = ?, result = ?, updated_at = ?"
            args = [result.status, redact(result.model_dump_json()), now]
        query += (
            " WHERE id = ? AND status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < ?)"
        )
        return self.db.execute(query, [*args, build_id, older_than]).rowcount == 1

    def resend_due(self, older_than: float) -> list[str]:
        """Queued builds untouched since `older_than` (their message may be lost): each is
        returned to exactly one caller, and counts as touched now."""
        rows = self.db.execute(
            "SELECT id FROM builds WHERE status = 'queued' AND updated_at < ? ORDER BY seq",
            (older_than,),
        ).fetchall()
        won = []
        for (build_id,) in rows:
            changed = self.db.execute(
                "UPDATE builds SET updated_at = ? WHERE id = ? AND status = 'queued'"
                " AND updated_at < ?",
                (time.time(), build_id, older_than),
            ).rowcount
            if changed == 1:
                won.append(str(build_id))
        return won

    @contextmanager
    def feature_lock(
        self, feature: str, should_stop: Callable[[], bool] = lambda: False
    ) -> Iterator[bool]:
        """The lock that serialises builds of one feature across every process and machine."""
        with self.db.feature_lock(feature, should_stop) as held:
            yield held

    # --- events ----------------------------------------------------------------------------------

    def append_event(self, event: StageEvent) -> int:
        """Store an event; its number (1 up, per build) is its SSE id."""
        with self.db.transaction() as db:
            db.execute(f"SELECT id FROM builds WHERE id = ?{db.for_update}", (event.build_id,))
            seq = db.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE build_id = ?",
                (event.build_id,),
            ).rows[0][0]
            db.execute(
                "INSERT INTO events (build_id, seq, stage, body) VALUES (?, ?, ?, ?)",
                (event.build_id, seq, event.stage, redact(json.dumps(event.to_dict()))),
            )
        self.on_event(event.build_id)
        return int(seq)

    def events(self, build_id: str, after: int = 0) -> list[tuple[int, dict[str, Any]]]:
        rows = self.db.execute(
            "SELECT seq, body FROM events WHERE build_id = ? AND seq > ? ORDER BY seq",
            (build_id, after),
        ).fetchall()
        return [(int(seq), json.loads(body)) for seq, body in rows]


_COLUMNS = (
    "id, feature, status, request, result, created_at, updated_at,"
    " worker, started_at, heartbeat_at, attempts, cancel_requested, base_commit, commit_tree"
)


#: A worker's claim of a queued build: (worker, now, now, now, build id).
CLAIM = (
    "UPDATE builds SET status = 'running', worker = ?, started_at = ?, heartbeat_at = ?,"
    " attempts = attempts + 1, updated_at = ? WHERE id = ? AND status = 'queued'"
)


def _record(row: tuple[Any, ...]) -> BuildRecord:
    (build_id, feature, status, request, result, created, updated) = row[:7]
    worker, started, heartbeat, attempts, cancel, base_commit, commit_tree = row[7:]
    return BuildRecord(
        id=build_id,
        feature=feature,
        status=status,
        request=FeatureRequest.model_validate_json(request),
        result=BuildResult.model_validate_json(result) if result else None,
        created_at=created,
        updated_at=updated,
        worker=worker,
        started_at=started,
        heartbeat_at=heartbeat,
        attempts=int(attempts),
        cancel_requested=bool(cancel),
        base_commit=base_commit,
        commit_tree=commit_tree,
    )


__all__ = ["BuildRecord", "BuildStore"]
