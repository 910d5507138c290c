"""Acceptance: optional fields may be left out (null then), and obey their rules when given."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, lifecycle, refused, url

F = "pet_profile"


def test_every_operation(client: TestClient) -> None:
    lifecycle(client, F, {"name": "Rex", "nickname": "Rexy"}, {"weight_kg": 20.0})


def test_optional_fields_are_null_when_left_out(client: TestClient) -> None:
    item = create(client, F, {"name": "Rex"})
    assert item.get("nickname") is None and item.get("weight_kg") is None
    assert item.get("born") is None


def test_given_optional_fields_obey_their_rules(client: TestClient) -> None:
    refused(client, F, {"name": "Rex", "nickname": "x" * 21}, "nickname")
    refused(client, F, {"name": "Rex", "weight_kg": 0.1}, "weight_kg")
    refused(client, F, {"name": "Rex", "born": "someday"}, "born")
    refused(client, F, {"nickname": "no name"}, "name")


def test_a_patch_changes_only_what_it_names(client: TestClient) -> None:
    item = create(client, F, {"name": "Rex", "nickname": "Rexy", "weight_kg": 12.0})
    patched = client.patch(url(F, item["id"]), json={"weight_kg": 13.0})
    assert patched.status_code == 200
    assert patched.json() == {**item, "weight_kg": 13.0}
