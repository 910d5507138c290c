"""Storage: builds, events and results in SQLite or PostgreSQL, with migrations."""
