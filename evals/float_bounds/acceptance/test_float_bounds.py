"""Acceptance: a float field with bounds."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, lifecycle, refused

F = "pet_weight"


def test_every_operation(client: TestClient) -> None:
    lifecycle(client, F, {"weight_kg": 12.5}, {"weight_kg": 13.25})


def test_the_bounds_are_inclusive(client: TestClient) -> None:
    create(client, F, {"weight_kg": 0.5})
    create(client, F, {"weight_kg": 90})


def test_out_of_range_is_refused(client: TestClient) -> None:
    refused(client, F, {"weight_kg": 0.49}, "weight_kg")
    refused(client, F, {"weight_kg": 90.01}, "weight_kg")
    refused(client, F, {"weight_kg": "heavy"}, "weight_kg")
