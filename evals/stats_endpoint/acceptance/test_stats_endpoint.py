"""Acceptance: an aggregate route beside the item routes."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, url

F = "pet_census"


def test_stats_count_by_species(client: TestClient) -> None:
    assert client.get(url(F, "stats")).json() == {"dog": 0, "cat": 0, "bird": 0, "total": 0}
    create(client, F, {"name": "Rex", "species": "dog"})
    create(client, F, {"name": "Ace", "species": "dog"})
    tom = create(client, F, {"name": "Tom", "species": "cat"})
    assert client.get(url(F, "stats")).json() == {"dog": 2, "cat": 1, "bird": 0, "total": 3}
    assert client.delete(url(F, tom["id"])).status_code == 204
    assert client.get(url(F, "stats")).json()["cat"] == 0


def test_items_still_answer_by_id(client: TestClient) -> None:
    rex = create(client, F, {"name": "Rex", "species": "dog"})
    assert client.get(url(F, rex["id"])).json() == rex
