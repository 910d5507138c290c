"""Acceptance: the plain `Feature: ...` text form builds a status endpoint at the kebab-case URL."""

from fastapi.testclient import TestClient

F = "vet_ping"


def test_the_kebab_case_route_answers_ok(client: TestClient) -> None:
    response = client.get("/api/v1/vet-ping")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_the_snake_case_route_does_not_exist(client: TestClient) -> None:
    assert client.get("/api/v1/vet_ping").status_code == 404
