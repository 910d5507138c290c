"""Acceptance: a case-insensitive substring search over a list."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, url

F = "pet_directory"


def test_q_finds_names_containing_it_ignoring_case(client: TestClient) -> None:
    bella = create(client, F, {"name": "Bella", "owner_name": "Ann"})
    create(client, F, {"name": "Rex", "owner_name": "Bob"})
    isabel = create(client, F, {"name": "Isabel", "owner_name": "Cy"})
    assert client.get(url(F), params={"q": "BEL"}).json() == [bella, isabel]
    assert client.get(url(F), params={"q": "zzz"}).json() == []
    assert len(client.get(url(F)).json()) == 3
