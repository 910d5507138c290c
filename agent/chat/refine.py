"""Changes to a feature request said in words: add, remove, rename a field, make it optional or
required, change a bound, rename the feature.

`apply_instruction(request, text)` is the one entry point (the chat uses it, and a pull request's
`/petsage <instruction>` comment can too): it answers the changed request and what changed in
words, None when the text is not a change, and raises `InstructionError` when it is one that
cannot be made.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from agent.chat.clauses import split_clauses
from agent.chat.items import read_item, snake_case, split_items
from agent.chat.names import word_set
from agent.errors import InstructionError
from agent.fields import FieldSpec, ResourceSpec, field_line
from agent.fields.kinds import near
from agent.fields.words import looks_like_field_lines, parse_field_lines, read_field
from agent.request import FEATURE_RULE, FeatureRequest

_WORDS = re.compile(r"[A-Za-z0-9_]+(?:['\u2019][A-Za-z]+)?|[^\sA-Za-z0-9_]+")
_OPENERS = word_set(
    "please also now ok okay and then can could would you kindly just let's lets i want"
)
_ADD = ("add", "include", "plus")
_REMOVE = ("remove", "drop", "delete")
_FIELD_WORDS = frozenset({"the", "a", "an", "field", "fields", "new", "called", "named", "column"})


_RULE_STARTS = [
    [w] for w in ("up", "max", "min", "between", "optional", "required", "at", "<=", ">=")
]


@dataclass(frozen=True)
class Change:
    """A changed request and what changed, in words."""

    request: FeatureRequest
    said: str


def apply_instruction(request: FeatureRequest, text: str) -> Change | None:
    """Apply the instructions in `text` to `request`, clause by clause ("add a note (text).
    make age optional."); None when `text` is not a change of it."""
    clauses = split_clauses(text)
    if len(clauses) < 2 or looks_like_field_lines(text):
        return _apply_one(request, text)
    changed = request
    for clause in clauses:
        change = _apply_one(changed, clause.text)
        if change is None:
            return _apply_one(request, text)
        changed = change.request
    return Change(changed, describe_change(request, changed))


def _apply_one(request: FeatureRequest, text: str) -> Change | None:
    """Apply one instruction to `request`; None when `text` is not a change of it."""
    words = _WORDS.findall(text.strip().rstrip(".!"))
    while words and words[0].lower() in _OPENERS:
        words.pop(0)
    if not words:
        return None
    low = [w.lower() for w in words]
    verb = _verb(low[0])
    fields = list(request.resource.fields) if request.resource else []
    rest = " ".join(words[1:])
    if verb == "rename" or (low[0] in ("call", "name") and len(low) > 2 and low[1] in ("it",)):
        return _rename(request, low, words)
    if verb == "add":
        return _add(request, fields, rest)
    if verb == "remove" or low[:3] == ["get", "rid", "of"]:
        start = 3 if low[0] == "get" else 1
        targets = [w for w in low[start:] if w not in _FIELD_WORDS and w not in ("and", ",")]
        return _remove(request, fields, targets)
    if looks_like_field_lines(text):
        return _lines(request, fields, text)
    return _change_of_field(request, fields, words, low)


def _change_of_field(
    request: FeatureRequest, fields: list[FieldSpec], words: list[str], low: list[str]
) -> Change | None:
    """`age up to 30`, `make name optional`: a change of one named field, else None."""
    names = {f.name for f in fields}
    subject, after = _subject(low, names)
    if subject is None:
        i, _ = _subject(low, set(low))
        if i is not None and fields and low[low.index(i) + 1 : low.index(i) + 2] in _RULE_STARTS:
            _field(fields, i, request.feature)
        return None
    tail = [w for w in low[after:] if w not in ("should", "be", "is", "must", "to", "now", ":")]
    if tail in (["optional"], ["not", "required"], ["nullable"]):
        return _replace(request, fields, subject, {"required": False}, "optional")
    if tail in (["required"], ["mandatory"], ["not", "optional"]):
        return _replace(request, fields, subject, {"required": True}, "required")
    return _rules(request, fields, subject, " ".join(words[after:]))


def describe_change(old: FeatureRequest, new: FeatureRequest) -> str:
    """What differs between two requests, in one line of words."""
    parts: list[str] = []
    if old.feature != new.feature:
        parts.append(f"renamed the feature `{old.feature}` → `{new.feature}`")
    if old.description != new.description:
        parts.append(f"description: {new.description}")
    before = {f.name: f for f in (old.resource.fields if old.resource else ())}
    after = {f.name: f for f in (new.resource.fields if new.resource else ())}
    for name in [n for n in before if n not in after]:
        spec = before[name]
        for new_name in [n for n in after if n not in before]:
            if spec.model_copy(update={"name": new_name}) == after[new_name]:
                parts.append(f"renamed the field `{name}` → `{new_name}`")
                before = {new_name if k == name else k: v for k, v in before.items()}
                before[new_name] = after[new_name]
                break
    for name, spec in after.items():
        if name not in before:
            parts.append(f"added `{field_line(spec)}`")
        elif before[name] != spec:
            parts.append(f"`{field_line(before[name])}` → `{field_line(spec)}`")
    parts += [f"removed `{name}`" for name in before if name not in after]
    old_ops = old.resource.operations if old.resource else ()
    new_ops = new.resource.operations if new.resource else ()
    if old.resource and new.resource and old_ops != new_ops:
        parts.append(f"operations: {', '.join(new_ops)}")
    return "; ".join(parts) or "nothing changed"


def with_fields(
    request: FeatureRequest, fields: Iterable[FieldSpec], feature: str | None = None
) -> FeatureRequest:
    """`request` with these fields (its operations kept) and maybe another name."""
    kept = tuple(fields)
    if not kept and request.resource is not None:
        raise InstructionError("a resource needs at least one field; that would remove them all")
    operations = request.resource.operations if request.resource else None
    update: dict[str, Any] = {}
    try:
        if kept:
            spec: dict[str, Any] = {"fields": [f.model_dump() for f in kept]}
            if operations is not None:
                spec["operations"] = list(operations)
            update["requirements"] = ResourceSpec.model_validate(spec)
        if feature is not None:
            update["feature"] = feature
        return FeatureRequest.model_validate({**request.model_dump(), **update})
    except ValidationError as e:
        problem = e.errors()[0]
        where = ".".join(str(p) for p in problem["loc"] if not str(p)[0].isupper())
        message = problem["msg"].removeprefix("Value error, ")
        raise InstructionError(f"{where or 'that change'}: {message}") from None


def rename_feature(request: FeatureRequest, name: str) -> Change:
    """The same request under another feature name (said in any case or spacing)."""
    new = snake_case(name.strip("`'\" ")) or name
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,47}", new):
        raise InstructionError(f"`{name}` cannot be a feature name: it {FEATURE_RULE}")
    try:
        changed = with_fields(request, request.resource.fields if request.resource else (), new)
    except InstructionError as e:
        raise InstructionError(f"`{new}` cannot be a feature name: {e}") from None
    return Change(changed, describe_change(request, changed))


