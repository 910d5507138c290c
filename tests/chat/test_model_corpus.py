"""The tool-calling assistant on the phrasings corpus, over real HTTP to a local
OpenAI-compatible server: both paths give the same structured request, and the rules answer
whenever the model cannot."""

import pytest

from agent.chat.assistant import respond
from agent.chat.model_assistant import respond_with_model
from agent.chat.state import ChatState
from agent.fields import FieldSpec, field_line
from agent.fields.words import parse_field_lines
from agent.models.openai_chat import OpenAIChatModel
from agent.settings import Settings
from tests.chat.corpus import DEV, HELD_OUT, misread, understood
from tests.models.fake_openai import FakeOpenAI

NAMED = [case for case in [*DEV, *HELD_OUT] if case["name"] and case["fields"]]
_TYPES = {
    "str": "text",
    "int": "integer",
    "float": "number",
    "bool": "yes/no",
    "date": "date",
    "datetime": "datetime",
}


def in_words(spec: FieldSpec) -> str:
    """A field as a model might write it in words: `age (integer, at least 0, at most 40)`."""
    if spec.type == "enum":
        choices = list(spec.choices or ())
        rules = ["one of " + ", ".join(choices[:-1]) + " or " + choices[-1]]
    else:
        rules = [_TYPES[spec.type]]
    for said, value in (
        ("at least", spec.ge),
        ("at most", spec.le),
        ("at least {} chars", spec.min_length),
        ("up to {} chars", spec.max_length),
    ):
        if value is not None:
            rules.append(said.format(value) if "{}" in said else f"{said} {value}")
    if not spec.required:
        rules.append("optional")
    return f"{spec.name} ({', '.join(rules)})"


@pytest.fixture
def model(settings: Settings, fake_openai: FakeOpenAI) -> OpenAIChatModel:
    return OpenAIChatModel("fake", settings)


def test_the_model_and_the_rules_give_the_same_request(
    fake_openai: FakeOpenAI, model: OpenAIChatModel
) -> None:
    """Each named case proposed by the model, its fields as lines or (every other case) in
    words: the request is the corpus's, and where the rules read the case right, theirs."""
    same = 0
    for n, case in enumerate(NAMED):
        specs = [parse_field_lines(line).fields[0] for line in case["fields"]]
        requirements = "\n".join(case["fields"]) if n % 2 else ", ".join(in_words(s) for s in specs)
        proposal = {"feature": case["name"], "description": "d", "requirements": requirements}
        fake_openai.tool_calls(("propose_feature", proposal))
        by_model = respond_with_model(ChatState(), case["say"], model)
        assert by_model.build is None and by_model.state.pending is not None, case["say"]
        assert understood(by_model)["fields"] == case["fields"], (requirements, by_model.reply)
        by_rules = respond(ChatState(), case["say"])
        if not misread(case, by_rules):
            assert by_rules.state.pending is not None
            ours, theirs = by_model.state.pending, by_rules.state.pending
            assert ours.resource is not None and theirs.resource is not None
            assert (ours.feature, ours.resource.fields) == (theirs.feature, theirs.resource.fields)
            same += 1
    assert same >= 0.9 * len(NAMED)


def test_the_rules_answer_every_case_the_model_cannot(
    fake_openai: FakeOpenAI, model: OpenAIChatModel
) -> None:
    for case in HELD_OUT:
        fake_openai.fail(401)
        turn = respond_with_model(ChatState(), case["say"], model)
        assert turn.reply.startswith("(The model could not answer: "), turn.reply
        assert "I answered without it." in turn.reply and turn.build is None
        assert understood(turn) == understood(respond(ChatState(), case["say"]))


def test_a_model_reply_in_words_reads_as_field_lines(
    fake_openai: FakeOpenAI, model: OpenAIChatModel
) -> None:
    words = "a drug name (text, up to 60 chars), a dose in mg (number, at least 0), a note (optional text)"
    fake_openai.tool_calls(
        ("propose_feature", {"feature": "med", "description": "Meds", "requirements": words})
    )
    turn = respond_with_model(ChatState(), "a feature for meds", model)
    assert turn.state.pending is not None
    assert [field_line(f) for f in turn.state.pending.resource.fields] == [  # type: ignore[union-attr]
        "drug_name: str len<=60",
        "dose_mg: float >=0",
        "note: str?",
    ]
    prose = "It stores medications and reminds people."
    fake_openai.tool_calls(
        ("propose_feature", {"feature": "med", "description": "Meds", "requirements": prose})
    )
    kept = respond_with_model(ChatState(), "a feature for meds", model)
    assert kept.state.pending is not None and kept.state.pending.requirements == prose
    assert "fields" not in str(kept.state.pending.resource)


def test_a_model_that_calls_no_tool_does_not_lose_what_the_rules_read(
    fake_openai: FakeOpenAI, model: OpenAIChatModel
) -> None:
    fake_openai.tool_calls(content="What should the feature be called?")
    said = "A feature called kennel with size (small, medium, large) and heated (bool)"
    turn = respond_with_model(ChatState(), said, model)
    assert turn.reply.startswith(
        "What should the feature be called?\n(I read this with the rules:)"
    )
    assert turn.state.pending is not None and turn.state.pending.feature == "kennel"
    fake_openai.tool_calls(content="Hello! What would you like to build?")
    greeted = respond_with_model(ChatState(), "hello", model)
    assert greeted.reply == "Hello! What would you like to build?"
