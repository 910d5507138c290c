"""The chat assistant with a real model: tool calling through the openai adapter.

The model talks with the user and acts through four tools: `propose_feature` (a draft request),
`amend_feature` (add, remove, rename fields, make them optional or required, rename the feature),
`build` and `build_status`. Every tool argument goes through the same request model and the same
change functions as the rule-based assistant, so a model can propose nothing that the blueprint
refuses. The model acts only on what the person asked: a proposal or an amendment waits for the
person's "build it" (a model cannot propose and build in one reply), renaming onto a feature
that has a branch needs the person's "replace it", and a tool call that is malformed is answered
as the model's mistake, by the rule-based assistant; so is a message the model could not answer
(the server down, a refused key), and so is a feature the model called no tool for though the
rules can read it: the rules are the fallback. Fields a model writes in words
are read by the rules into field lines, so both paths give the same structured request.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from agent.chat.assistant import (
    Turn,
    propose_change,
    respond,
    summary,
)
from agent.chat.forms import MAX_READ_CHARS, reads_as_draft
from agent.chat.items import read_item
from agent.chat.refine import rename_feature, with_fields
from agent.chat.state import ChatState
from agent.chat.understand import read_message
from agent.errors import InstructionError, ModelError, RequestError
from agent.fields import FieldSpec, ResourceSpec
from agent.fields.words import looks_like_field_lines
from agent.models.openai_chat import OpenAIChatModel
from agent.prompt_files import read_prompt
from agent.request import FeatureRequest, decode_request

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageToolCallUnion

MAX_HISTORY = 20


class Assistant(Protocol):
    """Answers one message of a chat: the rule-based `respond`, or one with a model."""

    def __call__(
        self, state: ChatState, message: str, existing: Collection[str] = (), /
    ) -> Turn: ...


class _Function(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def arguments(self) -> str: ...


class ToolCall(Protocol):
    """What `_act` reads of a tool call: the function's name and its JSON arguments."""

    @property
    def function(self) -> _Function: ...


def system_prompt() -> str:
    """The assistant's system prompt, from `prompts/assistant/system.md`."""
    return read_prompt("assistant/system.md").strip()


def tools() -> list[dict[str, Any]]:
    """The tools the model may call, from `prompts/assistant/tools.json` (OpenAI's format)."""
    loaded: list[dict[str, Any]] = json.loads(read_prompt("assistant/tools.json"))
    return loaded


class ToolCallError(ValueError):
    """A tool call the model got wrong: unknown tool, unreadable or ill-typed arguments."""


def respond_with_model(
    state: ChatState, message: str, model: OpenAIChatModel, existing: Collection[str] = ()
) -> Turn:
    """Answer one message with the model; the person's own words decide what is built.

    A complete request in any encoding, "build it", "undo" and "cancel" are the rule-based
    assistant's; anything else goes to the model, and an invalid tool call falls back to the
    rule-based assistant with a note saying so.
    """
    try:
        complete: FeatureRequest | None = decode_request(message)
    except RequestError:
        complete = None
    if complete is not None and reads_as_draft(complete, message):
        complete = None
    plain = " ".join(message.lower().replace("!", " ").replace(".", " ").split()).strip(" ?")
    if complete is not None or plain in _RULE_BASED:
        return respond(state, message, existing)
    history = [*state.history, {"role": "user", "content": message}][-MAX_HISTORY:]
    try:
        completion = model.chat([{"role": "system", "content": system_prompt()}, *history], tools())
    except ModelError as e:
        fallback = respond(state, message, existing)
        note = f"(The model could not answer: {e}. I answered without it.)"
        after = fallback.state.model_copy(update={"history": history})
        return Turn(f"{note}\n{fallback.reply}".strip(), after, fallback.action, fallback.build)
    choice = completion.choices[0].message
    text = choice.content.strip() if choice.content else ""
    try:
        calls = _function_calls(choice.tool_calls)
        turn = _act(state, message, calls, existing)
    except ToolCallError as e:
        fallback = respond(state, message, existing)
        note = f"(The model made a mistake: {e}. I answered without it.)"
        after = fallback.state.model_copy(update={"history": history})
        return Turn(f"{note}\n{fallback.reply}".strip(), after, fallback.action, fallback.build)
    if not calls:
        turn = _rules_when_silent(state, message, existing) or turn
    reply = "\n".join(part for part in (text, turn.reply) if part) or "OK."
    new_history = [*history, {"role": "assistant", "content": reply}][-MAX_HISTORY:]
    return Turn(
        reply, turn.state.model_copy(update={"history": new_history}), turn.action, turn.build
    )


def _rules_when_silent(state: ChatState, message: str, existing: Collection[str]) -> Turn | None:
    """The rules' draft when the model called no tool but the message says a feature the rules
    can read ("call it x, with a y (int)"): what was said is shown, not lost to a question."""
    rules = respond(state, message, existing)
    drafted = rules.state.pending
    if rules.action != "ask" or drafted is None or drafted == state.pending:
        return None
    return Turn(f"(I read this with the rules:)\n{rules.reply}", rules.state, "ask")


#: What the person says that the rule-based assistant answers without asking the model.
_RULE_BASED = frozenset(
    {"build it", "yes", "yes build it", "go ahead", "build", "undo", "cancel", "replace it"}
)
#: Words that show the person asked for a build in a message the model reads.
_BUILD_WORDS = frozenset({"build", "yes", "go", "ok", "okay", "sure", "ship"})


