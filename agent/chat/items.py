"""Fields said in words: the list in a sentence, its items, and each item as a field's object form.

Like the rest of the chat's reading, every regular expression here is a plain alternation of
character classes: nothing backtracks, so a long message costs linear time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from agent.fields import MAX_FIELDS
from agent.fields.kinds import MEASURES, TYPE_WORDS
from agent.fields.words import read_field

_CAMEL = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_FIELD_INTRO = re.compile(
    r"\b(?:with|having|containing|fields?|needs?|has|have|includes?|including|holds?|holding"
    r"|stores?|keeps?|tracks?)\b|\bw/|->|:",
    re.IGNORECASE,
)
#: The most words one field said in words may take ("an optional note (text, up to 200 chars)"
#: takes 8): a longer item is a sentence, and is not read word by word.
MAX_ITEM_WORDS = 30
#: The longest list looked at as a whole (a feature has at most MAX_FIELDS fields).
MAX_ITEMS = 2 * MAX_FIELDS
#: How many places a list of fields may start at are tried (each costs a pass over the rest).
MAX_INTROS = 6
BULLET = re.compile(r"^\s*(?:[-*•+]|\d{1,2}[.)])\s+")
_ITEM_LEAD = frozenset(
    {"and", "a", "an", "the", "plus", "also", "its", "their", "some", "just", "each", "his", "her"}
    | {"with", "having"}
)
#: Words that never stand in a field's name: a head holding one is a sentence, not a field.
_NOT_IN_NAME = frozenset(
    [
        "with",
        "having",
        "feature",
        "features",
        "called",
        "named",
        "call",
        "that",
        "which",
        "who",
        "want",
        "need",
        "needs",
        "please",
        "make",
        "create",
        "build",
        "add",
        "i",
        "we",
        "you",
        "it",
        "should",
        "would",
        "could",
        "can",
        "will",
        "must",
        "record",
        "records",
        "store",
        "stores",
        "track",
        "tracks",
        "keep",
        "keeps",
        "has",
        "have",
        "is",
        "are",
        "was",
        "were",
        "a",
        "an",
    ]
)
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

    The list starts after "with", "having", "needs", "has", "fields", a colon and the like: the
    first such place whose first item reads as a field, else the first whose items are shaped
    like fields (`a weight (kg, number)`, `a name`: what it could not read is quoted back), else
    after the last word before a first item's "(" (`... where people leave stars (1 to 5), ...`).
    """
    shaped: tuple[str, list[str]] | None = None
    series: tuple[str, list[str]] | None = None
    for tried, match in enumerate(_FIELD_INTRO.finditer(prose)):
        if tried == MAX_INTROS:
            break
        keyword = match[0].lower()
        stripped = prose[match.end() :].lstrip(" :->")
        stripped = _without_openers(stripped)
        items = split_items(_end_of_list(stripped))
        if not items:
            continue
        found = (prose[: match.start()].rstrip(" ,;:-"), items)
        if _item_reads(items[0]):
            return found
        head = items[0].partition("(")[0].split()
        like = keyword.startswith("field") or ("(" in items[0] and len(head) < 5)
        if shaped is None and (like or shaped_items(items)):
            shaped = found
        if series is None and _untyped_series(items):
            series = found
    return shaped or _after_last_word(prose) or series


def _without_openers(text: str) -> str:
    """`the following fields: a, b` → `a, b`."""
    changed = True
    while changed:
        changed = False
        for opener in ("fields", "field", "the following", "following", "are", ":", "->"):
            if text.lower().startswith(opener):
                text = text[len(opener) :].lstrip(" :")
                changed = True
    return text


def _end_of_list(text: str) -> str:
    """The list without its sentence's end: `... and a time (datetime)?` → `... (datetime)`."""
    text = text.rstrip(" .!")
    return text[:-1] if text.endswith(")?") else text


def _after_last_word(prose: str) -> tuple[str, list[str]] | None:
    items = split_items(_end_of_list(prose))
    at = next((k for k, item in enumerate(items) if "(" in item), len(items))
    if len(items) - at < 2:
        return None
    head, _, rules = items[at].partition("(")
    words = head.split()
    if len(words) < 2:
        return None
    first = f"{words[-1]} ({rules}"
    if not shaped_items([first, *items[at + 1 :]], strict_first=True):
        return None
    return ", ".join([*items[:at], " ".join(words[:-1])]), [first, *items[at + 1 :]]


def _untyped_series(items: list[str]) -> bool:
    """`a colour and a shape`: two or more fields named with no type, each after an article (or
    in snake_case), so "help with adoption and fostering" is no list."""
    if not 2 <= len(items) <= MAX_ITEMS:
        return False
    for item in items:
        words = item.split()
        if not words or not (words[0].lower() in ("a", "an", "the", "some") or "_" in item):
            return False
        try:
            item_parts(item)
        except ValueError:
            return False
    return True


