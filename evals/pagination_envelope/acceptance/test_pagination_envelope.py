"""Acceptance: a paginated list that answers an envelope with the total."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, url

F = "shelter_pet"


def test_pages_and_the_total(client: TestClient) -> None:
    items = [create(client, F, {"name": f"Pet {n}"}) for n in range(5)]
    first = client.get(url(F), params={"page": 1, "per_page": 2}).json()
    assert first == {"items": items[:2], "total": 5, "page": 1, "per_page": 2}
    last = client.get(url(F), params={"page": 3, "per_page": 2}).json()
    assert last == {"items": items[4:], "total": 5, "page": 3, "per_page": 2}
    assert client.get(url(F), params={"page": 4, "per_page": 2}).json()["items"] == []


def test_the_defaults(client: TestClient) -> None:
    items = [create(client, F, {"name": f"Pet {n}"}) for n in range(12)]
    body = client.get(url(F)).json()
    assert body == {"items": items[:10], "total": 12, "page": 1, "per_page": 10}


def test_out_of_range_is_422(client: TestClient) -> None:
    assert client.get(url(F), params={"page": 0}).status_code == 422
    assert client.get(url(F), params={"per_page": 51}).status_code == 422
