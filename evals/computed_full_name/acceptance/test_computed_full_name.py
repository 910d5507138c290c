"""Acceptance: a computed field and a sorted list."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import url

F = "pet_owner_card"


def make(client: TestClient, first: str, last: str) -> dict[str, object]:
    response = client.post(url(F), json={"first_name": first, "last_name": last})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_full_name_is_computed(client: TestClient) -> None:
    card = make(client, "Ada", "Lovelace")
    assert card["full_name"] == "Ada Lovelace"


def test_the_list_sorts_by_last_name(client: TestClient) -> None:
    make(client, "Bo", "Young")
    make(client, "Cy", "Adams")
    make(client, "Di", "Moss")
    up = [c["last_name"] for c in client.get(url(F), params={"sort": "last_name"}).json()]
    down = [c["last_name"] for c in client.get(url(F), params={"sort": "-last_name"}).json()]
    assert up == ["Adams", "Moss", "Young"] and down == ["Young", "Moss", "Adams"]