def shaped_items(items: list[str], *, strict_first: bool = False) -> bool:
    """True when `items` are a list of fields: each one a name of at most four words and its
    rules (or a purpose, "to book sitters"), and one of them reads as a field; `strict_first`:
    the first one."""
    if not items or len(items) > MAX_ITEMS or (strict_first and not _item_reads(items[0])):
        return False
    for item in items:
        if item.lower().startswith(("to ", "so ", "for ")):
            continue
        try:
            item_parts(item)
        except ValueError:
            return False
    return any(_item_reads(item) for item in items)


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
        w.lower() == "or"
        or (w.lower() not in _NAME_STOP and not w[0].isdigit() and not set(w) & set(":|<>="))
        for w in words
    )


def _starts_rules(word: str) -> bool:
    """`rating 1 to 5 (integer)`, `score between 0 and 9 (number)`: where a head's rules start."""
    low = word.lower()
    return low[:1].isdigit() or low in ("between", "from", "up", "max", "min", "<=", ">=")


_MARKS = frozenset("|<>=")


#: Type words said as code (`notes str (optional)`): a head is cut there, not at "text" or
#: "date", which name things too (`a review text (optional)`, `an end date (optional)`).
_CODE_TYPES = frozenset(
    {"str", "string", "int", "integer", "float", "bool", "boolean", "datetime", "decimal"}
)


def _typed(word: str) -> bool:
    return word.lower().rstrip("?,") in _CODE_TYPES


def _name_and_rules(words: list[str]) -> tuple[str, str]:
    """`age: int`, `age (int)`, `age between 0 and 40` → the name part and the rules part."""
    text = " ".join(words)
    if ":" in text:
        head, _, rest = text.partition(":")
        return head, rest
    if "(" in text:
        head, _, rest = text.partition("(")
        words = head.split()
        typed = any(w.lower().strip(",?()") in TYPE_WORDS for w in rest.split())
        cut = next(
            (k for k, w in enumerate(words) if _starts_rules(w) or (k and not typed and _typed(w))),
            len(words),
        )
        return " ".join(words[:cut]), " ".join([*words[cut:], rest.replace(")", " ")])
    name_words = []
    for word in words:
        if word.lower().rstrip("?,") in _NAME_STOP or not word[0].isalpha() or set(word) & _MARKS:
            break
        name_words.append(word)
    return " ".join(name_words), " ".join(words[len(name_words) :])


@dataclass(frozen=True)
class ItemParts:
    """One field said in words, cut in two: its name and the words that give its rules."""

    name: str
    rules: str
    #: True or False when "required" / "optional" stands before the name or `?` after it.
    required: bool | None
    said: str


def item_parts(item: str) -> ItemParts:
    """`an optional dose in mg (number)` → `dose_mg`, `number`, not required; ValueError when
    no field name can be read."""
    text = BULLET.sub("", item.strip(), count=1).strip().rstrip(".")
    required: bool | None = None
    words = text.split()
    if len(words) > MAX_ITEM_WORDS:
        raise ValueError(f"{len(words)} words are too many for one field")
    while words and words[0].lower() in _ITEM_LEAD | {"optional", "required", "mandatory"}:
        low = words.pop(0).lower()
        if low == "optional":
            required = False
        elif low in ("required", "mandatory"):
            required = True
    head, rest = _name_and_rules(words)
    head = head.strip().strip("`'\"")
    if head.endswith("?"):
        required = False if required is None else required
    name = _field_name(head.rstrip("?").split())
    if not name:
        raise ValueError(f"no field name in {item.strip()!r}")
    rules = rest.replace("(", " ").replace(")", " ").strip()
    if rules.lower() == "date" and "_" not in name and not {":", "("} & set(text):
        name = f"{name}_date"  # "an arrival date" is `arrival_date`, a date
    return ItemParts(name, rules, required, text)


def read_item(item: str) -> dict[str, Any]:
    """One field said in words: `a name (text, up to 40 chars)`, `an age between 0 and 40`."""
    parts = item_parts(item)
    spec = read_field(parts.name, parts.rules, typos=True)
    if parts.required is not None:
        spec["required"] = parts.required
    return spec


def _field_name(words: list[str]) -> str | None:
    """The name in a field's head words: `the weighed_at time` → `weighed_at`, `dose in mg` →
    `dose_mg`, `Pickup Address` → `pickup_address`; None when they are no name."""
    low = [w.lower() for w in words]
    if not words or len(words) > 4 or _NOT_IN_NAME.intersection(low):
        return None
    if len(words) == 2 and "_" in words[0] and snake_case(words[0]) == low[0]:
        return low[0]
    if len(low) >= 3 and low[-2] in ("in", "per") and low[-1] in UNITS:
        words = [*words[:-2], low[-1]]
    return snake_case(" ".join(words))


#: Units a name may end in ("a dose in mg" → `dose_mg`); agent/fields/words.py reads them as
#: no rule.
UNITS = MEASURES
