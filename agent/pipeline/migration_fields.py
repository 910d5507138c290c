"""The declared fields against the described table: what a rendered revision must agree with.

A resource request declares its fields (BLUEPRINT §4b); the feature's table must have exactly
`id` and those fields as columns, each of a type that fits the field, nullable as the field is
optional, and a `ref` field a foreign key to the referenced feature's `id`.
"""

from __future__ import annotations

from typing import Any

from agent.errors import MigrationRefused
from agent.fields import FieldSpec, ResourceSpec

_KINDS: dict[str, tuple[str, ...]] = {
    "int": ("Integer", "BigInteger", "SmallInteger"),
    "ref": ("Integer", "BigInteger", "SmallInteger"),
    "float": ("Float", "Numeric"),
    "bool": ("Boolean",),
    "date": ("Date",),
    "datetime": ("DateTime",),
    "str": ("String", "Text"),
    "enum": ("String", "Text", "Enum"),
}


def check_fields(operations: list[Any], resource: ResourceSpec, feature: str) -> None:
    """`MigrationRefused` when the described operations disagree with the declared fields."""
    fields = {field.name: field for field in resource.fields}
    for operation in operations:
        if operation.get("op") == "create_table":
            columns = {c["name"]: c for c in operation["columns"]}
            _same_columns(columns, fields, feature)
        for inner in operation.get("ops") or []:
            if inner.get("op") == "add_column":
                column = inner["column"]
                if column["name"] not in fields:
                    raise MigrationRefused(
                        f"column {column['name']!r} of {feature!r} is not a declared field"
                    )
                _fits(column, fields[column["name"]])
            elif inner.get("op") == "drop_column" and inner["column"]["name"] in fields:
                raise MigrationRefused(
                    f"the table drops column {inner['column']['name']!r}, a declared field"
                )


def _same_columns(columns: dict[str, Any], fields: dict[str, FieldSpec], feature: str) -> None:
    extra = sorted(set(columns) - set(fields) - {"id"})
    missing = sorted(set(fields) - set(columns))
    if extra or missing or "id" not in columns:
        raise MigrationRefused(
            f"table {feature!r} must have the columns `id` and the declared fields "
            f"({', '.join(fields)}): "
            + "; ".join(
                part
                for part in (
                    f"undeclared {', '.join(extra)}" if extra else "",
                    f"missing {', '.join(missing)}" if missing else "",
                    "no `id`" if "id" not in columns else "",
                )
                if part
            )
        )
    for name, field in fields.items():
        _fits(columns[name], field)


def _fits(column: dict[str, Any], field: FieldSpec) -> None:
    kind = column["type"]["name"]
    if kind not in _KINDS.get(field.type, ()):
        raise MigrationRefused(
            f"column {field.name!r} is {kind}, but the field is declared {field.type}: use one of "
            + ", ".join(_KINDS.get(field.type, ()))
        )
    if column["nullable"] == field.required:
        want = "nullable" if not field.required else "NOT NULL"
        raise MigrationRefused(f"column {field.name!r} must be {want}, as the field is declared")
    if field.type == "ref":
        targets = [fk.get("target") for fk in column.get("foreign_keys") or []]
        if f"{field.to}.id" not in targets:
            raise MigrationRefused(
                f"column {field.name!r} must be a foreign key to {field.to}.id (a `ref` field)"
            )
