"""Prompt assembly: slots filled once from parts, never inside user text; within budget."""

from agent.models.base import GenerationTask, RepoContext
from agent.models.context import STYLE_REQUEST, render_style_example, style_example
from agent.models.offline import render_bundle
from agent.models.prompting import build_messages, estimate_tokens, fill
from agent.request import FeatureRequest

MAIN_PY = "from fastapi import FastAPI\n\napp = FastAPI()\n" + "# a line of main.py\n" * 1500
CONFTEST = "import pytest\n" + "# a line of conftest.py\n" * 1500


def task_for(description: str) -> GenerationTask:
    request = FeatureRequest(feature="pet_notes", description=description, requirements="none")
    context = RepoContext(
        main_py=MAIN_PY, conftest=CONFTEST, features=("smoke_test",), example=style_example()
    )
    return GenerationTask(request=request, round=1, max_rounds=3, load_context=lambda: context)


def test_placeholders_in_a_description_stay_literal_and_the_prompt_within_budget() -> None:
    description = "Notes for pets {main_py} and {conftest} {example} {request} " * 40
    budget = 6000
    messages = build_messages(task_for(description.strip()), form="markdown", budget=budget)
    user = messages[-1]["content"]
    assert sum(estimate_tokens(m["content"]) for m in messages) <= budget
    assert "Notes for pets {main_py} and {conftest} {example} {request}" in user
    # main.py is shown once, in its own slot, not once per `{main_py}` in the description.
    assert user.count("from fastapi import FastAPI") == 1


def test_fill_is_one_pass_over_the_template() -> None:
    assert fill("a {x} b {y} {z}", x="{y}", y="Y") == "a {y} b Y {z}"
    assert fill('{"json": {x}}', x=1) == '{"json": 1}'


def test_the_style_example_is_the_offline_generators_own_output() -> None:
    bundle = render_bundle(STYLE_REQUEST)
    example = style_example()
    # Stored, so that no build renders it: `python -m agent.models.context` writes it again.
    assert example == render_style_example()
    assert example and all(bundle.get(path) is not None for path in example)
    assert all(bundle.get(path).content == text for path, text in example.items())  # type: ignore[union-attr]
    messages = build_messages(task_for("Pet notes"), form="markdown", budget=100_000)
    assert "pet_profile_router.py" in messages[-1]["content"]
