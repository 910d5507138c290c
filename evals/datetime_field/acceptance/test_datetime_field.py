"""Acceptance: a datetime field takes ISO timestamps."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import lifecycle, refused

F = "vet_visit"


def test_every_operation(client: TestClient) -> None:
    lifecycle(
        client,
        F,
        {"reason": "yearly check", "visit_at": "2024-05-01T10:30:00"},
        {"visit_at": "2024-05-02T09:00:00"},
    )


def test_a_timestamp_that_is_not_one_is_refused(client: TestClient) -> None:
    refused(client, F, {"reason": "limp", "visit_at": "soon"}, "visit_at")
    refused(client, F, {"reason": "limp", "visit_at": "2024-05-01T25:00:00"}, "visit_at")
    refused(client, F, {"reason": "x", "visit_at": "2024-05-01T10:30:00"}, "reason")
