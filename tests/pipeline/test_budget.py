"""The repair budget: each early stop with its typed reason, driven by a scripted model (real git,
real sandboxed pytest where a round gets as far as the tests)."""

from pathlib import Path

from agent.bundle import FileBundle
from agent.models import ModelReply, Usage
from agent.models.scripted import ScriptedModel
from agent.pipeline.loop import Builder
from agent.settings import Settings
from tests.conftest import SEED_TEXT, SMOKE_REQUEST, refs, with_file
from tests.pipeline.test_loop import TESTS, seed_bundle

NOT_A_BUNDLE = "I could not work out which files you need, sorry."


def failing(*expected: str, comment: str = "") -> FileBundle:
    """The seed with each of its tests' `expected` message changed, so that those tests fail."""
    content = seed_bundle().get(TESTS)
    assert content is not None
    text = content.content
    if "status" in expected:
        text = text.replace('== "ok"', '== "not ok"')
    if "message" in expected:
        text = text.replace('== "PetSage Backend is operational."', '== "Something else."')
    if "405" in expected:
        text = text.replace("== status.HTTP_405_METHOD_NOT_ALLOWED", "== 418")
    return with_file(seed_bundle(), TESTS, text + comment)


def priced(text: str, prompt: int, completion: int) -> ModelReply:
    return ModelReply(text=text, usage=Usage(prompt, completion), finish_reason="stop")


def test_a_repeated_reply_stops_the_build_and_keeps_the_earlier_attempt(
    settings: Settings,
) -> None:
    model = ScriptedModel([NOT_A_BUNDLE, f"  {NOT_A_BUNDLE}\n"])
    result = Builder(settings, model=model).run(SMOKE_REQUEST)
    assert result.status == "failed" and result.stop_reason == "repeated_reply"
    assert [r.outcome for r in result.rounds] == ["invalid", "repeated"]
    assert result.reasons[0].startswith("stopped after 2 round(s) (repeated_reply)")
    assert result.attempt is not None and result.attempt.round == 1
    model.assert_consumed()  # the third round was never asked


def test_a_repair_that_fixes_nothing_stops_with_no_progress(settings: Settings) -> None:
    Builder(settings).run({**SMOKE_REQUEST, "feature": "first_one"})
    before = refs(settings.workspace)
    # Different replies, the same failing test: the repair did not shrink the failures.
    model = ScriptedModel([failing("message"), failing("message", comment="\n# fixed, I hope\n")])
    result = Builder(settings, model=model).run(SMOKE_REQUEST)
    assert result.status == "failed" and result.stop_reason == "no_progress", result.reasons
    assert [r.outcome for r in result.rounds] == ["tests_failed", "tests_failed"]
    assert "1 before, 1 now" in result.reasons[0]
    assert refs(settings.workspace) == before
    model.assert_consumed()


def test_a_repair_that_shrinks_the_failures_goes_on_to_the_next_round(settings: Settings) -> None:
    model = ScriptedModel([failing("message", "405"), failing("405"), SEED_TEXT])
    result = Builder(settings, model=model).run(SMOKE_REQUEST)
    assert result.status == "succeeded", result.reasons
    assert result.stop_reason == "passed"
    assert [r.outcome for r in result.rounds] == ["tests_failed", "tests_failed", "accepted"]


def test_the_stall_stops_can_be_turned_off(settings: Settings) -> None:
    model = ScriptedModel([NOT_A_BUNDLE] * 3)
    result = Builder(settings.model_copy(update={"stop_on_stall": False}), model=model).run(
        SMOKE_REQUEST
    )
    assert result.stop_reason == "max_rounds"
    assert [r.outcome for r in result.rounds] == ["invalid"] * 3
    assert result.reasons[0] == "no passing reply after 3 round(s)"


def test_a_round_that_would_pass_the_token_cap_is_not_asked(settings: Settings) -> None:
    capped = settings.model_copy(update={"max_tokens_per_build": 2500})
    model = ScriptedModel([priced(NOT_A_BUNDLE, 1000, 500), priced("other", 1, 1)])
    result = Builder(capped, model=model).run(SMOKE_REQUEST)
    assert result.status == "failed" and result.stop_reason == "token_cap"
    assert len(result.rounds) == 1 and result.prompt_tokens + result.completion_tokens == 1500
    assert "PETSAGE_MAX_TOKENS_PER_BUILD=2500 (1500 tokens spent" in result.reasons[0]
    assert len(model.calls) == 1


def test_a_token_cap_with_room_for_another_round_asks_it(settings: Settings) -> None:
    capped = settings.model_copy(update={"max_tokens_per_build": 3000})
    model = ScriptedModel([priced(NOT_A_BUNDLE, 1000, 500), priced(SEED_TEXT, 1000, 500)])
    result = Builder(capped, model=model).run(SMOKE_REQUEST)
    assert result.status == "succeeded", result.reasons
    assert result.prompt_tokens + result.completion_tokens == 3000


def test_a_round_that_would_pass_the_cost_cap_is_not_asked(settings: Settings) -> None:
    # openai:gpt-4.1 costs $2 / $8 a million tokens: this round costs $0.28.
    capped = settings.model_copy(update={"max_cost_per_build": 0.5})
    model = ScriptedModel([priced(NOT_A_BUNDLE, 100_000, 10_000), "unused"], name="openai:gpt-4.1")
    result = Builder(capped, model=model).run(SMOKE_REQUEST)
    assert result.status == "failed" and result.stop_reason == "cost_cap"
    assert result.cost_usd == 0.28
    assert "PETSAGE_MAX_COST_PER_BUILD=0.5 ($0.2800 spent" in result.reasons[0]
    assert len(model.calls) == 1


def test_an_unpriced_model_is_not_held_by_the_cost_cap(settings: Settings) -> None:
    capped = settings.model_copy(update={"max_cost_per_build": 0.01, "max_rounds": 2})
    model = ScriptedModel([priced(NOT_A_BUNDLE, 100_000, 10_000), priced("other", 1, 1)])
    result = Builder(capped, model=model).run(SMOKE_REQUEST)
    assert result.stop_reason == "max_rounds" and len(model.calls) == 2


def test_the_stop_reason_is_in_the_json_result(settings: Settings, tmp_path: Path) -> None:
    result = Builder(settings).run(SMOKE_REQUEST)
    assert result.stop_reason == "passed"
    assert '"stop_reason": "passed"' in result.model_dump_json(indent=1)