# --- each kind of change -------------------------------------------------------------------------


def _verb(word: str) -> str | None:
    for verb, forms in (("add", _ADD), ("remove", _REMOVE), ("rename", ("rename",))):
        if word in forms or (len(word) >= 4 and any(near(word, form) for form in forms)):
            return verb
    return None


def _rename(request: FeatureRequest, low: list[str], words: list[str]) -> Change:
    """`rename it to x`, `call it x`, `rename field a to b`, `rename a to b`."""
    if "to" in low[1:] or "as" in low[1:]:
        at = max(i for i, w in enumerate(low) if w in ("to", "as"))
    elif len(low) > 2 and low[1] == "it":
        at = 1
    else:
        raise InstructionError('say what to rename and to what, e.g. "rename it to pet_weights"')
    target = " ".join(words[at + 1 :]).strip()
    subject = [w for w in low[1:at] if w not in _FIELD_WORDS | {"it", "feature", "rename"}]
    fields = list(request.resource.fields) if request.resource else []
    if not target:
        raise InstructionError("rename it to what?")
    is_field = "field" in low[1:at] or (subject and subject[0] in {f.name for f in fields})
    if not subject or subject == [request.feature] or not is_field:
        if subject and subject != [request.feature] and "feature" not in low[1:at]:
            raise InstructionError(
                f"`{request.feature}` has no field `{' '.join(subject)}` "
                f"(its fields: {', '.join(f.name for f in fields) or 'none'})"
            )
        return rename_feature(request, target)
    old = subject[0]
    new = snake_case(target.strip("`'\"")) or target
    spec = _field(fields, old, request.feature)
    try:
        renamed = FieldSpec.model_validate({**spec.model_dump(), "name": new})
    except ValidationError as e:
        message = e.errors()[0]["msg"].removeprefix("Value error, ")
        raise InstructionError(f"`{new}` cannot be a field name: it {message}") from None
    changed = with_fields(request, [renamed if f.name == old else f for f in fields])
    return Change(changed, f"renamed the field `{old}` → `{new}`")


