"""Acceptance: the seed's status endpoint answers its exact message; other methods answer 405."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import url

F = "smoke_test"


def test_get_answers_the_operational_message(client: TestClient) -> None:
    response = client.get(url(F))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "message": "PetSage Backend is operational."}


def test_other_methods_are_not_allowed(client: TestClient) -> None:
    assert client.post(url(F)).status_code == 405
    assert client.put(url(F)).status_code == 405
    assert client.delete(url(F)).status_code == 405


def test_the_welcome_route_still_answers(client: TestClient) -> None:
    assert client.get("/").json() == {"message": "Welcome to the PetSage API"}
