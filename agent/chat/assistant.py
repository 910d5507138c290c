"""The offline chat assistant: turns a conversation into a feature request, then into builds.

It reads how people write (agent/chat/understand.py, with names.py and items.py): a feature's
name wherever they put it, its purpose without the scaffolding, fields as lines, lists or
prose. Before it builds it says what it understood in one short block, and builds only on the
person's "build it" / "yes"; a complete request in any encoding of BLUEPRINT §1 builds at once.
Changes (agent/chat/refine.py: add, remove,
rename a field, optional / required, a bound, rename the feature), "undo" and "cancel" each show
what changed first. It answers "status", "show the diff" and "show the report" about the last
build.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

from agent.chat.forms import MAX_READ_CHARS, MAX_READ_LINES, complete_request, reads_as_draft
from agent.chat.names import suggest_name, word_set
from agent.chat.questions import answer_to_type, guessed_note, not_read, take_untyped
from agent.chat.refine import apply_instruction, describe_change, with_fields
from agent.chat.state import ChatState
from agent.chat.understand import Reading, read_message
from agent.errors import InstructionError
from agent.fields import MAX_FIELDS, OPERATIONS, ResourceSpec, field_line
from agent.request import FeatureRequest

Action = Literal["build", "ask", "status", "diff", "report"]
_STATUS_WORDS = re.compile(
    r"\b(?:health|healthcheck|status endpoint|status feature|ping|liveness|smoke)\b", re.I
)
_YES = word_set(
    "build it|build|yes|y|yes build it|yes please|yes, build it|go|go ahead|do it|ok|okay|"
    "sure|looks good|lgtm|confirm|build that|build this|ship it|yep|yeah|please build it|"
    "replace it|yes replace it|yes, replace it|replace|overwrite it|correct|that's right",
    "|",
)
_CANCEL = frozenset(
    {"cancel", "cancel it", "never mind", "nevermind", "forget it", "stop", "abort"}
)
_UNDO = frozenset({"undo", "undo that", "undo it", "undo the last change", "revert", "go back"})
MAX_UNDO = 10
_COMMANDS: dict[str, Action] = {
    "status": "status",
    "show status": "status",
    "show the status": "status",
    "diff": "diff",
    "show diff": "diff",
    "show the diff": "diff",
    "report": "report",
    "show report": "report",
    "show the report": "report",
}


@dataclass(frozen=True)
class Turn:
    """The assistant's answer to one message, and the request to build, if any."""

    reply: str
    state: ChatState
    action: Action
    build: FeatureRequest | None = None


def respond(state: ChatState, message: str, existing: Collection[str] = ()) -> Turn:
    """Answer one user message; `existing` names the features that already have a branch."""
    text = message.strip()
    said = _plain(text)
    command = _COMMANDS.get(said)
    if command is not None:
        return Turn("", state, command)
    complete = complete_request(text)
    if complete is not None and not reads_as_draft(complete, text):
        if isinstance(complete, str):
            return Turn(complete, state, "ask")
        return _build(state, complete, f"Building `{complete.feature}` from your request.")
    short = _short_answer(state, said, existing)
    if short is not None:
        return short
    too_long = _too_long(text)
    if too_long is not None:
        return Turn(too_long, state, "ask")
    answered = _type_answered(state, text, existing)
    if answered is not None:
        return answered
    base = state.pending or state.last_request
    if base is not None:
        try:
            change = apply_instruction(base, text)
        except InstructionError as e:
            return Turn(f"I could not make that change: {e}", state, "ask")
        if change is not None:
            return propose_change(state, base, change.request, existing)
    return _draft(state, text, existing)


def _too_long(text: str) -> str | None:
    lines = text.count("\n") + 1
    if len(text) <= MAX_READ_CHARS and lines <= MAX_READ_LINES:
        return None
    return (
        f"That message is too long to read as a description ({len(text)} characters, {lines} "
        f"lines; at most {MAX_READ_CHARS} and {MAX_READ_LINES}). A feature has at most "
        f"{MAX_FIELDS} fields: describe it in fewer words, or send the whole request in one of "
        "the request forms (JSON, or `feature:` / `description:` / `requirements:` lines)."
    )


def _type_answered(state: ChatState, text: str, existing: Collection[str]) -> Turn | None:
    """The field asked about, typed by the answer: a change of the request shown, if any."""
    answered = answer_to_type(state, text)
    if answered is None or state.pending is None:
        return None if answered is None else _advance(answered, [], existing)
    try:
        new = with_fields(state.pending, answered.fields)
    except InstructionError as e:
        return Turn(f"I could not make that change: {e}", state, "ask")
    return propose_change(answered, state.pending, new, existing)


