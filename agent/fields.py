"""Field rules of a resource feature (BLUEPRINT §4b), as an object or as one text line a field."""

from __future__ import annotations

import keyword
import math
import re
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FieldType = Literal["str", "int", "float", "bool", "date", "datetime", "enum", "ref"]
Operation = Literal["create", "list", "get", "update", "delete"]
OPERATIONS: tuple[Operation, ...] = ("create", "list", "get", "update", "delete")
SCALAR_TYPES = ("str", "int", "float", "bool", "date", "datetime")

MAX_FIELDS = 40
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_FEATURE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Names the generated API uses itself, or that would shadow pydantic's BaseModel attributes.
_TAKEN = frozenset({"id", "limit", "offset", "self", "cls"}) | frozenset(
    name for name in dir(BaseModel) if not name.startswith("_")
)


class FieldSpec(BaseModel):
    """One field of a resource: its type, whether it is required, and its bounds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(examples=["age"])
    type: FieldType = Field(examples=["int"])
    required: bool = True
    ge: int | float | None = None
    le: int | float | None = None
    min_length: int | None = Field(default=None, ge=0, le=10_000)
    max_length: int | None = Field(default=None, ge=0, le=10_000)
    choices: tuple[str, ...] | None = None
    description: str | None = Field(default=None, max_length=300)
    #: For `ref` fields: the feature whose row this field holds the id of (a foreign key).
    to: str | None = Field(default=None, examples=["pet_profile"])

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not _NAME.fullmatch(name):
            raise ValueError(
                "must be lowercase letters, digits and `_`, starting with a letter, 48 at most"
            )
        if keyword.iskeyword(name) or keyword.issoftkeyword(name):
            raise ValueError(f"{name!r} is a Python keyword")
        if name in _TAKEN or name.startswith("model_"):
            raise ValueError(f"{name!r} is reserved by the generated API or by pydantic")
        return name

    @field_validator("ge", "le")
    @classmethod
    def _check_bound(cls, bound: int | float | None) -> int | float | None:
        if bound is None:
            return None
        if isinstance(bound, float) and not math.isfinite(bound):
            raise ValueError("a bound must be a finite number")
        if abs(bound) > MAX_BOUND:
            raise ValueError(f"a bound must be within ±{MAX_BOUND:.0e}")
        return bound

    @field_validator("choices")
    @classmethod
    def _check_choices(cls, choices: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if choices is None:
            return None
        if not choices:
            raise ValueError("an enum needs at least one choice")
        if len(set(choices)) != len(choices):
            raise ValueError("choices must be unique")
        for choice in choices:
            if not choice or len(choice) > 64 or not choice.isprintable():
                raise ValueError(f"choice {choice!r} must be 1..64 printable characters")
        return choices

    @model_validator(mode="after")
    def _check_rules(self) -> FieldSpec:
        numeric = self.type in ("int", "float")
        if (self.ge is not None or self.le is not None) and not numeric:
            raise ValueError(f"{self.name}: ge/le apply only to int or float fields")
        if self.type == "int":
            for bound in (self.ge, self.le):
                if bound is not None and not float(bound).is_integer():
                    raise ValueError(f"{self.name}: an int field needs whole-number bounds")
        if self.ge is not None and self.le is not None and self.ge > self.le:
            raise ValueError(f"{self.name}: ge ({self.ge}) is greater than le ({self.le})")
        if (self.min_length is not None or self.max_length is not None) and self.type != "str":
            raise ValueError(f"{self.name}: min_length/max_length apply only to str fields")
        if (
            self.min_length is not None
            and self.max_length is not None
            and self.min_length > self.max_length
        ):
            raise ValueError(f"{self.name}: min_length is greater than max_length")
        if self.type == "enum" and not self.choices:
            raise ValueError(f"{self.name}: an enum field needs `choices`")
        if self.type != "enum" and self.choices is not None:
            raise ValueError(f"{self.name}: `choices` apply only to enum fields")
        if self.type == "ref" and (self.to is None or not _FEATURE.fullmatch(self.to)):
            raise ValueError(f"{self.name}: a ref field needs `to`, the snake_case feature name")
        if self.type != "ref" and self.to is not None:
            raise ValueError(f"{self.name}: `to` applies only to ref fields")
        return self


class ResourceSpec(BaseModel):
    """The fields and operations of a resource feature."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: tuple[FieldSpec, ...]
    operations: tuple[Operation, ...] = OPERATIONS

    @field_validator("fields")
    @classmethod
    def _unique_names(cls, fields: tuple[FieldSpec, ...]) -> tuple[FieldSpec, ...]:
        if not 1 <= len(fields) <= MAX_FIELDS:
            raise ValueError(f"a resource needs 1 to {MAX_FIELDS} fields, got {len(fields)}")
        seen: set[str] = set()
        for spec in fields:
            if spec.name in seen:
                raise ValueError(f"field {spec.name!r} is declared twice")
            seen.add(spec.name)
        return fields

    @property
    def references(self) -> tuple[str, ...]:
        """The features this resource's `ref` fields point at, each once."""
        return tuple(dict.fromkeys(f.to for f in self.fields if f.to is not None))

    @field_validator("operations")
    @classmethod
    def _canonical_operations(cls, operations: tuple[Operation, ...]) -> tuple[Operation, ...]:
        if not operations:
            raise ValueError(f"at least one operation of {', '.join(OPERATIONS)}")
        return tuple(op for op in OPERATIONS if op in operations)

    def to_lines(self) -> str:
        """The text form of this spec, one field a line; `parse_field_lines` reads it back."""
        lines = [_field_line(spec) for spec in self.fields]
        if self.operations != OPERATIONS:
            lines.append("operations: " + ", ".join(self.operations))
        return "\n".join(lines)


