"""Acceptance: optional date and datetime fields: null when left out, validated when given."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, refused, url

F = "pet_adoption"


def test_left_out_they_are_null(client: TestClient) -> None:
    item = create(client, F, {"pet_name": "Mia"})
    assert item.get("adopted_on") is None and item.get("last_seen") is None


def test_given_they_are_kept_and_validated(client: TestClient) -> None:
    create(
        client,
        F,
        {"pet_name": "Mia", "adopted_on": "2023-07-14", "last_seen": "2024-02-01T08:00:00"},
    )
    refused(client, F, {"pet_name": "Mia", "adopted_on": "2023-02-30"}, "adopted_on")


def test_a_patch_sets_one_later(client: TestClient) -> None:
    item = create(client, F, {"pet_name": "Mia"})
    patched = client.patch(url(F, item["id"]), json={"adopted_on": "2024-01-01"})
    assert patched.status_code == 200 and patched.json()["adopted_on"] == "2024-01-01"
    assert patched.json()["pet_name"] == "Mia"
