"""Acceptance: an enum field takes exactly its choices."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, lifecycle, refused

F = "pet_species"


def test_every_operation(client: TestClient) -> None:
    lifecycle(client, F, {"species": "dog"}, {"species": "cat"})


def test_each_choice_is_taken(client: TestClient) -> None:
    for species in ("dog", "cat", "bird"):
        create(client, F, {"species": species})


def test_anything_else_is_refused(client: TestClient) -> None:
    refused(client, F, {"species": "fish"}, "species")
    refused(client, F, {"species": "Dog"}, "species")
    refused(client, F, {}, "species")
