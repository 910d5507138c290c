"""Acceptance: a list filtered by a query parameter."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, url

F = "pet_registry"


def test_the_list_filters_by_species(client: TestClient) -> None:
    rex = create(client, F, {"name": "Rex", "species": "dog"})
    tom = create(client, F, {"name": "Tom", "species": "cat"})
    ace = create(client, F, {"name": "Ace", "species": "dog"})
    assert client.get(url(F), params={"species": "dog"}).json() == [rex, ace]
    assert client.get(url(F), params={"species": "cat"}).json() == [tom]
    assert client.get(url(F), params={"species": "bird"}).json() == []
    assert client.get(url(F)).json() == [rex, tom, ace]


def test_an_unknown_species_is_422(client: TestClient) -> None:
    assert client.get(url(F), params={"species": "fish"}).status_code == 422
