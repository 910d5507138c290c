"""The store's schema: one numbered list of migrations for SQLite and PostgreSQL alike.

Column types that differ between the two are named by role (`{serial}`, `{float}`);
`Database.render` spells them. A database records the numbers it has applied.
"""

from __future__ import annotations

from agent.store.database import Database

MIGRATIONS = (
    """
    CREATE TABLE builds (
        seq {serial},
        id TEXT NOT NULL UNIQUE,
        feature TEXT NOT NULL,
        status TEXT NOT NULL,
        request TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        idempotency_key TEXT UNIQUE,
        result TEXT,
        created_at {float} NOT NULL,
        updated_at {float} NOT NULL
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
        created_at {float} NOT NULL
    )
    """,
    """
    CREATE TABLE chat_messages (
        chat_id TEXT NOT NULL REFERENCES chats (id),
        seq INTEGER NOT NULL,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        build_id TEXT,
        at {float} NOT NULL,
        PRIMARY KEY (chat_id, seq)
    )
    """,
    # Distributed builds: who runs a build, since when, its lease, tries and a cancel request.
    "ALTER TABLE builds ADD COLUMN worker TEXT",
    "ALTER TABLE builds ADD COLUMN started_at {float}",
    "ALTER TABLE builds ADD COLUMN heartbeat_at {float}",
    "ALTER TABLE builds ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE builds ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0",
    # GitHub webhook deliveries seen, so that a redelivery starts nothing new.
    """
    CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY,
        event TEXT NOT NULL,
        received_at {float} NOT NULL
    )
    """,
    # A build's commit is recognised after a crash only by the base it started from and the
    # tree it tested, recorded when it committed.
    "ALTER TABLE builds ADD COLUMN base_commit TEXT",
    "ALTER TABLE builds ADD COLUMN commit_tree TEXT",
    # A forge pull request refreshed onto its base (or refused): the commit it is pinned to
    # now, for the build whose commit it replayed; a later build of the PR supersedes it.
    """
    CREATE TABLE forge_pulls (
        number INTEGER PRIMARY KEY,
        build_id TEXT NOT NULL,
        head_commit TEXT NOT NULL,
        tested_on TEXT,
        needs_rebuild TEXT,
        updated_at {float} NOT NULL
    )
    """,
)


def migrate(database: Database) -> None:
    """Apply the migrations this database lacks; concurrent starters apply each once."""
    with database.transaction() as db:
        if db.dialect == "postgresql":
            # Two processes starting at once: the second waits, then finds nothing to do.
            db.execute("SELECT pg_advisory_xact_lock(7454617)")
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        current = db.execute("SELECT MAX(version) FROM schema_version").rows[0][0] or 0
        for number, statement in enumerate(MIGRATIONS, start=1):
            if number > current:
                db.execute(db.render(statement))
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
