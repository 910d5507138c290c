"""Resuming a run: a finished task attempt is kept under a key of everything that decides it.

The key covers the model, the prompt set's version, the task's content (request, acceptance
tests, support files), the attempt and the settings that change a build (rounds, gates, caps).
A run that stops half-way, started again with the same `--out`, runs only what is missing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from agent.evals.scoring import TaskResult
from agent.evals.tasks import EvalTask
from agent.settings import Settings


def cache_key(
    model: str, prompt_version: str, task: EvalTask, attempt: int, settings: Settings
) -> str:
    """The hash a task attempt's result is kept under."""
    decisive = {
        "model": model,
        "prompts": prompt_version,
        "task": task.digest,
        "attempt": attempt,
        "max_rounds": settings.max_rounds,
        "verify": settings.verify,
        "tokens": settings.max_tokens_per_build,
        "cost": settings.max_cost_per_build,
        "stall": settings.stop_on_stall,
        "output": settings.model_output,
        "temperature": settings.model_temperature,
        "max_tokens": settings.model_max_tokens,
    }
    return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()


class ResultCache:
    """Finished task attempts of earlier runs, one JSON file each under `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get(self, task: str, attempt: int, key: str) -> TaskResult | None:
        path = self._path(task, attempt, key)
        try:
            result = TaskResult.model_validate_json(path.read_text())
        except (OSError, ValueError):
            return None
        return result.model_copy(update={"cached": True})

    def put(self, result: TaskResult, key: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(result.task, result.attempt, key)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(result.model_dump_json(indent=1))
        temporary.replace(path)

    def _path(self, task: str, attempt: int, key: str) -> Path:
        return self.folder / f"{task}-{attempt}-{key[:20]}.json"
