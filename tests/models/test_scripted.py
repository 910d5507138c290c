import pytest

from agent.bundle import parse_reply
from agent.errors import ModelError
from agent.models import GenerationTask, ModelReply, Usage
from agent.models.scripted import ScriptedModel
from agent.request import decode_request
from tests.conftest import SEED_TEXT

REQUEST = decode_request(SEED_TEXT)


def task(round_number: int = 1) -> GenerationTask:
    return GenerationTask(request=REQUEST, round=round_number, max_rounds=3)


def test_replies_come_back_in_order_and_calls_are_recorded() -> None:
    bundle = parse_reply(SEED_TEXT, "smoke_test")
    model = ScriptedModel(
        ["first", bundle, ModelReply(text="third", usage=Usage(5, 7)), lambda t: f"round {t.round}"]
    )
    assert model.generate(task(1)).text == "first"
    second = model.generate(task(2))
    assert second.bundle == bundle
    assert model.generate(task(3)).usage == Usage(5, 7)
    assert model.generate(task(4)).text == "round 4"
    assert [call.round for call in model.calls] == [1, 2, 3, 4]
    model.assert_consumed()


def test_an_unexpected_call_fails() -> None:
    model = ScriptedModel([])
    with pytest.raises(ModelError, match="unexpected call"):
        model.generate(task())
    assert len(model.calls) == 1


def test_leftover_replies_fail_the_check() -> None:
    model = ScriptedModel(["a", "b"])
    model.generate(task())
    with pytest.raises(AssertionError, match="1 replies left"):
        model.assert_consumed()


def test_queued_errors_are_raised() -> None:
    model = ScriptedModel([ModelError("server down")])
    with pytest.raises(ModelError, match="server down"):
        model.generate(task())
