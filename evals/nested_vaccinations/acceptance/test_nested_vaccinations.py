"""Acceptance: a nested route: each pet's own vaccinations."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, url

F = "pets"


def test_vaccinations_belong_to_their_pet(client: TestClient) -> None:
    rex = create(client, F, {"name": "Rex"})
    mia = create(client, F, {"name": "Mia"})
    shot = client.post(
        url(F, rex["id"], "vaccinations"), json={"vaccine": "Rabies", "given_on": "2024-03-01"}
    )
    assert shot.status_code == 201, shot.text
    assert shot.json()["pet_id"] == rex["id"] and shot.json()["vaccine"] == "Rabies"
    assert client.get(url(F, rex["id"], "vaccinations")).json() == [shot.json()]
    assert client.get(url(F, mia["id"], "vaccinations")).json() == []


def test_an_unknown_pet_is_404(client: TestClient) -> None:
    body = {"vaccine": "Rabies", "given_on": "2024-03-01"}
    assert client.post(url(F, 4242, "vaccinations"), json=body).status_code == 404
    assert client.get(url(F, 4242, "vaccinations")).status_code == 404


def test_a_bad_vaccination_is_422(client: TestClient) -> None:
    rex = create(client, F, {"name": "Rex"})
    bad = client.post(
        url(F, rex["id"], "vaccinations"), json={"vaccine": "Rabies", "given_on": "soon"}
    )
    assert bad.status_code == 422 and "given_on" in bad.text
