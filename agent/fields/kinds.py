"""The words people use for a field's type (`text`, `whole number`, `yes/no`), typos of them,
and units of measure said beside a number; agent/fields/words.py reads a field's rules with them.
"""

from __future__ import annotations

from typing import cast

from agent.fields import SCALAR_TYPES, FieldType

#: Type words, as people write them, to the §4b type; two-word forms are joined by `_` first.
TYPE_WORDS: dict[str, FieldType] = {
    **{t: cast(FieldType, t) for t in SCALAR_TYPES},
    "string": "str",
    "text": "str",
    "word": "str",
    "integer": "int",
    "whole_number": "int",
    "whole": "int",
    "count": "int",
    "number": "float",
    "decimal": "float",
    "double": "float",
    "real": "float",
    "boolean": "bool",
    "yes/no": "bool",
    "yes-no": "bool",
    "yes_no": "bool",
    "true/false": "bool",
    "flag": "bool",
    "day": "date",
    "timestamp": "datetime",
    "date-time": "datetime",
    "date_and_time": "datetime",
    "date_time": "datetime",
    "date/time": "datetime",
}
#: Units of measure said beside a number ("a weight (kg, number >= 0)"): no rule of their own.
MEASURES = frozenset(
    [
        "mg",
        "g",
        "kg",
        "grams",
        "gram",
        "kilos",
        "kilograms",
        "lbs",
        "pounds",
        "km",
        "m",
        "cm",
        "mm",
        "metres",
        "meters",
        "miles",
        "ml",
        "l",
        "litres",
        "liters",
        "seconds",
        "secs",
        "minutes",
        "mins",
        "hours",
        "hrs",
        "days",
        "weeks",
        "months",
        "years",
        "eur",
        "usd",
        "gbp",
        "euros",
        "dollars",
        "percent",
        "celsius",
        "fahrenheit",
    ]
)


def near(word: str, target: str) -> bool:
    """Within one edit (insert, delete, change or swap of two letters)."""
    if abs(len(word) - len(target)) > 1 or word == target:
        return False
    if len(word) == len(target):
        diff = [k for k in range(len(word)) if word[k] != target[k]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and word[diff[0]] == target[diff[1]]
            and word[diff[1]] == target[diff[0]]
        )
    short, long = sorted((word, target), key=len)
    k = 0
    while k < len(short) and short[k] == long[k]:
        k += 1
    return short[k:] == long[k + 1 :]


#: The type words a typo is looked for among, by first letter (typos keep it, mostly).
_LONG_TYPE_WORDS: dict[str, list[tuple[str, str]]] = {}
for _said, _typ in TYPE_WORDS.items():
    if len(_said) >= 6 and _said.isalpha():
        _LONG_TYPE_WORDS.setdefault(_said[0], []).append((_said, _typ))


def type_word(word: str, *, typos: bool = False) -> str | None:
    """The type a word names; with `typos`, a typo of a long type word too (`numbr`, `intger`)."""
    if word in TYPE_WORDS:
        return TYPE_WORDS[word]
    if typos and 5 <= len(word) <= 12 and word.isalpha():
        for said, typ in _LONG_TYPE_WORDS.get(word[0], ()):
            if near(word, said):
                return typ
    return None


#: Field names whose type is plain from the name alone, and the name endings that say a type.
_TEXT_NAMES = frozenset(
    [
        "note",
        "notes",
        "comment",
        "comments",
        "remark",
        "remarks",
        "description",
        "title",
        "name",
        "email",
        "phone",
        "address",
        "url",
        "caption",
        "bio",
        "message",
        "summary",
        "details",
    ]
)
_ENDINGS: tuple[tuple[str, str], ...] = (
    ("_name", "str"),
    ("_email", "str"),
    ("_address", "str"),
    ("_url", "str"),
    ("_note", "str"),
    ("_notes", "str"),
    ("_title", "str"),
    ("_date", "date"),
    ("_on", "date"),
    ("_at", "datetime"),
    ("_time", "datetime"),
    ("_count", "int"),
)


def type_from_name(name: str) -> str | None:
    """The type a field's name makes plain (`note` is text, `arrival_date` a date, `is_done` a
    yes/no), or None: a field with no type said and no such name is asked about."""
    if name in _TEXT_NAMES:
        return "str"
    if name in ("date", "birthday"):
        return "date"
    if name in ("count", "quantity", "qty"):
        return "int"
    if name.startswith(("is_", "has_", "can_")):
        return "bool"
    for ending, typ in _ENDINGS:
        if name.endswith(ending) and len(name) > len(ending):
            return typ
    return None
