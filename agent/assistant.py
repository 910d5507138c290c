"""The offline chat assistant: turns a conversation into a feature request, then into builds.

It understands a complete request in any encoding of BLUEPRINT §1 (which builds at once), plain
sentences that name a feature and say what it does, field lines (§4b), and refinements of the
last feature ("add field weight_kg: float >=0", "remove field nickname", "rename it to pets").
It asks for what is missing instead of guessing, and answers "status", "show the diff" and
"show the report" about the last build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ValidationError

from agent.errors import RequestError
from agent.fields import (
    MAX_FIELDS,
    OPERATIONS,
    FieldSpec,
    ResourceSpec,
    looks_like_field_lines,
    parse_field_lines,
)
from agent.request import FEATURE_PATTERN, FeatureRequest, decode_request

Action = Literal["build", "ask", "status", "diff", "report"]
_NAME = re.compile(
    r"(?:called|named|name it|call it|name(?:d)? is|feature)\s+"
    r"[`'\"]?([a-z][a-z0-9_]{1,47})[`'\"]?",
    re.IGNORECASE,
)
_BACKTICKED = re.compile(r"`([a-z][a-z0-9_]{1,47})`")
_STATUS_WORDS = re.compile(
    r"\b(health|healthcheck|status endpoint|status feature|ping|liveness|smoke)\b", re.I
)
# Linear time: whitespace runs are possessive and nothing lazy precedes an optional tail (the
# text is stripped first; `_refinement` drops `_ADD`'s trailing full stop).
_ADD = re.compile(r"(?:please\s++)?(?:also\s++)?add (?:a )?field\s++(.+)", re.I | re.S)
_REMOVE = re.compile(
    r"(?:please\s++)?(?:remove|drop|delete) (?:the )?field\s++`?(\w++)`?\s*+\.?\s*+", re.I
)
_RENAME = re.compile(
    r"(?:please\s++)?rename (?:it|the feature)\s++(?:to|as)\s++`?([A-Za-z]\w*+)`?\s*+\.?\s*+",
    re.I,
)
_REQUEST_LINE = re.compile(r"^[^\w\n:]*+feature[^\w\n:]*+:", re.I | re.M)
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


class ChatState(BaseModel):
    """What the assistant knows so far: a draft request, and the last request it built."""

    feature: str | None = None
    description: str | None = None
    fields: list[FieldSpec] = []
    operations: list[str] = list(OPERATIONS)
    status_only: bool = False
    last_request: FeatureRequest | None = None
    last_build_id: str | None = None
    #: With a real model: the recent messages, and the request it proposed.
    history: list[dict[str, str]] = []
    proposal: FeatureRequest | None = None


@dataclass(frozen=True)
class Turn:
    """The assistant's answer to one message, and the request to build, if any."""

    reply: str
    state: ChatState
    action: Action
    build: FeatureRequest | None = None


def respond(state: ChatState, message: str) -> Turn:
    """Answer one user message."""
    text = message.strip()
    command = _COMMANDS.get(text.lower().rstrip(".!?"))
    if command is not None:
        return Turn("", state, command)
    complete = _complete_request(text)
    if isinstance(complete, FeatureRequest):
        return _build(state, complete, f"Building `{complete.feature}` from your request.")
    if isinstance(complete, str):
        return Turn(complete, state, "ask")
    refined = _refinement(state, text)
    if refined is not None:
        return refined
    return _draft(state, text)


# --- complete requests and refinements ------------------------------------------------------------


def _complete_request(text: str) -> FeatureRequest | str | None:
    """A request in any §1 encoding; a string explaining what is wrong; None if not one."""
    looks_like_request = text.startswith("{") or _REQUEST_LINE.search(text)
    try:
        return decode_request(text)
    except RequestError as e:
        if looks_like_request and e.kind == "invalid":
            return "That request has problems: " + "; ".join(str(p) for p in e.problems)
        return None


