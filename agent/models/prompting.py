"""Generation prompts from the data in `prompts/generation/`: the blueprint's rules, the seed as a
worked example, the request with its repository context, and the repair prompts.

The context is trimmed to a token budget (estimated at four characters a token): the style
example goes first, then the tail of `conftest.py` and `main.py`.
"""

from __future__ import annotations

import re
from typing import Literal

from agent.models.base import GenerationTask
from agent.pipeline.verify.requirements_map import requirements_of
from agent.prompt_files import read_prompt
from agent.quoting import fence

Message = dict[str, str]
_SLOT = re.compile(r"\{([a-z_]+)\}")
OutputForm = Literal["markdown", "json"]
SEED_REQUEST = (
    "**Feature Request:**\n- **Feature:** `smoke_test`\n"
    '- **Description:** "Ensure builder functional"\n- **Requirements:** "none"'
)


def prompt_version() -> str:
    return _read("VERSION").strip()


def estimate_tokens(text: str) -> int:
    return len(text) // 4 + 1


def build_messages(task: GenerationTask, *, form: OutputForm, budget: int) -> list[Message]:
    """The whole conversation for one round (the last reply and its feedback included)."""
    answer = _read("answer_markdown.md" if form == "markdown" else "answer_json.md")
    messages: list[Message] = [
        {"role": "system", "content": fill(_read("system.md"), answer_form=answer.strip())},
        {"role": "user", "content": _read("example_intro.md").strip() + "\n\n" + SEED_REQUEST},
        {"role": "assistant", "content": _example_reply(form)},
    ]
    fixed = sum(estimate_tokens(m["content"]) for m in messages)
    repair = _repair_messages(task)
    fixed += sum(estimate_tokens(m["content"]) for m in repair)
    messages.append({"role": "user", "content": _user_prompt(task, budget - fixed)})
    return messages + repair


def fill(template: str, **values: object) -> str:
    """The template's literal parts joined with the values of its `{name}` slots.

    One pass over the template: a value is inserted as it is and never searched for slots
    itself, so a request holding `{main_py}` keeps those braces. Unknown slots and other
    braces (JSON, code) are left alone.
    """
    parts = _SLOT.split(template)
    for index in range(1, len(parts), 2):
        name = parts[index]
        parts[index] = str(values[name]) if name in values else "{" + name + "}"
    return "".join(parts)


def _user_prompt(task: GenerationTask, room: int) -> str:
    context = task.context
    example = ""
    if context.example:
        parts = [
            "",
            "A feature in the house style (made by the builder for another request), to match:",
        ]
        for path, text in context.example.items():
            parts += [f"**File:** `{path}`", fence(text, "python")]
        example = "\n".join(parts)
    main_py, conftest = context.main_py.rstrip(), context.conftest.rstrip()
    values = {
        "request": task.request.to_text(),
        "features": ", ".join(context.features) or "(none yet)",
        "main_py": main_py,
        "conftest": conftest,
        "example": example,
        "requirement_ids": "\n".join(
            f"- `{rid}`: {what}" for rid, what in requirements_of(task.request).items()
        ),
    }
    text = fill(_read("user.md"), **values)
    if estimate_tokens(text) > room and example:
        values["example"] = ""
        text = fill(_read("user.md"), **values)
    while estimate_tokens(text) > room and (
        len(values["main_py"]) > 200 or len(values["conftest"]) > 200
    ):
        values["main_py"] = (
            values["main_py"][: len(values["main_py"]) * 2 // 3] + "\n# ... (trimmed)"
        )
        values["conftest"] = (
            values["conftest"][: len(values["conftest"]) * 2 // 3] + "\n# ... (trimmed)"
        )
        text = fill(_read("user.md"), **values)
    return text.strip() + "\n"


def _repair_messages(task: GenerationTask) -> list[Message]:
    feedback = task.feedback
    if feedback is None or task.previous_reply is None:
        return []
    name = {
        "validation": "repair_validation.md",
        "tests": "repair_tests.md",
        "length": "repair_length.md",
        "verification": "repair_verification.md",
    }[feedback.kind]
    text = fill(
        _read(name),
        round=task.round,
        max_rounds=task.max_rounds,
        reasons="\n".join(f"- {reason}" for reason in feedback.reasons),
        details=feedback.details.strip() or "(no output)",
    )
    return [
        {"role": "assistant", "content": task.previous_reply},
        {"role": "user", "content": text},
    ]


def _example_reply(form: OutputForm) -> str:
    text = _read("example_reply.md")
    if form == "markdown":
        return text
    from agent.bundle import parse_reply

    bundle = parse_reply(text, "smoke_test")
    bundle.summary = "A health-check endpoint: GET /api/v1/smoke-test answers status and message."
    return bundle.model_dump_json(indent=1)


def _read(name: str) -> str:
    return read_prompt(f"generation/{name}")
