"""Acceptance: a list filtered by an inclusive numeric range."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, url

F = "pet_weights"


def test_the_range_is_inclusive(client: TestClient) -> None:
    small = create(client, F, {"name": "Mouse", "weight_kg": 0.5})
    mid = create(client, F, {"name": "Cat", "weight_kg": 4.0})
    big = create(client, F, {"name": "Dane", "weight_kg": 70.0})
    assert client.get(url(F), params={"min_kg": 4, "max_kg": 70}).json() == [mid, big]
    assert client.get(url(F), params={"max_kg": 4}).json() == [small, mid]
    assert client.get(url(F), params={"min_kg": 100}).json() == []


def test_an_empty_range_is_422(client: TestClient) -> None:
    assert client.get(url(F), params={"min_kg": 5, "max_kg": 1}).status_code == 422
