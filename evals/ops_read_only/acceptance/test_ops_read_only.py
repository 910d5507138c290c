"""Acceptance: a read-only resource: list and get only, nothing can be written."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import url

F = "breed_catalog"


def test_the_list_starts_empty(client: TestClient) -> None:
    response = client.get(url(F))
    assert response.status_code == 200 and response.json() == []


def test_an_unknown_id_is_404(client: TestClient) -> None:
    assert client.get(url(F, 1)).status_code == 404


def test_nothing_can_be_written(client: TestClient) -> None:
    assert client.post(url(F), json={"breed": "Beagle"}).status_code == 405
    assert client.get(url(F)).json() == []
