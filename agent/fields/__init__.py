"""Field rules of a resource feature (BLUEPRINT §4b), as an object or as one text line a field."""

from __future__ import annotations

import keyword
import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FieldType = Literal["str", "int", "float", "bool", "date", "datetime", "enum", "ref"]
Operation = Literal["create", "list", "get", "update", "delete"]
OPERATIONS: tuple[Operation, ...] = ("create", "list", "get", "update", "delete")
SCALAR_TYPES = ("str", "int", "float", "bool", "date", "datetime")

MAX_FIELDS = 40
#: The largest magnitude a numeric bound may have (beyond it, int/float bounds lose meaning).
MAX_BOUND = 10**15
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
FEATURE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
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
        self._check_bounds()
        self._check_lengths()
        if self.type == "enum" and not self.choices:
            raise ValueError(f"{self.name}: an enum field needs `choices`")
        if self.type != "enum" and self.choices is not None:
            raise ValueError(f"{self.name}: `choices` apply only to enum fields")
        if self.type == "ref" and (self.to is None or not FEATURE_NAME.fullmatch(self.to)):
            raise ValueError(f"{self.name}: a ref field needs `to`, the snake_case feature name")
        if self.type != "ref" and self.to is not None:
            raise ValueError(f"{self.name}: `to` applies only to ref fields")
        return self

    def _check_bounds(self) -> None:
        numeric = self.type in ("int", "float")
        if (self.ge is not None or self.le is not None) and not numeric:
            raise ValueError(f"{self.name}: ge/le apply only to int or float fields")
        if self.type == "int":
            for bound in (self.ge, self.le):
                if bound is not None and not float(bound).is_integer():
                    raise ValueError(f"{self.name}: an int field needs whole-number bounds")
        if self.ge is not None and self.le is not None and self.ge > self.le:
            raise ValueError(f"{self.name}: ge ({self.ge}) is greater than le ({self.le})")

    def _check_lengths(self) -> None:
        if (self.min_length is not None or self.max_length is not None) and self.type != "str":
            raise ValueError(f"{self.name}: min_length/max_length apply only to str fields")
        if (
            self.min_length is not None
            and self.max_length is not None
            and self.min_length > self.max_length
        ):
            raise ValueError(f"{self.name}: min_length is greater than max_length")


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
