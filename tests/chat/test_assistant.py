import contextlib
import random
import time

import pytest

from agent.chat.assistant import Turn, respond
from agent.chat.refine import apply_instruction
from agent.chat.state import ChatState
from agent.chat.understand import read_message
from agent.errors import InstructionError
from agent.fields import field_line
from agent.request import FeatureRequest
from tests.conftest import SEED_TEXT
from tests.pathological import MESSAGES as PATHOLOGICAL_MESSAGES

PETS = FeatureRequest(
    feature="pet_profile",
    description="Store pets",
    requirements="name: str len>=1 len<=40\nage: int >=0 <=40\nspecies: dog|cat|bird\n"
    "operations: create, list, get",
)


def talk(*messages: str, existing: tuple[str, ...] = ()) -> list[Turn]:
    state, turns = ChatState(), []
    for message in messages:
        turn = respond(state, message, existing)
        state = turn.state
        turns.append(turn)
    return turns


def test_a_request_is_built_only_on_build_it_and_a_yes_takes_the_suggested_name() -> None:
    turns = talk(
        "I'd like to record pet weights",
        "yes",
        "with a weight (number >= 0) and a note (optional text, up to 200 chars)",
        "build it",
    )
    assert [t.action for t in turns] == ["ask", "ask", "ask", "build"]
    built = turns[-1].build
    assert built is not None and built.feature == "pet_weights"
    assert built.description == "Record pet weights"
    assert [field_line(f) for f in built.resource.fields] == [  # type: ignore[union-attr]
        "weight: float >=0",
        "note: str? len<=200",
    ]


def test_a_field_with_no_type_gets_a_question_about_it_alone() -> None:
    turns = talk(
        "Make a feature called aviary with a height (number, metres), a perch_count and a colour",
        "text, up to 20 chars",
        "build it",
    )
    asked = turns[0].reply
    assert "- fields: `height: float`, `perch_count: int`" in asked
    assert "I read 2 fields; I could not tell the type of “a colour”" in asked
    assert "what type should `colour` be?" in asked and "Which fields" not in asked
    assert "(I took the type of `perch_count` from the name" in asked
    assert "- fields: `height: float`, `perch_count: int`, `colour: str len<=20`" in turns[1].reply
    built = turns[2].build
    assert built is not None and built.feature == "aviary"
    assert [f.name for f in built.resource.fields] == ["height", "perch_count", "colour"]  # type: ignore[union-attr]


def test_build_it_while_a_type_is_asked_builds_what_was_read_and_said_so() -> None:
    turns = talk("A feature called aviary with a height (number) and a colour", "build it")
    assert 'Or say "build it" to build without it.' in turns[0].reply
    built = turns[1].build
    assert built is not None and [f.name for f in built.resource.fields] == ["height"]  # type: ignore[union-attr]


def test_several_untyped_fields_are_asked_together_and_answered_by_name() -> None:
    turns = talk(
        "A feature called aviary with a colour and a shape", "colour: text\nshape: round|square"
    )
    assert "what type should `colour` and `shape` be (say e.g. “colour: text”)?" in turns[0].reply
    assert turns[0].state.pending is None, "nothing to build without a field"
    assert "- fields: `colour: str`, `shape: round|square`" in turns[1].reply


def test_the_issue_phrasings_need_one_confirmation() -> None:
    for message, name, fields in [
        (
            "Please add a new feature: Medication Reminder. It needs a drug name (text up to 60 "
            "chars), a dose in mg (number, at least 0) and an optional note.",
            "medication_reminder",
            ["drug_name: str len<=60", "dose_mg: float >=0", "note: str?"],
        ),
        (
            "we want to store adoption applications -- call it adoption_application. applicant: "
            "str len<=80, household_size: int >=1 <=20, has_garden: bool",
            "adoption_application",
            ["applicant: str len<=80", "household_size: int >=1 <=20", "has_garden: bool"],
        ),
    ]:
        shown, built = talk(message, "build it")
        assert shown.reply.startswith("Here is what I understood:") and shown.build is None
        assert built.build is not None and built.build.feature == name
        assert [field_line(f) for f in built.build.resource.fields] == fields  # type: ignore[union-attr]


def test_a_request_form_with_a_fields_label_is_shown_not_built_as_free_text() -> None:
    (turn,) = talk("Feature: adoption_event\nDescription: adoption days\nFields:\n  held_on: date")
    assert turn.action == "ask" and turn.build is None
    assert "- fields: `held_on: date`" in turn.reply and "- feature: `adoption_event`" in turn.reply


