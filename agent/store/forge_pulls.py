"""The commit each pull request on the forge is pinned to, as the builder last left it.

A forge PR is pinned by the build that opened or last updated it (its stored result's
`pull_request.head_commit`). A refresh onto a newer base (`agent.github.follow`) moves the pin
to the replayed commit, or marks the PR as needing a rebuild; that record holds only while the
same build is the PR's newest: a later build of the PR supersedes it, as a new build of a local
PR clears its `needs_rebuild`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from agent.repo.guards import check_object_id
from agent.store.builds import BuildRecord, BuildStore


@dataclass(frozen=True)
class ForgePin:
    """Where the builder left forge PR `number`: the commit a merge may take, and why not."""

    number: int
    build_id: str
    head_commit: str
    #: The base commit the whole suite last passed on for `head_commit` (a refresh sets it).
    tested_on: str | None = None
    #: Why the builder will not refresh the PR (a person's edit, a failing suite...).
    needs_rebuild: str | None = None


class ForgePins:
    """Forge PR pins in the build store (SQLite or PostgreSQL, shared with the workers)."""

    def __init__(self, store: BuildStore) -> None:
        self.store = store

    def get(self, number: int, feature: str) -> ForgePin | None:
        """PR `number`'s pin; None when no stored build of `feature` opened or updated it."""
        build = self._newest_build(number, feature)
        if build is None or build.result is None or build.result.pull_request is None:
            return None
        row = self.store.db.execute(
            "SELECT build_id, head_commit, tested_on, needs_rebuild FROM forge_pulls"
            " WHERE number = ?",
            (number,),
        ).fetchone()
        if row is not None and row[0] == build.id:
            return ForgePin(number, row[0], row[1], row[2], row[3])
        head = build.result.pull_request.head_commit or build.result.commit
        if head is None:
            return None
        return ForgePin(number, build.id, check_object_id(head))

    def record(self, pin: ForgePin) -> None:
        """Store `pin` as PR `pin.number`'s, in place of any earlier one."""
        self.store.db.execute(
            "INSERT INTO forge_pulls"
            " (number, build_id, head_commit, tested_on, needs_rebuild, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (number) DO UPDATE SET build_id = excluded.build_id,"
            " head_commit = excluded.head_commit, tested_on = excluded.tested_on,"
            " needs_rebuild = excluded.needs_rebuild, updated_at = excluded.updated_at",
            (
                pin.number,
                pin.build_id,
                check_object_id(pin.head_commit),
                pin.tested_on,
                pin.needs_rebuild,
                time.time(),
            ),
        )

    def _newest_build(self, number: int, feature: str) -> BuildRecord | None:
        """The succeeded build of `feature` that last opened or updated forge PR `number`."""
        records, _ = self.store.page(status="succeeded", feature=feature, limit=200)
        found = [
            record
            for record in records
            if record.result is not None
            and record.result.pull_request is not None
            and record.result.pull_request.kind == "forge"
            and record.result.pull_request.id == str(number)
        ]
        return max(found, key=lambda record: record.updated_at, default=None)


__all__ = ["ForgePin", "ForgePins"]