def _act(
    state: ChatState, message: str, calls: Sequence[ToolCall], existing: Collection[str]
) -> Turn:
    """Apply the model's tool calls to the chat; ToolCallError when one is malformed."""
    turn = Turn("", state, "ask")
    proposed_now = False
    for call in calls:
        name = call.function.name
        arguments = _arguments(name, call.function.arguments)
        if name == "propose_feature":
            turn = _propose(turn.state, arguments, existing)
            proposed_now = True
        elif name == "amend_feature":
            turn = _amend(turn.state, arguments, existing)
            proposed_now = True
        elif name == "build":
            asked = set(message.lower().replace(",", " ").split()) & _BUILD_WORDS
            if turn.state.pending is None:
                turn = Turn(_join(turn.reply, "There is nothing to build yet."), turn.state, "ask")
            elif proposed_now or not asked:
                turn = Turn(
                    _join(turn.reply, 'I will build it when you say "build it".'),
                    turn.state,
                    "ask",
                )
            else:
                built = respond(turn.state, "build it", existing)
                return Turn(_join(turn.reply, built.reply), built.state, built.action, built.build)
        elif name == "build_status":
            turn = Turn(turn.reply, turn.state, "status")
        else:
            raise ToolCallError(f"there is no tool {name!r}")
    return turn


def _function_calls(calls: list[ChatCompletionMessageToolCallUnion] | None) -> list[ToolCall]:
    """The function calls among the model's tool calls (the assistant offers no other kind)."""
    found: list[ToolCall] = []
    for call in calls or []:
        if call.type != "function":
            raise ToolCallError(f"there is no {call.type} tool")
        found.append(call)
    return found


def _arguments(name: str, raw: str | None) -> dict[str, Any]:
    try:
        arguments = json.loads(raw or "{}")
    except json.JSONDecodeError:
        raise ToolCallError(f"the arguments of {name} are not JSON") from None
    if not isinstance(arguments, dict):
        raise ToolCallError(f"the arguments of {name} must be an object, not {raw}")
    return arguments


def _strings(arguments: dict[str, Any], key: str) -> list[str]:
    value = arguments.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ToolCallError(f"{key} must be a list of strings, not {json.dumps(value)}")
    return value


def _propose(state: ChatState, arguments: dict[str, Any], existing: Collection[str]) -> Turn:
    values = {k: arguments.get(k) for k in ("feature", "description", "requirements")}
    if not all(isinstance(v, str) for v in values.values()):
        raise ToolCallError("propose_feature needs feature, description and requirements as text")
    values["requirements"] = _as_field_lines(str(values["requirements"]))
    try:
        request = FeatureRequest.model_validate(values)
    except ValidationError as e:
        problem = e.errors()[0]
        where = ".".join(str(p) for p in problem["loc"] if not str(p)[0].isupper())
        message = problem["msg"].removeprefix("Value error, ")
        raise ToolCallError(f"its proposal breaks a rule: {where}: {message}") from None
    base = state.pending or state.last_request
    if base is not None and base.feature == request.feature:
        return propose_change(state, base, request, existing)
    after = state.model_copy(update={"pending": request, "replacing": False})
    return Turn(summary(request, exists=request.feature in existing), after, "ask")


def _as_field_lines(requirements: str) -> str:
    """Fields a model wrote in words ("a name (text), an age between 0 and 40") as field lines,
    so its request is the structured one the rules would read; other text is kept as it is."""
    if looks_like_field_lines(requirements) or len(requirements) > MAX_READ_CHARS:
        return requirements
    reading = read_message(requirements)
    if not reading.fields or reading.unread or reading.untyped:
        return requirements
    try:
        return ResourceSpec.model_validate({"fields": reading.fields}).to_lines()
    except ValidationError:
        return requirements


def _amend(state: ChatState, arguments: dict[str, Any], existing: Collection[str]) -> Turn:
    base = state.pending or state.last_request
    if base is None:
        raise ToolCallError("amend_feature with no feature proposed yet")
    add = _strings(arguments, "add_fields")
    remove = _strings(arguments, "remove_fields")
    optional = set(_strings(arguments, "make_optional"))
    required = set(_strings(arguments, "make_required"))
    rename_to = arguments.get("rename_to")
    if rename_to is not None and not isinstance(rename_to, str):
        raise ToolCallError(f"rename_to must be text, not {json.dumps(rename_to)}")
    fields = list(base.resource.fields) if base.resource else []
    known = {f.name for f in fields}
    unknown = [n for n in [*remove, *optional, *required] if n not in known]
    if unknown:
        raise ToolCallError(f"`{base.feature}` has no field `{unknown[0]}`")
    try:
        added = [FieldSpec.model_validate(read_item(line)) for line in add]
    except ValueError as e:
        raise ToolCallError(f"a field to add cannot be read: {e}") from None
    changed: list[FieldSpec] = []
    for spec in fields:
        if spec.name in remove:
            continue
        if spec.name in optional or spec.name in required:
            spec = spec.model_copy(update={"required": spec.name in required})
        changed.append(spec)
    try:
        new = with_fields(base, [*changed, *added])
        if rename_to:
            new = rename_feature(new, rename_to).request
    except InstructionError as e:
        return Turn(f"I could not make that change: {e}", state, "ask")
    return propose_change(state, base, new, existing)


def _join(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def assistant_for(model: object) -> Assistant:
    """The chat assistant to use with `model`: tool calling for a real model, else offline."""
    inner = getattr(model, "inner", model)
    if not isinstance(inner, OpenAIChatModel):
        return respond

    def with_model(state: ChatState, message: str, existing: Collection[str] = (), /) -> Turn:
        return respond_with_model(state, message, inner, existing)

    return with_model
