"""Fixtures shared by every feature's tests."""

import pytest
from fastapi.testclient import TestClient
from src.main import app


@pytest.fixture
def client() -> TestClient:
    """A test client bound to the whole PetSage app."""
    return TestClient(app)