def test_changes_show_what_changed_then_build_on_the_same_branch() -> None:
    turns = talk(
        PETS.to_text(),
        "add a weight_kg field, number >= 0",
        "age up to 30",
        "make species optional",
        "rename field name to nickname",
        "remove age",
        "undo",
        "build it",
    )
    assert [t.action for t in turns] == ["build", *["ask"] * 6, "build"]
    assert "Changed: added `weight_kg: float >=0`" in turns[1].reply
    assert "`age: int >=0 <=40` → `age: int >=0 <=30`" in turns[2].reply
    assert "`species: dog|cat|bird` → `species: dog|cat|bird?`" in turns[3].reply
    assert "renamed the field `name` → `nickname`" in turns[4].reply
    assert "removed `age`" in turns[5].reply
    assert turns[6].reply.startswith("Undone: added `age: int >=0 <=30`")
    built = turns[-1].build
    assert built is not None and built.feature == "pet_profile"
    assert "Rebuilding `pet_profile` as a new commit on its branch" in turns[-1].reply
    assert [field_line(f) for f in built.resource.fields] == [  # type: ignore[union-attr]
        "nickname: str len>=1 len<=40",
        "age: int >=0 <=30",
        "species: dog|cat|bird?",
        "weight_kg: float >=0",
    ]
    assert built.resource.operations == ("create", "list", "get")  # type: ignore[union-attr]


def test_a_field_given_twice_in_a_draft_is_the_last_one() -> None:
    turns = talk("A feature called pet_profile", "age: int", "age: integer >= 1", "age: int <= 9")
    assert [field_line(f) for f in turns[-1].state.pending.resource.fields] == ["age: int <=9"]  # type: ignore[union-attr]


def test_renaming_onto_a_feature_with_a_branch_needs_replace_it() -> None:
    turns = talk(
        PETS.to_text(),
        "rename it to smoke_test",
        "build it",
        "yes",
        "replace it",
        existing=("smoke_test",),
    )
    assert "`feature/smoke_test` already exists" in turns[1].reply
    assert [t.action for t in turns[2:]] == ["ask", "ask", "build"]
    assert turns[-1].build is not None and turns[-1].build.feature == "smoke_test"


def test_cancel_and_undo_with_nothing_to_undo() -> None:
    turns = talk("A feature called pet_profile with an age (integer)", "cancel", "build it", "undo")
    assert turns[1].state.pending is None and "nothing will be built" in turns[1].reply
    assert turns[2].action == "ask" and "nothing to build" in turns[2].reply
    assert "no change to undo" in turns[3].reply


def test_a_complete_request_builds_at_once() -> None:
    (turn,) = talk(SEED_TEXT)
    assert turn.action == "build" and turn.build is not None and turn.build.feature == "smoke_test"


@pytest.mark.parametrize(
    ("messages", "reply"),
    [
        (['{"feature": "Bad", "description": "x"}'], "That request has problems: feature"),
        (["A thing called pet_profile", "age: int\nage: str"], "`age` is given twice"),
        ([PETS.to_text(), "remove field nope"], "has no field `nope`"),
        (
            [PETS.to_text(), "rename it to class"],
            "`class` cannot be a feature name: feature: 'class' is a Python keyword",
        ),
        ([PETS.to_text(), "add field weight: float >=x"], "cannot read '>= x'"),
        ([PETS.to_text(), "remove name, age and species"], "remove every field"),
        ([PETS.to_text(), "colour up to 3"], "has no field `colour`"),
        ([PETS.to_text(), "age up to 30", "what is the weather"], "I did not understand"),
    ],
)
def test_it_asks_or_explains_instead_of_guessing(messages: list[str], reply: str) -> None:
    turns = talk(*messages)
    assert turns[-1].action == "ask" and reply in turns[-1].reply, turns[-1].reply


@pytest.mark.parametrize(
    ("instruction", "fields"),
    [
        ("add a note (optional text, up to 200 chars)", "note: str? len<=200"),
        ("please add field born: date?", "born: date?"),
        ("age should be at most 20", "age: int >=0 <=20"),
        ("set age to between 1 and 12", "age: int >=1 <=12"),
        ("name up to 60 chars", "name: str len>=1 len<=60"),
        ("make age required", "age: int >=0 <=40"),
        ("age: float >= 0.5", "age: float >=0.5"),
        ("species: one of dog, cat, bird or fish", "species: dog|cat|bird|fish"),
    ],
)
def test_apply_instruction_changes_one_request(instruction: str, fields: str) -> None:
    change = apply_instruction(PETS, instruction)
    assert change is not None and change.request.feature == "pet_profile"
    lines = [field_line(f) for f in change.request.resource.fields]  # type: ignore[union-attr]
    assert fields in lines and change.said
    assert change.request.resource.operations == ("create", "list", "get")  # type: ignore[union-attr]


