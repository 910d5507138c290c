"""Acceptance: a `ref` field is a foreign key: unknown id 422, a referenced row stays (409)."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, refused, url

F = "pet_visit"

OWNER = "pet_owner"


def test_a_visit_refers_to_an_existing_owner(client: TestClient) -> None:
    owner = create(client, OWNER, {"name": "Ada"})
    visit = create(client, F, {"owner_id": owner["id"], "reason": "vaccination"})
    assert client.get(url(F, visit["id"])).json()["owner_id"] == owner["id"]


def test_an_unknown_owner_is_422_naming_the_field(client: TestClient) -> None:
    refused(client, F, {"owner_id": 424242, "reason": "limp"}, "owner_id")


def test_a_patch_to_an_unknown_owner_is_422(client: TestClient) -> None:
    owner = create(client, OWNER, {"name": "Ada"})
    visit = create(client, F, {"owner_id": owner["id"], "reason": "limp"})
    response = client.patch(url(F, visit["id"]), json={"owner_id": 424242})
    assert response.status_code == 422 and "owner_id" in response.text
    assert client.get(url(F, visit["id"])).json() == visit


def test_a_referenced_owner_cannot_be_deleted(client: TestClient) -> None:
    owner = create(client, OWNER, {"name": "Ada"})
    visit = create(client, F, {"owner_id": owner["id"], "reason": "check-up"})
    assert client.delete(url(OWNER, owner["id"])).status_code == 409
    assert client.get(url(OWNER, owner["id"])).status_code == 200
    assert client.delete(url(F, visit["id"])).status_code == 204
    assert client.delete(url(OWNER, owner["id"])).status_code == 204
