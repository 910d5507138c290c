"""Fields said in words: the list in a sentence, its items, and each item as a field's object form.

Like the rest of the chat's reading, every regular expression here is a plain alternation of
character classes: nothing backtracks, so a long message costs linear time.
"""

from __future__ import annotations

import re
from typing import Any

from agent.field_words import TYPE_WORDS, read_field

_CAMEL = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_FIELD_INTRO = re.compile(r"\b(?:with|having|containing|fields?)\b|:", re.IGNORECASE)
#: How many places a list of fields may start at are tried (each costs a pass over the rest).
MAX_INTROS = 6
BULLET = re.compile(r"^\s*(?:[-*•+]|\d{1,2}[.)])\s+")
_ITEM_LEAD = frozenset({"and", "a", "an", "the", "plus", "also", "its", "their", "some"})
_NAME_STOP = frozenset(TYPE_WORDS) | {
    "between",
    "from",
    "up",
    "max",
    "maximum",
    "min",
    "minimum",
    "at",
    "one",
    "optional",
    "required",
    "as",
    "is",
    "which",
    "that",
    "must",
    "should",
    "of",
    "no",
    "not",
    "under",
    "over",
    "to",
}


def snake_case(said: str) -> str | None:
    """`Weight Log`, `WeightLog`, `weight-log` → `weight_log`; None when nothing is left."""
    parts: list[str] = []
    for word in re.split(r"[\s\-./]+", said.strip()):
        if "_" in word:
            parts.append(word.lower())
        else:
            parts.extend(piece.lower() for piece in _CAMEL.findall(word))
    name = "_".join(part for part in parts if part)
    name = re.sub(r"[^a-z0-9_]", "", name)
    return name or None


def fields_in_prose(prose: str) -> tuple[str, list[str]] | None:
    """Split "... with a name (text), an age between 0 and 40" into the prose and its items.

    The list starts after "with", "having", "containing", "fields" or a colon: the first such
    place whose first item reads as a field, else the first whose first item is shaped like one
    (`a weight (kg, number)`: what it could not read is quoted back), else after "fields".
    """
    shaped: tuple[str, list[str]] | None = None
    for tried, match in enumerate(_FIELD_INTRO.finditer(prose)):
        if tried == MAX_INTROS:
            break
        rest = prose[match.end() :]
        keyword = match[0].lower()
        stripped = rest.lstrip(" :")
        for opener in ("fields", "field", "the following", "following", "are", ":"):
            if stripped.lower().startswith(opener):
                stripped = stripped[len(opener) :].lstrip(" :")
        items = split_items(stripped.rstrip(". "))
        if not items:
            continue
        found = (prose[: match.start()].rstrip(" ,;:-"), items)
        if _item_reads(items[0]):
            return found
        head = items[0].partition("(")[0].split()
        if shaped is None and (keyword.startswith("field") or ("(" in items[0] and len(head) < 5)):
            shaped = found
    return shaped


def _item_reads(item: str) -> bool:
    try:
        read_item(item)
    except ValueError:
        return False
    return True


def split_items(text: str) -> list[str]:
    """Items of a list: commas, semicolons and "and" at the top level, not inside ( )."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    last: list[str] = ["", ""]  # the two words before this token
    for token in re.findall(r"[(),;]|[^(),;\s]+|\s+", text):
        if token == "(":
            depth += 1
        elif token == ")":
            depth = max(0, depth - 1)
        low = token.lower()
        between = last[1] == "between" or last[0] in ("between", "from")
        if depth == 0 and (low in (",", ";") or (low == "and" and not between)):
            parts.append("".join(current))
            current, last = [], ["", ""]
            continue
        current.append(token)
        if not token.isspace():
            last = [last[1], low]
    parts.append("".join(current))
    return _join_choices([p.strip() for p in parts if p.strip()])


def _join_choices(parts: list[str]) -> list[str]:
    """`species: dog`, `cat or bird` → `species: dog, cat or bird`."""
    joined: list[list[str]] = []
    open_list = False
    for part in parts:
        words = part.split()
        if open_list and _only_choices(words):
            joined[-1].append(part)
            open_list = "or" not in [w.lower() for w in words]
            continue
        joined.append([part])
        _, colon, rest = part.partition(":")
        one_of = "one of" in part.lower()
        open_list = bool((colon and len(rest.split()) == 1) or (one_of and " or " not in part))
    return [", ".join(group) for group in joined]


def _only_choices(words: list[str]) -> bool:
    return 1 <= len(words) <= 5 and all(
        w.lower() == "or" or (w.lower() not in _NAME_STOP and not w[0].isdigit()) for w in words
    )


def _name_and_rules(words: list[str]) -> tuple[str, str]:
    """`age: int`, `age (int)`, `age between 0 and 40` → the name part and the rules part."""
    text = " ".join(words)
    if ":" in text:
        head, _, rest = text.partition(":")
        return head, rest
    if "(" in text:
        head, _, rest = text.partition("(")
        return head, rest.replace(")", " ")
    name_words = []
    for word in words:
        if word.lower().rstrip("?,") in _NAME_STOP or not word[0].isalpha():
            break
        name_words.append(word)
    return " ".join(name_words), " ".join(words[len(name_words) :])


def read_item(item: str) -> dict[str, Any]:
    """One field said in words: `a name (text, up to 40 chars)`, `an age between 0 and 40`."""
    text = BULLET.sub("", item.strip(), count=1).strip().rstrip(".")
    required: bool | None = None
    words = text.split()
    while words and words[0].lower() in _ITEM_LEAD | {"optional", "required", "mandatory"}:
        low = words.pop(0).lower()
        if low == "optional":
            required = False
        elif low in ("required", "mandatory"):
            required = True
    head, rest = _name_and_rules(words)
    head = head.strip().strip("`'\"")
    optional_mark = head.endswith("?")
    name = snake_case(head.rstrip("?")) if head else None
    if not name or len(head.split()) > 4:
        raise ValueError(f"no field name in {item.strip()!r}")
    spec = read_field(name, rest.replace("(", " ").replace(")", " ").strip())
    if optional_mark:
        spec["required"] = False
    if required is not None:
        spec["required"] = required
    return spec