def test_apply_instruction_tells_a_change_from_other_text() -> None:
    assert apply_instruction(PETS, "how are you today") is None
    with pytest.raises(InstructionError, match="has no field `weight`"):
        apply_instruction(PETS, "drop weight")
    renamed = apply_instruction(PETS, "rename it to Pet Cards")
    assert renamed is not None and renamed.request.feature == "pet_cards"


@pytest.mark.parametrize(
    "message",
    [
        " " * 20_000,
        "a" * 20_000,
        "called " * 3_000,
        "with a name (text, " * 1_000,
        "x: " + "1 " * 9_000,
        "`" + "a_" * 9_000,
        "add " + "a, " * 6_000,
        "- " + "age: int >= 0 " * 1_000,
        "with a x between and " * 1_000,
        "a: b, " + "c, " * 6_000,
        "\n-" * 9_000,
        "A feature called x with a s: a, b" + " " * 19_000 + "c",
    ],
    ids=range(12),
)
def test_long_messages_are_read_in_linear_time(message: str) -> None:
    started = time.perf_counter()
    read_message(message)
    talk("A feature called pet_profile with an age (integer)", message)
    with contextlib.suppress(InstructionError):
        apply_instruction(PETS, message)
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    ("message", "action"),
    [("status", "status"), ("Show the diff", "diff"), ("show the report.", "report")],
)
def test_commands(message: str, action: str) -> None:
    assert talk(message)[0].action == action


VOCABULARY = (
    "a an the called named call it feature with fields : , ( ) and or between 0 40 -1 1.5 text "
    "int integer number yes/no optional ? max chars up to add remove rename make required undo "
    'build yes cancel to age name species dog cat `x` "Pet Log" pet_log PetLog of one >= <= \n - '
    "* status health from min len len<=3 weight_kg for"
)
VOCABULARY = VOCABULARY.split(" ")  # type: ignore[assignment]


def test_any_words_get_an_answer_never_an_exception() -> None:
    chance = random.Random(1)
    for n in range(1_500):
        state = ChatState()
        if n % 2:
            state = talk("A feature called pet_profile with an age (integer)")[0].state
        for _ in range(3):
            words = [chance.choice(VOCABULARY) for _ in range(chance.randint(1, 14))]
            said = " ".join(words)
            turn = respond(state, said, ("pet_log",))
            assert turn.reply or turn.action != "ask"
            if turn.build is not None and state.replacing:
                assert "replace" in said, "a rename onto a branch builds only on 'replace it'"
            state = turn.state


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
    assert turn.action == "ask" and turn.build is None
    turn = respond(turn.state, "build it")
    assert turn.action == "build" and turn.build is not None


def test_asking_for_a_name_shows_what_was_read_and_what_was_not() -> None:
    first, named = talk(
        "we want to store adoption applications with an applicant (text), a household size "
        "(integer >= 1) and a pet",
        "call it adoption_application",
    )
    assert first.reply.startswith("What should the feature be called?")
    assert "The fields so far: `applicant: str`, `household_size: int >=1`" in first.reply
    assert "I read 2 fields; I could not tell the type of “a pet”" in first.reply
    assert "- feature: `adoption_application`" in named.reply
    assert "what type should `pet` be?" in named.reply, "the question stands until answered"


def test_changes_in_several_sentences_or_lines_are_made_one_by_one() -> None:
    change = apply_instruction(PETS, "add a note (optional text). Make age optional.")
    assert change is not None
    assert change.said == "`age: int >=0 <=40` → `age: int? >=0 <=40`; added `note: str?`"
    change = apply_instruction(PETS, "add a note (optional text)\nremove species")
    assert change is not None
    assert [f.name for f in change.request.resource.fields] == ["name", "age", "note"]  # type: ignore[union-attr]
    with pytest.raises(InstructionError, match="has no field `colour`"):
        apply_instruction(PETS, "add a note (optional text). remove colour.")


def test_fields_added_to_a_shown_request_say_what_was_not_read_and_answers_undo() -> None:
    turns = talk(
        "A feature called aviary with a height (number)",
        "with a width (number), a colour and a weight (kg, number >= x)",
        "text",
        "undo",
    )
    added = turns[1].reply
    assert added.startswith("Changed: added `width: float`.")
    assert "“a weight (kg, number >= x)” (field 'weight': cannot read '>= x')" in added
    assert "what type should `colour` be?" in added
    assert turns[2].reply.startswith("Changed: added `colour: str`.")
    assert turns[3].reply.startswith("Undone: removed `colour`.")
