"""Acceptance: every field type and rule in one resource, given as the object form."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, lifecycle, missing, refused

F = "pet_record"

OK = {"name": "Rex", "age": 3, "species": "dog", "vaccinated": True}


def test_every_operation(client: TestClient) -> None:
    full = {**OK, "weight_kg": 12.5, "born": "2021-04-01", "last_visit": "2024-01-02T03:04:05"}
    lifecycle(client, F, full, {"age": 4, "species": "cat"})


def test_each_rule(client: TestClient) -> None:
    refused(client, F, {**OK, "name": ""}, "name")
    refused(client, F, {**OK, "age": 41}, "age")
    refused(client, F, {**OK, "weight_kg": 100}, "weight_kg")
    refused(client, F, {**OK, "species": "fish"}, "species")
    refused(client, F, {**OK, "vaccinated": "often"}, "vaccinated")
    refused(client, F, {**OK, "born": "2021-02-30"}, "born")
    refused(client, F, {**OK, "last_visit": "never"}, "last_visit")


def test_required_fields_are_required(client: TestClient) -> None:
    for name in OK:
        refused(client, F, {k: v for k, v in OK.items() if k != name}, name)
    create(client, F, OK)


def test_unknown_ids_are_404(client: TestClient) -> None:
    missing(client, F, ("get", "update", "delete"))
