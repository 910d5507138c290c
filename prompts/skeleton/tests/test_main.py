"""Tests of the application shell itself."""

from fastapi.testclient import TestClient


def test_root_welcomes(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.json() == {"message": "Welcome to the PetSage API"}
