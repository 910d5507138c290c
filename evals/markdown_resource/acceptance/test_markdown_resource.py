"""Acceptance: a resource request in the seed's Markdown form, fields one a line."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import lifecycle, refused

F = "grooming_slot"

OK = {"groomer": "Sam", "minutes": 45, "coat": "long", "starts_at": "2024-06-01T14:00:00"}


def test_every_operation(client: TestClient) -> None:
    lifecycle(client, F, OK, {"minutes": 60, "coat": "curly"})


def test_the_rules_hold(client: TestClient) -> None:
    refused(client, F, {**OK, "minutes": 10}, "minutes")
    refused(client, F, {**OK, "minutes": 181}, "minutes")
    refused(client, F, {**OK, "coat": "wiry"}, "coat")
    refused(client, F, {**OK, "groomer": "S"}, "groomer")
