"""Acceptance: a status endpoint whose body is more than the default one."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import url

F = "api_version"


def test_the_version_is_answered(client: TestClient) -> None:
    response = client.get(url(F))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["version"] == "1.4.2"
    assert isinstance(body["features"], int) and body["features"] >= 1


def test_writes_are_not_allowed(client: TestClient) -> None:
    assert client.post(url(F)).status_code == 405
    assert client.delete(url(F)).status_code == 405