def _refinement(state: ChatState, text: str) -> Turn | None:
    last = state.last_request
    for pattern in (_ADD, _REMOVE, _RENAME):
        match = pattern.fullmatch(text)
        if match is None:
            continue
        if last is None:
            return Turn("There is no feature yet to change: describe one first.", state, "ask")
        spec = last.resource
        fields = list(spec.fields) if spec else []
        operations = tuple(spec.operations) if spec else OPERATIONS
        if pattern is _RENAME:
            name = match[1].lower()
            try:
                renamed = last.model_copy(
                    update={
                        "feature": FeatureRequest.model_validate(
                            {**last.model_dump(), "feature": name}
                        ).feature
                    }
                )
            except ValidationError as e:
                return Turn(
                    f"`{name}` cannot be a feature name: {e.errors()[0]['msg']}", state, "ask"
                )
            return _build(state, renamed, f"Renamed to `{name}`; building it on `feature/{name}`.")
        if pattern is _ADD:
            try:
                added = parse_field_lines(match[1].rstrip().removesuffix(".").rstrip()).fields
            except ValueError as e:
                return Turn(f"I could not read that field: {e}", state, "ask")
            fields += list(added)
            verb = f"Added {', '.join(f.name for f in added)}"
        else:
            name = match[1]
            if not any(f.name == name for f in fields):
                known = ", ".join(f.name for f in fields) or "none"
                return Turn(
                    f"`{last.feature}` has no field `{name}` (its fields: {known}).", state, "ask"
                )
            fields = [f for f in fields if f.name != name]
            verb = f"Removed {name}"
            if not fields:
                return Turn(
                    f"`{name}` is the last field; a resource needs at least one.", state, "ask"
                )
        try:
            requirements = ResourceSpec(fields=tuple(fields), operations=operations)
        except ValidationError as e:
            return Turn(f"That change breaks a rule: {e.errors()[0]['msg']}", state, "ask")
        changed = last.model_copy(update={"requirements": requirements})
        return _build(
            state, changed, f"{verb}; rebuilding `{last.feature}` as a new commit on its branch."
        )
    return None


# --- drafts from plain sentences ------------------------------------------------------------------


def _draft(state: ChatState, text: str) -> Turn:
    draft = state.model_copy(deep=True)
    field_lines = [
        line for line in text.splitlines() if line.strip() and looks_like_field_lines(line)
    ]
    taken = set(field_lines)
    prose = "\n".join(line for line in text.splitlines() if line not in taken).strip()
    if field_lines:
        try:
            spec = parse_field_lines("\n".join(field_lines))
        except ValueError as e:
            return Turn(f"I could not read those fields: {e}", state, "ask")
        known = {f.name for f in draft.fields}
        new = [f for f in spec.fields if f.name not in known]
        if len(draft.fields) + len(new) > MAX_FIELDS:
            return Turn(
                f"A resource has at most {MAX_FIELDS} fields; this draft would have "
                f"{len(draft.fields) + len(new)}. Remove some, or start again.",
                state,
                "ask",
            )
        draft.fields += new
        draft.operations = list(spec.operations)
    name = _name_in(prose)
    if name is not None:
        draft.feature = name
    if _STATUS_WORDS.search(prose):
        draft.status_only = True
    if prose and draft.description is None and not _only_names(prose, name):
        draft.description = prose.splitlines()[0][:300]
    if draft.feature is None:
        return Turn(
            "What should the feature be called? Give a snake_case name, e.g. `pet_profile`.",
            draft,
            "ask",
        )
    if not re.fullmatch(FEATURE_PATTERN, draft.feature):
        return Turn(
            f"`{draft.feature}` is not a snake_case name; try e.g. `pet_profile`.",
            draft.model_copy(update={"feature": None}),
            "ask",
        )
    if not draft.fields and not draft.status_only:
        return Turn(
            f"Which fields should `{draft.feature}` have? One per line, e.g. `age: int >=0 <=40`, "
            '`nickname: str? len<=30`, `species: dog|cat|bird`. Or say "status endpoint" for a '
            "health check.",
            draft,
            "ask",
        )
    description = draft.description or f"The {draft.feature.replace('_', ' ')} feature"
    requirements: ResourceSpec | None = None
    try:
        if draft.fields:
            requirements = ResourceSpec(
                fields=tuple(draft.fields),
                operations=tuple(draft.operations),  # type: ignore[arg-type]
            )
        request = FeatureRequest(
            feature=draft.feature, description=description, requirements=requirements
        )
    except ValidationError as e:
        problem = e.errors()[0]
        return Turn(f"{'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}", draft, "ask")
    return _build(ChatState(), request, f"Building `{request.feature}`.")


def _build(state: ChatState, request: FeatureRequest, reply: str) -> Turn:
    after = ChatState(last_request=request, last_build_id=state.last_build_id)
    return Turn(reply, after, "build", request)


def _name_in(text: str) -> str | None:
    match = _NAME.search(text) or _BACKTICKED.search(text)
    if match is None:
        return None
    candidate = match[1]
    if candidate.lower() in ("to", "for", "that", "which", "a", "an", "the"):
        return None
    return candidate.lower()


def _only_names(prose: str, name: str | None) -> bool:
    """True for messages like "Call it pet_profile." that carry no description."""
    words = re.findall(r"[a-z0-9_]+", prose.lower())
    return (
        len(
            [
                w
                for w in words
                if w not in {"call", "it", "name", "named", "called", "the", "feature", "is", name}
            ]
        )
        <= 1
    )
