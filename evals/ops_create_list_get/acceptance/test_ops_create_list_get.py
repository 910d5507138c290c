"""Acceptance: only the operations asked for exist: no update, no delete."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, url

F = "adoption_listing"


def test_create_list_and_get_work(client: TestClient) -> None:
    item = create(client, F, {"title": "Friendly beagle"})
    assert client.get(url(F)).json() == [item]
    assert client.get(url(F, item["id"])).json() == item
    assert client.get(url(F, item["id"] + 1000)).status_code == 404


def test_update_and_delete_are_not_there(client: TestClient) -> None:
    item = create(client, F, {"title": "Old tabby"})
    assert client.patch(url(F, item["id"]), json={"title": "Young tabby"}).status_code == 405
    assert client.delete(url(F, item["id"])).status_code == 405
    assert client.get(url(F, item["id"])).json() == item
