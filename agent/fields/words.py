"""Fields in words and lines: `age: int >=0 <=40` and "an age between 0 and 40" read into the
object form of `agent.fields.FieldSpec` (BLUEPRINT §4b).
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

from agent.fields import (
    FEATURE_NAME,
    MAX_BOUND,
    MAX_FIELDS,
    OPERATIONS,
    FieldSpec,
    ResourceSpec,
)
from agent.fields.choices import YES_OR_NO, enum_choices, optional_mark
from agent.fields.kinds import MEASURES, TYPE_WORDS, type_word

# --- the text form -------------------------------------------------------------------------------

# Every pattern here runs in linear time: whitespace runs are possessive (`*+`, `++`), nothing
# lazy is followed by an optional tail, and a line's trailing backtick and spaces are removed in
# Python (`_line_match`), so no input can make them backtrack.
_LINE = re.compile(r"\s*+(?:[-*]\s++)?`?(?P<name>[A-Za-z_][A-Za-z0-9_]*+)\s*+:\s*+(?P<rest>.*)")
#: The most lines a field-line text may have: every field, and one `operations:` line.
MAX_LINES = MAX_FIELDS + 1
#: Tokens of a field's rules: operators, numbers, words (an enum's `a|b|c` is one word), marks.
_TOKEN = re.compile(r"[<>]=?|=[<>]?|-?\d+(?:\.\d+)?|[^\s<>=?,;()]+|[?,;()]")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_PAIRS = frozenset(("whole number", "date time", "yes no"))
_AT_LEAST = frozenset({"min", "minimum", "from", "least", ">=", "=>", "over"})
_AT_MOST = frozenset({"max", "maximum", "most", "upto", "<=", "=<", "under", "to", "till", "until"})
_UNITS = frozenset({"chars", "char", "characters", "character", "letters", "long", "length"})
_OPTIONAL = frozenset({"optional", "?", "nullable"})
_FILLER = frozenset(
    {
        "a",
        "an",
        "the",
        "and",
        "with",
        "of",
        "as",
        "value",
        "is",
        "be",
        "must",
        "should",
        "at",
        "up",
        "no",
        "more",
        "than",
        "less",
        "it",
        "its",
        "in",
        "required",
        "mandatory",
        "len",
        ",",
        ";",
        "(",
        ")",
        "inclusive",
        "only",
        "type",
        "field",
        "can",
    }
)


def looks_like_field_lines(text: str) -> bool:
    """True when every non-blank line is `name: ...` and one reads as a field (§4b).

    A line reads as a field when what follows the colon starts with a type word (`int`,
    `integer`, `text`, `dog|cat`...) or holds a rule (`>=`, `<=`, `len`, `?`, `optional`).
    Such text is parsed strictly, so its mistakes are request errors naming the line; anything
    else is free text for a real model.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return False
    fieldish = False
    for line in lines:
        match = _line_match(line)
        if match is None:
            return False
        if match["name"].lower() != "operations" and _reads_as_field(match["rest"]):
            fieldish = True
    return fieldish


def _reads_as_field(rest: str) -> bool:
    words = rest.strip().strip("`").lower().split()
    if not words:
        return False
    first = words[0].rstrip("?,")
    if first == "ref" or first in TYPE_WORDS or "|" in first:
        return True
    if "optional" in words or words[:2] == ["one", "of"]:
        return True
    return any(mark in rest for mark in (">=", "<=", "=>", "=<", "len")) or "?" in words[0]


def _line_match(line: str) -> dict[str, str] | None:
    """`_LINE` on `line`, with the trailing backtick and spaces of `rest` removed."""
    match = _LINE.fullmatch(line)
    if match is None:
        return None
    rest = match["rest"].rstrip()
    rest = rest[:-1].rstrip() if rest.endswith("`") else rest
    return {"name": match["name"], "rest": rest}


def parse_field_lines(text: str) -> ResourceSpec:
    """Parse `age: int >=0 <=40` lines (BLUEPRINT §4b) into a spec; errors name the line.

    The lines may say more in words: `age: integer >= 0`, `name: text, optional, max 40 chars`,
    `score: number between 0 and 10`, `size: one of small, medium, large`.
    """
    fields: list[dict[str, Any]] = []
    operations: list[str] | None = None
    if sum(1 for line in text.splitlines() if line.strip()) > MAX_LINES:
        raise ValueError(f"a resource needs 1 to {MAX_FIELDS} fields, one a line")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _line_match(line)
        if match is None:
            raise ValueError(f"line {number}: expected `name: type [rules]`, got {line.strip()!r}")
        if match["name"].lower() == "operations":
            operations = [op for op in re.split(r"[,\s]+", match["rest"].strip()) if op]
            unknown = [op for op in operations if op not in OPERATIONS]
            if unknown:
                raise ValueError(
                    f"line {number}: unknown operation {unknown[0]!r} "
                    f"(choose from {', '.join(OPERATIONS)})"
                )
            continue
        try:
            fields.append(read_field(match["name"], match["rest"].strip().strip("`")))
        except ValueError as e:
            raise ValueError(f"line {number} ({line.strip()!r}): {e}") from None
    data: dict[str, Any] = {"fields": fields}
    if operations is not None:
        data["operations"] = operations
    return ResourceSpec.model_validate(data)