# --- the text form -------------------------------------------------------------------------------

# Every pattern here runs in linear time: whitespace runs are possessive (`*+`, `++`), nothing
# lazy is followed by an optional tail, and a line's trailing backtick and spaces are removed in
# Python (`_line_match`), so no input can make them backtrack.
_LINE = re.compile(r"\s*+(?:[-*]\s++)?`?(?P<name>[A-Za-z_][A-Za-z0-9_]*+)\s*+:\s*+(?P<rest>.*)")
#: The largest magnitude a numeric bound may have (beyond it, int/float bounds lose meaning).
MAX_BOUND = 10**15
#: The most lines a field-line text may have: every field, and one `operations:` line.
MAX_LINES = MAX_FIELDS + 1
#: Tokens of a field's rules: operators, numbers, words (an enum's `a|b|c` is one word), marks.
_TOKEN = re.compile(r"[<>]=?|=[<>]?|-?\d+(?:\.\d+)?|[^\s<>=?,;()]+|[?,;()]")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
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
}
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


def read_field(name: str, rest: str, base: FieldSpec | None = None) -> dict[str, Any]:
    """A field's object form from its name and its rules in words or symbols.

    `base` is the field being changed ("age up to 30"): its type and rules are kept unless
    `rest` says otherwise. Raises ValueError quoting the part it could not read.
    """
    field: dict[str, Any] = base.model_dump(exclude_none=True) if base else {}
    field["name"] = name
    choices = _choices(rest)
    tokens = [] if choices else _TOKEN.findall(rest)
    if choices:
        for key in ("ge", "le", "min_length", "max_length"):
            field.pop(key, None)
        field.update(type="enum", choices=choices)
        if _optional_mark(rest):
            field["required"] = False
        return field
    low = [token.lower() for token in tokens]
    for pair in _PAIRS:
        first, second = pair.split()
        for i in range(len(low) - 1):
            if low[i] == first and low[i + 1] == second:
                low[i : i + 2] = [f"{first}_{second}"]
                tokens[i : i + 2] = [f"{tokens[i]} {tokens[i + 1]}"]
                break
    typ: str | None = None
    lower: float | None = None
    upper: float | None = None
    length_unit = False
    symbolic = False
    unread: list[str] = []
    i = 0
    while i < len(low):
        word = low[i]
        nxt = low[i + 1] if i + 1 < len(low) else ""
        bare = word.rstrip("?")
        if word == "ref" and typ is None:
            i = _read_ref(name, low, i + 1, field)
            typ = "ref"
        elif bare in TYPE_WORDS and typ is None:
            typ = TYPE_WORDS[bare]
            if word.endswith("?"):
                field["required"] = False
        elif word in _OPTIONAL:
            field["required"] = False
        elif word in ("required", "mandatory") and (i == 0 or low[i - 1] != "not"):
            field["required"] = True
        elif word == "not" and nxt == "required":
            field["required"] = False
            i += 1
        elif word == "between" and i + 3 < len(low) and low[i + 2] in ("and", "to", "-"):
            lower, upper = _num(tokens[i + 1]), _num(tokens[i + 3])
            i += 3
        elif word in _AT_LEAST and _NUMBER.fullmatch(nxt):
            lower, symbolic = _num(nxt), symbolic or word in (">=", "=>")
            i += 1
        elif word in _AT_MOST and _NUMBER.fullmatch(nxt):
            upper, symbolic = _num(nxt), symbolic or word in ("<=", "=<")
            i += 1
        elif word in (">", "<") and _NUMBER.fullmatch(nxt):
            unread.append(word + nxt)
            i += 1
        elif word in _UNITS:
            length_unit = True
        elif _NUMBER.fullmatch(word) and nxt in ("to", "-", "..") and i + 2 < len(low):
            if _NUMBER.fullmatch(low[i + 2]):
                lower, upper = _num(word), _num(low[i + 2])
                i += 2
            else:
                unread.append(tokens[i])
        elif word in _FILLER or word == "not":
            pass
        else:
            unread.append(tokens[i])
        i += 1
    if "len" in low:
        length_unit = True
    if unread:
        raise ValueError(f"field {name!r}: cannot read {' '.join(unread)!r}")
    if typ is None:
        typ = field.get("type")
    if typ is None:
        if length_unit:
            typ = "str"
        elif lower is not None or upper is not None:
            whole = all(b is None or float(b).is_integer() for b in (lower, upper))
            typ = "int" if whole else "float"
        else:
            raise ValueError(f"field {name!r} has no type (say int, float, str, bool, date...)")
    if typ != field.get("type"):
        for key in ("ge", "le", "min_length", "max_length", "choices"):
            field.pop(key, None)
    field["type"] = typ
    if typ != "ref":
        field.pop("to", None)
    if length_unit or (typ == "str" and not symbolic):
        for key, bound in (("min_length", lower), ("max_length", upper)):
            if bound is not None:
                field[key] = int(bound)
    else:
        for key, bound in (("ge", lower), ("le", upper)):
            if bound is not None:
                field[key] = bound
    return field


