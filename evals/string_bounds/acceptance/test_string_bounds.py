"""Acceptance: a string field with length bounds: the bounds are inclusive, outside them is 422."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, lifecycle, missing, refused, url

F = "pet_name"


def test_every_operation(client: TestClient) -> None:
    lifecycle(client, F, {"name": "Rex"}, {"name": "Rexy"})


def test_the_bounds_are_inclusive(client: TestClient) -> None:
    create(client, F, {"name": "Bo"})
    create(client, F, {"name": "x" * 30})


def test_outside_the_bounds_is_refused(client: TestClient) -> None:
    refused(client, F, {"name": "B"}, "name")
    refused(client, F, {"name": "x" * 31}, "name")
    refused(client, F, {}, "name")


def test_a_patch_breaking_a_rule_is_refused_and_changes_nothing(client: TestClient) -> None:
    item = create(client, F, {"name": "Rex"})
    assert client.patch(url(F, item["id"]), json={"name": "x" * 31}).status_code == 422
    assert client.get(url(F, item["id"])).json() == item


def test_unknown_ids_are_404(client: TestClient) -> None:
    missing(client, F, ("get", "update", "delete"))