def read_field(
    name: str, rest: str, base: FieldSpec | None = None, *, typos: bool = False
) -> dict[str, Any]:
    """A field's object form from its name and its rules in words or symbols.

    `base` is the field being changed ("age up to 30"): its type and rules are kept unless
    `rest` says otherwise. Raises ValueError quoting the part it could not read.
    """
    field: dict[str, Any] = base.model_dump(exclude_none=True) if base else {}
    field["name"] = name
    rest = YES_OR_NO.sub("yes/no", rest)
    choices = enum_choices(rest)
    if choices:
        for key in ("ge", "le", "min_length", "max_length"):
            field.pop(key, None)
        field.update(type="enum", choices=choices)
        if optional_mark(rest):
            field["required"] = False
        return field
    tokens = _TOKEN.findall(_RANGE.sub(r"\1 to \2", rest))
    low = _join_pairs(tokens)
    rules = _Rules(typos=typos)
    i = 0
    while i < len(low):
        i = _read_word(name, tokens, low, i, field, rules) + 1
    if "len" in low:
        rules.length_unit = True
    if rules.unread:
        raise ValueError(f"field {name!r}: cannot read {' '.join(rules.unread)!r}")
    typ = rules.typ or field.get("type") or _implied_type(name, rules)
    _set_rules(field, typ, rules)
    return field


@dataclasses.dataclass
class _Rules:
    """What the words of a field say, read left to right."""

    typ: str | None = None
    lower: float | None = None
    upper: float | None = None
    length_unit: bool = False
    symbolic: bool = False
    #: Whether a typo of a type word reads as it (`numbr`): in chat, not in field lines.
    typos: bool = False
    unread: list[str] = dataclasses.field(default_factory=list)


#: A range said with a dash or two dots, `1-5`, `0..6`: read as `1 to 5` (linear: possessive).
_RANGE = re.compile(r"(\d)\s*+(?:-|\u2013|\.\.)\s*+(\d)")


def _join_pairs(tokens: list[str]) -> list[str]:
    """The lower-cased words, each of `_PAIRS` joined into one (`at_least`); `tokens` alike."""
    low = [token.lower() for token in tokens]
    for pair in _PAIRS:
        first, second = pair.split()
        for i in range(len(low) - 1):
            if low[i] == first and low[i + 1] == second:
                low[i : i + 2] = [f"{first}_{second}"]
                tokens[i : i + 2] = [f"{tokens[i]} {tokens[i + 1]}"]
                break
    return low


def _read_word(
    name: str, tokens: list[str], low: list[str], i: int, field: dict[str, Any], rules: _Rules
) -> int:
    """Read the word at `i` into `field` and `rules`; the index of the last word it used."""
    word = low[i]
    bare = word.rstrip("?")
    if word == "ref" and rules.typ is None:
        rules.typ = "ref"
        return _read_ref(name, low, i + 1, field)
    typ = type_word(bare, typos=rules.typos)
    if typ is not None and rules.typ is not None and (typ == rules.typ or bare == "number"):
        return i  # "decimal number", "integer number": the type said twice
    if typ is not None and rules.typ is None:
        rules.typ = typ
        if word.endswith("?"):
            field["required"] = False
        return i
    required = _required_word(low, i)
    if required is not None:
        field["required"] = required
        return i + 1 if word == "not" else i
    return _read_bound(tokens, low, i, rules)


def _required_word(low: list[str], i: int) -> bool | None:
    """`optional`, `required`, `not required` at `i`: whether the field is required, else None."""
    word = low[i]
    if word in _OPTIONAL:
        return False
    if word in ("required", "mandatory") and (i == 0 or low[i - 1] != "not"):
        return True
    if word == "not" and i + 1 < len(low) and low[i + 1] == "required":
        return False
    return None


