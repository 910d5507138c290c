"""Reading how people write: a feature's name, its purpose and its fields, clause by clause.

A message is cut into clauses (agent/chat/clauses.py: lines, sentences, the parts a spaced dash
sets apart); each clause is read for what it says (a label such as `Name:` or `Fields:`, field
lines, a list of fields, prose with a list after "with" / "having" / "needs" / a colon, a title,
or prose), and the results are merged: fields are found wherever they stand. What could not be
read is kept, each part quoted with the reason, and a field whose type nobody said is kept by
name, so the assistant can ask about that field alone.

Everything here tokenises and walks the tokens; no pattern backtracks, so a long message costs
linear time.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from agent.chat.clauses import Clause, split_clauses
from agent.chat.describe import describe
from agent.chat.items import (
    fields_in_prose,
    item_parts,
    read_item,
    shaped_items,
    split_items,
)
from agent.chat.names import (
    FILLER,
    GREETINGS,
    SNAKE,
    NameGuess,
    find_name,
    find_said_name,
    label_name,
    title_name,
)
from agent.fields import MAX_FIELDS, FieldSpec
from agent.fields.kinds import type_from_name
from agent.fields.words import looks_like_field_lines, read_field

_NAME_LABELS = frozenset(
    {"name", "feature", "feature name", "title", "new feature", "the name", "name of the feature"}
)
_NAME_LABEL_ENDS = frozenset({"feature", "one", "called", "named"})
_DESCRIPTION_LABELS = frozenset({"description", "purpose", "summary", "what it does", "about"})
_FIELD_LABELS = frozenset(
    {"fields", "the fields", "fields are", "field", "it has", "it needs", "requirements"}
    | {"columns", "it should have", "each has", "with"}
)
_REQUIRED_LABELS = {
    "required": True,
    "required fields": True,
    "mandatory": True,
    "optional": False,
    "optional fields": False,
}
#: Clauses that say nothing about the feature ("thanks!", "that's all").
_REMARKS = frozenset(
    {
        "thanks",
        "thank you",
        "thx",
        "cheers",
        "please",
        "pls",
        "that's all",
        "thats all",
        "that's it",
    }
    | {"thanks a lot", "many thanks", "ty", "ok", "okay", "done"}
)


@dataclass(frozen=True)
class Untyped:
    """A field named without a type that its name does not make plain: asked about alone."""

    name: str
    required: bool
    said: str


@dataclass
class Reading:
    """What one message says about a feature."""

    name: NameGuess | None = None
    description: str | None = None
    fields: list[FieldSpec] = field(default_factory=list)
    operations: list[str] | None = None
    #: Parts not understood, each quoted with the reason.
    unread: list[str] = field(default_factory=list)
    #: A purpose said after the fields ("..., to book sitters").
    purpose: str | None = None
    #: Fields named with no type said: the assistant asks about each.
    untyped: list[Untyped] = field(default_factory=list)
    #: Fields whose type was taken from the name (`note` is text), shown as guesses.
    guessed: list[str] = field(default_factory=list)
    #: Fields whose type was said in words.
    typed_by_words: list[str] = field(default_factory=list)


@dataclass
class _Pass:
    """What the clauses said so far, while they are read in order."""

    prose: list[str] = field(default_factory=list)
    labelled: NameGuess | None = None
    titles: list[NameGuess] = field(default_factory=list)
    listing: bool = False


def read_message(text: str) -> Reading:
    """Name, description and fields of a message, and what could not be read in it."""
    reading = Reading()
    seen = _Pass()
    for index, clause in enumerate(split_clauses(text)):
        _read_clause(clause, index, reading, seen)
    prose = " ".join(seen.prose)
    reading.name = (
        seen.labelled
        or find_said_name(prose)
        or (seen.titles[0] if seen.titles else None)
        or find_name(prose)
    )
    reading.description = reading.description or describe(prose, reading.name)
    if reading.description is None and reading.purpose:
        reading.description = describe(reading.purpose, None)
    return reading


def _read_clause(clause: Clause, index: int, reading: Reading, seen: _Pass) -> None:
    text = clause.text
    low = _plain(text)
    if low in _REMARKS or set(re.findall(r"[a-z']+", low)) <= GREETINGS:
        return
    if low.startswith("operations"):
        words = re.split(r"[,\s:]+", text.strip())[1:]
        reading.operations = [w.lower() for w in words if w]
        return
    if _labelled(text, reading, seen) or (index == 0 and _first_clause(text, reading, seen)):
        return
    if clause.bullet or looks_like_field_lines(text) or _is_colon_field(text, first=index == 0):
        _read_line(text, reading)
        return
    if seen.listing and _is_listed(text):
        _read_line(text, reading)
        return
    _read_sentence(text, reading, seen)


def _labelled(text: str, reading: Reading, seen: _Pass) -> bool:
    """`Name: x`, `Description: ...`, `Fields:` (with the list after it or on the next lines)."""
    head, colon, rest = text.partition(":")
    label = _plain(head)
    if not colon:
        label, rest = _unlabelled(text)
        if not label:
            return False
    if label in _DESCRIPTION_LABELS and rest.strip():
        reading.description = describe(rest, None)
        return True
    if label in _FIELD_LABELS or label.rstrip(" -") in _FIELD_LABELS:
        seen.listing = True
        if rest.strip().lstrip(">").strip():
            _read_line(rest.strip().lstrip(">").strip(), reading)
        return True
    if label in _REQUIRED_LABELS and rest.strip():
        before = len(reading.fields)
        _read_line(rest.strip(), reading)
        required = _REQUIRED_LABELS[label]
        reading.fields[before:] = [
            f.model_copy(update={"required": required}) for f in reading.fields[before:]
        ]
        return True
    words = label.split()
    if rest.strip() and (label in _NAME_LABELS or (words and words[-1] in _NAME_LABEL_ENDS)):
        found = label_name(rest)
        if found is not None:
            seen.labelled = seen.labelled or found
            return True
    return False


_FIELD_PREFIXES = ("fields are ", "the fields are ", "fields -> ", "fields ", "it has ")
_NAME_PREFIXES = ("feature name is ", "the feature name is ", "name is ", "the name is ")


def _unlabelled(text: str) -> tuple[str, str]:
    """A label said without a colon (`Fields are a, b`, `Feature name is x`), and the rest."""
    low = " ".join(text.lower().split())
    if _plain(text) in _FIELD_LABELS:
        return "fields", ""
    for prefixes, label in ((_FIELD_PREFIXES, "fields"), (_NAME_PREFIXES, "name")):
        for prefix in prefixes:
            if low.startswith(prefix):
                return label, " ".join(text.split())[len(prefix) :]
    return "", ""


def _read_line(line: str, reading: Reading) -> None:
    """A line of fields: one `name: rules` (an enum's choices may hold commas), else a list."""
    head = line.partition(":")[0]
    if ":" in line and 1 <= len(head.split()) <= 4 and "(" not in head:
        try:
            read_item(line)
        except ValueError:
            pass
        else:
            _read_items([line], reading)
            return
    _read_items(split_items(line), reading)


def _is_listed(text: str) -> bool:
    items = split_items(text)
    return bool(items) and shaped_items(items)


def _read_sentence(text: str, reading: Reading, seen: _Pass) -> None:
    """Prose, a list of fields, or prose with a list after "with", "having", "needs", a colon."""
    items = split_items(text.rstrip(". "))
    if items and shaped_items(items, strict_first=True):
        _read_items(items, reading)
        return
    cut = fields_in_prose(text)
    if cut is not None:
        prose, items = cut
        _read_items(items, reading)
        if prose:
            seen.prose.append(prose)
        return
    title = title_name(text)
    if title is not None:
        seen.titles.append(title)
        return
    seen.prose.append(text)


def _plain(text: str) -> str:
    return " ".join(text.lower().strip(" .!?:").split())


def _is_colon_field(line: str, *, first: bool) -> bool:
    """`species: dog, cat or bird` and the like; a first line `name: prose` is a name line."""
    head, colon, rest = line.partition(":")
    if not colon or not SNAKE.fullmatch(head.strip()) or head.strip() in FILLER - {"name"}:
        return False
    try:
        read_field(head.strip(), rest.strip())
    except ValueError:
        return not first and bool(rest.strip())
    return True


def _first_clause(text: str, reading: Reading, seen: _Pass) -> bool:
    """A first clause `name: purpose`, `name: fields` or `name(fields)`."""
    return _colon_name(text, reading, seen) or _signature(text, reading, seen)


def _signature(text: str, reading: Reading, seen: _Pass) -> bool:
    """`pet_tag_order(engraving: str len<=20, qty: int >=1)`."""
    head, paren, rest = text.partition("(")
    head = head.strip()
    rest = rest.rstrip(" .")
    if not (paren and rest.endswith(")") and SNAKE.fullmatch(head) and head not in FILLER):
        return False
    if ":" not in rest or _closes_before_end(rest[:-1]):
        return False  # `weight_kg (number), measured_on (date)`: a list, not a signature
    seen.labelled = NameGuess(head, head, False)
    _read_line(rest[:-1], reading)
    return True


def _closes_before_end(inside: str) -> bool:
    depth = 1
    for mark in re.findall(r"[()]", inside):
        depth += 1 if mark == "(" else -1
        if depth == 0:
            return True
    return False


def _colon_name(text: str, reading: Reading, seen: _Pass) -> bool:
    """A first clause `name: purpose` or `name: fields`."""
    head, colon, rest = text.partition(":")
    head = head.strip().strip("`")
    if not (colon and rest.strip() and SNAKE.fullmatch(head) and head not in FILLER):
        return False
    try:
        read_field(head, rest.strip())
    except ValueError:
        pass
    else:
        return False  # `age: int`, `species: dog, cat or bird`: a field
    seen.labelled = NameGuess(head, head, False)
    items = split_items(rest)
    if items and shaped_items(items):
        _read_items(items, reading)
    else:
        _read_sentence(rest.strip(), reading, seen)
    return True


def _read_items(items: list[str], reading: Reading) -> None:
    for item in items:
        if _plain(item) in _REMARKS:
            continue
        if item.lower().startswith(("to ", "so ", "for ")) and "(" not in item and ":" not in item:
            reading.purpose = reading.purpose or item
            continue
        try:
            spec = _read_one(item, reading)
        except ValueError as e:
            reading.unread.append(f"“{item.strip()}” ({_reason(e)})")
            continue
        if spec is None:
            continue
        if spec.name in {f.name for f in reading.fields[-MAX_FIELDS:]}:
            reading.unread.append(f"“{item.strip()}” (`{spec.name}` is given twice)")
            continue
        reading.fields.append(spec)
        if len(reading.fields) > MAX_FIELDS:
            reading.unread.append(f"more than {MAX_FIELDS} fields: the rest was not read")
            return


def _read_one(item: str, reading: Reading) -> FieldSpec | None:
    """The field an item says; None when it names a field with no type (kept to ask about)."""
    parts = item_parts(item)
    marks = parts.rules.lower().replace(",", " ").split()
    if marks and set(marks) <= {"optional", "?", "not", "required", "mandatory"}:
        required = "optional" not in marks and "?" not in marks and marks != ["not", "required"]
        parts = dataclasses.replace(parts, rules="", required=required)
    if parts.rules:
        spec = FieldSpec.model_validate(read_item(item))
        reading.typed_by_words.append(spec.name)
        return spec
    typ = type_from_name(parts.name)
    required = parts.required is not False
    if typ is None:
        FieldSpec.model_validate({"name": parts.name, "type": "str"})
        if parts.name not in {u.name for u in reading.untyped}:
            reading.untyped.append(Untyped(parts.name, required, parts.said))
        return None
    reading.guessed.append(parts.name)
    return FieldSpec.model_validate({"name": parts.name, "type": typ, "required": required})


def _reason(error: ValueError) -> str:
    if isinstance(error, ValidationError):
        problem = error.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(error)
