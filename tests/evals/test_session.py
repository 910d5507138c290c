"""A 3-task slice of the builtin suite on the offline model, then replayed from its recordings:
the same verdicts, rounds, tokens and stop reasons; a second run resumes from the cache."""

from pathlib import Path

from agent.evals.scoring import EvalRun
from agent.evals.session import EvalPlan, run_eval
from agent.evals.tasks import load_suite
from agent.settings import Settings

SLICE = ("enum_choices", "filter_by_query", "status_smoke")
SAME = (
    "status",
    "passed",
    "refused",
    "reasons",
    "build_status",
    "stop_reason",
    "rounds",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "gates",
    "vacuous_tests",
    "feature_tests",
    "acceptance",
)


def figures(run: EvalRun) -> list[dict[str, object]]:
    return [r.model_dump(include=set(SAME)) | {"task": r.task} for r in run.results]


def test_offline_slice_then_its_replay_reproduces_it(settings: Settings, tmp_path: Path) -> None:
    tasks = [t for t in load_suite("builtin") if t.name in SLICE]
    seen: list[tuple[str, int, int]] = []
    plan = EvalPlan(tasks, "offline", "builtin", settings, tmp_path / "offline", jobs=2)
    run = run_eval(plan, on_result=lambda r, done, total: seen.append((r.task, done, total)))
    verdicts = {r.task: r.status for r in run.results}
    assert verdicts == {
        "enum_choices": "passed",
        "filter_by_query": "refused",
        "status_smoke": "passed",
    }, [r.reasons for r in run.results]
    refused = next(r for r in run.results if r.refused)
    assert "need a configured model" in refused.reasons[0]
    assert sorted(done for _, done, _ in seen) == [1, 2, 3] and {t for _, _, t in seen} == {3}
    passed = [r for r in run.results if r.passed]
    assert all(r.acceptance.total >= 3 and r.acceptance.failed == 0 for r in passed)
    assert all(r.gates and r.vacuous_tests is False for r in passed)
    assert run.totals.stop_reasons == {"passed": 2, "rejected": 1}

    recordings = tmp_path / "offline" / "recordings"
    assert sorted(p.name for p in recordings.iterdir()) == [
        "eval-enum_choices-1.json",
        "eval-filter_by_query-1.refused.json",
        "eval-status_smoke-1.json",
    ]
    replay = EvalPlan(tasks, f"replay:{recordings}", "builtin", settings, tmp_path / "replay")
    replayed = run_eval(replay)
    assert figures(replayed) == figures(run)
    assert not any(r.cached for r in replayed.results)

    again = run_eval(plan)
    assert all(r.cached for r in again.results)
    assert figures(again) == figures(run)


def test_a_reference_reply_passes_a_model_task_and_a_missing_one_is_an_error(
    settings: Settings, tmp_path: Path
) -> None:
    """`evals/_reference` holds a hand-made reply per `reach: model` task: replayed, it passes
    the acceptance tests the offline generator could not even try."""
    tasks = [t for t in load_suite("builtin") if t.name in ("filter_by_query", "status_smoke")]
    reference = Path(__file__).resolve().parents[2] / "evals" / "_reference"
    run = run_eval(EvalPlan(tasks, f"replay:{reference}", "builtin", settings, tmp_path))
    solved, unrecorded = run.results
    assert solved.task == "filter_by_query" and solved.passed, solved.reasons
    assert solved.acceptance.total >= 2 and solved.gates["requirements"]
    assert unrecorded.status == "error" and "no recording" in unrecorded.reasons[0]
    again = run_eval(EvalPlan(tasks, f"replay:{reference}", "builtin", settings, tmp_path))
    assert [r.cached for r in again.results] == [True, False]  # an error is not kept