def _add(request: FeatureRequest, fields: list[FieldSpec], rest: str) -> Change:
    words = rest.split()
    while words and words[0].lower() in _FIELD_WORDS:
        words.pop(0)
    if len(words) > 1 and words[1].lower().strip(",") in ("field", "column"):
        words[1] = words[1].lower().replace("field", "").replace("column", "")
    text = " ".join(w for w in words if w)
    if not text:
        raise InstructionError('add what? e.g. "add a note (optional text, up to 200 chars)"')
    items = _items_to_add(text)
    added: list[FieldSpec] = []
    for item in items:
        try:
            added.append(FieldSpec.model_validate(item))
        except ValidationError as e:
            message = e.errors()[0]["msg"].removeprefix("Value error, ")
            raise InstructionError(f"field `{item['name']}`: {message}") from None
    known = {f.name for f in fields}
    for spec in added:
        if spec.name in known:
            raise InstructionError(
                f"`{spec.name}` is already a field; say e.g. “{spec.name} up to 30” to change it"
            )
    changed = with_fields(request, [*fields, *added])
    return Change(changed, describe_change(request, changed))


def _items_to_add(text: str) -> list[dict[str, Any]]:
    """The fields an "add" names: one field in words, else a list of them."""
    try:
        return [read_item(text.replace(",", " ") if ":" not in text else text)]
    except ValueError:
        pass
    items = []
    for part in split_items(text):
        try:
            items.append(read_item(part))
        except ValueError as e:
            raise InstructionError(f"I could not read “{part}”: {e}") from None
    return items


def _remove(request: FeatureRequest, fields: list[FieldSpec], targets: list[str]) -> Change:
    if not targets:
        raise InstructionError("remove which field?")
    for name in targets:
        _field(fields, name, request.feature)
    kept = [f for f in fields if f.name not in targets]
    if not kept:
        raise InstructionError(
            f"that would remove every field of `{request.feature}`; a resource needs at least one"
        )
    changed = with_fields(request, kept)
    return Change(changed, describe_change(request, changed))


def _lines(request: FeatureRequest, fields: list[FieldSpec], text: str) -> Change:
    """Field lines: each replaces the field of its name, or adds one."""
    try:
        given = parse_field_lines(text).fields
    except ValueError as e:
        raise InstructionError(f"I could not read that: {e}") from None
    by_name = {spec.name: spec for spec in given}
    new = [by_name.pop(f.name, f) for f in fields] + list(by_name.values())
    changed = with_fields(request, new)
    return Change(changed, describe_change(request, changed))


def _subject(low: list[str], names: set[str]) -> tuple[str | None, int]:
    """The field an instruction is about: `make age optional`, `set the age to ...`, `age ...`."""
    i = 0
    while i < len(low) and low[i] in ("make", "set", "change", "let", "the", "field", "limit"):
        i += 1
    if i < len(low) and low[i] in names:
        after = i + 1
        if after < len(low) and low[after] in ("field", "'s"):
            after += 1
        return low[i], after
    return None, 0


def _replace(
    request: FeatureRequest,
    fields: list[FieldSpec],
    name: str,
    update: dict[str, Any],
    said: str,
) -> Change:
    spec = _field(fields, name, request.feature)
    new = FieldSpec.model_validate({**spec.model_dump(), **update})
    changed = with_fields(request, [new if f.name == name else f for f in fields])
    return Change(changed, f"`{name}` is now {said}")


def _rules(request: FeatureRequest, fields: list[FieldSpec], name: str, rules: str) -> Change:
    spec = _field(fields, name, request.feature)
    words = rules.split()
    while words and words[0].lower() in ("to", "be", "should", "must", "is", ":", "now"):
        words.pop(0)
    try:
        new = FieldSpec.model_validate(read_field(name, " ".join(words), base=spec, typos=True))
    except ValidationError as e:
        message = e.errors()[0]["msg"].removeprefix("Value error, ")
        raise InstructionError(f"field `{name}`: {message}") from None
    except ValueError as e:
        raise InstructionError(str(e)) from None
    changed = with_fields(request, [new if f.name == name else f for f in fields])
    return Change(changed, describe_change(request, changed))


def _field(fields: list[FieldSpec], name: str, feature: str) -> FieldSpec:
    for spec in fields:
        if spec.name == name:
            return spec
    known = ", ".join(f.name for f in fields) or "none"
    raise InstructionError(f"`{feature}` has no field `{name}` (its fields: {known})")
