"""Acceptance: an operation subset given in the object form: everything but delete."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, refused, url

F = "microchip"

CHIP = "985112345678901"


def test_update_works(client: TestClient) -> None:
    item = create(client, F, {"chip_number": CHIP})
    patched = client.patch(url(F, item["id"]), json={"chip_number": "985100000000000"})
    assert patched.status_code == 200 and patched.json()["chip_number"] == "985100000000000"


def test_delete_is_not_there(client: TestClient) -> None:
    item = create(client, F, {"chip_number": CHIP})
    assert client.delete(url(F, item["id"])).status_code == 405
    assert client.get(url(F, item["id"])).status_code == 200


def test_the_exact_length_is_enforced(client: TestClient) -> None:
    refused(client, F, {"chip_number": CHIP[:-1]}, "chip_number")
    refused(client, F, {"chip_number": CHIP + "1"}, "chip_number")
