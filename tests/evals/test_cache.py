"""Resuming: a finished attempt is kept under a key of all that decides it."""

from pathlib import Path

from agent.evals.cache import ResultCache, cache_key
from agent.evals.tasks import load_suite
from agent.settings import Settings
from tests.evals.test_scoring import row
from tests.evals.test_tasks import write_task


def test_the_key_changes_with_model_prompts_task_attempt_and_settings(
    tmp_path: Path, settings: Settings
) -> None:
    write_task(tmp_path / "suite", "one", {"feature": "one"}, "def test_a():\n    pass\n")
    (task,) = load_suite(tmp_path / "suite")
    key = cache_key("offline", "7", task, 1, settings)
    assert key == cache_key("offline", "7", task, 1, settings)
    others = {
        cache_key("openai:gpt-4.1", "7", task, 1, settings),
        cache_key("offline", "8", task, 1, settings),
        cache_key("offline", "7", task, 2, settings),
        cache_key("offline", "7", task, 1, settings.model_copy(update={"max_rounds": 5})),
        cache_key("offline", "7", task, 1, settings.model_copy(update={"verify": "off"})),
    }
    (tmp_path / "suite" / "one" / "request.json").write_text('{"feature": "two"}')
    (changed,) = load_suite(tmp_path / "suite")
    others.add(cache_key("offline", "7", changed, 1, settings))
    assert key not in others and len(others) == 6


def test_a_kept_result_comes_back_marked_cached(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "cache")
    assert cache.get("a", 1, "k" * 64) is None
    cache.put(row("a", "passed", rounds=2), "k" * 64)
    kept = cache.get("a", 1, "k" * 64)
    assert kept is not None and kept.cached and kept.rounds == 2 and kept.passed
    assert cache.get("a", 1, "j" * 64) is None
    (next((tmp_path / "cache").iterdir())).write_text("{not json")
    assert cache.get("a", 1, "k" * 64) is None  # a torn file is run again, not trusted
