"""Acceptance: a boolean field keeps true and false apart and refuses other words."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, lifecycle, refused

F = "vaccination_flag"


def test_every_operation(client: TestClient) -> None:
    lifecycle(client, F, {"pet_name": "Rex", "vaccinated": False}, {"vaccinated": True})


def test_true_and_false_are_kept(client: TestClient) -> None:
    assert create(client, F, {"pet_name": "A", "vaccinated": True})["vaccinated"] is True
    assert create(client, F, {"pet_name": "B", "vaccinated": False})["vaccinated"] is False


def test_other_values_are_refused(client: TestClient) -> None:
    refused(client, F, {"pet_name": "C", "vaccinated": "maybe"}, "vaccinated")
    refused(client, F, {"pet_name": "C"}, "vaccinated")
