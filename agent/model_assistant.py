"""The chat assistant with a real model: tool calling through the openai adapter.

The model talks with the user and acts through four tools: `propose_feature` (a draft request),
`amend_feature` (add or remove fields, rename), `build` (build the draft) and `build_status`.
Every tool argument goes through the same request model as any intake, so a model can propose
nothing that the blueprint refuses; its mistakes come back to it as tool errors.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from agent.assistant import ChatState, Turn, respond
from agent.errors import ModelError, RequestError
from agent.fields import ResourceSpec, parse_field_lines
from agent.models.openai_chat import OpenAIChatModel
from agent.request import FeatureRequest, decode_request

MAX_HISTORY = 20
SYSTEM = (
    "You help a user specify one feature of the PetSage backend (a FastAPI app) and then build "
    "it. A feature has a snake_case name, a description, and requirements: 'none' for a status "
    "endpoint, or field lines such as `age: int >=0 <=40`, `nickname: str? len<=30`, "
    "`species: dog|cat|bird` (types str int float bool date datetime, `?` optional), or free "
    "text. Ask for what is missing; do not guess names. Call propose_feature when you know "
    "the feature, build when the user agrees or asks to build, amend_feature for changes to "
    "the last feature (each change rebuilds it), build_status when asked how a build went."
)
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "propose_feature",
            "description": "Record the feature request as it stands (does not build).",
            "parameters": {
                "type": "object",
                "properties": {
                    "feature": {"type": "string", "description": "snake_case name"},
                    "description": {"type": "string"},
                    "requirements": {
                        "type": "string",
                        "description": "'none', field lines, or free text",
                    },
                },
                "required": ["feature", "description", "requirements"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "amend_feature",
            "description": "Change the last built feature and rebuild it as a new commit.",
            "parameters": {
                "type": "object",
                "properties": {
                    "add_fields": {"type": "array", "items": {"type": "string"}},
                    "remove_fields": {"type": "array", "items": {"type": "string"}},
                    "rename_to": {"type": "string"},
                },
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "build",
            "description": "Build the proposed feature.",
            "parameters": {"type": "object", "properties": {}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "build_status",
            "description": "How the last build went.",
            "parameters": {"type": "object", "properties": {}},
        },
    },
]


def respond_with_model(state: ChatState, message: str, model: OpenAIChatModel) -> Turn:
    """Answer one message with the model; a complete request in any encoding builds at once."""
    try:
        complete = decode_request(message)
    except RequestError:
        complete = None
    if complete is not None:
        return respond(state, message)
    history = [*state.history, {"role": "user", "content": message}][-MAX_HISTORY:]
    try:
        completion = model.chat([{"role": "system", "content": SYSTEM}, *history], TOOLS)
    except ModelError as e:
        return Turn(f"The model could not answer: {e}", state, "ask")
    choice = completion.choices[0].message
    reply_parts = [choice.content.strip()] if choice.content else []
    draft = state.proposal
    turn: Turn | None = None
    for call in choice.tool_calls or []:
        name = call.function.name
        try:
            arguments = json.loads(call.function.arguments or "{}")
        except json.JSONDecodeError:
            reply_parts.append(f"(the model sent unreadable arguments for {name})")
            continue
        if name == "propose_feature":
            try:
                draft = FeatureRequest.model_validate(
                    {k: arguments.get(k) for k in ("feature", "description", "requirements")}
                )
                reply_parts.append(f"Proposed `{draft.feature}`: {draft.description}")
            except ValidationError as e:
                reply_parts.append(f"That proposal breaks a rule: {e.errors()[0]['msg']}")
        elif name == "build":
            if draft is None:
                reply_parts.append("There is nothing to build yet.")
            else:
                turn = Turn("", state, "build", draft)
        elif name == "amend_feature":
            turn = _amend(state, arguments) or turn
        elif name == "build_status":
            turn = Turn("", state, "status")
    reply = " ".join(part for part in reply_parts if part) or "OK."
    new_history = [*history, {"role": "assistant", "content": reply}][-MAX_HISTORY:]
    if turn is not None and turn.build is not None:
        after = ChatState(
            last_request=turn.build, last_build_id=state.last_build_id, history=new_history
        )
        return Turn(f"{reply} Building `{turn.build.feature}`.", after, "build", turn.build)
    after = state.model_copy(update={"history": new_history, "proposal": draft})
    if turn is not None:
        return Turn(reply, after, turn.action)
    return Turn(reply, after, "ask")


def _amend(state: ChatState, arguments: dict[str, Any]) -> Turn | None:
    last = state.last_request
    if last is None:
        return None
    fields = list(last.resource.fields) if last.resource else []
    try:
        for line in arguments.get("add_fields") or []:
            fields += list(parse_field_lines(str(line)).fields)
        drop = set(arguments.get("remove_fields") or [])
        fields = [f for f in fields if f.name not in drop]
        update: dict[str, Any] = {
            "requirements": ResourceSpec(fields=tuple(fields)) if fields else None
        }
        if arguments.get("rename_to"):
            update["feature"] = str(arguments["rename_to"])
        changed = FeatureRequest.model_validate({**last.model_dump(), **update})
    except (ValueError, ValidationError):
        return None
    return Turn("", state, "build", changed)


def assistant_for(model: object) -> Any:
    """The chat assistant to use with `model`: tool calling for a real model, else offline."""
    inner = getattr(model, "inner", model)
    if isinstance(inner, OpenAIChatModel):
        return lambda state, message: respond_with_model(state, message, inner)
    return respond
