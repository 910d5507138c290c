"""Reading how people write: a feature's name, its purpose and its fields in ordinary sentences.

Everything here tokenises and walks the tokens; no pattern backtracks (each regular expression
is a plain alternation of character classes), so a long message costs linear time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from agent.chat.items import BULLET, fields_in_prose, read_item, split_items
from agent.chat.names import (
    FILLER,
    LEAD,
    SNAKE,
    TOKEN,
    NameGuess,
    find_name,
    name_tokens,
    near,
)
from agent.field_words import looks_like_field_lines, read_field
from agent.fields import MAX_FIELDS, FieldSpec

_TAIL = frozenset(
    {"please", "thanks", "thank", "you", "pls", "feature", "endpoint", "fields", "field"}
    | {"with", "a", "an", "the", "and", "having", "it", "needs", "has"}
)


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


def read_message(text: str) -> Reading:
    """Name, description and fields of a message, and what could not be read in it."""
    reading = Reading()
    prose_lines: list[str] = []
    list_lines: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        bare = BULLET.sub("", line, count=1)
        if (
            looks_like_field_lines(line)
            or (list_lines and _is_item_line(line))
            or BULLET.match(line)
            or _is_colon_field(bare, first=not prose_lines)
        ):
            list_lines.append(bare)
        else:
            prose_lines.append(line.strip())
    prose = " ".join(prose_lines)
    cut = fields_in_prose(prose)
    if cut is not None:
        prose, items = cut
        _read_items(items, reading)
    for line in list_lines:
        if line.strip().lower().startswith("operations"):
            words = re.split(r"[,\s:]+", line.strip())[1:]
            reading.operations = [w.lower() for w in words if w]
            continue
        head = line.partition(":")[0]
        single = ":" in line and 1 <= len(head.split()) <= 4 and "(" not in head
        _read_items([line] if single else split_items(line), reading)
    first_line = prose_lines[0] if prose_lines else ""
    reading.name = _colon_name(first_line) or find_name(prose)
    if reading.name is None and list_lines:
        reading.name = find_name(" ".join(list_lines)) if not reading.fields else None
    reading.description = describe(prose, reading.name)
    if reading.description is None and reading.purpose:
        reading.description = describe(reading.purpose, None)
    return reading


def _is_item_line(line: str) -> bool:
    return bool(BULLET.match(line)) or ":" in line


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


def _colon_name(line: str) -> NameGuess | None:
    head, colon, rest = line.partition(":")
    head = head.strip().strip("`")
    if colon and rest.strip() and SNAKE.fullmatch(head) and head not in FILLER:
        return NameGuess(head, head, False)
    return None


# --- descriptions --------------------------------------------------------------------------------


def describe(prose: str, name: NameGuess | None) -> str | None:
    """The purpose without the scaffolding: "I need a feature called x to record y" → "Record y"."""
    sentence = _purpose_sentence(prose, name)
    if sentence is None:
        return None
    tokens = TOKEN.findall(sentence)
    drop = name_tokens(tokens, name) if name else set()
    kept = [(i, t) for i, t in enumerate(tokens) if i not in drop]
    while kept and (
        kept[0][1].lower() in LEAD or _lead_typo(kept[0][1]) or not kept[0][1][0].isalnum()
    ):
        kept.pop(0)
    while kept and (kept[-1][1].lower() in _TAIL or not kept[-1][1][0].isalnum()):
        kept.pop()
    if not kept or all(t.lower() in FILLER for _, t in kept):
        return None
    text = _join(sentence, [t for _, t in kept])
    return (text[0].upper() + text[1:])[:300]


def _lead_typo(token: str) -> bool:
    return len(token) >= 5 and any(near(token.lower(), w) for w in LEAD if len(w) >= 5)


def _purpose_sentence(prose: str, name: NameGuess | None) -> str | None:
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", prose) if s.strip()]
    for sentence in sentences:
        words = [w.lower() for w in TOKEN.findall(sentence) if w[0].isalnum()]
        meaningful = [
            w for w in words if w not in LEAD and w not in FILLER and not (name and w == name.name)
        ]
        if meaningful:
            return sentence
    return None


def _join(sentence: str, tokens: list[str]) -> str:
    """The kept tokens with the spacing they had, where possible."""
    out: list[str] = []
    for token in tokens:
        if out and token in ",.;:!?)":
            out[-1] += token
        else:
            out.append(token)
    return " ".join(out).strip(" ,;:")


def _read_items(items: list[str], reading: Reading) -> None:
    for item in items:
        if item.lower().startswith(("to ", "so ", "for ")) and "(" not in item and ":" not in item:
            reading.purpose = reading.purpose or item
            continue
        try:
            spec = FieldSpec.model_validate(read_item(item))
        except ValueError as e:
            reading.unread.append(f"“{item.strip()}” ({_reason(e)})")
            continue
        if spec.name in {f.name for f in reading.fields[-MAX_FIELDS:]}:
            reading.unread.append(f"“{item.strip()}” (`{spec.name}` is given twice)")
            continue
        reading.fields.append(spec)
        if len(reading.fields) > MAX_FIELDS:
            reading.unread.append(f"more than {MAX_FIELDS} fields: the rest was not read")
            return


def _reason(error: ValueError) -> str:
    if isinstance(error, ValidationError):
        problem = error.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(error)
