"""The builtin suite and task folders: what a suite must hold, and the errors for what it lacks."""

import json
from pathlib import Path

import pytest

from agent.errors import ConfigError, ModelRefused
from agent.evals.tasks import builtin_suite, load_suite, load_task, select
from agent.models.offline import OfflineModel
from agent.request import decode_request


def write_task(root: Path, name: str, request: object, tests: str, meta: object = None) -> Path:
    """A task folder as a user makes one: request.json, acceptance/test_*.py, task.json."""
    folder = root / name
    (folder / "acceptance").mkdir(parents=True)
    (folder / "request.json").write_text(json.dumps(request))
    (folder / "acceptance" / f"test_{name}.py").write_text(tests)
    if meta is not None:
        (folder / "task.json").write_text(json.dumps(meta))
    return folder


def test_the_builtin_suite_has_thirty_tasks_offline_and_beyond() -> None:
    tasks = load_suite("builtin")
    assert len(tasks) >= 30
    reach = {t.reach for t in tasks}
    assert reach == {"offline", "model"}
    model_categories = {t.category for t in tasks if t.reach == "model"}
    assert {"query", "pagination", "computed", "nested"} <= model_categories
    offline_categories = {t.category for t in tasks if t.reach == "offline"}
    assert {"status", "enums", "dates", "optional", "relations", "operations"} <= offline_categories
    assert all(t.acceptance_count > 0 for t in tasks)


def test_offline_tasks_are_within_the_offline_generator_and_model_tasks_beyond_it() -> None:
    for task in load_suite("builtin"):
        request = decode_request(task.request)
        if task.reach == "offline":
            OfflineModel().check(request)
        else:
            with pytest.raises(ModelRefused, match="need a configured model"):
                OfflineModel().check(request)


def test_the_acceptance_tests_never_name_a_generator_file() -> None:
    """They are written against the contract (routes, bodies), not a generator's modules."""
    for task in load_suite("builtin"):
        for name, content in task.acceptance:
            assert "src.features" not in content, (task.name, name)


def test_a_task_without_a_request_or_tests_is_named_in_the_error(tmp_path: Path) -> None:
    (tmp_path / "lonely" / "acceptance").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"lonely: needs request\.json or request\.md"):
        load_task(tmp_path / "lonely")
    (tmp_path / "lonely" / "request.json").write_text("{}")
    with pytest.raises(ConfigError, match="acceptance: needs at least one test_"):
        load_task(tmp_path / "lonely")


def test_a_bad_task_json_is_refused(tmp_path: Path) -> None:
    folder = write_task(tmp_path, "odd", {}, "def test_x():\n    pass\n", {"reach": "cloud"})
    with pytest.raises(ConfigError, match="reach: must be 'offline' or 'model'"):
        load_task(folder)
    (folder / "task.json").write_text(json.dumps({"setup": ["../../etc/passwd"]}))
    with pytest.raises(ConfigError, match="is not a file of the task"):
        load_task(folder)
    bad = write_task(tmp_path, "Bad-Name", {}, "def test_x():\n    pass\n")
    with pytest.raises(ConfigError, match="name must match"):
        load_task(bad)


def test_an_outside_suite_borrows_the_builtin_support_and_its_digest_follows_content(
    tmp_path: Path,
) -> None:
    write_task(tmp_path, "mine", {"feature": "mine"}, "def test_x():\n    pass\n")
    (task,) = load_suite(tmp_path)
    assert task.reach == "model" and task.category == "custom"
    assert dict(task.support) == {
        "contract.py": (builtin_suite() / "_support" / "contract.py").read_text()
    }
    (tmp_path / "mine" / "acceptance" / "test_mine.py").write_text("def test_y():\n    pass\n")
    (again,) = load_suite(tmp_path)
    assert again.digest != task.digest


def test_select_by_glob_and_an_empty_match_is_an_error() -> None:
    tasks = load_suite("builtin")
    assert [t.name for t in select(tasks, "status_*")] == [
        "status_clinic",
        "status_plain_lines",
        "status_smoke",
        "status_with_version",
    ]
    with pytest.raises(ConfigError, match="--tasks nothing_like_it: matches no task"):
        select(tasks, "nothing_like_it")
    with pytest.raises(ConfigError, match="no such folder"):
        load_suite("/nonexistent/suite")