def _short_answer(state: ChatState, said: str, existing: Collection[str]) -> Turn | None:
    """ "cancel", "undo" and "yes / build it": answered before anything is read as a change."""
    if said in _CANCEL:
        after = ChatState(
            last_request=state.last_request,
            last_build_id=state.last_build_id,
            history=state.history,
        )
        return Turn(
            "Cancelled: nothing will be built. Describe a feature when you like.", after, "ask"
        )
    if said in _UNDO:
        return _undo(state)
    if said in _YES:
        return _confirm(state, said, existing)
    return None


def summary(request: FeatureRequest, *, note: str | None = None, exists: bool = False) -> str:
    """What the assistant understood, in one short block."""
    lines = ["Here is what I understood:"]
    name = f"- feature: `{request.feature}`"
    if note:
        name += f" ({note}: say another name if that is not right)"
    lines.append(name)
    lines.append(f"- description: {request.description}")
    spec = request.resource
    if spec is not None:
        lines.append("- fields: " + ", ".join(f"`{field_line(f)}`" for f in spec.fields))
        if spec.operations != OPERATIONS:
            lines.append(f"- operations: {', '.join(spec.operations)}")
    elif request.requirements is None:
        lines.append("- requirements: none (a status endpoint)")
    else:
        lines.append(f"- requirements: {request.requirements_text[:200]}")
    where = f"`{request.branch}`" + (" (it exists: this adds a commit to it)" if exists else "")
    lines.append(f'Say "build it" to build it on {where}, or tell me what to change.')
    return "\n".join(lines)


def propose_change(
    state: ChatState, base: FeatureRequest, new: FeatureRequest, existing: Collection[str] = ()
) -> Turn:
    """Make `new` the request awaiting "build it", showing what changed from `base`."""
    after = state.model_copy(
        update={
            "pending": new,
            "previous": [*state.previous, base][-MAX_UNDO:],
            "replacing": new.feature != base.feature and new.feature in existing,
            "name_note": None,
        }
    )
    reply = f"Changed: {describe_change(base, new)}.\n{summary(new)}"
    if after.replacing:
        reply += (
            f"\n`{new.branch}` already exists: building would add to that feature and its pull "
            'request. Say "replace it" to do that, or give another name.'
        )
    return Turn(reply, after, "ask")


# --- complete requests and refinements ------------------------------------------------------------


def _plain(text: str) -> str:
    return " ".join(text.lower().replace("!", " ").replace(".", " ").split()).strip(" ?")


def _confirm(state: ChatState, said: str, existing: Collection[str]) -> Turn:
    if state.pending is not None:
        if state.replacing and "replace" not in said and "overwrite" not in said:
            return Turn(
                f'`{state.pending.branch}` already exists; say "replace it" to build over it, '
                "or give another name.",
                state,
                "ask",
            )
        request = state.pending
        same = state.last_request and state.last_request.feature == request.feature
        verb = "Rebuilding" if same else "Building"
        where = " as a new commit on its branch" if same else ""
        return _build(state, request, f"{verb} `{request.feature}`{where}.")
    if state.suggested_name and state.feature is None:
        draft = state.model_copy(update={"feature": state.suggested_name, "suggested_name": None})
        return _advance(draft, [], existing)
    return Turn(
        "There is nothing to build yet. " + _missing(state),
        state,
        "ask",
    )


def _undo(state: ChatState) -> Turn:
    if not state.previous:
        return Turn("There is no change to undo.", state, "ask")
    current = state.pending or state.last_request
    restored = state.previous[-1]
    after = state.model_copy(
        update={"pending": restored, "previous": state.previous[:-1], "replacing": False}
    )
    said = describe_change(current, restored) if current else "restored"
    return Turn(f"Undone: {said}.\n{summary(restored)}", after, "ask")


def _missing(state: ChatState) -> str:
    if state.feature is None:
        return "Describe the feature: what it is for and its fields, and what to call it."
    return f"Which fields should `{state.feature}` have?"


# --- drafts from plain sentences ------------------------------------------------------------------


