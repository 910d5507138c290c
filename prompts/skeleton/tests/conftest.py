"""Fixtures shared by every feature's tests: the app's client, and a fresh database a test."""

import os
from collections.abc import Iterator

import pytest
import src.tables  # noqa: F401 - every feature's table module
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool
from src.db import Base, get_session, make_engine
from src.main import app


@pytest.fixture(autouse=True)
def database() -> Iterator[sessionmaker[Session]]:
    """Every test gets empty tables: SQLite in memory, or the database of TEST_DATABASE_URL."""
    url = os.environ.get("TEST_DATABASE_URL")
    engine = make_engine(url) if url else make_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)

    def test_session() -> Iterator[Session]:
        with sessions() as session:
            yield session

    app.dependency_overrides[get_session] = test_session
    try:
        yield sessions
    finally:
        app.dependency_overrides.pop(get_session, None)
        Base.metadata.drop_all(engine)
        engine.dispose()


@pytest.fixture
def client() -> TestClient:
    """A test client bound to the whole PetSage app."""
    return TestClient(app)
