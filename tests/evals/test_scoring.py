"""pass@k and the run's totals."""

import pytest

from agent.evals.scoring import TaskResult, pass_at_k, totals_of


def row(task: str, status: str, attempt: int = 1, **figures: object) -> TaskResult:
    return TaskResult.model_validate(
        {
            "task": task,
            "category": figures.pop("category", "fields"),
            "reach": "offline",
            "attempt": attempt,
            "status": status,
            "passed": status == "passed",
            "refused": status == "refused",
            **figures,
        }
    )


def test_pass_at_k_is_the_unbiased_estimate() -> None:
    assert pass_at_k(5, 0, 1) == 0.0
    assert pass_at_k(5, 5, 3) == 1.0
    assert pass_at_k(5, 1, 1) == pytest.approx(0.2)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)  # 1 - C(3,2)/C(4,2)
    assert pass_at_k(3, 2, 2) == 1.0  # any 2 of 3 hold a pass


def test_totals_over_tasks_and_attempts() -> None:
    results = [
        row("a", "passed", 1, rounds=1, prompt_tokens=100, completion_tokens=50, cost_usd=0.01),
        row("a", "failed", 2, rounds=3, stop_reason="no_progress", cost_usd=0.03),
        row("b", "failed", 1, rounds=2, stop_reason="max_rounds", category="nested"),
        row("b", "failed", 2, rounds=2, stop_reason="max_rounds", category="nested"),
        row("c", "refused", 1, stop_reason="rejected", category="nested"),
        row("c", "refused", 2, stop_reason="rejected", category="nested"),
    ]
    totals = totals_of(results, attempts=2)
    assert (totals.tasks, totals.passed, totals.failed, totals.refused) == (3, 1, 1, 1)
    assert totals.pass_at_1 == pytest.approx(round(0.5 / 3, 4))
    assert totals.pass_at_k == {"2": pytest.approx(round(1 / 3, 4))}
    assert totals.mean_rounds == 2.0  # refusals are not builds
    assert totals.tokens_per_pass == 150.0 and totals.cost_per_pass == 0.04
    assert totals.stop_reasons == {"max_rounds": 2, "rejected": 2, "none": 1, "no_progress": 1}
    assert totals.by_category == {"fields": (1, 1), "nested": (0, 2)}


def test_no_pass_means_no_per_pass_figures() -> None:
    totals = totals_of([row("a", "failed", rounds=3)], attempts=1)
    assert totals.pass_at_1 == 0.0 and totals.tokens_per_pass is None
    assert totals.cost_per_pass is None
