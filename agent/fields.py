"""Field rules of a resource feature (BLUEPRINT §4b), as an object or as one text line a field."""

from __future__ import annotations

import keyword
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FieldType = Literal["str", "int", "float", "bool", "date", "datetime", "enum"]
Operation = Literal["create", "list", "get", "update", "delete"]
OPERATIONS: tuple[Operation, ...] = ("create", "list", "get", "update", "delete")
SCALAR_TYPES = ("str", "int", "float", "bool", "date", "datetime")

MAX_FIELDS = 40
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
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

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not _NAME.fullmatch(name):
            raise ValueError("must be snake_case: a lowercase letter, then [a-z0-9_], 48 at most")
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
_TYPE = re.compile(r"^(?P<type>[^\s?]++)(?P<opt>\?)?(?:\s++|$)")
_RULE = re.compile(
    r"(?P<len>len\s*+)?(?P<op>>=|<=)\s*+(?P<num>-?\d{1,18}+(?:\.\d{1,18}+)?+)(?![\d.])"
)
#: The largest magnitude a numeric bound may have (beyond it, int/float bounds lose meaning).
MAX_BOUND = 10**15
#: The most lines a field-line text may have: every field, and one `operations:` line.
MAX_LINES = MAX_FIELDS + 1


def looks_like_field_lines(text: str) -> bool:
    """True when every non-blank line is `name: <type>...` or `operations: ...`.

    Such text is parsed strictly (its mistakes are request errors); anything else is free text
    for a real model.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return False
    for line in lines:
        match = _line_match(line)
        if match is None:
            return False
        if match["name"].lower() == "operations":
            continue
        type_match = _TYPE.match(match["rest"])
        if type_match is None:
            return False
        token = type_match["type"]
        if token not in SCALAR_TYPES and "|" not in token:
            return False
    return True


def parse_field_lines(text: str) -> ResourceSpec:
    """Parse `age: int >=0 <=40` lines (BLUEPRINT §4b) into a spec; errors name the line."""
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
        fields.append(_parse_field(number, match["name"], match["rest"]))
    data: dict[str, Any] = {"fields": fields}
    if operations is not None:
        data["operations"] = operations
    return ResourceSpec.model_validate(data)


def _line_match(line: str) -> dict[str, str] | None:
    """`_LINE` on `line`, with the trailing backtick and spaces of `rest` removed."""
    match = _LINE.fullmatch(line)
    if match is None:
        return None
    rest = match["rest"].rstrip()
    rest = rest[:-1].rstrip() if rest.endswith("`") else rest
    return {"name": match["name"], "rest": rest}


def _parse_field(number: int, name: str, rest: str) -> dict[str, Any]:
    type_match = _TYPE.match(rest)
    if type_match is None:
        raise ValueError(f"line {number}: field {name!r} has no type")
    token, optional = type_match["type"], bool(type_match["opt"])
    field: dict[str, Any] = {"name": name, "required": not optional}
    if token in SCALAR_TYPES:
        field["type"] = token
    elif "|" in token:
        field["type"] = "enum"
        field["choices"] = [choice for choice in token.split("|")]
    else:
        raise ValueError(
            f"line {number}: unknown type {token!r} (use {', '.join(SCALAR_TYPES)} or a|b|c)"
        )
    remainder = rest[type_match.end() :]
    for rule in _RULE.finditer(remainder):
        value = float(rule["num"])
        if abs(value) > MAX_BOUND:
            raise ValueError(
                f"line {number}: field {name!r}: bound {rule['num']} is beyond ±{MAX_BOUND:.0e}"
            )
        number_value: int | float = int(value) if value.is_integer() else value
        if rule["len"]:
            key = "min_length" if rule["op"] == ">=" else "max_length"
            field[key] = int(value)
        else:
            field["ge" if rule["op"] == ">=" else "le"] = number_value
    leftover = _RULE.sub(" ", remainder).replace("optional", " ").strip()
    if leftover == "?":
        field["required"] = False
    elif leftover:
        raise ValueError(f"line {number}: field {name!r}: cannot read rule {leftover!r}")
    if "optional" in remainder.split():
        field["required"] = False
    return field


def _field_line(spec: FieldSpec) -> str:
    token = "|".join(spec.choices or ()) if spec.type == "enum" else spec.type
    parts = [f"{spec.name}: {token}{'' if spec.required else '?'}"]
    for prefix, value in (
        (">=", spec.ge),
        ("<=", spec.le),
        ("len>=", spec.min_length),
        ("len<=", spec.max_length),
    ):
        if value is not None:
            parts.append(f"{prefix}{value}")
    return " ".join(parts)
