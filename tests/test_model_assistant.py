"""The chat assistant with a real model's tool calls, through the openai adapter over HTTP."""

import pytest

from agent.assistant import ChatState
from agent.model_assistant import TOOLS, assistant_for, respond_with_model
from agent.models.offline import OfflineModel
from agent.models.openai_chat import OpenAIChatModel
from agent.settings import Settings
from tests.conftest import SEED_TEXT
from tests.models.fake_openai import FakeOpenAI

FIELDS = "name: str len>=1 len<=40\nage: int >=0 <=40"


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> FakeOpenAI:
    return fake_openai


def test_tool_calls_propose_then_build(settings: Settings, fake: FakeOpenAI) -> None:
    model = OpenAIChatModel("fake", settings)
    fake.tool_calls(content="What should it be called?")
    first = respond_with_model(ChatState(), "I want to keep pet profiles", model)
    assert first.action == "ask" and first.reply == "What should it be called?"
    fake.tool_calls(
        (
            "propose_feature",
            {"feature": "pet_profile", "description": "Pet profiles", "requirements": FIELDS},
        ),
        ("build", {}),
    )
    second = respond_with_model(first.state, "pet_profile, with a name and an age; build it", model)
    assert second.action == "build" and second.build is not None
    assert second.build.feature == "pet_profile" and [
        f.name for f in second.build.resource.fields
    ] == ["name", "age"]  # type: ignore[union-attr]
    sent = fake.requests[1]
    assert [t["function"]["name"] for t in sent["tools"]] == [t["function"]["name"] for t in TOOLS]
    assert sent["messages"][0]["role"] == "system"
    assert [m["role"] for m in sent["messages"][1:]] == ["user", "assistant", "user"]
    fake.tool_calls(
        ("amend_feature", {"add_fields": ["weight_kg: float >=0"], "remove_fields": ["age"]})
    )
    third = respond_with_model(second.state, "add a weight, drop the age", model)
    assert third.action == "build" and [f.name for f in third.build.resource.fields] == [
        "name",
        "weight_kg",
    ]  # type: ignore[union-attr]


def test_a_proposal_that_breaks_a_rule_is_refused(settings: Settings, fake: FakeOpenAI) -> None:
    fake.tool_calls(
        ("propose_feature", {"feature": "Bad Name", "description": "d", "requirements": "none"}),
        ("build", {}),
    )
    turn = respond_with_model(ChatState(), "build Bad Name", OpenAIChatModel("fake", settings))
    assert (
        turn.action == "ask" and "breaks a rule" in turn.reply and "nothing to build" in turn.reply
    )


def test_a_complete_request_builds_without_asking_the_model(
    settings: Settings, fake: FakeOpenAI
) -> None:
    turn = respond_with_model(ChatState(), SEED_TEXT, OpenAIChatModel("fake", settings))
    assert turn.action == "build" and fake.requests == []


def test_model_errors_are_answered_not_raised(settings: Settings, fake: FakeOpenAI) -> None:
    fake.fail(401)
    turn = respond_with_model(ChatState(), "hello", OpenAIChatModel("fake", settings))
    assert turn.action == "ask" and "OPENAI_API_KEY" in turn.reply


def test_the_offline_model_keeps_the_offline_assistant(settings: Settings) -> None:
    assert assistant_for(OfflineModel())(ChatState(), "status").action == "status"
