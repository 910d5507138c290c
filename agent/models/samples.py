"""Values for generated tests: valid ones, ones that break each rule, ones on each rule's edge."""

from __future__ import annotations

import json
from typing import Any

from agent.fields import FieldSpec

_DATES = ("2020-01-02", "2021-03-04")
_DATETIMES = ("2020-01-02T03:04:05Z", "2021-03-04T05:06:07Z")
_WRONG_TYPE: dict[str, Any] = {
    "str": 12345,
    "int": "not-a-number",
    "float": "not-a-number",
    "bool": "not-a-bool",
    "date": "not-a-date",
    "datetime": "not-a-datetime",
    "ref": "not-a-number",
}
#: The id a test's missing reference uses: the tests' fresh tables never reach it.
MISSING_ID = 999


def valid_value(field: FieldSpec, variant: int) -> Any:
    """A value that follows every rule of `field`; variant 1 differs from variant 0 where it can."""
    if field.type in ("int", "float"):
        return _number(field, variant)
    if field.type == "ref":
        return variant + 1  # the referenced rows the tests create first have ids 1 and 2
    if field.type == "str":
        length = _str_length(field)
        return ("x" if variant == 0 else "y") * length
    if field.type == "bool":
        return variant == 0
    if field.type == "date":
        return _DATES[variant]
    if field.type == "datetime":
        return _DATETIMES[variant]
    choices = field.choices or ("",)
    return choices[variant % len(choices)]


def bad_values(field: FieldSpec) -> list[tuple[str, Any, str]]:
    """(field, value, rule) for every rule of `field` and for a value of the wrong type."""
    cases: list[tuple[str, Any, str]] = []
    if field.type == "enum":
        choices = field.choices or ()
        wrong = "not-a-choice"
        while wrong in choices:
            wrong += "-really"
        cases.append((field.name, wrong, f"one of {', '.join(choices)}"))
    else:
        cases.append((field.name, _WRONG_TYPE[field.type], f"type {field.type}"))
    if field.type == "ref":
        cases.append((field.name, MISSING_ID, f"an existing {field.to}"))
    if field.type in ("date", "datetime"):
        # The schema says text; pydantic's lax mode would read a number as a timestamp.
        cases.append((field.name, 0, f"{field.type} as text, not a number"))
    step = 1 if field.type == "int" else 0.5
    if field.ge is not None:
        cases.append((field.name, _typed(field, field.ge - step), f">= {field.ge}"))
    if field.le is not None:
        cases.append((field.name, _typed(field, field.le + step), f"<= {field.le}"))
    if field.min_length:
        cases.append((field.name, "x" * (field.min_length - 1), f"length >= {field.min_length}"))
    if field.max_length is not None:
        cases.append((field.name, "x" * (field.max_length + 1), f"length <= {field.max_length}"))
    return cases


def edge_values(field: FieldSpec) -> list[tuple[str, Any]]:
    """(field, value) exactly on each bound, and every choice of an enum: all allowed."""
    cases: list[tuple[str, Any]] = []
    for bound in (field.ge, field.le):
        if bound is not None:
            cases.append((field.name, _typed(field, bound)))
    for length in (field.min_length, field.max_length):
        if length is not None:
            cases.append((field.name, "x" * length))
    if field.type == "enum":
        cases.extend((field.name, choice) for choice in field.choices or ())
    unique: list[tuple[str, Any]] = []
    for case in cases:
        if case not in unique:
            unique.append(case)
    return unique


def py_literal(value: Any, indent: int = 0) -> str:
    """`value` as Python source in the house format: double quotes, one dict item a line."""
    if isinstance(value, str):
        return json.dumps(value)
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        pad = " " * (indent + 4)
        items = [f"{pad}{py_literal(k)}: {py_literal(v, indent + 4)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(value, list | tuple):
        inner = ", ".join(py_literal(item, indent) for item in value)
        if isinstance(value, tuple):
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        return f"[{inner}]"
    raise TypeError(f"no literal for {type(value).__name__}")


def _typed(field: FieldSpec, value: float) -> int | float:
    return int(value) if field.type == "int" else float(value)


def _number(field: FieldSpec, variant: int) -> int | float:
    low, high = field.ge, field.le
    base: float = 1 if field.type == "int" else 1.5
    if low is not None and base < low:
        base = low
    if high is not None and base > high:
        base = high
    if variant == 1:
        step = 1 if field.type == "int" else 0.5
        if high is None or base + step <= high:
            base += step
        elif low is None or base - step >= low:
            base -= step
    return _typed(field, base)


def _str_length(field: FieldSpec) -> int:
    length = 3
    if field.min_length is not None:
        length = max(length, field.min_length)
    if field.max_length is not None:
        length = min(length, field.max_length)
    return length
