"""Acceptance: a computed field, derived on every answer and kept up to date."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import url

F = "pet_dose"


def test_total_is_computed(client: TestClient) -> None:
    response = client.post(url(F), json={"weight_kg": 12.5, "mg_per_kg": 2.2})
    assert response.status_code == 201, response.text
    item = response.json()
    assert item["total_mg"] == 27.5
    assert client.get(url(F, item["id"])).json()["total_mg"] == 27.5


def test_a_patch_recomputes_it(client: TestClient) -> None:
    item = client.post(url(F), json={"weight_kg": 10, "mg_per_kg": 1.5}).json()
    patched = client.patch(url(F, item["id"]), json={"weight_kg": 3.333})
    assert patched.status_code == 200 and patched.json()["total_mg"] == 5.0


def test_the_inputs_are_validated(client: TestClient) -> None:
    assert client.post(url(F), json={"weight_kg": 0.1, "mg_per_kg": 1}).status_code == 422
    assert client.post(url(F), json={"weight_kg": 5, "mg_per_kg": 51}).status_code == 422