def _read_bound(tokens: list[str], low: list[str], i: int, rules: _Rules) -> int:
    """A bound or a unit at `i` (`between 0 and 40`, `>=0`, `up to 30`, `chars`), else unread."""
    word = low[i]
    nxt = low[i + 1] if i + 1 < len(low) else ""
    said = _said_bound(low, i, rules)
    if said is not None:
        return said
    if word == "between" and i + 3 < len(low) and low[i + 2] in ("and", "to", "-"):
        rules.lower, rules.upper = _num(tokens[i + 1]), _num(tokens[i + 3])
        return i + 3
    if (word in _AT_LEAST or word in _AT_MOST) and _NUMBER.fullmatch(nxt):
        if word in _AT_LEAST:
            rules.lower = _num(nxt)
        else:
            rules.upper = _num(nxt)
        rules.symbolic = rules.symbolic or word in (">=", "=>", "<=", "=<")
        return i + 1
    if word in (">", "<") and _NUMBER.fullmatch(nxt):
        rules.unread.append(word + nxt)
        return i + 1
    if word in _UNITS:
        rules.length_unit = True
    elif _NUMBER.fullmatch(word) and nxt in ("to", "-", "..") and i + 2 < len(low):
        if _NUMBER.fullmatch(low[i + 2]):
            rules.lower, rules.upper = _num(word), _num(low[i + 2])
            return i + 2
        rules.unread.append(tokens[i])
    elif word not in _FILLER and word not in MEASURES and word != "not":
        rules.unread.append(tokens[i])
    return i


_OR_MORE = frozenset({"more", "above", "greater", "higher", "over"})
_OR_LESS = frozenset({"less", "fewer", "below", "lower", "under"})


def _said_bound(low: list[str], i: int, rules: _Rules) -> int | None:
    """Bounds said in words: `non-negative`, `exactly 6`, `0 or more`, `10 or less`, `max length
    40`; the index of the last word used, or None."""
    word = low[i]
    nxt = low[i + 1] if i + 1 < len(low) else ""
    after = low[i + 2] if i + 2 < len(low) else ""
    if word in ("non-negative", "nonnegative"):
        rules.lower = 0
        return i
    if word == "exactly" and _NUMBER.fullmatch(nxt):
        rules.lower = rules.upper = _num(nxt)
        return i + 1
    if _NUMBER.fullmatch(word) and nxt == "or" and after in _OR_MORE | _OR_LESS:
        if after in _OR_MORE:
            rules.lower = _num(word)
        else:
            rules.upper = _num(word)
        return i + 2
    if (word in _AT_LEAST or word in _AT_MOST) and nxt in _UNITS and _NUMBER.fullmatch(after):
        rules.length_unit = True
        if word in _AT_LEAST:
            rules.lower = _num(after)
        else:
            rules.upper = _num(after)
        return i + 2
    return None


def _implied_type(name: str, rules: _Rules) -> str:
    """The type the rules imply when no word names one: a length means text, bounds a number."""
    if rules.length_unit:
        return "str"
    if rules.lower is not None or rules.upper is not None:
        whole = all(b is None or float(b).is_integer() for b in (rules.lower, rules.upper))
        return "int" if whole else "float"
    raise ValueError(f"field {name!r} has no type (say int, float, str, bool, date...)")


def _set_rules(field: dict[str, Any], typ: str, rules: _Rules) -> None:
    """Give `field` its type and bounds: lengths for text, ge/le for numbers."""
    if typ != field.get("type"):
        for key in ("ge", "le", "min_length", "max_length", "choices"):
            field.pop(key, None)
    field["type"] = typ
    if typ != "ref":
        field.pop("to", None)
    if rules.length_unit or (typ == "str" and not rules.symbolic):
        for key, bound in (("min_length", rules.lower), ("max_length", rules.upper)):
            if bound is not None:
                field[key] = int(bound)
    else:
        for key, bound in (("ge", rules.lower), ("le", rules.upper)):
            if bound is not None:
                field[key] = bound


def _read_ref(name: str, low: list[str], j: int, field: dict[str, Any]) -> int:
    """`ref pet_profile` / `ref? pet_profile` / `ref pet_profile?`: the target; the last index."""
    if j < len(low) and low[j] == "?":
        field["required"] = False
        j += 1
    if j >= len(low) or not FEATURE_NAME.fullmatch(low[j]):
        raise ValueError(f"field {name!r}: `ref` needs a feature, e.g. ref pet_profile")
    field["to"] = low[j]
    return j


def _num(token: str) -> float:
    """A bound as written; refused beyond ±MAX_BOUND (a run of digits never overflows here)."""
    digits = token.lstrip("-").split(".")[0]
    value = float(token) if len(digits) <= 18 else math.inf
    if not math.isfinite(value) or abs(value) > MAX_BOUND:
        raise ValueError(f"bound {token[:24]}{'…' if len(token) > 24 else ''} is beyond ±1e15")
    return int(value) if value.is_integer() else value
