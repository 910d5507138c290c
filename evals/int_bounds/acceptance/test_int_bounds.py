"""Acceptance: an integer field with bounds: whole numbers in range only."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, lifecycle, refused

F = "pet_age"


def test_every_operation(client: TestClient) -> None:
    lifecycle(client, F, {"age": 3}, {"age": 4})


def test_the_bounds_are_inclusive(client: TestClient) -> None:
    create(client, F, {"age": 0})
    create(client, F, {"age": 40})


def test_out_of_range_and_not_whole_numbers_are_refused(client: TestClient) -> None:
    refused(client, F, {"age": -1}, "age")
    refused(client, F, {"age": 41}, "age")
    refused(client, F, {"age": 3.5}, "age")
    refused(client, F, {"age": "old"}, "age")
    refused(client, F, {}, "age")
