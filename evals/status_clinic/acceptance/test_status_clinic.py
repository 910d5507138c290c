"""Acceptance: a status endpoint answers ok with a message, and is in the OpenAPI document."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import url

F = "clinic_status"


def test_get_answers_ok_with_a_message(client: TestClient) -> None:
    response = client.get(url(F))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert isinstance(body["message"], str) and body["message"].strip()


def test_writes_are_not_allowed(client: TestClient) -> None:
    for method in ("post", "put", "delete", "patch"):
        assert getattr(client, method)(url(F)).status_code == 405, method


def test_the_route_is_documented(client: TestClient) -> None:
    assert url(F) in client.get("/openapi.json").json()["paths"]