def _read_ref(name: str, low: list[str], j: int, field: dict[str, Any]) -> int:
    """`ref pet_profile` / `ref? pet_profile` / `ref pet_profile?`: the target; the last index."""
    if j < len(low) and low[j] == "?":
        field["required"] = False
        j += 1
    if j >= len(low) or not _FEATURE.fullmatch(low[j]):
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


def _optional_mark(rest: str) -> bool:
    words = rest.lower().replace("(", " ").replace(")", " ").replace(",", " ").split()
    return "optional" in words or "?" in words or rest.rstrip().endswith("?")


def _split_or(chunk: str) -> list[str]:
    """`cat or bird` → `cat`, `bird` (by words, so a long run of spaces costs linear time)."""
    pieces: list[list[str]] = [[]]
    for word in chunk.split():
        if word.lower() == "or":
            pieces.append([])
        else:
            pieces[-1].append(word)
    return [" ".join(piece) for piece in pieces]


def _choices(rest: str) -> list[str] | None:
    """The choices of an enum: `dog|cat|bird`, `one of dog, cat or bird`, `dog, cat or bird`."""
    text = rest.strip().rstrip(".")
    words = text.split()
    if not words:
        return None
    if "|" in words[0] or (len(words) > 1 and "|" in text and words[0].lower() != "one"):
        text = " ".join(w for w in words if w.lower() not in ("optional", "(optional)", "?"))
        parts = [part.strip().rstrip("?").strip() for part in text.split("|")]
        return parts if all(parts) else None
    low = [w.lower().strip(",") for w in words]
    if low[:2] == ["one", "of"]:
        text = " ".join(words[2:])
    elif low[0] in TYPE_WORDS or not (" or " in f" {text.lower()} " or "," in text):
        return None
    items = []
    for chunk in text.replace("|", ",").replace("/", ",").split(","):
        for piece in _split_or(chunk):
            piece = piece.strip().strip("`'\"").rstrip("?").strip()
            if piece.lower() in ("optional", "(optional)", ""):
                continue
            if piece.lower().startswith("or "):
                piece = piece[3:].strip()
            items.append(piece)
    if len(items) < 2 or any(_NUMBER.fullmatch(item) or " " in item for item in items):
        return None
    return items


def field_line(spec: FieldSpec) -> str:
    """One field in the §4b line form (`age: int >=0 <=40`)."""
    return _field_line(spec)


def _field_line(spec: FieldSpec) -> str:
    token = "|".join(spec.choices or ()) if spec.type == "enum" else spec.type
    parts = [f"{spec.name}: {token}{'' if spec.required else '?'}"]
    if spec.to is not None:
        parts.append(spec.to)
    for prefix, value in (
        (">=", spec.ge),
        ("<=", spec.le),
        ("len>=", spec.min_length),
        ("len<=", spec.max_length),
    ):
        if value is not None:
            parts.append(f"{prefix}{value}")
    return " ".join(parts)
