"""Generated features keep their data: SQLAlchemy tables, Alembic revisions, `ref` relations."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from agent.fields.words import parse_field_lines
from agent.pipeline import persistence
from agent.pipeline.loop import Builder
from agent.pipeline.result import BuildResult
from agent.settings import Settings
from tests.conftest import git

PETS = "name: str len>=1 len<=40\nage: int >=0 <=40\nspecies: dog|cat\nborn: date?"
VISITS = "pet_id: ref pet_profile\nnotes: str? len<=200\nwhen: datetime\nweight: float >=0 <=200"


def build(settings: Settings, feature: str, fields: str, **extra: str) -> BuildResult:
    request = {"feature": feature, "description": feature, "requirements": fields, **extra}
    return Builder(settings).run(request)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[BuildResult]]]:
    """pet_profile, then pet_visit (refers to it) built on its branch, checked out."""
    root = tmp_path_factory.mktemp("persist")
    settings = Settings(workspace=root / "repo", state_dir=root / "state", test_timeout=120)
    os.environ.pop("PETSAGE_MODEL", None)
    first = build(settings, "pet_profile", PETS)
    second = build(settings, "pet_visit", VISITS, base_branch="feature/pet_profile")
    checkout = root / "checkout"
    git(settings.workspace, "worktree", "add", "--detach", str(checkout), "feature/pet_visit")
    yield checkout, [first, second]


def test_both_resources_build_with_their_tables_and_a_checked_revision_each(
    built: tuple[Path, list[BuildResult]],
) -> None:
    checkout, results = built
    assert [r.status for r in results] == ["succeeded", "succeeded"], [r.reasons for r in results]
    for result, feature in zip(results, ("pet_profile", "pet_visit"), strict=True):
        assert f"src/features/{feature}/{feature}_table.py" in result.files
        assert f"src/features/{feature}/{feature}_repository.py" in result.files
        assert f"migrations/versions/{feature}_001.py" in result.files
        assert result.tests is not None and result.tests.failed == 0
    tables = (checkout / "src/tables.py").read_text()
    assert "import src.features.pet_profile.pet_profile_table" in tables
    assert "import src.features.pet_visit.pet_visit_table" in tables
    assert persistence.alembic_heads(checkout) == [results[1].notes[-1].split()[2].rstrip(":")]


@contextmanager
def serve(checkout: Path, database: Path) -> Iterator[str]:
    """The built app in a real uvicorn process on a free port, on the SQLite file `database`."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
    command = [sys.executable, "-m", "uvicorn", "src.main:app", "--port", str(port)]
    process = subprocess.Popen(command, cwd=checkout, env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url + "/api/v1"
    finally:
        process.terminate()
        process.wait(10)


def test_data_survives_a_restart_and_relations_answer_422_and_409(
    built: tuple[Path, list[BuildResult]], tmp_path: Path
) -> None:
    checkout, _ = built
    database = tmp_path / "petsage.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
    upgrade = [sys.executable, "-m", "alembic", "upgrade", "head"]
    subprocess.run(upgrade, cwd=checkout, env=env, check=True, capture_output=True)
    pet = {"name": "Rex", "age": 3, "species": "dog", "born": None}
    visit = {"pet_id": 1, "notes": None, "when": "2024-05-06T07:08:09Z", "weight": 12.5}
    with serve(checkout, database) as api:
        assert httpx.post(f"{api}/pet-visit", json=visit).status_code == 422
        missing = httpx.post(f"{api}/pet-visit", json=visit).json()["detail"]
        assert missing[0]["loc"] == ["body", "pet_id"]
        assert httpx.post(f"{api}/pet-profile", json=pet).json() == {"id": 1, **pet}
        assert httpx.post(f"{api}/pet-visit", json=visit).status_code == 201
        assert httpx.patch(f"{api}/pet-visit/1", json={"pet_id": 9}).status_code == 422
        assert httpx.delete(f"{api}/pet-profile/1").status_code == 409
    with serve(checkout, database) as api:
        assert httpx.get(f"{api}/pet-profile/1").json() == {"id": 1, **pet}
        assert httpx.get(f"{api}/pet-visit").json() == [{"id": 1, **visit}]
        assert httpx.delete(f"{api}/pet-visit/1").status_code == 204
        assert httpx.delete(f"{api}/pet-profile/1").status_code == 204


def test_the_generated_tests_pass_on_postgresql(
    built: tuple[Path, list[BuildResult]], postgres_url: str
) -> None:
    checkout, _ = built
    url = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    env = {**os.environ, "TEST_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout


def test_a_ref_to_a_feature_missing_on_the_base_is_refused_before_any_model_call(
    settings: Settings,
) -> None:
    result = build(settings, "pet_visit", VISITS)
    assert result.status == "rejected"
    assert result.model_round_trips == 0
    assert "pet_profile" in result.reasons[0] and "first" in result.reasons[0]


def test_a_repository_made_before_the_database_layer_is_upgraded_by_its_next_build(
    settings: Settings,
) -> None:
    Builder(settings).repo.ensure()
    workspace = settings.workspace
    for path in persistence.ADDED_FILES:
        (workspace / path).unlink()
    (workspace / "requirements.txt").write_text("fastapi==0.163.2\nhttpx==0.28.1\npytest==9.0.3\n")
    (workspace / "tests/conftest.py").write_text(
        "import pytest\nfrom fastapi.testclient import TestClient\nfrom src.main import app\n\n\n"
        "@pytest.fixture\ndef client() -> TestClient:\n    return TestClient(app)\n"
    )
    git(workspace, "commit", "-qam", "an old skeleton")
    result = build(settings, "pet_profile", PETS)
    assert result.status == "succeeded", result.reasons
    for path in [*persistence.ADDED_FILES, "requirements.txt", "tests/conftest.py"]:
        assert path in result.files
    conftest = git(workspace, "show", "feature/pet_profile:tests/conftest.py")
    assert conftest.startswith("import pytest") and "get_session" in conftest


def test_two_heads_get_one_merge_revision_that_alembic_accepts(
    built: tuple[Path, list[BuildResult]], tmp_path: Path
) -> None:
    checkout, _ = built
    copy = tmp_path / "copy"
    git(checkout, "worktree", "add", "--detach", str(copy), "HEAD")
    (head,) = persistence.alembic_heads(copy)
    for name in ("one", "two"):
        (copy / f"migrations/versions/{name}.py").write_text(
            f"revision = {name!r}\ndown_revision = {head!r}\n"
            "def upgrade() -> None:\n    pass\n\ndef downgrade() -> None:\n    pass\n"
        )
    assert persistence.alembic_heads(copy) == ["one", "two"]
    path, content = persistence.merge_revision(["one", "two"], "test")
    (copy / path).write_text(content)
    (merged,) = persistence.alembic_heads(copy)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}"}
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "heads"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and done.stdout.split()[0] == merged
    upgrade = [sys.executable, "-m", "alembic", "upgrade", "head"]
    assert subprocess.run(upgrade, cwd=copy, env=env, capture_output=True).returncode == 0


def test_ref_fields_read_and_write_in_both_forms() -> None:
    spec = parse_field_lines("pet_id: ref pet_profile\nvet_id: ref? vet_clinic")
    assert [(f.type, f.to, f.required) for f in spec.fields] == [
        ("ref", "pet_profile", True),
        ("ref", "vet_clinic", False),
    ]
    assert parse_field_lines(spec.to_lines()) == spec
    assert spec.references == ("pet_profile", "vet_clinic")
    with pytest.raises(ValueError, match="ref"):
        parse_field_lines("pet_id: ref")
