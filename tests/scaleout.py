"""Real PostgreSQL and Redis for the scale-out tests: reached, or skipped (failed in CI).

The machine runs both on their usual loopback ports; `TEST_POSTGRES_URL` and `TEST_REDIS_URL`
point elsewhere. Where one is missing the tests skip and say why, unless
`REQUIRE_SCALEOUT_TESTS=1` (set by `.ci/run`) turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
#: A database number of its own, so tests never touch another user's queues.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def unavailable(what: str, why: str) -> None:
    message = f"{what} is not reachable ({why}); the scale-out tests need it"
    if os.environ.get("REQUIRE_SCALEOUT_TESTS") == "1":
        pytest.fail(f"{message}, and REQUIRE_SCALEOUT_TESTS=1 forbids skipping them")
    pytest.skip(message)


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    try:
        import psycopg
    except ImportError as e:
        unavailable("PostgreSQL", f"psycopg is not installed: {e}")
    name = f"petsage_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        unavailable("PostgreSQL", str(e).strip().splitlines()[0])
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _with_database(POSTGRES_ADMIN_URL, name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis database; the queues a test made are deleted afterwards."""
    try:
        import redis
    except ImportError as e:
        unavailable("Redis", f"the redis client is not installed: {e}")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as e:
        unavailable("Redis", str(e))
    yield REDIS_URL
    client.close()


def queue_name() -> str:
    return f"petsage-test-{uuid.uuid4().hex[:10]}"
