"""The chat assistant with a real model's tool calls, through the openai adapter over HTTP."""

import json
import random
from typing import Any

import pytest

from agent.chat.assistant import respond
from agent.chat.model_assistant import (
    ToolCallError,
    _act,
    assistant_for,
    respond_with_model,
    tools,
)
from agent.chat.state import ChatState
from agent.fields import field_line
from agent.models.offline import OfflineModel
from agent.models.openai_chat import OpenAIChatModel
from agent.settings import Settings
from tests.chat.corpus import DEV as CORPUS
from tests.chat.corpus import understood
from tests.chat.test_assistant import PETS
from tests.conftest import SEED_TEXT
from tests.models.fake_openai import FakeOpenAI

FIELDS = "name: str len>=1 len<=40\nage: int >=0 <=40"
PROPOSAL = {"feature": "pet_profile", "description": "Pet profiles", "requirements": FIELDS}


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> FakeOpenAI:
    return fake_openai


@pytest.fixture
def model(settings: Settings) -> OpenAIChatModel:
    return OpenAIChatModel("fake", settings)


def test_a_proposal_waits_for_the_persons_build_it(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    fake.tool_calls(content="What should it be called?")
    first = respond_with_model(ChatState(), "I want to keep pet profiles", model)
    assert first.action == "ask" and first.reply == "What should it be called?"
    fake.tool_calls(("propose_feature", PROPOSAL), ("build", {}))
    second = respond_with_model(first.state, "pet_profile, with a name and an age; build it", model)
    assert second.action == "ask" and second.build is None, "a model cannot propose and build"
    assert "Here is what I understood" in second.reply and 'when you say "build it"' in second.reply
    sent = fake.requests[1]
    assert [t["function"]["name"] for t in sent["tools"]] == [
        t["function"]["name"] for t in tools()
    ]
    assert sent["messages"][0]["role"] == "system"
    assert [m["role"] for m in sent["messages"][1:]] == ["user", "assistant", "user"]
    third = respond_with_model(second.state, "build it", model)
    assert third.action == "build" and third.build is not None and len(fake.requests) == 2
    assert [f.name for f in third.build.resource.fields] == ["name", "age"]  # type: ignore[union-attr]


def test_hello_builds_nothing_whatever_the_model_calls(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    state = ChatState(pending=PETS)
    fake.tool_calls(
        ("propose_feature", {**PROPOSAL, "feature": "billing"}), ("build", {}), content="Sure!"
    )
    turn = respond_with_model(state, "hello", model)
    assert turn.action == "ask" and turn.build is None
    fake.tool_calls(("build", {}))
    assert respond_with_model(state, "hello again", model).build is None
    fake.tool_calls(("build", {}))
    asked = respond_with_model(state, "yes, go on and build the pets", model)
    assert asked.action == "build" and asked.build == PETS


def test_an_amend_keeps_the_operations_and_waits(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    built = respond(ChatState(), PETS.to_text())
    fake.tool_calls(
        (
            "amend_feature",
            {
                "add_fields": ["weight_kg: float >=0", "a note (optional text)"],
                "remove_fields": ["age"],
                "make_optional": ["species"],
            },
        )
    )
    turn = respond_with_model(built.state, "add a weight and a note, drop the age", model)
    assert turn.action == "ask" and turn.state.pending is not None
    spec = turn.state.pending.resource
    assert spec is not None and spec.operations == ("create", "list", "get")
    assert [field_line(f) for f in spec.fields] == [
        "name: str len>=1 len<=40",
        "species: dog|cat|bird?",
        "weight_kg: float >=0",
        "note: str?",
    ]
    assert "added `weight_kg: float >=0`; added `note: str?`; removed `age`" in turn.reply
    fake.tool_calls(("amend_feature", {"remove_fields": ["name", "age", "species"]}))
    emptied = respond_with_model(built.state, "remove all the fields", model)
    assert emptied.action == "ask" and "at least one field" in emptied.reply


def test_renaming_onto_an_existing_feature_needs_replace_it(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    built = respond(ChatState(), PETS.to_text())
    fake.tool_calls(("amend_feature", {"rename_to": "smoke_test"}))
    renamed = respond_with_model(built.state, "call it smoke_test", model, ["smoke_test"])
    assert "`feature/smoke_test` already exists" in renamed.reply
    refused = respond_with_model(renamed.state, "build it", model, ["smoke_test"])
    assert refused.build is None and 'say "replace it"' in refused.reply
    replaced = respond_with_model(refused.state, "replace it", model, ["smoke_test"])
    assert replaced.build is not None and replaced.build.feature == "smoke_test"


@pytest.mark.parametrize(
    ("call", "said"),
    [
        (("amend_feature", []), "the arguments of amend_feature must be an object"),
        (("amend_feature", {"remove_fields": 5}), "remove_fields must be a list of strings"),
        (("amend_feature", {"rename_to": ["x"]}), "rename_to must be text"),
        (
            (
                "propose_feature",
                {"feature": "Bad Name", "description": "d", "requirements": "none"},
            ),
            "its proposal breaks a rule: feature: must be lowercase letters",
        ),
        (("launch_rockets", {}), "there is no tool 'launch_rockets'"),
    ],
)
def test_a_malformed_tool_call_is_the_models_mistake(
    fake: FakeOpenAI, model: OpenAIChatModel, call: tuple[str, Any], said: str
) -> None:
    built = respond(ChatState(), PETS.to_text())
    fake.tool_calls(call)
    turn = respond_with_model(built.state, "remove age", model)
    assert turn.reply.startswith(f"(The model made a mistake: {said}"), turn.reply
    assert "Changed: removed `age`" in turn.reply, "the rule-based assistant answered instead"
    assert turn.build is None


def test_the_corpus_through_the_model_assistant(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    """Each development phrasing with an invalid tool call: the rule-based assistant answers,
    and understands it as it does alone (tests/chat/test_model_corpus.py has the proposals)."""
    for case in CORPUS:
        fake.tool_calls(("propose_feature", []))
        fallback = respond_with_model(ChatState(), case["say"], model)
        assert fallback.reply.startswith("(The model made a mistake:"), fallback.reply
        alone = respond(ChatState(), case["say"])
        assert fallback.build is None and understood(fallback) == understood(alone), case["say"]


def test_a_complete_request_builds_without_asking_the_model(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    turn = respond_with_model(ChatState(), SEED_TEXT, model)
    assert turn.action == "build" and fake.requests == []


def test_model_errors_are_answered_not_raised(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    fake.fail(401)
    turn = respond_with_model(ChatState(), "hello", model)
    assert turn.action == "ask" and "OPENAI_API_KEY" in turn.reply


def test_the_offline_model_keeps_the_offline_assistant(settings: Settings) -> None:
    assert assistant_for(OfflineModel())(ChatState(), "status").action == "status"


class _Call:
    """A tool call as the openai client gives it."""

    def __init__(self, name: str, arguments: str) -> None:
        self.function = type("Function", (), {"name": name, "arguments": arguments})()


def test_any_tool_arguments_are_applied_or_named_as_the_models_mistake() -> None:
    values: list[Any] = [
        None,
        5,
        "x",
        [],
        [5],
        ["age"],
        ["a note (text)"],
        ["age: int"],
        {"a": 1},
        "",
        "Bad Name",
        "pet_log",
        True,
        ["name", "age"],
        ["x: y z"],
    ]
    keys = [
        "add_fields",
        "remove_fields",
        "make_optional",
        "make_required",
        "rename_to",
        "feature",
        "description",
        "requirements",
    ]
    tools = ["amend_feature", "propose_feature", "build", "build_status", "nope"]
    drafted = respond(ChatState(), "A feature called pet_profile with an age (integer)").state
    chance = random.Random(2)
    for n in range(2_000):
        arguments = {
            chance.choice(keys): chance.choice(values) for _ in range(chance.randint(0, 4))
        }
        raw = json.dumps(arguments) if n % 7 else chance.choice(["[]", "5", "nul", '"x"', "{"])
        state = drafted if n % 3 else ChatState()
        try:
            turn = _act(state, "build it", [_Call(chance.choice(tools), raw)], ["pet_log"])
        except ToolCallError:
            continue
        assert turn.build is None or turn.build == drafted.pending
