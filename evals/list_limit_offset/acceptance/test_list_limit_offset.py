"""Acceptance: the list is in id order and pages with `limit` and `offset`."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, url

F = "feeding_log"


def test_limit_and_offset_page_the_list_in_id_order(client: TestClient) -> None:
    ids = [create(client, F, {"food": f"meal {n}", "grams": 100 + n})["id"] for n in range(5)]
    assert ids == sorted(ids)
    assert [r["id"] for r in client.get(url(F), params={"limit": 2}).json()] == ids[:2]
    page = client.get(url(F), params={"limit": 2, "offset": 2}).json()
    assert [r["id"] for r in page] == ids[2:4]
    assert [r["id"] for r in client.get(url(F), params={"offset": 3}).json()] == ids[3:]
    assert client.get(url(F), params={"offset": 10}).json() == []
