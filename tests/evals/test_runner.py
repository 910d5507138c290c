"""The acceptance run on a built branch: passing tests pass a task; nothing else does
(real git, the real sandboxed test run)."""

from pathlib import Path

import pytest

from agent.evals.runner import accept
from agent.evals.tasks import load_suite, load_task
from agent.pipeline.loop import Builder
from agent.settings import Settings
from tests.conftest import SMOKE_REQUEST
from tests.evals.test_tasks import write_task

HEAD = "from fastapi.testclient import TestClient\n\nfrom tests.acceptance.contract import url\n\n"
GOOD = HEAD + (
    "def test_it_answers(client: TestClient) -> None:\n"
    "    assert client.get(url('smoke_test')).json()['status'] == 'ok'\n"
)
CANNOT_PASS = {
    "impossible": HEAD
    + "def test_teapot(client: TestClient) -> None:\n"
    + "    assert client.get(url('smoke_test')).status_code == 418\n",
    "broken": HEAD + "def test_syntax(client: TestClient) -> None:\n    assert (\n",
    "skipped": "import pytest\n\n\ndef test_later() -> None:\n    pytest.skip('not today')\n",
    "missing_import": "from tests.acceptance.nothing import here\n\n\n"
    "def test_x() -> None:\n    assert here\n",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Builder, str]:
    root = tmp_path_factory.mktemp("accept")
    settings = Settings(workspace=root / "petsage_backend", state_dir=root / "state")
    builder = Builder(settings)
    result = builder.run(SMOKE_REQUEST)
    assert result.commit is not None, result.reasons
    return builder, result.commit


def test_acceptance_tests_that_pass_pass_the_task(
    built: tuple[Builder, str], tmp_path: Path
) -> None:
    builder, commit = built
    task = load_task(write_task(tmp_path, "good", {}, GOOD), load_suite("builtin")[0].support)
    verdict = accept(task, builder.repo, commit, builder.settings)
    assert verdict.passed, verdict.reasons
    assert (verdict.counts.passed, verdict.counts.total) == (1, 1)


@pytest.mark.parametrize("kind", sorted(CANNOT_PASS))
def test_a_task_whose_acceptance_test_cannot_pass_is_failed(
    built: tuple[Builder, str], tmp_path: Path, kind: str
) -> None:
    builder, commit = built
    folder = write_task(tmp_path, kind, {}, CANNOT_PASS[kind])
    task = load_task(folder, load_suite("builtin")[0].support)
    verdict = accept(task, builder.repo, commit, builder.settings)
    assert not verdict.passed
    assert verdict.reasons and all(r for r in verdict.reasons)
    assert verdict.counts.passed == 0
    # The built branch is as it was: the acceptance tests went into a throwaway checkout.
    assert builder.repo.show(commit, f"tests/acceptance/{kind}/test_{kind}.py") is None
