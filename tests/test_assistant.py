import time

import pytest

from agent.assistant import ChatState, respond
from tests.conftest import SEED_TEXT
from tests.pathological import MESSAGES as PATHOLOGICAL_MESSAGES


def talk(*messages: str) -> list:
    state, turns = ChatState(), []
    for message in messages:
        turn = respond(state, message)
        state = turn.state
        turns.append(turn)
    return turns


def test_a_resource_in_three_messages_then_refinements() -> None:
    turns = talk(
        "I'd like a feature to keep profiles of pets.",
        "Call it pet_profile.",
        "name: str len>=1 len<=40\nage: int >=0 <=40\nspecies: dog|cat|bird",
        "add field weight_kg: float >=0",
        "remove field age",
        "rename it to pets",
    )
    assert [t.action for t in turns] == ["ask", "ask", "build", "build", "build", "build"]
    assert "called" in turns[0].reply and "Which fields" in turns[1].reply
    built = turns[2].build
    assert built is not None and built.feature == "pet_profile"
    assert built.description == "I'd like a feature to keep profiles of pets."
    assert [f.name for f in built.resource.fields] == ["name", "age", "species"]  # type: ignore[union-attr]
    assert [f.name for f in turns[3].build.resource.fields] == [
        "name",
        "age",
        "species",
        "weight_kg",
    ]  # type: ignore[union-attr]
    assert [f.name for f in turns[4].build.resource.fields] == ["name", "species", "weight_kg"]  # type: ignore[union-attr]
    assert turns[5].build.feature == "pets"  # type: ignore[union-attr]


def test_a_complete_request_builds_at_once() -> None:
    (turn,) = talk(SEED_TEXT)
    assert turn.action == "build" and turn.build is not None and turn.build.feature == "smoke_test"


def test_a_status_feature_from_a_sentence() -> None:
    (turn,) = talk("I need a health check endpoint called `ping`")
    assert (
        turn.action == "build" and turn.build.feature == "ping" and turn.build.requirements is None
    )  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("messages", "reply"),
    [
        (["remove field age"], "no feature yet"),
        (['{"feature": "Bad", "description": "x"}'], "That request has problems: feature"),
        (["A thing called pet_profile", "age: integer"], "Which fields"),
        (["A thing called pet_profile", "age: int\nage: str"], "declared twice"),
        ([SEED_TEXT, "remove field nope"], "has no field `nope`"),
        ([SEED_TEXT, "rename it to Class"], "cannot be a feature name"),
        ([SEED_TEXT, "add field weight: float >=x"], "could not read that field"),
    ],
)
def test_it_asks_or_explains_instead_of_guessing(messages: list[str], reply: str) -> None:
    turns = talk(*messages)
    assert turns[-1].action == "ask" and reply in turns[-1].reply, turns[-1].reply


@pytest.mark.parametrize(
    ("message", "action"),
    [("status", "status"), ("Show the diff", "diff"), ("show the report.", "report")],
)
def test_commands(message: str, action: str) -> None:
    assert talk(message)[0].action == action


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL_MESSAGES))
def test_pathological_messages_are_answered_quickly(name: str) -> None:
    started = time.perf_counter()
    turn = respond(ChatState(), PATHOLOGICAL_MESSAGES[name])
    assert time.perf_counter() - started < 0.1
    assert turn.action == "ask"


def test_a_draft_collecting_over_forty_fields_is_told_so_and_keeps_working() -> None:
    state = ChatState()
    for start in (0, 30):
        lines = "\n".join(f"f{i}: int" for i in range(start, start + 30))
        turn = respond(state, lines)
        state = turn.state
    assert "at most 40 fields" in turn.reply
    assert len(state.fields) == 30
    turn = respond(state, "Call it pet_profile, it stores pets.")
    assert turn.action == "build" and turn.build is not None
