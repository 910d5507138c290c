"""Acceptance: a nested collection whose rows go with their parent."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, url

F = "owners"


def test_pets_are_listed_under_their_owner(client: TestClient) -> None:
    ann = create(client, F, {"name": "Ann"})
    pet = client.post(url(F, ann["id"], "pets"), json={"name": "Rex"})
    assert pet.status_code == 201, pet.text
    assert pet.json() == {"id": pet.json()["id"], "owner_id": ann["id"], "name": "Rex"}
    assert client.get(url(F, ann["id"], "pets")).json() == [pet.json()]


def test_deleting_the_owner_takes_the_pets(client: TestClient) -> None:
    ann = create(client, F, {"name": "Ann"})
    client.post(url(F, ann["id"], "pets"), json={"name": "Rex"})
    assert client.delete(url(F, ann["id"])).status_code == 204
    assert client.get(url(F, ann["id"], "pets")).status_code == 404
    bob = create(client, F, {"name": "Bob"})
    assert client.get(url(F, bob["id"], "pets")).json() == []
