"""One `petsage-builder eval` run: every selected task, each attempt, resumable, in parallel.

The model is made once and shared by the tasks (a local model loads once); a replay run makes
one per task from its recording. Each finished attempt is kept (agent.evals.cache) as soon as
it ends, so a run that stops half-way resumes where it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agent.errors import ConfigError
from agent.evals import replay
from agent.evals.cache import ResultCache, cache_key
from agent.evals.runner import TaskRun, error_row, run_task
from agent.evals.scoring import EvalRun, TaskResult, totals_of
from agent.evals.tasks import EvalTask
from agent.models import Model, create_model
from agent.models.prompting import prompt_version
from agent.models.recording import RecordingModel
from agent.settings import Settings

Progress = Callable[[TaskResult, int, int], None]


@dataclass(frozen=True)
class EvalPlan:
    """What to run: the tasks, the model, the attempts, and where results and recordings go."""

    tasks: list[EvalTask]
    model: str
    suite: str
    settings: Settings
    out: Path
    attempts: int = 1
    jobs: int = 1

    @property
    def replay_dir(self) -> Path | None:
        kind, _, argument = self.model.partition(":")
        return Path(argument).expanduser() if kind == "replay" and argument else None

    @property
    def recordings(self) -> Path:
        return self.out / "recordings"


def run_eval(plan: EvalPlan, on_result: Progress | None = None) -> EvalRun:
    """Run (or resume) every attempt of every task of `plan`; the run's results and totals."""
    started = datetime.now(UTC)
    settings = plan.settings.model_copy(update={"record": None, "model": plan.model})
    shared = None if plan.replay_dir is not None else create_model(plan.model, settings)
    cache = ResultCache(plan.out / "cache")
    version = prompt_version()
    pending = [(task, n) for task in plan.tasks for n in range(1, plan.attempts + 1)]
    done: list[TaskResult] = []

    def one(item: tuple[EvalTask, int]) -> TaskResult:
        task, attempt = item
        key = cache_key(_model_key(plan, task, attempt), version, task, attempt, settings)
        result = cache.get(task.name, attempt, key)
        if result is None:
            result = _attempt(plan, settings, shared, task, attempt)
            if result.status != "error":  # a harness fault is tried again on resume
                cache.put(result, key)
        done.append(result)
        if on_result is not None:
            on_result(result, len(done), len(pending))
        return result

    with ThreadPoolExecutor(max_workers=plan.jobs) as pool:
        results = list(pool.map(one, pending))
    return EvalRun(
        model=plan.model,
        suite=plan.suite,
        prompt_version=version,
        started_at=started,
        settings={
            "max_rounds": settings.max_rounds,
            "verify": settings.verify,
            "sandbox": settings.sandbox,
            "max_tokens_per_build": settings.max_tokens_per_build,
            "max_cost_per_build": settings.max_cost_per_build,
            "attempts": plan.attempts,
        },
        results=results,
        totals=totals_of(results, plan.attempts),
    )


def _attempt(
    plan: EvalPlan, settings: Settings, shared: Model | None, task: EvalTask, attempt: int
) -> TaskResult:
    build_id = f"eval-{task.name}-{attempt}"
    model: Model
    if plan.replay_dir is not None:
        try:
            model = replay.replayed(plan.replay_dir, task.name, attempt)
        except ConfigError as e:
            return error_row(task, attempt, str(e))
    else:
        assert shared is not None
        replay.forget(plan.recordings, build_id)
        model = RecordingModel(shared, plan.recordings)

    def refused(reason: str) -> None:
        if plan.replay_dir is None:
            replay.record_refusal(plan.recordings, build_id, model.name, reason)

    run = TaskRun(task, attempt, model, settings, plan.out / "work" / f"{task.name}-{attempt}")
    return run_task(run, on_refused=refused)


def _model_key(plan: EvalPlan, task: EvalTask, attempt: int) -> str:
    """The model as the cache sees it: a replay is keyed by the recording it replays too."""
    folder = plan.replay_dir
    if folder is None:
        return plan.model
    digest = hashlib.sha256()
    build_id = f"eval-{task.name}-{attempt}"
    for path in (folder / f"{build_id}.json", folder / f"{build_id}{replay.REFUSED}"):
        if path.is_file():
            digest.update(path.read_bytes())
    if (folder / f"{task.name}.md").is_file():
        digest.update((folder / f"{task.name}.md").read_bytes())
    return f"{plan.model}#{digest.hexdigest()}"