def _draft(state: ChatState, text: str, existing: Collection[str]) -> Turn:
    draft = state.model_copy(deep=True)
    reading = read_message(text)
    _take_name(draft, reading)
    if reading.fields:
        by_name = {f.name: f for f in reading.fields}
        draft.fields = [by_name.pop(f.name, f) for f in draft.fields] + list(by_name.values())
        if len(draft.fields) > MAX_FIELDS:
            return Turn(
                f"A resource has at most {MAX_FIELDS} fields; with these it would have "
                f"{len(draft.fields)}. Remove some, or split it into two features.",
                state,
                "ask",
            )
    _take_operations(draft, reading)
    take_untyped(draft, reading)
    if _STATUS_WORDS.search(text) and not draft.fields and not draft.untyped:
        draft.status_only = True
    if reading.description and draft.description is None:
        draft.description = reading.description
    understood = bool(reading.name or reading.fields or draft.status_only or reading.untyped)
    if state.pending is None:
        understood = understood or bool(reading.description)
    if not understood and not reading.unread:
        hint = (
            'Say "build it" to build what I showed, or a change such as "add a note (text)", '
            '"remove age", "age up to 30", "make name optional", "rename it to pets", "undo".'
            if state.pending
            else _missing(state)
        )
        return Turn(f"I did not understand “{text[:200]}”. {hint}", state, "ask")
    if state.pending is not None and draft.feature == state.pending.feature and reading.fields:
        try:
            new = with_fields(state.pending, draft.fields)
        except InstructionError as e:
            return Turn(f"I could not make that change: {e}", state, "ask")
        changed = propose_change(draft, state.pending, new, existing)
        said = changed.reply + not_read(changed.state, reading.unread)
        return Turn(said, changed.state, changed.action)
    return _advance(draft, reading.unread, existing)


def _take_name(draft: ChatState, reading: Reading) -> None:
    if reading.name is None:
        return
    draft.feature = reading.name.name
    draft.suggested_name = None
    draft.name_note = f"from “{reading.name.said}”" if reading.name.confirm else None
    if reading.name.confirm and reading.name.said == reading.name.name:
        draft.name_note = "my guess"


def _take_operations(draft: ChatState, reading: Reading) -> None:
    if not reading.operations:
        return
    unknown = [op for op in reading.operations if op not in OPERATIONS]
    if unknown:
        reading.unread.append(f"“{unknown[0]}” (operations are {', '.join(OPERATIONS)})")
    else:
        draft.operations = reading.operations


def _advance(draft: ChatState, unread: list[str], existing: Collection[str]) -> Turn:
    """Ask for what is missing, or show what is understood and wait for "build it"."""
    quoted = not_read(draft, unread)
    if draft.feature is None:
        suggestion = suggest_name(draft.description)
        draft.suggested_name = suggestion
        ask = "What should the feature be called?"
        if suggestion:
            ask += f' I suggest `{suggestion}`: say "yes" to use it, or give another name.'
        else:
            ask += " Give a snake_case name, e.g. `pet_profile`."
        if draft.fields:
            ask += "\nThe fields so far: " + ", ".join(f"`{field_line(f)}`" for f in draft.fields)
        return Turn(ask + quoted, draft, "ask")
    if not draft.fields and not draft.status_only and draft.untyped:
        return Turn(quoted.strip(), draft, "ask")
    if not draft.fields and not draft.status_only:
        return Turn(
            f"Which fields should `{draft.feature}` have? One per line, e.g. `age: int >=0 <=40`, "
            "or in words: “a name (text, up to 40 chars), an age between 0 and 40 and a "
            'species: dog, cat or bird”. Or say "status endpoint" for a health check.' + quoted,
            draft,
            "ask",
        )
    description = draft.description or f"The {draft.feature.replace('_', ' ')} feature"
    requirements: ResourceSpec | None = None
    try:
        if draft.fields:
            requirements = ResourceSpec.model_validate(
                {"fields": draft.fields, "operations": draft.operations}
            )
        request = FeatureRequest(
            feature=draft.feature, description=description, requirements=requirements
        )
    except ValidationError as e:
        problem = e.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        return Turn(
            f"{where}: {message}" + quoted, draft.model_copy(update={"feature": None}), "ask"
        )
    draft.pending = request
    reply = summary(request, note=draft.name_note, exists=request.feature in existing)
    reply += guessed_note(draft.guessed)
    return Turn(reply + quoted, draft, "ask")


def _build(state: ChatState, request: FeatureRequest, reply: str) -> Turn:
    after = ChatState(
        last_request=request,
        last_build_id=state.last_build_id,
        history=state.history,
        previous=[*state.previous][-MAX_UNDO:] if state.last_request else [],
    )
    if state.last_request is not None and state.last_request != request:
        after.previous = [*state.previous, state.last_request][-MAX_UNDO:]
    return Turn(reply, after, "build", request)
