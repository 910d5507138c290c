"""An evaluation run's results: one row per task attempt, and the totals (pass@k, rounds, cost).

The JSON of `petsage-builder eval --json` is `EvalRun` (schema `petsage-eval/1`, in the README).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from math import comb
from typing import Literal

from pydantic import BaseModel, Field

FORMAT = "petsage-eval/1"
TaskStatus = Literal["passed", "failed", "refused", "error"]


class AcceptanceCounts(BaseModel):
    """How the task's acceptance tests went on the built branch (zero when none ran)."""

    passed: int = 0
    failed: int = 0
    total: int = 0


class TaskResult(BaseModel):
    """One attempt at one task."""

    task: str
    category: str
    reach: Literal["offline", "model"]
    attempt: int = 1
    status: TaskStatus
    passed: bool = False
    refused: bool = False
    reasons: list[str] = Field(
        default_factory=list, description="The builder's reasons (a refusal's among them)."
    )
    build_status: str = ""
    stop_reason: str | None = None
    rounds: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    seconds: float = Field(default=0.0, description="Wall time of the whole attempt.")
    build_seconds: float = Field(default=0.0, description="Of which the build itself.")
    acceptance_seconds: float = Field(default=0.0, description="Of which the acceptance run.")
    gates: dict[str, bool] = Field(
        default_factory=dict, description="Each verification gate's verdict, by name."
    )
    vacuous_tests: bool | None = Field(
        default=None,
        description="True when the feature's own tests pass with its router unmounted (the "
        "`unwired` gate); None when no gate judged them.",
    )
    feature_tests: int = 0
    acceptance: AcceptanceCounts = Field(default_factory=AcceptanceCounts)
    cached: bool = Field(default=False, description="Taken from an earlier run (resumed).")


class Totals(BaseModel):
    """The run's figures over its tasks."""

    tasks: int = 0
    attempts: int = 1
    passed: int = Field(default=0, description="Tasks with at least one passing attempt.")
    refused: int = 0
    failed: int = 0
    pass_at_1: float = 0.0
    pass_at_k: dict[str, float] = Field(default_factory=dict, description="k → pass@k.")
    mean_rounds: float = 0.0
    tokens_per_pass: float | None = None
    cost_per_pass: float | None = None
    seconds: float = 0.0
    stop_reasons: dict[str, int] = Field(default_factory=dict)
    by_category: dict[str, tuple[int, int]] = Field(
        default_factory=dict, description="category → (tasks passed, tasks)."
    )


class EvalRun(BaseModel):
    """Everything one `petsage-builder eval` run found."""

    format: str = FORMAT
    model: str
    suite: str
    prompt_version: str
    started_at: datetime
    settings: dict[str, str | int | float | None] = Field(default_factory=dict)
    results: list[TaskResult] = Field(default_factory=list)
    totals: Totals = Field(default_factory=Totals)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimate from `n` attempts of which `c` passed (Chen et al., 2021)."""
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def totals_of(results: list[TaskResult], attempts: int) -> Totals:
    """The run's totals: pass@1 and pass@k averaged over tasks, means over attempts."""
    by_task: dict[str, list[TaskResult]] = {}
    for result in results:
        by_task.setdefault(result.task, []).append(result)
    passes = [r for r in results if r.passed]
    tokens = sum(r.prompt_tokens + r.completion_tokens for r in results)
    costs = [r.cost_usd for r in results if r.cost_usd is not None]
    built = [r for r in results if r.status != "refused"]
    categories: dict[str, tuple[int, int]] = {}
    for rows in by_task.values():
        done, count = categories.get(rows[0].category, (0, 0))
        categories[rows[0].category] = (done + any(r.passed for r in rows), count + 1)
    return Totals(
        tasks=len(by_task),
        attempts=attempts,
        passed=sum(any(r.passed for r in rows) for rows in by_task.values()),
        refused=sum(all(r.refused for r in rows) for rows in by_task.values()),
        failed=sum(
            not any(r.passed for r in rows) and not all(r.refused for r in rows)
            for rows in by_task.values()
        ),
        pass_at_1=_mean_pass_at(by_task, 1),
        pass_at_k={str(k): _mean_pass_at(by_task, k) for k in range(2, attempts + 1)},
        mean_rounds=round(sum(r.rounds for r in built) / len(built), 3) if built else 0.0,
        tokens_per_pass=round(tokens / len(passes), 1) if passes else None,
        cost_per_pass=round(sum(costs) / len(passes), 6) if passes and costs else None,
        seconds=round(sum(r.seconds for r in results), 2),
        stop_reasons=dict(Counter(r.stop_reason or "none" for r in results).most_common()),
        by_category=dict(sorted(categories.items())),
    )


def _mean_pass_at(by_task: dict[str, list[TaskResult]], k: int) -> float:
    if not by_task:
        return 0.0
    scores = [
        pass_at_k(len(rows), sum(r.passed for r in rows), min(k, len(rows)))
        for rows in by_task.values()
    ]
    return round(sum(scores) / len(scores), 4)
