"""What every acceptance test may lean on: the blueprint's contract, said once.

Copied by the eval harness beside each task's acceptance tests (`tests/acceptance/contract.py`
on the built branch). It knows only BLUEPRINT §2 and §4 (routes, status codes, bodies, the
database of `src.db`), never any generator's code.
"""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

API = "/api/v1"
ROOT = Path(__file__).resolve().parents[2]


def url(feature: str, *rest: object) -> str:
    """`/api/v1/<kebab>[/rest...]` (BLUEPRINT §2: `_` becomes `-`)."""
    path = f"{API}/{feature.replace('_', '-')}"
    return "/".join([path, *(str(part) for part in rest)])


def create(client: TestClient, feature: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST `body`: 201 with the stored item, an int `id` and every field as sent."""
    response = client.post(url(feature), json=body)
    assert response.status_code == 201, response.text
    item = response.json()
    assert isinstance(item.get("id"), int) and not isinstance(item["id"], bool), item
    matches(item, body)
    return item


def matches(item: dict[str, Any], expected: dict[str, Any]) -> None:
    """Every field of `expected` is in `item` with the same value; a timestamp is the same
    instant however it is written (one without an offset is UTC), e.g. `...T10:30:00Z`."""
    for name, value in expected.items():
        assert name in item and same(item[name], value), (name, value, item)


def same(actual: object, expected: object) -> bool:
    if actual == expected:
        return True
    if isinstance(actual, str) and isinstance(expected, str):
        left, right = _instant(actual), _instant(expected)
        return left is not None and left == right
    return False


def refused(client: TestClient, feature: str, body: dict[str, Any], field: str) -> None:
    """POST `body` is refused with 422 naming `field`, and nothing is stored."""
    before = client.get(url(feature)).json() if _lists(client, feature) else None
    response = client.post(url(feature), json=body)
    assert response.status_code == 422, (body, response.status_code, response.text)
    assert field in response.text, response.text
    if before is not None:
        assert client.get(url(feature)).json() == before


def lifecycle(
    client: TestClient, feature: str, body: dict[str, Any], change: dict[str, Any]
) -> None:
    """Create, list, get, patch, delete, each answering as BLUEPRINT §4b says."""
    item = create(client, feature, body)
    other = create(client, feature, body)
    assert other["id"] != item["id"]
    listed = client.get(url(feature))
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()] == [item["id"], other["id"]]
    fetched = client.get(url(feature, item["id"]))
    assert fetched.status_code == 200 and fetched.json() == item
    patched = client.patch(url(feature, item["id"]), json=change)
    assert patched.status_code == 200, patched.text
    assert set(patched.json()) == set(item)
    matches(patched.json(), {**item, **change})
    assert client.get(url(feature, item["id"])).json() == patched.json()
    deleted = client.delete(url(feature, item["id"]))
    assert deleted.status_code == 204 and not deleted.content
    assert client.get(url(feature, item["id"])).status_code == 404
    assert [row["id"] for row in client.get(url(feature)).json()] == [other["id"]]


def missing(client: TestClient, feature: str, operations: tuple[str, ...]) -> None:
    """Each item operation on an id that was never created answers 404."""
    calls = {
        "get": lambda: client.get(url(feature, 999_999)),
        "update": lambda: client.patch(url(feature, 999_999), json={}),
        "delete": lambda: client.delete(url(feature, 999_999)),
    }
    for operation in operations:
        response = calls[operation]()
        assert response.status_code == 404, (operation, response.status_code, response.text)


def in_new_process(database: Path, method: str, path: str, body: object = None) -> Any:
    """One request to a freshly started app (a new process) on the SQLite file `database`.

    The schema is made as `alembic upgrade head` would from the registered tables; what a
    request stored survives only if it went to the database, not to the process's memory.
    """
    script = (
        "import json, sys\n"
        "import src.tables\n"
        "from src.db import Base, engine\n"
        "Base.metadata.create_all(engine)\n"
        "from fastapi.testclient import TestClient\n"
        "from src.main import app\n"
        "body = json.loads(sys.argv[3])\n"
        "r = TestClient(app).request(sys.argv[1], sys.argv[2], json=body)\n"
        "print(json.dumps([r.status_code, r.json() if r.content else None]))\n"
    )
    environment = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
    done = subprocess.run(
        [sys.executable, "-c", script, method, path, json.dumps(body)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def survives_restart(tmp_path: Path, feature: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST in one process, GET it back in another: the item outlives the app's restart."""
    database = tmp_path / "petsage.db"
    status, item = in_new_process(database, "POST", url(feature), body)
    assert status == 201, item
    status, again = in_new_process(database, "GET", url(feature, item["id"]))
    assert status == 200 and again == item, again
    status, listed = in_new_process(database, "GET", url(feature))
    assert status == 200 and listed == [item], listed
    return dict(item)


def _lists(client: TestClient, feature: str) -> bool:
    return client.get(url(feature)).status_code == 200


def _instant(text: str) -> datetime | None:
    if "T" not in text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
