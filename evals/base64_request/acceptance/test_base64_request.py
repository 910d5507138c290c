"""Acceptance: a request sent as base64 builds the same feature as its JSON would."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import lifecycle, refused

F = "pet_insurance"

OK = {"insurer": "Paws Mutual", "policy_number": "PM-1234", "monthly_fee": 19.9}


def test_every_operation(client: TestClient) -> None:
    lifecycle(client, F, OK, {"monthly_fee": 21.5})


def test_the_rules_hold(client: TestClient) -> None:
    refused(client, F, {**OK, "policy_number": "PM"}, "policy_number")
    refused(client, F, {**OK, "monthly_fee": -1}, "monthly_fee")
